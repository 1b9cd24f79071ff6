/* stealing.c: work stealing (Ray 1.x's): an idle worker of a class takes over the tasks
 * waiting their turn behind another worker's (RL_CW_STEAL_TASKS / RL_CW_STOLEN). */
#include "common/log.h"
#include "wire/proto.h"
#include "worker/cw_internal.h"

/* Tasks waiting on a worker are taken back for an idle one when they would wait at
 * least this long there (else a steal costs more than it saves). */
#define S_STEAL_MIN_US 1000

/* How many of the tasks waiting their turn on lease l an idle worker should take:
 * all when l is held up by a long task, half when they would wait long enough there
 * to be worth a round trip, else none. */
static int s_stealable(const rl_cw_t *cw, const rl_lease_t *l) {
  int waiting = l->inflight - 1;
  if (waiting < 1 || l->steal_dry) return 0;
  if (rl_dispatch_stalled(l, cw->polled_us)) return waiting;
  return waiting * l->cls->service_us >= S_STEAL_MIN_US ? (waiting + 1) / 2 : 0;
}

/* The lease of c to steal tasks from, with how many (*n), or NULL: none, or a steal
 * is under way (one at a time per class). */
static rl_lease_t *s_steal_victim(rl_cw_t *cw, rl_class_t *c, int *n) {
  rl_lease_t *victim = NULL;
  *n = 0;
  for (rl_lease_t *l = c->leases; l; l = l->next) {
    if (l->stealing) return NULL;
    int k = s_stealable(cw, l);
    if (k > *n) {
      *n = k;
      victim = l;
    }
  }
  return victim;
}

bool rl_sub_can_steal(rl_cw_t *cw, rl_class_t *c) {
  int n;
  return !c->actor && s_steal_victim(cw, c, &n) != NULL;
}

void rl_sub_steal(rl_cw_t *cw, rl_class_t *c) {
  bool idle = false;
  for (rl_lease_t *l = c->leases; l && !idle; l = l->next) idle = l->inflight == 0;
  int n;
  rl_lease_t *victim = idle ? s_steal_victim(cw, c, &n) : NULL;
  if (!victim) return;
  rl_cw_steal_tasks_msg_t q = {.max = (uint64_t)n};
  if (rl_cw_steal_tasks_msg_send(victim->peer->sock, NULL, &q) != 0) return;
  victim->stealing = true;
  victim->pushed_since_steal = false;
  rl_log(RL_LOG_DEBUG, "steal: asked %s for %d of its %d tasks (held up: %d)", victim->endpoint, n,
         victim->inflight, rl_dispatch_stalled(victim, cw->polled_us));
}

/* Lease l of c answered our steal request with `given` tasks. Its answer speaks of the
 * tasks it had when it read the request: those pushed to it since were not there yet. */
static void s_steal_answered(rl_class_t *c, rl_lease_t *l, uint32_t given) {
  l->stealing = false;
  rl_log(RL_LOG_DEBUG, "steal: %s gave back %u of its %d tasks%s", l->endpoint, given, l->inflight,
         l->pushed_since_steal ? " (more were pushed to it since the request)" : "");
  /* Nothing came back of tasks it had (what waits there may not move): not asked again
   * until its tasks change, and no more spare workers are asked for until a task is
   * queued (no lease, return, lease...). Tasks pushed after the request are a change it
   * did not see: it may be asked for those. */
  if (given == 0 && !l->pushed_since_steal) l->steal_dry = c->spare_unused = true;
}

void rl_sub_handle_stolen(rl_cw_t *cw, rl_msg_t *m, rl_peer_t *from) {
  rl_cw_stolen_msg_t given;
  if (!rl_cw_stolen_msg_read(m, &given)) return;
  for (rl_class_t *c = cw->classes; c; c = c->next)
    for (rl_lease_t *l = c->leases; l; l = l->next)
      if (l->peer == from && l->stealing) s_steal_answered(c, l, given.task_ids.n);
  /* Last first: each goes to the front of its queue, so they keep their order. */
  for (uint32_t i = given.task_ids.n; i-- > 0;) {
    rl_task_t *t = rl_task_table_find(cw->tasks, &given.task_ids.v[i]);
    if (t && !t->finished && t->lease && t->lease->peer == from) rl_sub_take_back(cw, t);
  }
}
