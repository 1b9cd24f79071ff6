/* job_supervisor.c: `rayl job-supervisor`, started by the head for each job: runs the
 * driver with its output in the job's log, outlives SIGTERM to its process group (sent by
 * `rayl job stop`) and the head itself, and records how the driver ended. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MAX_ENV 300

static const char s_usage_text[] =
    "usage: rayl job-supervisor --log FILE --exit-file FILE --cwd DIR [--env-fd FD] -- COMMAND...\n"
    "  --env-fd FD  a file of NAME=VALUE entries, each ending in a NUL byte, for the driver's environment\n"
    "Runs one job's driver. The head starts it itself for `rayl job submit`;\n"
    "run it by hand only to debug.\n";

static int s_usage(void) {
  fputs(s_usage_text, stderr);
  return 2;
}

static bool s_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* In the driver's process: environment, folder, then the command. Never returns. */
static void s_exec_driver(char **cmd, const char *cwd, char **env, int nenv) {
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  for (int i = 0; i < nenv; i++) putenv(env[i]);
  if (chdir(cwd) != 0) {
    fprintf(stderr, "rayl job: cannot enter the working dir %s: %s\n", cwd, strerror(errno));
    _exit(127);
  }
  const char *bin = getenv("RAYL_BIN");
  if (bin && *bin && !strcmp(cmd[0], "rayl")) {
    /* `-- rayl script.lua`: the head's own rayl, whatever its PATH holds. */
    cmd[0] = (char *)bin;
    execv(bin, cmd);
    fprintf(stderr, "rayl job: cannot run %s: %s\n", bin, strerror(errno));
    _exit(127);
  }
  if (s_ends_with(cmd[0], ".lua") && bin && *bin) {
    /* cmd has a free slot before it (see main): rayl script.lua args... */
    cmd[-1] = (char *)bin;
    execv(bin, cmd - 1);
    fprintf(stderr, "rayl job: cannot run %s: %s\n", bin, strerror(errno));
    _exit(127);
  }
  execvp(cmd[0], cmd);
  fprintf(stderr, "rayl job: cannot run '%s': %s\n", cmd[0], strerror(errno));
  _exit(127);
}

/* Writes "exit N" or "signal N" to path, atomically (the head may read it any time). */
static void s_record_exit(const char *path, int status) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  if (WIFEXITED(status)) fprintf(f, "exit %d\n", WEXITSTATUS(status));
  else fprintf(f, "signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (fclose(f) == 0) rename(tmp, path);
}

/* Reads the NUL-terminated NAME=VALUE entries of file descriptor fd (from its start)
 * into env (the strings stay allocated for the driver) and closes fd. Returns 0, or -1
 * (reported). */
static int s_read_env(int fd, char **env, int *nenv) {
  struct stat st;
  char *buf = NULL;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > (1 << 24) || !(buf = malloc((size_t)st.st_size + 1)) ||
      pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
    fprintf(stderr, "rayl job-supervisor: cannot read the environment from file descriptor %d: %s\n", fd,
            strerror(errno));
    free(buf);
    return -1;
  }
  close(fd);
  buf[st.st_size] = 0;
  for (char *p = buf; p < buf + st.st_size && *nenv < S_MAX_ENV; p += strlen(p) + 1)
    if (strchr(p, '=')) env[(*nenv)++] = p;
  return 0;
}

int rl_cli_job_supervisor(int argc, char **argv) {
  const char *log = NULL, *exit_file = NULL, *cwd = NULL;
  char *env[S_MAX_ENV];
  int nenv = 0, i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--")) break;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(s_usage_text, stdout);
      return 0;
    }
    if (i + 1 >= argc) return s_usage();
    if (!strcmp(argv[i], "--log")) log = argv[++i];
    else if (!strcmp(argv[i], "--exit-file")) exit_file = argv[++i];
    else if (!strcmp(argv[i], "--cwd")) cwd = argv[++i];
    else if (!strcmp(argv[i], "--env-fd")) {
      if (s_read_env(atoi(argv[++i]), env, &nenv) != 0) return 1;
    }
    else return s_usage();
  }
  /* argv[i] is "--": the command follows, and that slot is free for the rayl path. */
  if (!log || !exit_file || !cwd || i + 1 >= argc) return s_usage();
  char **cmd = argv + i + 1;
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600); /* this user's alone */
  if (fd < 0) {
    fprintf(stderr, "rayl job-supervisor: cannot open %s: %s\n", log, strerror(errno));
    return 1;
  }
  dup2(fd, 1);
  dup2(fd, 2);
  close(fd);
  /* The stop signal is for the driver; this process stays to record how it ended. */
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "rayl job: cannot start the driver: fork: %s\n", strerror(errno));
    s_record_exit(exit_file, 127 << 8);
    return 1;
  }
  if (pid == 0) s_exec_driver(cmd, cwd, env, nenv);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  s_record_exit(exit_file, status);
  return 0;
}
