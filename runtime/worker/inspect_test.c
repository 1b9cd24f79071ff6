/* inspect_test.c: inspect.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/inspect.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_inspect_selftest(void) {
  rl_object_t o;
  memset(&o, 0, sizeof o);
  char buf[80];
  int fails = 0;
  s_refs(&o, 0, buf, sizeof buf);
  RL_CHECK_COUNT(!strcmp(buf, ""), fails);
  o.local_refs = 2;
  o.task_refs = 2;
  s_refs(&o, 1, buf, sizeof buf);
  RL_CHECK_COUNT(!strcmp(buf, "local, pinned by a task, captured"), fails);
  o.local_refs = 1; /* the one local ref is the containing object's */
  o.task_refs = 0;
  s_refs(&o, 1, buf, sizeof buf);
  RL_CHECK_COUNT(!strcmp(buf, "captured"), fails);
  o.local_refs = 0;
  o.nborrowers = 1;
  o.task_refs = 0;
  s_refs(&o, 0, buf, sizeof buf);
  RL_CHECK_COUNT(!strcmp(buf, "borrowed"), fails);
  return fails ? 1 : 0;
}
