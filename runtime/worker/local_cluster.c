/* local_cluster.c: starting and stopping a driver's private head and node manager. */
#include "worker/local_cluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/dirs.h"
#include "common/sessions.h"
#include "common/xalloc.h"

struct rl_local_cluster_t {
  char session[256];
  char node[320];
  pid_t head_pid, node_pid;
  int lock; /* holds the session folder (rl_session_new) while the cluster runs */
};

static pid_t s_spawn(const char *bin, char *const argv[], int nice) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* The daemon exits if the driver dies, even by SIGKILL. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(1);
  setpgid(0, 0); /* Ctrl-C in the terminal reaches the driver only; it stops us */
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (nice) {
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0);
    if (errno == 0) setpriority(PRIO_PROCESS, 0, now + nice);
  }
  execv(bin, argv);
  fprintf(stderr, "rayl: cannot run %s: %s\n", bin, strerror(errno));
  _exit(127);
}

/* The text of the last ERROR line of the session's logs/node.log into out ("" if none). */
static void s_node_error(const char *session, char *out, size_t len) {
  char path[400], line[512];
  snprintf(path, sizeof path, "%s/logs/node.log", session);
  out[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    const char *e = strstr(line, " ERROR ");
    if (!e) continue;
    snprintf(out, len, "%s", e + 7);
    out[strcspn(out, "\n")] = 0;
  }
  fclose(f);
}

/* Waits until the node manager listens (its socket file is there) or exits. Returns 0,
 * or -1 with its reason in err: a node that refuses its options exits at once, and the
 * driver says so then instead of after its connect timeout. */
static int s_wait_node(rl_local_cluster_t *c, char *err, size_t errlen) {
  const char *path = c->node + strlen("ipc://");
  int64_t deadline = rl_now_ms() + 10000;
  while (rl_now_ms() < deadline) {
    struct stat st;
    if (stat(path, &st) == 0) return 0;
    int status;
    if (waitpid(c->node_pid, &status, WNOHANG) == c->node_pid) {
      c->node_pid = 0;
      char why[300];
      s_node_error(c->session, why, sizeof why);
      snprintf(err, errlen, "the node manager exited as it started (%s %d)%s%s (logs in %s/logs)",
               WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
               why[0] ? ": " : "", why, c->session);
      return -1;
    }
    usleep(2000);
  }
  return 0; /* not listening yet: the driver's connect timeout reports it */
}

rl_local_cluster_t *rl_local_cluster_start(const rl_local_opts_t *opts, char *err, size_t errlen) {
  rl_local_cluster_t *c = rl_xcalloc(1, sizeof *c);
  char base[PATH_MAX], logs[300], sockets[300];
  c->lock = -1;
  if (rl_base_dir(base, sizeof base, err, errlen) != 0 ||
      (c->lock = rl_session_new(base, c->session, sizeof c->session, err, errlen)) < 0) {
    free(c);
    return NULL;
  }
  snprintf(logs, sizeof logs, "%s/logs", c->session);
  snprintf(sockets, sizeof sockets, "%s/sockets", c->session);
  /* Private: its ipc sockets are plain, so only this user may reach them. */
  if (rl_dir_private(sockets, err, errlen) != 0) {
    close(c->lock);
    free(c);
    return NULL;
  }
  char gcs[320], parent[32], cpus[32], gpus[32], store[32];
  snprintf(gcs, sizeof gcs, "ipc://%s/gcs", sockets);
  snprintf(c->node, sizeof c->node, "ipc://%s/node", sockets);
  snprintf(parent, sizeof parent, "%d", (int)getpid());
  char *head_argv[] = {(char *)opts->rayl_bin, "head", "--endpoint", gcs, "--session", c->session,
                       "--parent-pid", parent, NULL};
  c->head_pid = s_spawn(opts->rayl_bin, head_argv, opts->nice);
  char *node_argv[32] = {(char *)opts->rayl_bin, "node", "--endpoint", c->node, "--gcs", gcs, "--session",
                         c->session, "--parent-pid", parent};
  int n = 10;
  if (opts->num_cpus >= 0) {
    snprintf(cpus, sizeof cpus, "%g", opts->num_cpus);
    node_argv[n++] = "--num-cpus";
    node_argv[n++] = cpus;
  }
  if (opts->num_gpus >= 0) {
    snprintf(gpus, sizeof gpus, "%g", opts->num_gpus);
    node_argv[n++] = "--num-gpus";
    node_argv[n++] = gpus;
  }
  if (opts->object_store_memory) {
    snprintf(store, sizeof store, "%zu", opts->object_store_memory);
    node_argv[n++] = "--object-store-memory";
    node_argv[n++] = store;
  }
  for (int i = 0; i < 16 && opts->resources[i] && n < 30; i++) {
    node_argv[n++] = "--resource";
    node_argv[n++] = (char *)opts->resources[i];
  }
  node_argv[n] = NULL;
  c->node_pid = s_spawn(opts->rayl_bin, node_argv, opts->nice);
  if (c->head_pid < 0 || c->node_pid < 0) {
    snprintf(err, errlen, "cannot start the local cluster: %s", strerror(errno));
    rl_local_cluster_stop(&c);
    return NULL;
  }
  if (s_wait_node(c, err, errlen) != 0) {
    rl_local_cluster_stop(&c);
    return NULL;
  }
  return c;
}

const char *rl_local_cluster_node(const rl_local_cluster_t *c) { return c->node; }
const char *rl_local_cluster_session(const rl_local_cluster_t *c) { return c->session; }

static void s_stop(pid_t pid, int64_t deadline) {
  if (pid <= 0) return;
  while (rl_now_ms() < deadline) {
    if (waitpid(pid, NULL, WNOHANG) == pid) return;
    usleep(2000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

void rl_local_cluster_stop(rl_local_cluster_t **p) {
  if (!p || !*p) return;
  rl_local_cluster_t *c = *p;
  if (c->node_pid > 0) kill(c->node_pid, SIGTERM);
  if (c->head_pid > 0) kill(c->head_pid, SIGTERM);
  int64_t deadline = rl_now_ms() + 2000;
  s_stop(c->node_pid, deadline);
  s_stop(c->head_pid, deadline);
  /* Nothing may stay behind in the socket folder. */
  char sockets[300];
  snprintf(sockets, sizeof sockets, "%s/sockets", c->session);
  DIR *d = opendir(sockets);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char path[600];
      snprintf(path, sizeof path, "%s/%s", sockets, e->d_name);
      unlink(path);
    }
    closedir(d);
    rmdir(sockets);
  }
  if (c->lock >= 0) close(c->lock); /* the session may be rotated away from now on */
  free(c);
  *p = NULL;
}
