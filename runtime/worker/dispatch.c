/* dispatch.c: where a scheduling class's next task goes, and what its idle leases do
 * (see dispatch.h). */
#include "common/selftest.h"
#include "worker/dispatch.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"

/* How much longer than its class's tasks usually take a task may run before the tasks
 * behind it on its worker count as held up (twice the usual time, plus this). */
#define S_STALL_SLACK_US 2000

void rl_dispatch_enqueue(rl_task_t *t, bool front) {
  rl_class_t *c = t->cls;
  t->lease = NULL;
  if (front) {
    t->next = c->queue_head;
    c->queue_head = t;
    if (!c->queue_tail) c->queue_tail = t;
  } else {
    t->next = NULL;
    if (c->queue_tail) c->queue_tail->next = t;
    else c->queue_head = t;
    c->queue_tail = t;
  }
  c->queued++;
  c->spare_unused = false;
}

rl_task_t *rl_dispatch_dequeue(rl_class_t *c) {
  rl_task_t *t = c->queue_head;
  c->queue_head = t->next;
  if (!c->queue_head) c->queue_tail = NULL;
  c->queued--;
  return t;
}

void rl_dispatch_unqueue(rl_task_t *t) {
  rl_class_t *c = t->cls;
  for (rl_task_t **pp = &c->queue_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
    if (*pp != t) continue;
    *pp = t->next;
    if (c->queue_tail == t) c->queue_tail = prev;
    c->queued--;
    return;
  }
}

/* Tasks pushed to a lease run in push order (one at a time in a task worker): the
 * first still on it runs now, the others wait their turn. */
bool rl_dispatch_run_push(rl_lease_t *l, rl_task_t *t, int64_t now_us) {
  t->lease = l;
  t->pushed_us = now_us;
  l->inflight++;
  l->steal_dry = false;
  l->pushed_since_steal = true;
  t->run_prev = l->run_tail;
  t->run_next = NULL;
  if (l->run_tail) l->run_tail->run_next = t;
  else l->run_head = t;
  l->run_tail = t;
  if (l->run_head != t) return false;
  l->head_since_us = now_us; /* the time it starts, as l was idle */
  return true;
}

rl_task_t *rl_dispatch_run_remove(rl_task_t *t) {
  rl_lease_t *l = t->lease;
  if (!l) return NULL;
  bool was_running = l->run_head == t;
  if (t->run_prev) t->run_prev->run_next = t->run_next;
  else if (l->run_head == t) l->run_head = t->run_next;
  if (t->run_next) t->run_next->run_prev = t->run_prev;
  else if (l->run_tail == t) l->run_tail = t->run_prev;
  t->run_prev = t->run_next = NULL;
  t->lease = NULL;
  if (!was_running || !l->run_head) return NULL;
  l->steal_dry = false;
  l->head_since_us = rl_now_us();
  return l->run_head;
}

void rl_dispatch_done(rl_lease_t *l, const rl_task_t *t, int64_t now_us) {
  rl_class_t *c = t->cls;
  int64_t start = t->pushed_us > l->last_done_us ? t->pushed_us : l->last_done_us;
  double service = (double)(now_us - start);
  c->service_us = c->service_us > 0 ? 0.8 * c->service_us + 0.2 * service : service;
  l->last_done_us = now_us;
  if (--l->inflight == 0) l->idle_since_ms = now_us / 1000;
}

int rl_dispatch_depth(const rl_class_t *c) {
  if (c->sched.kind == RL_SCHED_SPREAD) return 1; /* more leases, on more nodes */
  if (c->service_us <= 0 || c->service_us >= 2000) return 1;
  if (c->service_us < 200) return 128;
  return 16;
}

bool rl_dispatch_stalled(const rl_lease_t *l, int64_t polled_us) {
  return l->inflight > 0 && polled_us - l->head_since_us > 2 * l->cls->service_us + S_STALL_SLACK_US;
}

rl_lease_t *rl_dispatch_pick(const rl_class_t *c, int64_t polled_us) {
  rl_lease_t *best = NULL;
  int depth = c->actor ? INT32_MAX : rl_dispatch_depth(c);
  for (rl_lease_t *l = c->leases; l; l = l->next) {
    if (l->inflight >= depth || (best && l->inflight >= best->inflight)) continue;
    if (!c->actor && rl_dispatch_stalled(l, polled_us)) continue;
    best = l;
    if (l->inflight == 0) break;
  }
  return best;
}

bool rl_dispatch_wants_lease(const rl_class_t *c) {
  if (c->actor || c->lease_request) return false; /* an actor's one worker is leased at its creation */
  if (c->queue_head) return true;
  if (c->spare_unused) return false;
  bool backlog = false;
  for (const rl_lease_t *l = c->leases; l; l = l->next) {
    if (l->inflight == 0) return false; /* an idle one takes the next task */
    backlog = backlog || l->inflight > 1;
  }
  return backlog;
}

rl_idle_t rl_dispatch_idle(const rl_class_t *c, const rl_lease_t *l, bool can_steal, bool linger, int64_t now_ms) {
  if (l->inflight > 0) return RL_IDLE_BUSY;
  if (c->queue_head) return RL_IDLE_KEEP;
  if (can_steal) return RL_IDLE_STEAL;
  if (!linger || now_ms - l->idle_since_ms >= RL_DISPATCH_IDLE_MS) return RL_IDLE_RETURN;
  return RL_IDLE_KEEP;
}

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
