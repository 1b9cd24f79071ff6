/* gcs_lists.c: the head's listings decoded (wire/gcs_lists.h). */
#include "wire/gcs_lists.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "wire/proto.h"

void rl_gcs_list_state_pack(rl_msgbuf_t *b, uint64_t request, const char *what) {
  rl_msgbuf_init(b, RL_GCS_LIST_STATE, 2);
  msgpack_pack_uint64(&b->pk, request);
  rl_pack_str(&b->pk, what);
}

void rl_gcs_pg_get_pack(rl_msgbuf_t *b, uint64_t request, const rl_id_t *pg_id, const char *name) {
  rl_msgbuf_init(b, RL_GCS_PG_GET, 3);
  msgpack_pack_uint64(&b->pk, request);
  if (pg_id) rl_pack_id(&b->pk, pg_id);
  else msgpack_pack_nil(&b->pk);
  if (name) rl_pack_str(&b->pk, name);
  else msgpack_pack_nil(&b->pk);
}

void rl_gcs_timeline_get_pack(rl_msgbuf_t *b, uint64_t request) {
  rl_msgbuf_init(b, RL_GCS_TIMELINE_GET, 1);
  msgpack_pack_uint64(&b->pk, request);
}

static bool s_task(rl_rd_t *r, const msgpack_object *o, uint32_t i, rl_gcs_task_row_t *t) {
  const msgpack_object *f;
  uint32_t nf;
  return rl_rd_entry(r, o, "tasks", i, 11, 11, &f, &nf) && rl_rd_id(r, &f[0], 1, "task_id", &t->task_id) &&
         rl_rd_u64(r, &f[1], 2, "state", &t->state) && rl_rd_u64(r, &f[2], 3, "attempt", &t->attempt) &&
         rl_rd_str(r, &f[3], 4, "name", &t->name) && rl_rd_u64(r, &f[4], 5, "kind", &t->kind) &&
         rl_rd_opt_id(r, &f[5], 6, "actor_id", &t->actor_id, &t->has_actor_id) &&
         rl_rd_opt_id(r, &f[6], 7, "node_id", &t->node_id, &t->has_node_id) &&
         rl_rd_u64(r, &f[7], 8, "worker_pid", &t->worker_pid) &&
         rl_rd_opt_str(r, &f[8], 9, "error_type", &t->error_type, &t->has_error_type) &&
         rl_rd_id(r, &f[9], 10, "owner_id", &t->owner_id) && rl_rd_u64(r, &f[10], 11, "owner_pid", &t->owner_pid);
}

static bool s_actor(rl_rd_t *r, const msgpack_object *o, uint32_t i, rl_gcs_actor_row_t *a) {
  const msgpack_object *f;
  uint32_t nf;
  return rl_rd_entry(r, o, "actors", i, 11, 11, &f, &nf) && rl_rd_id(r, &f[0], 1, "actor_id", &a->actor_id) &&
         rl_rd_u64(r, &f[1], 2, "state", &a->state) && rl_rd_str(r, &f[2], 3, "class_name", &a->class_name) &&
         rl_rd_str(r, &f[3], 4, "name", &a->name) && rl_rd_str(r, &f[4], 5, "namespace", &a->ns) &&
         rl_rd_bool(r, &f[5], 6, "detached", &a->detached) &&
         rl_rd_opt_id(r, &f[6], 7, "node_id", &a->node_id, &a->has_node_id) &&
         rl_rd_u64(r, &f[7], 8, "pid", &a->pid) &&
         rl_rd_opt_str(r, &f[8], 9, "death_cause", &a->death_cause, &a->has_death_cause) &&
         rl_rd_id(r, &f[9], 10, "owner_id", &a->owner_id) && rl_rd_u64(r, &f[10], 11, "owner_pid", &a->owner_pid);
}

void rl_gcs_state_free(rl_gcs_state_t *s) {
  free(s->tasks);
  free(s->actor_rows);
  s->tasks = NULL;
  s->actor_rows = NULL;
  s->n = 0;
}

bool rl_gcs_state_unpack(const rl_msg_t *m, bool actors, rl_gcs_state_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "STATE", .err = err, .errlen = errlen};
  const msgpack_object *items;
  *out = (rl_gcs_state_t){.actors = actors};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request) ||
      !rl_rd_array(&r, rl_field(m, 1), 2, "rows", RL_GCS_ROWS_MAX, &items, &out->n))
    return false;
  /* at most RL_GCS_ROWS_MAX, each of a message that holds at least 11 bytes for it */
  if (actors) out->actor_rows = out->n ? rl_xcalloc(out->n, sizeof *out->actor_rows) : NULL;
  else out->tasks = out->n ? rl_xcalloc(out->n, sizeof *out->tasks) : NULL;
  for (uint32_t i = 0; i < out->n; i++)
    if (actors ? !s_actor(&r, &items[i], i, &out->actor_rows[i]) : !s_task(&r, &items[i], i, &out->tasks[i]))
      goto bad;
  r.list = NULL;
  if (rl_rd_u64(&r, rl_field(m, 2), 3, "dropped", &out->dropped) &&
      rl_rd_u64(&r, rl_field(m, 3), 4, "evicted", &out->evicted))
    return true;
bad:
  rl_gcs_state_free(out);
  return false;
}

void rl_gcs_pg_info_free(rl_gcs_pg_info_t *p) {
  for (uint32_t i = 0; p->groups && i < p->n; i++) free(p->groups[i].bundles);
  free(p->groups);
  p->groups = NULL;
  p->n = 0;
}

static bool s_group(rl_rd_t *r, const msgpack_object *o, uint32_t i, rl_gcs_pg_t *g) {
  const msgpack_object *f, *items;
  uint32_t nf;
  if (!rl_rd_entry(r, o, "groups", i, 6, 6, &f, &nf) || !rl_rd_id(r, &f[0], 1, "pg_id", &g->pg_id) ||
      !rl_rd_str(r, &f[1], 2, "name", &g->name) || !rl_rd_str(r, &f[2], 3, "strategy", &g->strategy) ||
      !rl_rd_str(r, &f[3], 4, "state", &g->state) || !rl_rd_bool(r, &f[4], 5, "detached", &g->detached) ||
      !rl_rd_array(r, &f[5], 6, "bundles", RL_GCS_BUNDLES_MAX, &items, &g->nbundles))
    return false;
  g->bundles = g->nbundles ? rl_xcalloc(g->nbundles, sizeof *g->bundles) : NULL; /* at most RL_GCS_BUNDLES_MAX */
  for (uint32_t k = 0; k < g->nbundles; k++) {
    const msgpack_object *bf;
    uint32_t nb;
    rl_gcs_bundle_t *b = &g->bundles[k];
    if (!rl_rd_entry(r, &items[k], "bundles", k, 2, 2, &bf, &nb) ||
        !rl_rd_opt_id(r, &bf[0], 1, "node_id", &b->node_id, &b->has_node) ||
        !rl_rd_res(r, &bf[1], 2, "resources", &b->resources))
      return false;
  }
  return true;
}

bool rl_gcs_pg_info_unpack(const rl_msg_t *m, rl_gcs_pg_info_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "PG_INFO", .err = err, .errlen = errlen};
  const msgpack_object *items;
  *out = (rl_gcs_pg_info_t){0};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request) ||
      !rl_rd_array(&r, rl_field(m, 1), 2, "groups", RL_GCS_ROWS_MAX, &items, &out->n))
    return false;
  out->groups = out->n ? rl_xcalloc(out->n, sizeof *out->groups) : NULL; /* at most one per entry received */
  for (uint32_t i = 0; i < out->n; i++)
    if (!s_group(&r, &items[i], i, &out->groups[i])) {
      rl_gcs_pg_info_free(out);
      return false;
    }
  return true;
}

static bool s_span(rl_rd_t *r, const msgpack_object *o, uint32_t i, rl_gcs_span_t *e) {
  const msgpack_object *f;
  uint32_t nf;
  return rl_rd_entry(r, o, "events", i, 11, 11, &f, &nf) && rl_rd_id(r, &f[0], 1, "task_id", &e->task_id) &&
         rl_rd_str(r, &f[1], 2, "name", &e->name) && rl_rd_u64(r, &f[2], 3, "kind", &e->kind) &&
         rl_rd_opt_id(r, &f[3], 4, "actor_id", &e->actor_id, &e->has_actor_id) &&
         rl_rd_opt_id(r, &f[4], 5, "node_id", &e->node_id, &e->has_node_id) &&
         rl_rd_u64(r, &f[5], 6, "pid", &e->pid) && rl_rd_u64(r, &f[6], 7, "start_us", &e->start_us) &&
         rl_rd_u64(r, &f[7], 8, "end_us", &e->end_us) && rl_rd_bool(r, &f[8], 9, "failed", &e->failed) &&
         rl_rd_id(r, &f[9], 10, "owner_id", &e->owner_id) && rl_rd_u64(r, &f[10], 11, "owner_pid", &e->owner_pid);
}

void rl_gcs_timeline_free(rl_gcs_timeline_t *t) {
  free(t->events);
  t->events = NULL;
  t->n = 0;
}

bool rl_gcs_timeline_unpack(const rl_msg_t *m, rl_gcs_timeline_t *out, char *err, size_t errlen) {
  rl_rd_t r = {.msg = "TIMELINE", .err = err, .errlen = errlen};
  const msgpack_object *items;
  *out = (rl_gcs_timeline_t){0};
  if (!rl_rd_u64(&r, rl_field(m, 0), 1, "request", &out->request) ||
      !rl_rd_array(&r, rl_field(m, 1), 2, "events", RL_GCS_ROWS_MAX, &items, &out->n))
    return false;
  out->events = out->n ? rl_xcalloc(out->n, sizeof *out->events) : NULL; /* at most one per entry received */
  for (uint32_t i = 0; i < out->n; i++)
    if (!s_span(&r, &items[i], i, &out->events[i])) goto bad;
  r.list = NULL;
  if (rl_rd_u64(&r, rl_field(m, 2), 3, "evicted", &out->evicted) &&
      rl_rd_u64(&r, rl_field(m, 3), 4, "dropped", &out->dropped))
    return true;
bad:
  rl_gcs_timeline_free(out);
  return false;
}
