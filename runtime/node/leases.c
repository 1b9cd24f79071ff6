/* leases.c: the node's resources and its lease queue: who gets which worker. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "node/nm.h"
#include "wire/proto.h"

static void s_send_spillback(rl_nm_t *nm, const rl_id_t *client, uint64_t request, const char *node) {
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_NM_LEASE_SPILLBACK, 2);
  msgpack_pack_uint64(&b.pk, request);
  rl_pack_str(&b.pk, node);
  rl_nm_send_to(nm, client, &b);
}

/* Node affinity ("NODE:<id>" / "NODE_SOFT:<id>"): 1 redirected there, 0 serve here,
 * -1 not an affinity request (or a soft one whose node is gone: the default applies). */
static int s_affinity(rl_nm_t *nm, const rl_id_t *client, uint64_t request, const char *strategy) {
  bool soft = !strncmp(strategy, "NODE_SOFT:", 10);
  if (!soft && strncmp(strategy, "NODE:", 5)) return -1;
  rl_id_t want;
  if (rl_id_parse(strategy + (soft ? 10 : 5), &want) != 0) return -1;
  if (rl_id_eq(&want, &nm->node_id)) return 0;
  for (int i = 0; i < nm->npeers; i++)
    if (rl_id_eq(&nm->peers[i].id, &want)) {
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
                    const rl_resources_t *placement, const char *strategy) {
  int affinity = s_affinity(nm, client, request, strategy);
  if (affinity >= 0) return affinity == 1;
  if (!strcmp(strategy, "SPREAD") && s_spread(nm, client, request, res, placement)) return true;
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

void rl_leases_request(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m) {
  uint64_t request;
  rl_resources_t res;
  rl_resources_t placement;
  bool dedicated = false, spilled = false, detached = false;
  char strategy[RL_NM_STRATEGY_MAX] = "";
  rl_res_clear(&placement);
  if (!rl_field_u64(m, 0, &request) || rl_res_unpack(rl_field(m, 1), &res) != 0 ||
      (rl_field(m, 2) && !rl_field_is_nil(m, 2) && !rl_field_bool(m, 2, &dedicated)) ||
      (rl_field(m, 3) && !rl_field_is_nil(m, 3) && rl_res_unpack(rl_field(m, 3), &placement) != 0) ||
      (rl_field(m, 4) && !rl_field_is_nil(m, 4) && !rl_field_bool(m, 4, &spilled)) ||
      (rl_field(m, 5) && !rl_field_strcpy(m, 5, strategy, sizeof strategy)) ||
      (rl_field(m, 6) && !rl_field_bool(m, 6, &detached))) {
    rl_log(RL_LOG_WARN, "dropped a malformed lease request");
    return;
  }
  if (!spilled && s_spill(nm, client, request, &res, &placement, strategy)) return;
  /* A request no node can take waits here: the next view of the cluster either
   * spills it to a node that joined or warns the client (rl_leases_respill). */
  rl_lease_req_t *r = calloc(1, sizeof *r);
  if (!r) return;
  r->client = *client;
  r->request = request;
  r->resources = res;
  r->placement = placement;
  r->dedicated = dedicated;
  r->detached = detached;
  r->spilled = spilled;
  r->since_ms = rl_now_ms();
  snprintf(r->strategy, sizeof r->strategy, "%s", strategy);
  /* Hard affinity to a node not (yet) in our view: never served here. */
  rl_id_t want;
  r->elsewhere = !strncmp(strategy, "NODE:", 5) && rl_id_parse(strategy + 5, &want) == 0 &&
                 !rl_id_eq(&want, &nm->node_id);
  rl_lease_req_t **tail = &nm->queue;
  while (*tail) tail = &(*tail)->next;
  *tail = r;
  rl_leases_serve(nm);
}

static rl_worker_t *s_idle_worker(rl_nm_t *nm, const rl_id_t *client) {
  for (rl_worker_t *w = nm->workers; w; w = w->next)
    /* An actor's worker is never handed out again (it is being killed). */
    if (w->state == RL_W_IDLE && w->registered && !w->dedicated && !rl_id_eq(&w->id, client)) return w;
  return NULL;
}

static int s_count(rl_nm_t *nm, rl_wstate_t state) {
  int n = 0;
  for (rl_worker_t *w = nm->workers; w; w = w->next) n += w->state == state;
  return n;
}

void rl_leases_serve(rl_nm_t *nm) {
  int waiting_for_worker = 0, waiting_actors = 0;
  for (rl_lease_req_t **pp = &nm->queue; *pp;) {
    rl_lease_req_t *r = *pp;
    if (r->elsewhere || !rl_res_fits(&nm->available, &r->resources) || !rl_res_fits(&nm->available, &r->placement)) {
      pp = &r->next;
      continue;
    }
    rl_worker_t *w = s_idle_worker(nm, &r->client);
    if (!w) {
      waiting_for_worker++;
      waiting_actors += r->dedicated;
      pp = &r->next;
      continue;
    }
    rl_res_sub(&nm->available, &r->resources);
    w->state = RL_W_LEASED;
    w->lessee = r->client;
    w->held = r->resources;
    w->released = false;
    w->dedicated = r->dedicated;
    w->detached = r->detached;
    rl_msgbuf_t b;
    rl_msgbuf_init(&b, RL_NM_LEASE_GRANTED, 4);
    msgpack_pack_uint64(&b.pk, r->request);
    rl_pack_id(&b.pk, &w->id);
    rl_pack_str(&b.pk, w->endpoint);
    msgpack_pack_uint64(&b.pk, (uint64_t)w->pid);
    if (rl_nm_send_to(nm, &r->client, &b) != 0) rl_leases_release_worker(nm, w);
    *pp = r->next;
    free(r);
  }
  /* Resources are free but no worker is: start more. Task workers are bounded by
   * max_workers; each actor has its own process (up to RL_NM_MAX_ACTORS). */
  int starting = s_count(nm, RL_W_STARTING);
  int pool = 0, actors = 0;
  for (rl_worker_t *w = nm->workers; w; w = w->next) {
    if (w->dedicated) actors++;
    else pool++;
  }
  int cap = nm->max_workers + (actors + waiting_actors < RL_NM_MAX_ACTORS ? actors + waiting_actors : RL_NM_MAX_ACTORS);
  while (starting < waiting_for_worker && pool + actors < cap && nm->failed_starts < 5) {
    if (!rl_pool_spawn(nm)) break;
    starting++;
    pool++;
  }
  rl_pool_top_up(nm); /* workers that became actors are replaced in the pool */
}

void rl_leases_release_worker(rl_nm_t *nm, rl_worker_t *w) {
  if (w->state != RL_W_LEASED) return;
  if (!w->released) rl_res_add(&nm->available, &w->held);
  rl_res_clear(&w->held);
  w->released = false;
  w->state = RL_W_IDLE;
}

void rl_leases_return(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m) {
  rl_id_t id;
  bool failed;
  if (!rl_field_id(m, 0, &id) || !rl_field_bool(m, 1, &failed)) {
    rl_log(RL_LOG_WARN, "dropped a malformed lease return");
    return;
  }
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
  if (blocked && !w->released) {
    /* Lend its resources to others while it waits (Ray does the same). Once it runs
     * again it goes on without them until its lease ends. */
    rl_res_add(&nm->available, &w->held);
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
      free(r);
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
  if (r->elsewhere) return true;
  if (rl_res_fits(&nm->total, &r->resources) && rl_res_fits(&nm->total, &r->placement)) return false;
  for (int i = 0; i < nm->npeers; i++)
    if (rl_res_fits(&nm->peers[i].total, &r->resources) && rl_res_fits(&nm->peers[i].total, &r->placement))
      return false;
  return true;
}

void rl_leases_pack_demands(rl_nm_t *nm, msgpack_packer *pk) {
  enum { S_MAX = 64 };
  struct {
    rl_resources_t shape;
    uint64_t count;
    bool infeasible;
  } groups[S_MAX];
  int n = 0;
  for (rl_lease_req_t *r = nm->queue; r; r = r->next) {
    rl_resources_t shape;
    s_shape(r, &shape);
    bool infeasible = s_infeasible(nm, r);
    int g = 0;
    while (g < n && !(groups[g].infeasible == infeasible && rl_res_equal(&groups[g].shape, &shape))) g++;
    if (g == n) {
      if (n == S_MAX) continue; /* more shapes than a status line can use */
      groups[n].shape = shape;
      groups[n].count = 0;
      groups[n].infeasible = infeasible;
      n++;
    }
    groups[g].count++;
  }
  msgpack_pack_array(pk, (uint32_t)n);
  for (int g = 0; g < n; g++) {
    msgpack_pack_array(pk, 3);
    rl_res_pack(pk, &groups[g].shape);
    msgpack_pack_uint64(pk, groups[g].count);
    if (groups[g].infeasible) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
  }
}

/* Tells the client once that no node in the cluster can take its request. */
static void s_warn_infeasible(rl_nm_t *nm, rl_lease_req_t *r) {
  bool fits = rl_res_fits(&nm->total, &r->resources) && rl_res_fits(&nm->total, &r->placement);
  if (r->warned || (fits && !r->elsewhere)) return;
  r->warned = true;
  char want[200], have[200], reason[480];
  rl_res_format(rl_res_fits(&nm->total, &r->placement) ? &r->resources : &r->placement, want, sizeof want);
  rl_res_format(&nm->total, have, sizeof have);
  if (r->elsewhere)
    snprintf(reason, sizeof reason, "it must run on node %s, which is not in the cluster", r->strategy + 5);
  else
    snprintf(reason, sizeof reason, "it asks for {%s} but no node has that (this one has {%s})", want, have);
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_NM_LEASE_INFEASIBLE, 2);
  msgpack_pack_uint64(&b.pk, r->request);
  rl_pack_str(&b.pk, reason);
  rl_nm_send_to(nm, &r->client, &b);
}

/* A request another node sent here waits while this node is busy; once it has waited
 * longer than a view refresh and the view shows another node free for it, it moves
 * there (so it cannot bounce between nodes faster than the views change). */
#define S_RESPILL_AFTER_MS 1000
static bool s_move_on(rl_nm_t *nm, rl_lease_req_t *r, int64_t now) {
  if (!r->spilled || now - r->since_ms < S_RESPILL_AFTER_MS || !strncmp(r->strategy, "NODE:", 5)) return false;
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
    if ((!r->spilled && s_spill(nm, &r->client, r->request, &r->resources, &r->placement, r->strategy)) ||
        s_move_on(nm, r, now)) {
      *pp = r->next;
      free(r);
    } else {
      s_warn_infeasible(nm, r);
      pp = &r->next;
    }
  }
}
