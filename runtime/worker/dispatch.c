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
