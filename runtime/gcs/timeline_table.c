/* timeline_table.c: the head's timeline of task runs: a ring of the last max_events
 * spans that owners report (see timeline_table.h). */
#include "gcs/timeline_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"
#include "common/xalloc.h"
#include "wire/proto.h"

struct rl_timeline_table_t {
  rl_timeline_event_t *ring;
  size_t max, first, n;
  uint64_t evicted, dropped;
};

rl_timeline_table_t *rl_timeline_table_new(size_t max_events) {
  if (max_events == 0) return NULL;
  rl_timeline_table_t *t = rl_xcalloc(1, sizeof *t);
  t->max = max_events;
  return t;
}

void rl_timeline_table_destroy(rl_timeline_table_t **p) {
  if (!p || !*p) return;
  free((*p)->ring);
  free(*p);
  *p = NULL;
}

/* The slot for a new event: the ring grows up to max, then the oldest is replaced. */
static rl_timeline_event_t *s_push(rl_timeline_table_t *t) {
  if (!t->ring) t->ring = rl_xmalloc(t->max * sizeof *t->ring);
  if (t->n == t->max) {
    t->first = (t->first + 1) % t->max;
    t->n--;
    t->evicted++;
  }
  return &t->ring[(t->first + t->n++) % t->max];
}

/* Checks one span row; NULL if good, else what is wrong. */
static const char *s_check(const msgpack_object *o, uint32_t nnodes) {
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 9) return "a span is not an array of 9 fields";
  const msgpack_object *f = o->via.array.ptr;
  rl_id_t id;
  const char *p;
  size_t n;
  uint64_t v;
  if (!rl_obj_id(&f[0], &id)) return "a span's task id is not 16 bytes";
  if (!rl_obj_bytes(&f[1], &p, &n)) return "a span's name is not a string";
  if (!rl_obj_u64(&f[2], &v) || v > RL_KIND_ACTOR_METHOD) return "a span's kind is unknown";
  if (f[3].type != MSGPACK_OBJECT_NIL && !rl_obj_id(&f[3], &id)) return "a span's actor id is not 16 bytes";
  if (!rl_obj_u64(&f[4], &v) || v > nnodes) return "a span's node is not an index into nodes";
  if (!rl_obj_u64(&f[5], &v) || v > UINT32_MAX) return "a span's pid is not a pid";
  uint64_t start, end;
  if (!rl_obj_u64(&f[6], &start) || !rl_obj_u64(&f[7], &end) || end < start) return "a span's times are not start <= end";
  if (f[8].type != MSGPACK_OBJECT_BOOLEAN) return "a span's failed is not a boolean";
  return NULL;
}

int rl_timeline_table_report(rl_timeline_table_t *t, const rl_msg_t *m, rl_state_node_fn *resolve, void *ctx,
                             char *err, size_t errlen) {
  const msgpack_object *spans = rl_field(m, 6), *nodes = rl_field(m, 2);
  uint64_t dropped = 0;
  if (rl_field(m, 7) && !rl_field_u64(m, 7, &dropped)) {
    snprintf(err, errlen, "the report's spans_dropped is not a count");
    return -1;
  }
  if (!spans || spans->type == MSGPACK_OBJECT_NIL) {
    t->dropped += dropped;
    return 0;
  }
  rl_id_t owner;
  uint64_t owner_pid;
  if (spans->type != MSGPACK_OBJECT_ARRAY || !nodes || nodes->type != MSGPACK_OBJECT_ARRAY ||
      !rl_field_id(m, 0, &owner) || !rl_field_u64(m, 1, &owner_pid)) {
    snprintf(err, errlen, "the report's spans, nodes or owner are malformed");
    return -1;
  }
  for (uint32_t i = 0; i < spans->via.array.size; i++) {
    const char *why = s_check(&spans->via.array.ptr[i], nodes->via.array.size);
    if (why) {
      snprintf(err, errlen, "%s", why);
      return -1;
    }
  }
  t->dropped += dropped;
  for (uint32_t i = 0; i < spans->via.array.size; i++) {
    const msgpack_object *f = spans->via.array.ptr[i].via.array.ptr;
    rl_timeline_event_t *e = s_push(t);
    if (!e) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    memset(e, 0, sizeof *e);
    uint64_t v, node;
    const char *p;
    size_t n;
    rl_obj_id(&f[0], &e->task_id);
    rl_obj_bytes(&f[1], &p, &n);
    snprintf(e->name, sizeof e->name, "%.*s", (int)n, p);
    rl_obj_u64(&f[2], &v);
    e->kind = (uint8_t)v;
    if (f[3].type != MSGPACK_OBJECT_NIL) rl_obj_id(&f[3], &e->actor_id);
    rl_obj_u64(&f[4], &node);
    if (node > 0 && rl_obj_bytes(&nodes->via.array.ptr[node - 1], &p, &n) && resolve)
      resolve(ctx, p, n, &e->node_id);
    rl_obj_u64(&f[5], &v);
    e->pid = (uint32_t)v;
    rl_obj_u64(&f[6], &v);
    e->start_us = (int64_t)v;
    rl_obj_u64(&f[7], &v);
    e->end_us = (int64_t)v;
    e->failed = f[8].via.boolean;
    e->owner_id = owner;
    e->owner_pid = (uint32_t)owner_pid;
  }
  return 0;
}

void rl_timeline_table_each(const rl_timeline_table_t *t, bool (*fn)(void *ctx, const rl_timeline_event_t *e),
                            void *ctx) {
  for (size_t i = 0; i < t->n; i++)
    if (!fn(ctx, &t->ring[(t->first + i) % t->max])) return;
}

static void s_pack_id_or_nil(msgpack_packer *pk, const rl_id_t *id) {
  if (rl_id_is_nil(id)) msgpack_pack_nil(pk);
  else rl_pack_id(pk, id);
}

static bool s_pack_one(void *ctx, const rl_timeline_event_t *e) {
  msgpack_packer *pk = ctx;
  msgpack_pack_array(pk, 11);
  rl_pack_id(pk, &e->task_id);
  rl_pack_str(pk, e->name);
  msgpack_pack_uint64(pk, e->kind);
  s_pack_id_or_nil(pk, &e->actor_id);
  s_pack_id_or_nil(pk, &e->node_id);
  msgpack_pack_uint64(pk, e->pid);
  msgpack_pack_uint64(pk, (uint64_t)e->start_us);
  msgpack_pack_uint64(pk, (uint64_t)e->end_us);
  if (e->failed) msgpack_pack_true(pk);
  else msgpack_pack_false(pk);
  rl_pack_id(pk, &e->owner_id);
  msgpack_pack_uint64(pk, e->owner_pid);
  return true;
}

void rl_timeline_table_pack(const rl_timeline_table_t *t, msgpack_packer *pk) {
  msgpack_pack_array(pk, (uint32_t)t->n);
  rl_timeline_table_each(t, s_pack_one, pk);
  msgpack_pack_uint64(pk, t->evicted);
  msgpack_pack_uint64(pk, t->dropped);
}

size_t rl_timeline_table_count(const rl_timeline_table_t *t) { return t->n; }
uint64_t rl_timeline_table_evicted(const rl_timeline_table_t *t) { return t->evicted; }
uint64_t rl_timeline_table_dropped(const rl_timeline_table_t *t) { return t->dropped; }
