/* dispatch_test.c: dispatch.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/dispatch.c" /* the code under test, with its file-local helpers */

/* ---- selftest: where tasks go (classes, leases and tasks built by hand) ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)

int rl_dispatch_selftest(void) {
  rl_class_t c = {0};
  rl_lease_t a = {0}, b = {0};
  rl_task_t t[4];
  memset(t, 0, sizeof t);
  for (int i = 0; i < 4; i++) t[i].cls = &c;
  a.cls = b.cls = &c;
  c.leases = &a;
  a.next = &b;
  int64_t polled = 1000000;

  /* The queue: front for retries, back for new tasks; taken off anywhere. */
  rl_dispatch_enqueue(&t[0], false);
  rl_dispatch_enqueue(&t[1], false);
  rl_dispatch_enqueue(&t[2], true);
  S_CHECK(c.queue_head == &t[2] && c.queue_tail == &t[1] && c.queued == 3);
  rl_dispatch_unqueue(&t[1]);
  S_CHECK(c.queue_tail == &t[0] && c.queued == 2);
  S_CHECK(rl_dispatch_dequeue(&c) == &t[2] && rl_dispatch_dequeue(&c) == &t[0]);
  S_CHECK(!c.queue_head && !c.queue_tail && c.queued == 0);

  /* Run time unknown: one task per worker. A task waits in the queue rather than
   * behind a busy worker, and more workers are asked for. */
  S_CHECK(rl_dispatch_depth(&c) == 1);
  S_CHECK(rl_dispatch_run_push(&a, &t[0], polled) && a.inflight == 1 && t[0].lease == &a);
  S_CHECK(rl_dispatch_pick(&c, polled) == &b); /* the idle one */
  S_CHECK(rl_dispatch_run_push(&b, &t[1], polled) && b.inflight == 1);
  S_CHECK(rl_dispatch_pick(&c, polled) == NULL);
  rl_dispatch_enqueue(&t[2], false);
  S_CHECK(rl_dispatch_wants_lease(&c));
  c.lease_request = 7; /* one request at a time */
  S_CHECK(!rl_dispatch_wants_lease(&c));
  c.lease_request = 0;
  rl_dispatch_unqueue(&t[2]);
  S_CHECK(!rl_dispatch_wants_lease(&c)); /* nothing waits */

  /* Long tasks (10 ms): never pipelined either. */
  c.service_us = 10000;
  S_CHECK(rl_dispatch_depth(&c) == 1 && rl_dispatch_pick(&c, polled) == NULL);

  /* Pipeline depth follows the run time: deep for very short tasks, shallower for
   * short ones. */
  c.service_us = 50;
  S_CHECK(rl_dispatch_depth(&c) == 128);
  c.service_us = 500;
  S_CHECK(rl_dispatch_depth(&c) == 16);
  c.service_us = 1999;
  S_CHECK(rl_dispatch_depth(&c) == 16);
  c.service_us = 2000;
  S_CHECK(rl_dispatch_depth(&c) == 1);

  /* Short tasks (50 us) pipeline onto a busy worker, the least loaded, only when no
   * worker is idle. */
  c.service_us = 50;
  a.inflight = 5;
  S_CHECK(rl_dispatch_pick(&c, polled) == &b);
  b.inflight = 0;
  S_CHECK(rl_dispatch_pick(&c, polled) == &b); /* idle */
  a.inflight = 0;
  b.inflight = 3;
  S_CHECK(rl_dispatch_pick(&c, polled) == &a); /* idle, though listed first and... */
  a.inflight = 128;
  S_CHECK(rl_dispatch_pick(&c, polled) == &b); /* ... a full one is skipped */
  b.inflight = 128;
  S_CHECK(rl_dispatch_pick(&c, polled) == NULL); /* both at the depth */
  /* Tasks waiting behind others while no worker is idle: another worker is wanted
   * (for the tasks submitted next), unless a spare one went unused. */
  S_CHECK(rl_dispatch_wants_lease(&c));
  c.spare_unused = true;
  S_CHECK(!rl_dispatch_wants_lease(&c));
  rl_dispatch_enqueue(&t[2], false); /* a task queued: it is wanted again */
  S_CHECK(!c.spare_unused && rl_dispatch_wants_lease(&c));
  rl_dispatch_unqueue(&t[2]);
  a.inflight = 5;
  b.inflight = 1;

  /* A held-up worker (its task ran 3 ms, its class's take 50 us) gets nothing more,
   * though it is the least loaded. */
  b.head_since_us = polled - 3000;
  a.head_since_us = polled;
  S_CHECK(rl_dispatch_stalled(&b, polled) && !rl_dispatch_stalled(&a, polled));
  S_CHECK(rl_dispatch_pick(&c, polled) == &a);
  a.head_since_us = polled - 3000; /* both held up: the task waits */
  S_CHECK(rl_dispatch_pick(&c, polled) == NULL);
  a.head_since_us = polled;
  c.service_us = 5000; /* 3 ms is not long for 5 ms tasks */
  S_CHECK(!rl_dispatch_stalled(&b, polled));
  c.service_us = 50;

  /* SPREAD: one task per worker, for more workers. */
  c.sched.kind = RL_SCHED_SPREAD;
  S_CHECK(rl_dispatch_depth(&c) == 1 && rl_dispatch_pick(&c, polled) == NULL);
  c.sched.kind = RL_SCHED_DEFAULT;

  /* An actor's calls all go to its one worker, in order, however busy. */
  c.actor = (struct rl_actor *)&c; /* any non-NULL: only its presence counts here */
  c.leases = &b;
  b.next = NULL;
  b.inflight = 1000;
  S_CHECK(rl_dispatch_pick(&c, polled) == &b && !rl_dispatch_wants_lease(&c));
  c.actor = NULL;
  c.leases = &a;
  a.next = &b;

  /* Tasks on a lease run in push order; the next starts when the running one leaves. */
  rl_lease_t r = {0};
  r.cls = &c;
  S_CHECK(rl_dispatch_run_push(&r, &t[2], 10) && !rl_dispatch_run_push(&r, &t[3], 20) && r.inflight == 2);
  r.steal_dry = true;
  S_CHECK(rl_dispatch_run_remove(&t[3]) == NULL && r.run_tail == &t[2] && r.steal_dry); /* a waiting one */
  S_CHECK(!rl_dispatch_run_push(&r, &t[3], 30) && r.inflight == 3);
  rl_dispatch_done(&r, &t[2], 110); /* ran 100 us */
  S_CHECK(c.service_us == 0.8 * 50 + 0.2 * 100 && r.inflight == 2 && r.last_done_us == 110);
  S_CHECK(rl_dispatch_run_remove(&t[2]) == &t[3] && t[2].lease == NULL && r.run_head == &t[3]);
  S_CHECK(!r.steal_dry && r.head_since_us > 0); /* its tasks changed; t[3] runs from now */
  S_CHECK(rl_dispatch_run_remove(&t[3]) == NULL && !r.run_head && !r.run_tail);
  S_CHECK(rl_dispatch_run_remove(&t[3]) == NULL); /* on no lease: no-op */

  /* An idle lease: kept while a task is queued or it waits a while; it steals when
   * tasks wait their turn elsewhere; else it goes back, at once when just granted. */
  r.inflight = 0;
  r.idle_since_ms = 1000;
  S_CHECK(rl_dispatch_idle(&c, &a, true, true, 1000) == RL_IDLE_BUSY);
  S_CHECK(rl_dispatch_idle(&c, &r, false, true, 1000 + RL_DISPATCH_IDLE_MS - 1) == RL_IDLE_KEEP);
  S_CHECK(rl_dispatch_idle(&c, &r, false, true, 1000 + RL_DISPATCH_IDLE_MS) == RL_IDLE_RETURN);
  S_CHECK(rl_dispatch_idle(&c, &r, true, true, 1000 + RL_DISPATCH_IDLE_MS) == RL_IDLE_STEAL);
  S_CHECK(rl_dispatch_idle(&c, &r, false, false, 1000) == RL_IDLE_RETURN);
  S_CHECK(rl_dispatch_idle(&c, &r, true, false, 1000) == RL_IDLE_STEAL);
  rl_dispatch_enqueue(&t[2], false);
  S_CHECK(rl_dispatch_idle(&c, &r, false, false, 5000) == RL_IDLE_KEEP);
  rl_dispatch_unqueue(&t[2]);
  return 0;
}
