/* stealing_test.c: stealing.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/stealing.c" /* the code under test, with its file-local helpers */

/* ---- selftest: how much is stolen, from whom, and what an answer changes (no
 * sockets: leases and classes built by hand) ---- */
#include "common/selftest.h"

int rl_stealing_selftest(void) {
  rl_cw_t cw = {0};
  rl_class_t c = {0};
  rl_lease_t a = {0}, b = {0};
  a.cls = b.cls = &c;
  c.leases = &a;
  a.next = &b;
  c.service_us = 50;
  cw.polled_us = 1000000;
  a.inflight = 5;
  a.head_since_us = cw.polled_us;
  b.head_since_us = cw.polled_us - 3000; /* b's running task is held up */
  /* Stealing: all that waits behind a held-up task; half of a long enough queue;
   * nothing when the wait is shorter than a round trip, or none waits. */
  b.inflight = 4;
  RL_CHECK_RETURN(s_stealable(&cw, &b) == 3);
  a.inflight = 41; /* 40 waiting x 50 us = 2 ms */
  RL_CHECK_RETURN(s_stealable(&cw, &a) == 20);
  a.inflight = 11; /* 0.5 ms */
  RL_CHECK_RETURN(s_stealable(&cw, &a) == 0);
  int n;
  RL_CHECK_RETURN(s_steal_victim(&cw, &c, &n) == &b && n == 3);
  b.steal_dry = true; /* it gave nothing back last time */
  RL_CHECK_RETURN(s_steal_victim(&cw, &c, &n) == NULL);
  b.steal_dry = false;
  a.stealing = true; /* one steal at a time */
  RL_CHECK_RETURN(s_steal_victim(&cw, &c, &n) == NULL);
  a.stealing = false;
  /* A steal answered with nothing: that worker is not asked again until its tasks
   * change, and no spare worker is asked for... */
  b.stealing = true;
  s_steal_answered(&c, &b, 0);
  RL_CHECK_RETURN(!b.stealing && b.steal_dry && c.spare_unused);
  RL_CHECK_RETURN(s_steal_victim(&cw, &c, &n) == NULL); /* a: too short a wait to steal */
  /* ... unless tasks were pushed to it after the request was sent: the answer did not
   * count them (it was idle when it read the request, then got a long task and more). */
  b.steal_dry = c.spare_unused = false;
  b.stealing = b.pushed_since_steal = true;
  s_steal_answered(&c, &b, 0);
  RL_CHECK_RETURN(!b.stealing && !b.steal_dry && !c.spare_unused);
  RL_CHECK_RETURN(s_steal_victim(&cw, &c, &n) == &b && n == 3);
  b.inflight = 1;
  RL_CHECK_RETURN(s_stealable(&cw, &b) == 0);
  return 0;
}
