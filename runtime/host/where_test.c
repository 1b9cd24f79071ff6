/* where_test.c: where.c's selftest, built into rl_selftest only (not librayl). */
#include "host/where.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_where_selftest(void) {
  int fails = 0;
  RL_CHECK_COUNT(s_ours("@/usr/share/lua/5.1/rayl/init.lua"), fails);
  RL_CHECK_COUNT(!s_ours("@/home/u/job.lua"), fails);
  RL_CHECK_COUNT(!s_ours("@rayl.lua"), fails);
  const char *a = s_intern("job.lua:3"), *b = s_intern("job.lua:3"), *c = s_intern("job.lua:4");
  RL_CHECK_COUNT(a && a == b && a != c && !strcmp(c, "job.lua:4"), fails);
  char out[300];
  s_describe_syscall("running\n", out, sizeof out);
  RL_CHECK_COUNT(!strcmp(out, "on a CPU: compiled Lua (a JIT trace) or C code"), fails);
  char line[200];
  snprintf(line, sizeof line, "61 0x1 0x0 0x0 0x0 0x0 0x0 0x7ffe0 0x%" PRIxPTR "\n", (uintptr_t)&fopen + 1);
  s_describe_syscall(line, out, sizeof out);
  RL_CHECK_COUNT(!strncmp(out, "in C: blocked in system call 61, in fopen", 40), fails);
  s_describe_syscall("garbage", out, sizeof out);
  RL_CHECK_COUNT(strstr(out, "unknown") != NULL, fails);
  /* this thread, asked about itself, is in the read of that very file */
  s_c_position(gettid(), out, sizeof out);
  RL_CHECK_COUNT(!strncmp(out, "in C: blocked in system call 0", 30), fails);
  return fails ? 1 : 0;
}
