/* bundles.c: placement group bundles on a node manager: reserving them out of the
 * node's resources when the head asks, using them once the head says the group is
 * created, giving them back (killing the workers leased from them) when it is removed,
 * and knowing which node holds each bundle of every created group (to send leases
 * there). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "node/nm.h"
#include "sched/bundles.h"
#include "wire/proto.h"
#include "wire/wire.h"

/* A reservation the head has not confirmed in this long is given back. */
#define S_UNCONFIRMED_MS 10000

rl_bundle_t *rl_bundles_find(rl_nm_t *nm, const rl_id_t *pg, int index) {
  for (rl_bundle_t *b = nm->bundles; b; b = b->next)
    if (b->index == index && rl_id_eq(&b->pg, pg)) return b;
  return NULL;
}

void rl_bundles_reserved(const rl_nm_t *nm, rl_resources_t *out) {
  rl_res_clear(out);
  for (const rl_bundle_t *b = nm->bundles; b; b = b->next) rl_res_add(out, &b->total);
}

/* Gives bundle *pp back to the node; workers leased from it are killed (as Ray does:
 * the group's tasks and actors go with it). */
static void s_release(rl_nm_t *nm, rl_bundle_t **pp, const char *why) {
  rl_bundle_t *b = *pp;
  char hex[RL_ID_HEX];
  *pp = b->next;
  rl_res_add(&nm->available, &b->total);
  rl_gpus_unreserve(&nm->gpus, &b->gpus);
  int killed = 0;
  for (rl_worker_t *w = nm->workers; w; w = w->next) {
    if (!w->in_bundle || w->bundle_index != b->index || !rl_id_eq(&w->bundle_pg, &b->pg)) continue;
    kill(w->pid, SIGKILL);
    rl_res_clear(&w->held); /* came from the bundle, which is gone */
    w->gpu_share = 0;
    w->in_bundle = false;
    w->killed = true;
    killed++;
  }
  rl_log(RL_LOG_INFO, "released bundle %d of placement group %s (%s)%s", b->index + 1, rl_id_hex(&b->pg, hex), why,
         killed ? ": killed the workers leased from it" : "");
  free(b);
}

static void s_reply_reserved(rl_nm_t *nm, const rl_id_t *pg, uint64_t index, uint64_t attempt, bool ok) {
  rl_gcs_pg_reserved_msg_t r = {.pg_id = *pg, .index = index, .attempt = attempt, .ok = ok,
                                .available = nm->available};
  rl_bundles_reserved(nm, &r.reserved);
  rl_gcs_pg_reserved_msg_send(nm->gcs, NULL, &r);
}

/* [pg_id, index, attempt, resources] */
static void s_on_reserve(rl_nm_t *nm, rl_msg_t *m) {
  rl_gcs_pg_reserve_msg_t q;
  if (!rl_gcs_pg_reserve_msg_read(m, &q)) return; /* logged */
  if (q.index >= RL_PG_MAX_BUNDLES) {
    rl_log(RL_LOG_WARN, "dropped GCS_PG_RESERVE: field 'index' is %llu, not a bundle's (0 to %d)",
           (unsigned long long)q.index, RL_PG_MAX_BUNDLES - 1);
    return;
  }
  const rl_resources_t *res = &q.resources;
  rl_bundle_t *b = rl_bundles_find(nm, &q.pg_id, (int)q.index);
  rl_gpu_ask_t gpu;
  bool ok;
  if (b) {
    ok = rl_res_equal(&b->total, res); /* asked again (a retry, or a head restart) */
  } else if ((ok = rl_res_fits(&nm->available, res) && rl_gpus_ask(rl_res_fixed(res, "GPU"), &gpu, NULL, 0) == 0)) {
    /* Its GPUs are devices (or the share of one), taken out of the node's now. */
    rl_gpus_t gpus;
    b = rl_xcalloc(1, sizeof *b);
    if (rl_gpus_reserve(&nm->gpus, &gpu, &gpus) != 0) {
      free(b);
      ok = false;
    } else {
      b->pg = q.pg_id;
      b->index = (int)q.index;
      b->total = b->available = *res;
      b->gpus = gpus;
      b->since_ms = rl_now_ms();
      rl_res_sub(&nm->available, res);
      b->next = nm->bundles;
      nm->bundles = b;
    }
  }
  s_reply_reserved(nm, &q.pg_id, q.index, q.attempt, ok);
}

/* [pg_id, index] */
static void s_on_release(rl_nm_t *nm, rl_msg_t *m) {
  rl_gcs_pg_release_msg_t q;
  if (!rl_gcs_pg_release_msg_read(m, &q)) return; /* logged */
  for (rl_bundle_t **pp = &nm->bundles; *pp; pp = &(*pp)->next)
    if ((uint64_t)(*pp)->index == q.index && rl_id_eq(&(*pp)->pg, &q.pg_id)) {
      s_release(nm, pp, "its placement attempt was rolled back");
      rl_leases_serve(nm);
      return;
    }
}

/* A group's bundles (as RL_GCS_PG_PLACEMENT carries them) as a new route, or NULL if
 * there are too many. */
static rl_pg_route_t *s_route(const rl_wire_bundle_t *v, uint32_t n) {
  if (n > RL_PG_MAX_BUNDLES) return NULL;
  rl_pg_route_t *r = rl_xcalloc(1, sizeof *r + n * sizeof r->b[0]); /* at most RL_PG_MAX_BUNDLES */
  r->n = (int)n;
  for (uint32_t i = 0; i < n; i++) {
    r->b[i].resources = v[i].resources;
    r->b[i].placed = v[i].has_node_id;
    if (v[i].has_node_id) r->b[i].node = v[i].node_id;
  }
  return r;
}

/* Brings bundle *pp in line with its group's route (NULL: the group is not created
 * or gone). Returns false if it was released. */
static bool s_reconcile(rl_nm_t *nm, rl_bundle_t **pp, const rl_pg_route_t *route, bool gone) {
  rl_bundle_t *b = *pp;
  if (gone) {
    s_release(nm, pp, "the group was removed");
    return false;
  }
  const struct rl_route_bundle *rb = route && b->index < route->n ? &route->b[b->index] : NULL;
  if (rb && rb->placed && rl_id_eq(&rb->node, &nm->node_id)) {
    b->committed = true;
    return true;
  }
  /* Listed elsewhere, or a committed bundle the head no longer places here (it took
   * this node for dead). An uncommitted one with no place yet is an attempt in flight. */
  if ((rb && rb->placed) || b->committed) {
    s_release(nm, pp, "the head placed it elsewhere");
    return false;
  }
  return true;
}

static void s_route_free(rl_nm_t *nm, const rl_id_t *pg) { free(rl_idmap_remove(nm->pg_routes, pg)); }

/* [pg_id, version, bundles?] */
static void s_on_placement(rl_nm_t *nm, rl_msg_t *m) {
  rl_gcs_pg_placement_msg_t q;
  if (!rl_gcs_pg_placement_msg_read(m, &q)) return; /* logged */
  bool gone = !q.has_bundles;
  rl_pg_route_t *route = NULL;
  if (!gone && !(route = s_route(q.bundles.v, q.bundles.n))) {
    rl_log(RL_LOG_WARN, "dropped GCS_PG_PLACEMENT: field 'bundles' has %u, more than %d", q.bundles.n,
           RL_PG_MAX_BUNDLES);
    return;
  }
  rl_id_t pg = q.pg_id;
  s_route_free(nm, &pg);
  if (gone) {
    nm->pg_removed[nm->pg_removed_next++ % 256] = pg;
    rl_leases_pg_removed(nm, &pg);
  }
  if (route) rl_idmap_put(nm->pg_routes, &pg, route);
  for (rl_bundle_t **pp = &nm->bundles; *pp;)
    if (!rl_id_eq(&(*pp)->pg, &pg) || s_reconcile(nm, pp, route, gone)) pp = &(*pp)->next;
  /* In sequence: our table is the head's at that version. Else the next view brings
   * the whole table. */
  if (q.version == nm->pg_version + 1) nm->pg_version = q.version;
  rl_leases_respill(nm);
  rl_leases_serve(nm);
}

void rl_bundles_handle(rl_nm_t *nm, rl_msg_t *m) {
  switch (m->type) {
    case RL_GCS_PG_RESERVE: s_on_reserve(nm, m); break;
    case RL_GCS_PG_RELEASE: s_on_release(nm, m); break;
    case RL_GCS_PG_PLACEMENT: s_on_placement(nm, m); break;
    default: break;
  }
}

void rl_bundles_view(rl_nm_t *nm, const rl_gcs_nodes_msg_t *nodes) {
  if (!nodes->has_pg_version || !nodes->has_groups) return;
  /* The whole table: start again from it. */
  size_t cur = 0;
  for (rl_pg_route_t *r; (r = rl_idmap_next(nm->pg_routes, &cur, NULL));) free(r);
  rl_idmap_destroy(&nm->pg_routes);
  nm->pg_routes = rl_idmap_new();
  for (uint32_t i = 0; i < nodes->groups.n; i++) {
    const rl_wire_pg_group_t *g = &nodes->groups.v[i];
    rl_pg_route_t *route = s_route(g->bundles.v, g->bundles.n);
    if (route) rl_idmap_put(nm->pg_routes, &g->pg_id, route);
  }
  for (rl_bundle_t **pp = &nm->bundles; *pp;)
    if (s_reconcile(nm, pp, rl_idmap_get(nm->pg_routes, &(*pp)->pg), false)) pp = &(*pp)->next;
  nm->pg_version = nodes->pg_version;
  rl_leases_serve(nm);
}

bool rl_bundles_removed(const rl_nm_t *nm, const rl_id_t *pg) {
  for (int i = 0; i < 256; i++)
    if (rl_id_eq(&nm->pg_removed[i], pg)) return true;
  return false;
}

void rl_bundles_tick(rl_nm_t *nm) {
  int64_t now = rl_now_ms();
  bool freed = false;
  for (rl_bundle_t **pp = &nm->bundles; *pp;) {
    rl_bundle_t *b = *pp;
    if (!b->committed && now - b->since_ms > S_UNCONFIRMED_MS) {
      s_release(nm, pp, "the head never confirmed it");
      freed = true;
    } else {
      pp = &b->next;
    }
  }
  if (freed) rl_leases_serve(nm);
}

static bool s_fits(const rl_resources_t *have, const rl_resources_t *res, const rl_resources_t *placement) {
  return rl_res_fits(have, res) && rl_res_fits(have, placement);
}

rl_bundle_t *rl_bundles_pick(rl_nm_t *nm, const rl_id_t *pg, int index, const rl_resources_t *res,
                             const rl_resources_t *placement) {
  for (rl_bundle_t *b = nm->bundles; b; b = b->next)
    if (b->committed && (index < 0 || b->index == index) && rl_id_eq(&b->pg, pg) &&
        s_fits(&b->available, res, placement))
      return b;
  return NULL;
}

bool rl_bundles_could_hold(rl_nm_t *nm, const rl_id_t *pg, int index, const rl_resources_t *res,
                           const rl_resources_t *placement) {
  for (rl_bundle_t *b = nm->bundles; b; b = b->next)
    if (b->committed && (index < 0 || b->index == index) && rl_id_eq(&b->pg, pg) && s_fits(&b->total, res, placement))
      return true;
  return false;
}

const char *rl_bundles_route(rl_nm_t *nm, const rl_id_t *pg, int index, const rl_resources_t *res,
                             const rl_resources_t *placement) {
  const rl_pg_route_t *route = rl_idmap_get(nm->pg_routes, pg);
  if (!route || index >= route->n) return NULL;
  const char *fits[64];
  int n = 0;
  for (int i = index < 0 ? 0 : index; i < (index < 0 ? route->n : index + 1); i++) {
    const struct rl_route_bundle *rb = &route->b[i];
    if (!rb->placed || rl_id_eq(&rb->node, &nm->node_id) || !s_fits(&rb->resources, res, placement)) continue;
    for (int k = 0; k < nm->npeers && n < 64; k++)
      if (rl_id_eq(&nm->peers[k].id, &rb->node)) {
        bool seen = false; /* each node once, however many bundles it holds */
        for (int j = 0; j < n && !seen; j++) seen = fits[j] == nm->peers[k].endpoint;
        if (!seen) fits[n++] = nm->peers[k].endpoint;
        break;
      }
  }
  return n ? fits[nm->spread_next++ % (unsigned)n] : NULL;
}

bool rl_bundles_too_big(rl_nm_t *nm, const rl_id_t *pg, int index, const rl_resources_t *res,
                        const rl_resources_t *placement, char *reason, size_t len) {
  const rl_pg_route_t *route = rl_idmap_get(nm->pg_routes, pg);
  char want[200], has[200], hex[RL_ID_HEX];
  if (!route) return false;
  if (index >= route->n) {
    snprintf(reason, len, "placement group %s has %d bundles, not %d", rl_id_hex(pg, hex), route->n, index + 1);
    return true;
  }
  for (int i = index < 0 ? 0 : index; i < (index < 0 ? route->n : index + 1); i++)
    if (s_fits(&route->b[i].resources, res, placement)) return false;
  rl_res_format(rl_res_fits(&route->b[index < 0 ? 0 : index].resources, res) ? placement : res, want, sizeof want);
  rl_res_format(&route->b[index < 0 ? 0 : index].resources, has, sizeof has);
  if (index < 0)
    snprintf(reason, len, "it asks for {%s}, more than any bundle of placement group %s holds", want,
             rl_id_hex(pg, hex));
  else
    snprintf(reason, len, "it asks for {%s} but bundle %d of placement group %s holds {%s}", want, index + 1,
             rl_id_hex(pg, hex), has);
  return true;
}

void rl_bundles_destroy_all(rl_nm_t *nm) {
  while (nm->bundles) {
    rl_bundle_t *b = nm->bundles;
    nm->bundles = b->next;
    free(b);
  }
  if (nm->pg_routes) {
    size_t cur = 0;
    for (rl_pg_route_t *r; (r = rl_idmap_next(nm->pg_routes, &cur, NULL));) free(r);
    rl_idmap_destroy(&nm->pg_routes);
  }
}
