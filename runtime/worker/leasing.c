/* leasing.c: the workers a process leases from node managers: requests (with
 * spillback to other nodes), grants, returns, and an actor's dedicated lease. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "wire/proto.h"
#include "worker/cw_internal.h"

static void s_send_lease(rl_class_t *c, void *sock, bool spilled) {
  rl_nm_lease_msg_t l = {.request = c->lease_request, .resources = c->resources,
                         .has_dedicated = true, .dedicated = c->dedicated,
                         .has_placement = true, .placement = c->placement,
                         .has_spilled = true, .spilled = spilled,
                         .has_strategy = true, .strategy = c->sched,
                         .has_detached = true, .detached = c->detached,
                         .has_runtime_env = true, .runtime_env = rl_wire_str(c->runtime_env ? c->runtime_env : "")};
  rl_nm_lease_msg_send(sock, NULL, &l);
}

void rl_sub_request_lease(rl_cw_t *cw, rl_class_t *c, bool dedicated, const rl_resources_t *placement) {
  c->lease_request = ++cw->lease_request_seq;
  c->dedicated = dedicated;
  if (placement) c->placement = *placement;
  else rl_res_clear(&c->placement);
  c->lease_at = NULL;
  s_send_lease(c, cw->nm, false);
}

void rl_sub_handle_spillback(rl_cw_t *cw, rl_msg_t *m) {
  rl_nm_lease_spillback_msg_t sb;
  if (!rl_nm_lease_spillback_msg_read(m, &sb)) return;
  uint64_t request = sb.request;
  const char *endpoint = sb.node_endpoint;
  rl_class_t *c = cw->classes;
  while (c && c->lease_request != request) c = c->next;
  if (!c) return;
  if (!strcmp(endpoint, cw->node_endpoint)) {
    /* Back to our own node manager (another node that held it is busy now): on our
     * connection to it, not a second one under the same routing id. */
    c->lease_at = NULL;
    s_send_lease(c, cw->nm, true);
    return;
  }
  rl_peer_t *node = rl_cw_remote_node(cw, endpoint);
  c->lease_at = node;
  if (!node) {
    s_send_lease(c, cw->nm, true); /* cannot reach it: wait here instead */
    return;
  }
  s_send_lease(c, node->sock, true);
}

/* Tells the node manager that granted it (node; NULL: ours) we are done with a worker. */
static void s_send_return(rl_cw_t *cw, const rl_id_t *worker, rl_peer_t *node, bool kill) {
  rl_nm_return_msg_t r = {.worker_id = *worker, .worker_failed = kill};
  rl_nm_return_msg_send(node ? node->sock : cw->nm, NULL, &r);
}

void rl_sub_return_lease(rl_cw_t *cw, rl_class_t *c, rl_lease_t *l, bool failed) {
  for (rl_lease_t **pp = &c->leases; *pp; pp = &(*pp)->next) {
    if (*pp != l) continue;
    *pp = l->next;
    break;
  }
  if (!failed) s_send_return(cw, &l->worker_id, l->node, false);
  free(l->fn_sent);
  free(l);
}

void rl_sub_return_idle_leases(rl_cw_t *cw) {
  for (rl_class_t *c = cw->classes; c; c = c->next)
    for (rl_lease_t *l = c->actor ? NULL : c->leases, *next; l; l = next) {
      next = l->next;
      if (rl_dispatch_idle(c, l, false, false, 0) == RL_IDLE_RETURN) rl_sub_return_lease(cw, c, l, false);
    }
}

/* A lease of c on worker (at endpoint, granted by node; NULL: ours), not yet in c's
 * list; NULL if out of memory or the worker cannot be reached. */
static rl_lease_t *s_lease_new(rl_cw_t *cw, rl_class_t *c, const rl_id_t *worker, const char *endpoint,
                               rl_peer_t *node) {
  rl_peer_t *peer = rl_cw_peer(cw, endpoint);
  if (!peer) return NULL;
  rl_lease_t *l = rl_xcalloc(1, sizeof *l);
  l->worker_id = *worker;
  snprintf(l->endpoint, sizeof l->endpoint, "%s", endpoint);
  l->peer = peer;
  l->node = node;
  l->cls = c;
  l->idle_since_ms = rl_now_ms();
  return l;
}

void rl_sub_handle_lease_granted(rl_cw_t *cw, rl_msg_t *m, rl_peer_t *from) {
  rl_nm_lease_granted_msg_t g;
  if (!rl_nm_lease_granted_msg_read(m, &g)) return;
  uint64_t request = g.request, pid = g.pid;
  rl_id_t worker = g.worker_id;
  const char *endpoint = g.endpoint;
  rl_class_t *c = cw->classes;
  while (c && c->lease_request != request) c = c->next;
  rl_lease_t *l = c ? s_lease_new(cw, c, &worker, endpoint, from) : NULL;
  if (!l) {
    s_send_return(cw, &worker, from, false);
    return;
  }
  c->lease_request = 0;
  l->node_endpoint = from ? from->endpoint : cw->node_endpoint;
  l->pid = (uint32_t)pid;
  if (!c->actor && rl_dispatch_idle(c, l, rl_sub_can_steal(cw, c), false, 0) == RL_IDLE_RETURN) {
    /* The work it was asked for is done already, or is pipelined on other workers
     * that will soon get to it: let someone else have it. (Else it takes over tasks
     * waiting their turn elsewhere: rl_sub_tick steals them for it.) */
    free(l);
    c->spare_unused = true;
    s_send_return(cw, &worker, from, false);
    return;
  }
  l->next = c->leases;
  c->leases = l;
  if (c->actor) rl_actor_lease_granted(cw, c);
}

void rl_sub_handle_lease_infeasible(rl_cw_t *cw, rl_msg_t *m) {
  rl_nm_lease_infeasible_msg_t inf;
  if (!rl_nm_lease_infeasible_msg_read(m, &inf)) return;
  uint64_t request = inf.request;
  char reason[sizeof ((rl_class_t *)0)->infeasible_why];
  size_t n = inf.reason.n < sizeof reason ? inf.reason.n : sizeof reason - 1; /* cut to fit */
  snprintf(reason, sizeof reason, "%.*s", (int)n, n ? inf.reason.p : "");
  for (rl_class_t *c = cw->classes; c; c = c->next) {
    if (c->lease_request != request) continue;
    /* The request stays queued at the node (a node that fits may join). */
    if (!c->infeasible_warned) {
      char want[200];
      rl_res_format(&c->resources, want, sizeof want);
      fprintf(stderr,
              "rayl: warning: tasks needing {%s} cannot be scheduled: %s. They wait until a node "
              "with those resources joins the cluster.\n",
              want, reason);
      c->infeasible_warned = true;
      memcpy(c->infeasible_why, reason, sizeof reason);
    }
  }
}

/* The wait after which a blocked get or wait warns of infeasible tasks:
 * RAYL_PENDING_WARN_S seconds (default 10, as Ray). */
static int64_t s_pending_warn_ms(void) {
  static int64_t ms = -1;
  if (ms < 0) {
    const char *v = getenv("RAYL_PENDING_WARN_S");
    char *end = NULL;
    double s = v && *v ? strtod(v, &end) : 10;
    if (v && *v && (*end || s < 0)) {
      rl_log(RL_LOG_WARN, "RAYL_PENDING_WARN_S='%s' is not a number of seconds >= 0; using 10", v);
      s = 10;
    }
    ms = (int64_t)(s * 1000);
  }
  return ms;
}

void rl_sub_warn_pending(rl_cw_t *cw, int64_t since_ms, bool *warned) {
  if (*warned || rl_now_ms() - since_ms < s_pending_warn_ms()) return;
  *warned = true;
  for (rl_class_t *c = cw->classes; c; c = c->next) {
    if (!c->infeasible_warned || c->leases || (!c->queued && !c->actor)) continue;
    char want[200];
    rl_res_format(&c->resources, want, sizeof want);
    fprintf(stderr,
            "rayl: warning: this rayl.get has waited %.0f s; %zu task%s {%s} and cannot be scheduled: "
            "%s. Add a node with those resources, or ask for less.\n",
            (double)(rl_now_ms() - since_ms) / 1000, c->queued, c->queued == 1 ? " needs" : "s need", want, c->infeasible_why);
  }
}

void rl_sub_handle_lease_pg_removed(rl_cw_t *cw, rl_msg_t *m) {
  rl_nm_lease_pg_removed_msg_t rm;
  if (!rl_nm_lease_pg_removed_msg_read(m, &rm)) return;
  uint64_t request = rm.request;
  rl_id_t pg = rm.pg_id;
  rl_class_t *c = cw->classes;
  while (c && c->lease_request != request) c = c->next;
  if (!c) return;
  c->lease_request = 0;
  char hex[RL_ID_HEX], msg[200];
  rl_id_hex(&pg, hex);
  if (c->actor) {
    snprintf(msg, sizeof msg, "the actor's placement group %s was removed", hex);
    rl_actor_unplaceable(cw, c, msg);
    return;
  }
  /* As Ray: tasks waiting for a removed group fail (TaskPlacementGroupRemoved). */
  size_t len;
  snprintf(msg, sizeof msg, "the task's placement group %s was removed", hex);
  char *cause = rl_cw_encode_error(cw, "TaskPlacementGroupRemoved", msg, &len);
  while (c->queue_head) rl_sub_task_fail(cw, c->queue_head, RL_RET_ERROR, cause, len);
  free(cause);
}

void rl_sub_add_lease(rl_cw_t *cw, rl_class_t *c, const rl_id_t *worker, const char *endpoint, rl_peer_t *node) {
  rl_lease_t *l = s_lease_new(cw, c, worker, endpoint, node);
  if (!l) return;
  l->next = c->leases;
  c->leases = l;
}

void rl_sub_drop_lease(rl_cw_t *cw, rl_class_t *c, bool tell_node) {
  while (c->leases) {
    rl_lease_t *l = c->leases;
    c->leases = l->next;
    if (tell_node) s_send_return(cw, &l->worker_id, l->node, true); /* an actor's worker is killed */
    free(l->fn_sent);
    free(l);
  }
}

void rl_sub_leases_node_died(rl_cw_t *cw, const char *node) {
  for (rl_class_t *c = cw->classes; c; c = c->next) {
    if (!c->lease_request || !c->lease_at || strcmp(c->lease_at->endpoint, node)) continue;
    rl_log(RL_LOG_INFO, "lease request %llu waited at %s, which died: asking our node manager again",
           (unsigned long long)c->lease_request, node);
    c->lease_request = 0;
    c->lease_at = NULL;
    if (!c->actor && !c->queue_head) continue; /* nothing waits for it now */
    rl_resources_t placement = c->placement;
    rl_sub_request_lease(cw, c, c->dedicated, &placement);
  }
}
