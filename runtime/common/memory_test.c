/* memory_test.c: memory.c's selftest, built into rl_selftest only (not librayl). */
#include "common/memory.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */
#include "common/selftest.h"

static int s_write(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

int rl_memory_selftest(void) {
  char path[S_PATH_MAX], out[200];
  /* Counters: the line's number; a key that is only a prefix of another does not match. */
  const char *events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
  RL_CHECK_RETURN(rl_mem_counter(events, "oom_kill") == 2);
  RL_CHECK_RETURN(rl_mem_counter(events, "oom") == 3);
  RL_CHECK_RETURN(rl_mem_counter("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n", "oom_kill") == 7);
  RL_CHECK_RETURN(rl_mem_counter("oom_kill_disable 0\n", "oom_kill") == -1);
  RL_CHECK_RETURN(rl_mem_counter("", "oom_kill") == -1);
  /* /proc/self/cgroup: v1's memory line (alone or among controllers) wins over v2's. */
  RL_CHECK_RETURN(rl_mem_cgroup_path("0::/user.slice/a.scope\n", path, sizeof path) == 2);
  RL_CHECK_RETURN(!strcmp(path, "/user.slice/a.scope"));
  RL_CHECK_RETURN(rl_mem_cgroup_path("5:cpu:/\n4:memory:/jobs/j1\n0::/\n", path, sizeof path) == 1);
  RL_CHECK_RETURN(!strcmp(path, "/jobs/j1"));
  RL_CHECK_RETURN(rl_mem_cgroup_path("0::/x\n3:blkio,memory:/y", path, sizeof path) == 1);
  RL_CHECK_RETURN(!strcmp(path, "/y"));
  RL_CHECK_RETURN(rl_mem_cgroup_path("4:memoryx:/z\n2:cpu,cpuacct:/w\n", path, sizeof path) == 0);
  RL_CHECK_RETURN(rl_mem_cgroup_path("", path, sizeof path) == 0);
  /* A fake cgroup v2 tree: the kill count of our folder, the tightest limit on the way up. */
  char tmp[] = "/tmp/rl_memory_XXXXXX";
  RL_CHECK_RETURN(mkdtemp(tmp) != NULL);
  char f[S_PATH_MAX], v1[64], v2[64], cg[64];
  snprintf(v1, sizeof v1, "%s/v1", tmp);
  snprintf(v2, sizeof v2, "%s/v2", tmp);
  snprintf(cg, sizeof cg, "%s/cgroup", tmp);
  snprintf(f, sizeof f, "%s/job", v2);
  int fails = 0;
  RL_CHECK_COUNT(mkdir(v2, 0700) == 0 && mkdir(f, 0700) == 0, fails);
  snprintf(f, sizeof f, "%s/job/task", v2);
  RL_CHECK_COUNT(mkdir(f, 0700) == 0, fails);
  s_roots_t r = {cg, v1, v2};
  RL_CHECK_COUNT(s_write(cg, "0::/job/task\n") == 0, fails);
  snprintf(f, sizeof f, "%s/job/task/memory.events", v2);
  RL_CHECK_COUNT(s_write(f, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n") == 0, fails);
  RL_CHECK_COUNT(s_oom_kills(&r) == 1, fails);
  RL_CHECK_COUNT(s_write(f, "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n") == 0, fails);
  RL_CHECK_COUNT(s_oom_kills(&r) == 2, fails);
  snprintf(f, sizeof f, "%s/job/task/memory.max", v2);
  RL_CHECK_COUNT(s_write(f, "max\n") == 0, fails);
  snprintf(f, sizeof f, "%s/job/memory.max", v2);
  RL_CHECK_COUNT(s_write(f, "268435456\n") == 0, fails);
  s_limit_describe(&r, out, sizeof out);
  /* A harness may run us under rlimits of its own: then those may be named instead. */
  struct rlimit as, data;
  getrlimit(RLIMIT_AS, &as);
  getrlimit(RLIMIT_DATA, &data);
  bool rlimits = as.rlim_cur != RLIM_INFINITY || data.rlim_cur != RLIM_INFINITY;
  if (!rlimits) RL_CHECK_COUNT(!strcmp(out, "256.0 MiB (cgroup memory.max)"), fails);
  /* A v1 tree seen from inside a cgroup namespace: the path is not under the mount. */
  snprintf(f, sizeof f, "%s/memory.oom_control", v1);
  RL_CHECK_COUNT(mkdir(v1, 0700) == 0 && s_write(f, "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n") == 0, fails);
  RL_CHECK_COUNT(s_write(cg, "4:memory:/elsewhere/x\n0::/\n") == 0, fails);
  RL_CHECK_COUNT(s_oom_kills(&r) == 5, fails);
  snprintf(f, sizeof f, "%s/memory.limit_in_bytes", v1);
  RL_CHECK_COUNT(s_write(f, "9223372036854771712\n") == 0, fails); /* v1's "unlimited" */
  s_limit_describe(&r, out, sizeof out);
  if (!rlimits) RL_CHECK_COUNT(!strncmp(out, "none set (the machine has ", 26), fails);
  char cmd[S_PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  RL_CHECK_COUNT(system(cmd) == 0, fails);
  return fails ? 1 : 0;
}
