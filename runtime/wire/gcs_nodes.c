/* gcs_nodes.c: GET_NODES and NODES packed and decoded (wire/gcs_nodes.h). */
#include "wire/gcs_nodes.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "wire/proto.h"

void rl_gcs_get_nodes_pack(rl_msgbuf_t *b, const rl_gcs_get_nodes_t *m) {
  rl_msgbuf_init(b, RL_GCS_GET_NODES, m->with_dead ? 3 : m->with_pgs ? 2 : 1);
  msgpack_pack_uint64(&b->pk, m->request);
  if (m->with_pgs) msgpack_pack_uint64(&b->pk, m->pg_version);
  else if (m->with_dead) msgpack_pack_nil(&b->pk);
  if (m->with_dead && m->dead_since_nil) msgpack_pack_nil(&b->pk);
  else if (m->with_dead) msgpack_pack_uint64(&b->pk, m->dead_since);
}

bool rl_gcs_get_nodes_unpack(const rl_msg_t *m, rl_gcs_get_nodes_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "GET_NODES", .err = err, .errlen = errlen};
  *out = (rl_gcs_get_nodes_t){0};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request)) return false;
  out->with_pgs = !rl_rd_absent(rl_field(m, 1));
  if (out->with_pgs && !rl_rd_u64(&r, rl_field(m, 1), 2, "pg_version", &out->pg_version)) return false;
  out->with_dead = rl_field(m, 2) != NULL;
  out->dead_since_nil = out->with_dead && rl_field_is_nil(m, 2);
  if (out->with_dead && !out->dead_since_nil && !rl_rd_u64(&r, rl_field(m, 2), 3, "dead_since", &out->dead_since))
    return false;
  return true;
}

bool rl_gcs_demands_unpack(rl_rd_t *r, const msgpack_object *o, uint32_t field, rl_gcs_demand_t **out,
                           uint32_t *n) {
  const msgpack_object *items;
  *out = NULL;
  *n = 0;
  const char *list = r->list;
  uint32_t index = r->index;
  if (!rl_rd_array(r, o, field, "demands", RL_GCS_DEMANDS_MAX, &items, n)) return false;
  rl_gcs_demand_t *d = *n ? rl_xcalloc(*n, sizeof *d) : NULL; /* at most RL_GCS_DEMANDS_MAX */
  for (uint32_t i = 0; i < *n; i++) {
    const msgpack_object *f;
    uint32_t nf;
    r->list = list; /* a demand's error names the entry holding it */
    r->index = index;
    if (!rl_rd_entry(r, &items[i], "demands", i, 3, 4, &f, &nf) || !rl_rd_res(r, &f[0], 1, "shape", &d[i].shape) ||
        !rl_rd_u64(r, &f[1], 2, "count", &d[i].count) || !rl_rd_bool(r, &f[2], 3, "infeasible", &d[i].infeasible) ||
        (nf > 3 && !rl_rd_u64(r, &f[3], 4, "waiting", &d[i].waiting))) {
      free(d);
      *n = 0;
      return false;
    }
  }
  r->list = list;
  r->index = index;
  *out = d;
  return true;
}

void rl_gcs_demands_pack(msgpack_packer *pk, const rl_gcs_demand_t *d, uint32_t n) {
  msgpack_pack_array(pk, n);
  for (uint32_t i = 0; i < n; i++) {
    msgpack_pack_array(pk, 4);
    rl_res_pack(pk, &d[i].shape);
    msgpack_pack_uint64(pk, d[i].count);
    if (d[i].infeasible) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
    msgpack_pack_uint64(pk, d[i].waiting);
  }
}

void rl_gcs_nodes_free(rl_gcs_nodes_t *n) {
  for (uint32_t i = 0; n->nodes && i < n->n; i++) free(n->nodes[i].demands);
  free(n->nodes);
  free(n->dead);
  n->nodes = NULL;
  n->dead = NULL;
  n->n = n->ndead = 0;
}

static bool s_node(rl_rd_t *r, const msgpack_object *o, uint32_t i, rl_gcs_node_t *node) {
  const msgpack_object *f;
  uint32_t nf;
  if (!rl_rd_entry(r, o, "nodes", i, 5, 7, &f, &nf) || !rl_rd_id(r, &f[0], 1, "node_id", &node->id) ||
      !rl_rd_strcpy(r, &f[1], 2, "endpoint", node->endpoint, sizeof node->endpoint) ||
      !rl_rd_bool(r, &f[2], 3, "alive", &node->alive) || !rl_rd_res(r, &f[3], 4, "total", &node->total) ||
      !rl_rd_res(r, &f[4], 5, "available", &node->available))
    return false;
  if (nf > 5 && !rl_gcs_demands_unpack(r, &f[5], 6, &node->demands, &node->ndemands)) return false;
  return nf <= 6 || rl_rd_strcpy(r, &f[6], 7, "gpus", node->gpus, sizeof node->gpus);
}

bool rl_gcs_nodes_unpack(const rl_msg_t *m, rl_gcs_nodes_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "NODES", .err = err, .errlen = errlen};
  const msgpack_object *items, *dead;
  *out = (rl_gcs_nodes_t){0};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request) ||
      !rl_rd_array(&r, rl_field(m, 1), 2, "nodes", RL_GCS_NODES_MAX, &items, &out->n))
    return false;
  out->nodes = out->n ? rl_xcalloc(out->n, sizeof *out->nodes) : NULL; /* at most RL_GCS_NODES_MAX */
  for (uint32_t i = 0; i < out->n; i++)
    if (!s_node(&r, &items[i], i, &out->nodes[i])) goto bad;
  r.list = NULL;
  out->has_pg_version = !rl_rd_absent(rl_field(m, 2));
  if (out->has_pg_version && !rl_rd_u64(&r, rl_field(m, 2), 3, "pg_version", &out->pg_version)) goto bad;
  if (!rl_rd_absent(rl_field(m, 3))) {
    out->groups = rl_field(m, 3);
    if (out->groups->type != MSGPACK_OBJECT_ARRAY) {
      rl_rd_fail(&r, 4, "groups", "not an array");
      goto bad;
    }
  }
  out->has_dead = !rl_rd_absent(rl_field(m, 4));
  if (out->has_dead) {
    if (!rl_rd_u64(&r, rl_field(m, 4), 5, "dead_seq", &out->dead_seq) ||
        !rl_rd_array(&r, rl_field(m, 5), 6, "dead_clients", RL_GCS_DEAD_MAX, &dead, &out->ndead))
      goto bad;
    out->dead = out->ndead ? rl_xcalloc(out->ndead, sizeof *out->dead) : NULL; /* at most RL_GCS_DEAD_MAX */
    for (uint32_t i = 0; i < out->ndead; i++)
      if (!rl_obj_id(&dead[i], &out->dead[i])) {
        rl_rd_fail(&r, 6, "dead_clients", "an array holding something other than 16-byte ids");
        goto bad;
      }
  }
  return true;
bad:
  rl_gcs_nodes_free(out);
  out->groups = NULL;
  return false;
}
