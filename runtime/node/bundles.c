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
  rl_resources_t reserved;
  rl_bundles_reserved(nm, &reserved);
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_GCS_PG_RESERVED, 6);
  rl_pack_id(&b.pk, pg);
  msgpack_pack_uint64(&b.pk, index);
  msgpack_pack_uint64(&b.pk, attempt);
  if (ok) msgpack_pack_true(&b.pk);
  else msgpack_pack_false(&b.pk);
  rl_res_pack(&b.pk, &nm->available);
  rl_res_pack(&b.pk, &reserved);
  rl_msg_send(nm->gcs, NULL, &b);
}

/* [pg_id, index, attempt, resources] */
static void s_on_reserve(rl_nm_t *nm, rl_msg_t *m) {
  rl_id_t pg;
  uint64_t index, attempt;
  rl_resources_t res;
  if (!rl_field_id(m, 0, &pg) || !rl_field_u64(m, 1, &index) || index >= RL_PG_MAX_BUNDLES ||
      !rl_field_u64(m, 2, &attempt) ||
      rl_res_unpack(rl_field(m, 3), &res) != 0) {
    rl_log(RL_LOG_WARN, "dropped a malformed bundle reservation from the head");
    return;
  }
  rl_bundle_t *b = rl_bundles_find(nm, &pg, (int)index);
  rl_gpu_ask_t gpu;
  bool ok;
  if (b) {
    ok = rl_res_equal(&b->total, &res); /* asked again (a retry, or a head restart) */
  } else if ((ok = rl_res_fits(&nm->available, &res) && rl_gpus_ask(rl_res_fixed(&res, "GPU"), &gpu, NULL, 0) == 0)) {
    /* Its GPUs are devices (or the share of one), taken out of the node's now. */
    rl_gpus_t gpus;
    b = rl_xcalloc(1, sizeof *b);
    if (rl_gpus_reserve(&nm->gpus, &gpu, &gpus) != 0) {
      free(b);
      ok = false;
    } else {
      b->pg = pg;
      b->index = (int)index;
      b->total = b->available = res;
      b->gpus = gpus;
      b->since_ms = rl_now_ms();
      rl_res_sub(&nm->available, &res);
      b->next = nm->bundles;
      nm->bundles = b;
    }
  }
  s_reply_reserved(nm, &pg, index, attempt, ok);
}

/* [pg_id, index] */
static void s_on_release(rl_nm_t *nm, rl_msg_t *m) {
  rl_id_t pg;
  uint64_t index;
  if (!rl_field_id(m, 0, &pg) || !rl_field_u64(m, 1, &index) || index >= RL_PG_MAX_BUNDLES) {
    rl_log(RL_LOG_WARN, "dropped a malformed bundle release from the head");
    return;
  }
  for (rl_bundle_t **pp = &nm->bundles; *pp; pp = &(*pp)->next)
    if ((*pp)->index == (int)index && rl_id_eq(&(*pp)->pg, &pg)) {
      s_release(nm, pp, "its placement attempt was rolled back");
      rl_leases_serve(nm);
      return;
    }
}

/* Reads [[node_id id?, resources map]...] into a new route, or NULL if malformed. */
static rl_pg_route_t *s_parse_route(const msgpack_object *o) {
  if (!o || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > RL_PG_MAX_BUNDLES) return NULL;
  uint32_t n = o->via.array.size;
  rl_pg_route_t *r = rl_xcalloc(1, sizeof *r + n * sizeof r->b[0]); /* from a received message */
  r->n = (int)n;
  for (uint32_t i = 0; i < n; i++) {
    const msgpack_object *e = &o->via.array.ptr[i];
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
        rl_res_unpack(&e->via.array.ptr[1], &r->b[i].resources) != 0)
      goto bad;
    if (e->via.array.ptr[0].type == MSGPACK_OBJECT_NIL) continue;
    if (!rl_obj_id(&e->via.array.ptr[0], &r->b[i].node)) goto bad;
    r->b[i].placed = true;
  }
  return r;
bad:
  free(r);
  return NULL;
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
  rl_id_t pg;
  uint64_t version;
  rl_pg_route_t *route = NULL;
  bool gone = rl_field_is_nil(m, 2);
  if (!rl_field_id(m, 0, &pg) || !rl_field_u64(m, 1, &version) || (!gone && !(route = s_parse_route(rl_field(m, 2))))) {
    rl_log(RL_LOG_WARN, "dropped a malformed placement update from the head");
    return;
  }
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
  if (version == nm->pg_version + 1) nm->pg_version = version;
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

void rl_bundles_view(rl_nm_t *nm, rl_msg_t *m) {
  uint64_t version;
  const msgpack_object *groups = rl_field(m, 3);
  if (!rl_field_u64(m, 2, &version) || !groups || groups->type != MSGPACK_OBJECT_ARRAY) return;
  /* The whole table: start again from it. */
  size_t cur = 0;
  for (rl_pg_route_t *r; (r = rl_idmap_next(nm->pg_routes, &cur, NULL));) free(r);
  rl_idmap_destroy(&nm->pg_routes);
  nm->pg_routes = rl_idmap_new();
  for (uint32_t i = 0; i < groups->via.array.size; i++) {
    const msgpack_object *g = &groups->via.array.ptr[i];
    rl_id_t pg;
    rl_pg_route_t *route;
    if (g->type != MSGPACK_OBJECT_ARRAY || g->via.array.size != 2 || !rl_obj_id(&g->via.array.ptr[0], &pg) ||
        !(route = s_parse_route(&g->via.array.ptr[1])))
      continue;
    rl_idmap_put(nm->pg_routes, &pg, route);
  }
  for (rl_bundle_t **pp = &nm->bundles; *pp;)
    if (s_reconcile(nm, pp, rl_idmap_get(nm->pg_routes, &(*pp)->pg), false)) pp = &(*pp)->next;
  nm->pg_version = version;
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
