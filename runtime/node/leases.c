/* leases.c: the node's resources and its lease queue: who gets which worker (from the
 * node's free resources, or from a placement group bundle held here). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/selftest.h"
#include "common/xalloc.h"
#include "node/nm.h"
#include "wire/proto.h"

static void s_send_spillback(rl_nm_t *nm, const rl_id_t *client, uint64_t request, const char *node) {
  rl_nm_lease_spillback_msg_t sb = {.request = request};
  snprintf(sb.node_endpoint, sizeof sb.node_endpoint, "%s", node);
  rl_nm_send_to(nm, client, RL_NM_LEASE_SPILLBACK, &sb);
}

/* Node affinity (RL_SCHED_NODE, soft or not): 1 redirected there, 0 serve here, -1 not
 * an affinity request (or a soft one whose node is gone: the default applies). */
static int s_affinity(rl_nm_t *nm, const rl_id_t *client, uint64_t request, const rl_wire_sched_t *sched) {
  if (sched->kind != RL_SCHED_NODE) return -1;
  bool soft = sched->soft;
  const rl_id_t *want = &sched->node_id;
  if (rl_id_eq(want, &nm->node_id)) return 0;
  for (int i = 0; i < nm->npeers; i++)
    if (rl_id_eq(&nm->peers[i].id, want)) {
      s_send_spillback(nm, client, request, nm->peers[i].endpoint);
      return 1;
    }
  return soft ? -1 : 0; /* hard: wait here, warned as infeasible if it cannot fit */
}

/* SPREAD: the next node, round robin, among those that can take it now. */
static bool s_spread(rl_nm_t *nm, const rl_id_t *client, uint64_t request, const rl_resources_t *res,
                     const rl_resources_t *placement) {
  const char *fits[65];
  int n = 0;
  if (rl_res_fits(&nm->available, res) && rl_res_fits(&nm->available, placement)) fits[n++] = NULL; /* here */
  for (int i = 0; i < nm->npeers; i++)
    if (rl_res_fits(&nm->peers[i].available, res) && rl_res_fits(&nm->peers[i].available, placement))
      fits[n++] = nm->peers[i].endpoint;
  if (n == 0) return false;
  const char *pick = fits[nm->spread_next++ % (unsigned)n];
  if (!pick) return false;
  s_send_spillback(nm, client, request, pick);
  return true;
}

/* Local first; another node when this one can never fit the request, or cannot now
 * while another node can (from the head's last view). Returns true if redirected. */
static bool s_spill(rl_nm_t *nm, const rl_id_t *client, uint64_t request, const rl_resources_t *res,
                    const rl_resources_t *placement, const rl_wire_sched_t *sched) {
  int affinity = s_affinity(nm, client, request, sched);
  if (affinity >= 0) return affinity == 1;
  if (sched->kind == RL_SCHED_SPREAD && s_spread(nm, client, request, res, placement)) return true;
  bool feasible = rl_res_fits(&nm->total, res) && rl_res_fits(&nm->total, placement);
  bool now = rl_res_fits(&nm->available, res) && rl_res_fits(&nm->available, placement);
  if (feasible && now) return false;
  const char *best = NULL;
  for (int i = 0; i < nm->npeers && !best; i++) {
    const struct rl_peer_node *p = &nm->peers[i];
    if (rl_res_fits(&p->available, res) && rl_res_fits(&p->available, placement)) best = p->endpoint;
  }
  for (int i = 0; i < nm->npeers && !best && !feasible; i++) {
    const struct rl_peer_node *p = &nm->peers[i];
    if (rl_res_fits(&p->total, res) && rl_res_fits(&p->total, placement)) best = p->endpoint;
  }
  if (!best) return false;
  s_send_spillback(nm, client, request, best);
  return true;
}

/* A placement group lease goes to the node holding its bundle, unless a bundle here
 * could take it. Returns true if redirected. (Also for a request spilled here: views
 * of the group's placement converge, so it cannot bounce for long.) */
static bool s_pg_spill(rl_nm_t *nm, const rl_id_t *client, rl_lease_req_t *r) {
  if (rl_bundles_could_hold(nm, &r->pg, r->bundle, &r->resources, &r->placement)) return false;
  const char *node = rl_bundles_route(nm, &r->pg, r->bundle, &r->resources, &r->placement);
  if (!node) return false; /* wait here until the head says where */
  s_send_spillback(nm, client, r->request, node);
  return true;
}

static void s_send_pg_removed(rl_nm_t *nm, const rl_lease_req_t *r) {
  rl_nm_lease_pg_removed_msg_t msg = {.request = r->request, .pg_id = r->pg};
  rl_nm_send_to(nm, &r->client, RL_NM_LEASE_PG_REMOVED, &msg);
}

void rl_leases_pg_removed(rl_nm_t *nm, const rl_id_t *pg) {
  for (rl_lease_req_t **pp = &nm->queue; *pp;) {
    rl_lease_req_t *r = *pp;
    if (r->in_pg && rl_id_eq(&r->pg, pg)) {
      s_send_pg_removed(nm, r);
      *pp = r->next;
      free(r);
    } else {
      pp = &r->next;
    }
  }
}

void rl_leases_request(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m) {
  rl_nm_lease_msg_t l;
  if (!rl_nm_lease_msg_read(m, &l)) return;
  uint64_t request = l.request;
  rl_resources_t res = l.resources, placement;
  if (l.has_placement)
    placement = l.placement;
  else
    rl_res_clear(&placement);
  bool dedicated = l.has_dedicated && l.dedicated, spilled = l.has_spilled && l.spilled;
  bool detached = l.has_detached && l.detached;
  rl_wire_sched_t sched = {.kind = RL_SCHED_DEFAULT};
  if (l.has_strategy) sched = l.strategy;
  const char *env = l.has_runtime_env ? l.runtime_env.p : "";
  size_t envlen = l.has_runtime_env ? l.runtime_env.n : 0;
  if (envlen && memchr(env, 0, envlen)) {
    rl_log(RL_LOG_WARN, "dropped NM_LEASE: field 'runtime_env' holds a NUL byte");
    return;
  }
  rl_id_t pg = sched.pg_id;
  int bundle = (int)sched.bundle;
  bool in_pg = sched.kind == RL_SCHED_PG;
  if (!in_pg && !spilled && s_spill(nm, client, request, &res, &placement, &sched)) return;
  /* A request no node can take waits here: the next view of the cluster either
   * spills it to a node that joined or warns the client (rl_leases_respill). */
  rl_lease_req_t *r = rl_xcalloc(1, sizeof *r);
  r->runtime_env = rl_xstrndup(env ? env : "", envlen);
  r->client = *client;
  r->request = request;
  r->resources = res;
  r->gpu_bad = rl_gpus_ask(rl_res_fixed(&res, "GPU"), &r->gpu, NULL, 0) != 0;
  r->placement = placement;
  r->dedicated = dedicated;
  r->detached = detached;
  r->spilled = spilled;
  r->in_pg = in_pg;
  r->pg = pg;
  r->bundle = bundle;
  r->since_ms = rl_now_ms();
  r->sched = sched;
  if (in_pg && rl_bundles_removed(nm, &pg)) {
    s_send_pg_removed(nm, r); /* e.g. a retry of a task killed with the group */
    free(r);
    return;
  }
  if (in_pg && s_pg_spill(nm, client, r)) {
    free(r);
    return;
  }
  /* Hard affinity to a node not (yet) in our view: never served here. */
  r->elsewhere = sched.kind == RL_SCHED_NODE && !sched.soft && !rl_id_eq(&sched.node_id, &nm->node_id);
  rl_lease_req_t **tail = &nm->queue;
  while (*tail) tail = &(*tail)->next;
  *tail = r;
  rl_leases_serve(nm);
}

static void s_free_req(rl_lease_req_t *r) {
  free(r->runtime_env);
  free(r);
}

/* An idle worker set up for exactly this runtime_env (Ray's per-runtime_env pool) that
 * can take the GPUs asked for from gpus: one without devices for a lease without GPUs;
 * else one bound to ask->count devices that have the share free, the fullest first (so
 * fractions pack). */
static rl_worker_t *s_idle_worker(rl_nm_t *nm, const rl_id_t *client, const char *runtime_env, const rl_gpus_t *gpus,
                                  const rl_gpu_ask_t *ask) {
  rl_worker_t *best = NULL;
  int64_t best_free = 0;
  for (rl_worker_t *w = nm->workers; w; w = w->next) {
    /* An actor's worker is never handed out again (it is being killed), nor one whose
     * bundle was released (killed too). */
    if (w->state != RL_W_IDLE || !w->registered || w->dedicated || w->killed || rl_id_eq(&w->id, client) ||
        strcmp(w->runtime_env, runtime_env))
      continue;
    if (ask->count == 0) {
      if (w->gpus.n == 0) return w;
      continue;
    }
    if (!rl_gpus_fits(gpus, ask, &w->gpus)) continue;
    int64_t free_share = rl_gpus_least_free(gpus, &w->gpus);
    if (!best || free_share < best_free) best = w, best_free = free_share;
  }
  return best;
}

/* Where the worker's lease took its resources from: the node's, its bundle's, or
 * NULL if that bundle is gone. */
static rl_resources_t *s_pool_of(rl_nm_t *nm, rl_worker_t *w) {
  if (!w->in_bundle) return &nm->available;
  rl_bundle_t *b = rl_bundles_find(nm, &w->bundle_pg, w->bundle_index);
  return b ? &b->available : NULL;
}

/* The devices the worker's lease took its GPUs from, as s_pool_of. */
static rl_gpus_t *s_gpus_of(rl_nm_t *nm, rl_worker_t *w) {
  if (!w->in_bundle) return &nm->gpus;
  rl_bundle_t *b = rl_bundles_find(nm, &w->bundle_pg, w->bundle_index);
  return b ? &b->gpus : NULL;
}

/* Workers of this runtime_env and these devices still starting. */
static int s_starting(rl_nm_t *nm, const char *runtime_env, const rl_gpu_set_t *gpus) {
  int n = 0;
  for (rl_worker_t *w = nm->workers; w; w = w->next)
    n += w->state == RL_W_STARTING && !strcmp(w->runtime_env, runtime_env) && rl_gpu_set_equal(&w->gpus, gpus);
  return n;
}

/* An idle worker of another runtime_env or other devices to make room for one of this
 * runtime_env and devices when the pool is full, or NULL. */
static rl_worker_t *s_idle_other(rl_nm_t *nm, const char *runtime_env, const rl_gpu_set_t *gpus) {
  for (rl_worker_t *w = nm->workers; w; w = w->next)
    if (w->state == RL_W_IDLE && w->registered && !w->dedicated && !w->killed &&
        (strcmp(w->runtime_env, runtime_env) || !rl_gpu_set_equal(&w->gpus, gpus)))
      return w;
  return NULL;
}

/* Requests that fit but have no idle worker, by the worker they need (runtime_env and
 * devices). */
#define S_WANT_MAX 32
typedef struct {
  int n;
  struct {
    const char *env; /* the request's string: the queue lives through one serve */
    rl_gpu_set_t gpus;
    int waiting;
  } w[S_WANT_MAX];
} s_wants_t;

static void s_want(s_wants_t *wants, const char *env, const rl_gpu_set_t *gpus) {
  int k = 0;
  while (k < wants->n && (strcmp(wants->w[k].env, env) || !rl_gpu_set_equal(&wants->w[k].gpus, gpus))) k++;
  if (k == wants->n) {
    if (k == S_WANT_MAX) return;
    wants->w[k].env = env;
    wants->w[k].gpus = *gpus;
    wants->w[k].waiting = 0;
    wants->n++;
  }
  wants->w[k].waiting++;
}

/* The devices requests waiting for a worker are planned on in one serve, per device
 * pool (the node's, or a bundle's): a copy of the pool less those plans, so that
 * waiting requests are planned on different devices and each gets its own worker. */
#define S_PLANS_MAX 8
typedef struct {
  int n;
  const rl_gpus_t *pool[S_PLANS_MAX];
  rl_gpus_t plan[S_PLANS_MAX];
} s_plans_t;

/* The plan of pool (made now from it if new), or NULL if there is no room for one. */
static rl_gpus_t *s_plan_of(s_plans_t *p, const rl_gpus_t *pool, bool make) {
  for (int i = 0; i < p->n; i++)
    if (p->pool[i] == pool) return &p->plan[i];
  if (!make || p->n == S_PLANS_MAX) return NULL;
  p->pool[p->n] = pool;
  p->plan[p->n] = *pool;
  return &p->plan[p->n++];
}

/* A grant took share of the devices on from a pool: its plan loses it too (as much as
 * the plan still has: a plan made on those devices is stale now). */
static void s_plan_granted(s_plans_t *p, const rl_gpus_t *pool, const rl_gpu_set_t *on, int64_t share) {
  rl_gpus_t *plan = s_plan_of(p, pool, false);
  for (int k = 0; plan && k < on->n; k++)
    for (int i = 0; i < plan->n; i++)
      if (plan->id[i] == on->id[k]) plan->free[i] = plan->free[i] > share ? plan->free[i] - share : 0;
}

/* For a request that fits but has no idle worker: the devices its new worker is to be
 * bound to (none for a request without GPUs). Returns false if no devices can take it
 * now (it waits; no worker is started for it). */
static bool s_plan(s_plans_t *plans, const rl_gpus_t *pool, const rl_lease_req_t *r, rl_gpu_set_t *on) {
  on->n = 0;
  if (r->gpu.count == 0) return true;
  rl_gpus_t *plan = s_plan_of(plans, pool, true);
  if (rl_gpus_pick(plan ? plan : pool, &r->gpu, on) != 0) return false;
  if (plan) rl_gpus_take(plan, on, r->gpu.share);
  return true;
}

/* Starts the workers wanted (bounded by max_workers for tasks; idle workers of another
 * kind make room). */
static void s_start_wanted(rl_nm_t *nm, const s_wants_t *wants, int waiting_actors) {
  int pool = 0, actors = 0;
  for (rl_worker_t *w = nm->workers; w; w = w->next) {
    if (w->dedicated) actors++;
    else pool++;
  }
  int cap = nm->max_workers + (actors + waiting_actors < RL_NM_MAX_ACTORS ? actors + waiting_actors : RL_NM_MAX_ACTORS);
  for (int k = 0; k < wants->n; k++) {
    int starting = s_starting(nm, wants->w[k].env, &wants->w[k].gpus);
    while (starting < wants->w[k].waiting && nm->failed_starts < 5) {
      if (pool + actors >= cap) {
        rl_worker_t *other = s_idle_other(nm, wants->w[k].env, &wants->w[k].gpus);
        if (!other) break;
        other->dedicated = true; /* never handed out again; reaped when it dies */
        kill(other->pid, SIGKILL);
        pool--;
      }
      if (!rl_pool_spawn(nm, wants->w[k].env, &wants->w[k].gpus)) break;
      starting++;
      pool++;
    }
  }
}

void rl_leases_serve(rl_nm_t *nm) {
  int waiting_actors = 0;
  s_wants_t wants = {.n = 0};
  s_plans_t plans = {.n = 0};
  for (rl_lease_req_t **pp = &nm->queue; *pp;) {
    rl_lease_req_t *r = *pp;
    rl_bundle_t *bundle = r->in_pg ? rl_bundles_pick(nm, &r->pg, r->bundle, &r->resources, &r->placement) : NULL;
    rl_resources_t *pool = r->in_pg ? (bundle ? &bundle->available : NULL) : &nm->available;
    if (!pool || r->elsewhere || r->gpu_bad || !rl_res_fits(pool, &r->resources) ||
        !rl_res_fits(pool, &r->placement)) {
      pp = &r->next;
      continue;
    }
    rl_gpus_t *gpus = bundle ? &bundle->gpus : &nm->gpus;
    rl_worker_t *w = s_idle_worker(nm, &r->client, r->runtime_env, gpus, &r->gpu);
    if (!w) {
      /* Resources are free but no worker of the right runtime_env and devices is. */
      rl_gpu_set_t on;
      if (s_plan(&plans, gpus, r, &on)) {
        s_want(&wants, r->runtime_env, &on);
        waiting_actors += r->dedicated;
      }
      pp = &r->next;
      continue;
    }
    rl_res_sub(pool, &r->resources);
    if (r->gpu.count) {
      rl_gpus_take(gpus, &w->gpus, r->gpu.share);
      s_plan_granted(&plans, gpus, &w->gpus, r->gpu.share);
    }
    w->gpu_share = r->gpu.share;
    w->in_bundle = bundle != NULL;
    if (bundle) {
      w->bundle_pg = bundle->pg;
      w->bundle_index = bundle->index;
    }
    w->state = RL_W_LEASED;
    w->lessee = r->client;
    w->held = r->resources;
    w->released = false;
    w->dedicated = r->dedicated;
    w->detached = r->detached;
    rl_nm_lease_granted_msg_t g = {.request = r->request, .worker_id = w->id, .pid = (uint64_t)w->pid};
    snprintf(g.endpoint, sizeof g.endpoint, "%s", w->endpoint);
    if (rl_nm_send_to(nm, &r->client, RL_NM_LEASE_GRANTED, &g) != 0) rl_leases_release_worker(nm, w);
    *pp = r->next;
    s_free_req(r);
  }
  /* Each actor has its own process (up to RL_NM_MAX_ACTORS). */
  s_start_wanted(nm, &wants, waiting_actors);
  rl_pool_top_up(nm); /* workers that became actors are replaced in the pool */
}

/* Adds the GPUs of held to pool (what a blocked worker did not lend). */
static void s_add_gpus_of(rl_resources_t *pool, const rl_resources_t *held) {
  rl_resources_t gpus;
  rl_res_clear(&gpus);
  rl_res_set(&gpus, "GPU", rl_res_get(held, "GPU"), NULL, 0);
  rl_res_add(pool, &gpus);
}

void rl_leases_release_worker(rl_nm_t *nm, rl_worker_t *w) {
  if (w->state != RL_W_LEASED) return;
  rl_resources_t *pool = s_pool_of(nm, w);
  rl_gpus_t *gpus = s_gpus_of(nm, w);
  if (!w->released && pool) rl_res_add(pool, &w->held);
  else if (pool) s_add_gpus_of(pool, &w->held); /* the rest was lent while it was blocked */
  if (gpus && w->gpu_share) rl_gpus_give(gpus, &w->gpus, w->gpu_share);
  w->gpu_share = 0;
  rl_res_clear(&w->held);
  w->released = false;
  w->in_bundle = false;
  w->state = RL_W_IDLE;
}

void rl_leases_return(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m) {
  rl_nm_return_msg_t ret;
  if (!rl_nm_return_msg_read(m, &ret)) return;
  rl_id_t id = ret.worker_id;
  bool failed = ret.worker_failed;
  rl_worker_t *w = rl_pool_by_id(nm, &id);
  if (!w || w->state != RL_W_LEASED || !rl_id_eq(&w->lessee, client)) return;
  bool dedicated = w->dedicated;
  rl_leases_release_worker(nm, w);
  if (failed || dedicated) kill(w->pid, SIGKILL);
  rl_leases_serve(nm);
}

void rl_leases_blocked(rl_nm_t *nm, const rl_id_t *client, bool blocked) {
  rl_worker_t *w = rl_pool_by_id(nm, client);
  if (!w || w->state != RL_W_LEASED) return;
  rl_resources_t *pool = s_pool_of(nm, w);
  if (blocked && !w->released && pool) {
    /* Lend its resources to others while it waits (Ray does the same). Once it runs
     * again it goes on without them until its lease ends. Not its GPUs: its devices
     * are still its own (their memory, their context). */
    rl_resources_t lent = w->held;
    rl_res_set(&lent, "GPU", 0, NULL, 0);
    rl_res_add(pool, &lent);
    w->released = true;
    rl_leases_serve(nm);
  }
}

int rl_leases_client_gone(rl_nm_t *nm, const rl_id_t *client, bool died) {
  int held = 0;
  for (rl_lease_req_t **pp = &nm->queue; *pp;) {
    rl_lease_req_t *r = *pp;
    if (rl_id_eq(&r->client, client)) {
      *pp = r->next;
      s_free_req(r);
    } else {
      pp = &r->next;
    }
  }
  for (rl_worker_t *w = nm->workers; w; w = w->next) {
    if (w->state != RL_W_LEASED || !rl_id_eq(&w->lessee, client)) continue;
    /* An actor goes with its owner, unless it is detached: then it stays, leased to
     * nobody who will return it, until it is killed or exits. */
    if (w->detached) continue;
    bool dedicated = w->dedicated;
    rl_leases_release_worker(nm, w);
    held++;
    if (dedicated || died) kill(w->pid, SIGKILL);
  }
  rl_leases_serve(nm);
  return held;
}

/* What a request asks of a node: its resources, and placement where that asks more. */
static void s_shape(const rl_lease_req_t *r, rl_resources_t *shape) {
  *shape = r->resources;
  for (int i = 0; i < r->placement.n; i++) {
    const rl_resource_t *p = &r->placement.r[i];
    double want = (double)p->amount / RL_RES_UNIT;
    if (rl_res_get(shape, p->name) < want) rl_res_set(shape, p->name, want, NULL, 0);
  }
}

static bool s_infeasible(rl_nm_t *nm, const rl_lease_req_t *r) {
  if (r->elsewhere || r->gpu_bad) return true;
  if (rl_res_fits(&nm->total, &r->resources) && rl_res_fits(&nm->total, &r->placement)) return false;
  for (int i = 0; i < nm->npeers; i++)
    if (rl_res_fits(&nm->peers[i].total, &r->resources) && rl_res_fits(&nm->peers[i].total, &r->placement))
      return false;
  return true;
}

/* What a feasible request waits for (rayl status): RL_WAIT_WORKER when its resources
 * are free here and workers are starting (it gets one once they register), else
 * RL_WAIT_RESOURCES. */
static int s_waiting_for(rl_nm_t *nm, const rl_lease_req_t *r) {
  if (r->in_pg || !rl_res_fits(&nm->available, &r->resources)) return RL_WAIT_RESOURCES;
  for (rl_worker_t *w = nm->workers; w; w = w->next)
    if (w->state == RL_W_STARTING) return RL_WAIT_WORKER;
  return RL_WAIT_RESOURCES;
}

int rl_leases_demands(rl_nm_t *nm, rl_wire_demand_t *out, int max) {
  int n = 0;
  for (rl_lease_req_t *r = nm->queue; r; r = r->next) {
    rl_resources_t shape;
    s_shape(r, &shape);
    bool infeasible = s_infeasible(nm, r);
    uint64_t waiting = (uint64_t)(infeasible ? RL_WAIT_RESOURCES : s_waiting_for(nm, r));
    int g = 0;
    while (g < n && !(out[g].infeasible == infeasible && out[g].waiting == waiting &&
                      rl_res_equal(&out[g].shape, &shape)))
      g++;
    if (g == n) {
      if (n == max) continue; /* more shapes than a status line can use */
      out[n] = (rl_wire_demand_t){.shape = shape, .infeasible = infeasible, .waiting = waiting, .has_waiting = true};
      n++;
    }
    out[g].count++;
  }
  return n;
}

static void s_send_infeasible(rl_nm_t *nm, rl_lease_req_t *r, const char *reason) {
  r->warned = true;
  rl_nm_lease_infeasible_msg_t msg = {.request = r->request, .reason = rl_wire_str(reason)};
  rl_nm_send_to(nm, &r->client, RL_NM_LEASE_INFEASIBLE, &msg);
}

/* Tells the client once that no node in the cluster (or no bundle of its placement
 * group) can take its request. */
static void s_warn_infeasible(rl_nm_t *nm, rl_lease_req_t *r) {
  char want[200], have[200], reason[480];
  if (r->warned) return;
  if (r->gpu_bad) {
    rl_gpu_ask_t ask;
    rl_gpus_ask(rl_res_fixed(&r->resources, "GPU"), &ask, want, sizeof want);
    snprintf(reason, sizeof reason, "it can never run: %s", want);
    s_send_infeasible(nm, r, reason);
    return;
  }
  if (r->in_pg) {
    if (rl_bundles_too_big(nm, &r->pg, r->bundle, &r->resources, &r->placement, reason, sizeof reason))
      s_send_infeasible(nm, r, reason);
    return;
  }
  bool fits = rl_res_fits(&nm->total, &r->resources) && rl_res_fits(&nm->total, &r->placement);
  if (fits && !r->elsewhere) return;
  rl_res_format(rl_res_fits(&nm->total, &r->placement) ? &r->resources : &r->placement, want, sizeof want);
  rl_res_format(&nm->total, have, sizeof have);
  char hex[RL_ID_HEX];
  if (r->elsewhere)
    snprintf(reason, sizeof reason, "it must run on node %s, which is not in the cluster", rl_id_hex(&r->sched.node_id, hex));
  else
    snprintf(reason, sizeof reason, "it asks for {%s} but no node has that (this one has {%s})", want, have);
  s_send_infeasible(nm, r, reason);
}

/* A request another node sent here waits while this node is busy; once it has waited
 * longer than a view refresh and the view shows another node free for it, it moves
 * there (so it cannot bounce between nodes faster than the views change). */
#define S_RESPILL_AFTER_MS 1000
static bool s_move_on(rl_nm_t *nm, rl_lease_req_t *r, int64_t now) {
  if (!r->spilled || now - r->since_ms < S_RESPILL_AFTER_MS || (r->sched.kind == RL_SCHED_NODE && !r->sched.soft)) return false;
  if (rl_res_fits(&nm->available, &r->resources) && rl_res_fits(&nm->available, &r->placement)) return false;
  for (int i = 0; i < nm->npeers; i++) {
    const struct rl_peer_node *p = &nm->peers[i];
    if (rl_res_fits(&p->available, &r->resources) && rl_res_fits(&p->available, &r->placement)) {
      s_send_spillback(nm, &r->client, r->request, p->endpoint);
      return true;
    }
  }
  return false;
}

void rl_leases_respill(rl_nm_t *nm) {
  int64_t now = rl_now_ms();
  for (rl_lease_req_t **pp = &nm->queue; *pp;) {
    rl_lease_req_t *r = *pp;
    if (r->in_pg ? s_pg_spill(nm, &r->client, r)
                 : (!r->spilled && s_spill(nm, &r->client, r->request, &r->resources, &r->placement, &r->sched)) ||
                       s_move_on(nm, r, now)) {
      *pp = r->next;
      s_free_req(r);
    } else {
      s_warn_infeasible(nm, r);
      pp = &r->next;
    }
  }
}
