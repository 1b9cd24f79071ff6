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

/* ---- selftest ---- */

/* A report of one owner with n spans named "f<i>" on node 1, starting at i * 10. */
static void s_report(rl_msgbuf_t *b, const rl_id_t *owner, int n, bool bad) {
  rl_msgbuf_init(b, RL_GCS_STATE_REPORT, 8);
  rl_pack_id(&b->pk, owner);
  msgpack_pack_uint64(&b->pk, 42);
  msgpack_pack_array(&b->pk, 1);
  rl_pack_str(&b->pk, "tcp://n1:1");
  msgpack_pack_array(&b->pk, 0);
  msgpack_pack_array(&b->pk, 0);
  msgpack_pack_uint64(&b->pk, 0);
  msgpack_pack_array(&b->pk, (uint32_t)n);
  for (int i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "f%d", i);
    rl_id_t id = rl_id_random();
    msgpack_pack_array(&b->pk, 9);
    rl_pack_id(&b->pk, &id);
    rl_pack_str(&b->pk, name);
    msgpack_pack_uint64(&b->pk, RL_KIND_TASK);
    msgpack_pack_nil(&b->pk);
    msgpack_pack_uint64(&b->pk, bad && i == n - 1 ? 7 : 1);
    msgpack_pack_uint64(&b->pk, 777);
    msgpack_pack_uint64(&b->pk, (uint64_t)i * 10);
    msgpack_pack_uint64(&b->pk, (uint64_t)i * 10 + 5);
    msgpack_pack_false(&b->pk);
  }
  msgpack_pack_uint64(&b->pk, 2); /* spans_dropped */
}

static int s_received(rl_msgbuf_t *b, rl_msg_t *m) {
  memset(m, 0, sizeof *m);
  zmq_msg_init(&m->identity);
  zmq_msg_init_size(&m->frame, b->sb.size);
  memcpy(zmq_msg_data(&m->frame), b->sb.data, b->sb.size);
  rl_msgbuf_reset(b);
  msgpack_unpacked_init(&m->up);
  if (msgpack_unpack_next(&m->up, (const char *)zmq_msg_data(&m->frame) + RL_MSG_HEADER,
                          zmq_msg_size(&m->frame) - RL_MSG_HEADER, NULL) != MSGPACK_UNPACK_SUCCESS ||
      m->up.data.type != MSGPACK_OBJECT_ARRAY)
    return -1;
  m->fields = m->up.data.via.array.ptr;
  m->nfields = m->up.data.via.array.size;
  return 0;
}

static rl_id_t s_node;

static bool s_resolve(void *ctx, const char *ep, size_t len, rl_id_t *out) {
  (void)ctx;
  if (len != 10 || memcmp(ep, "tcp://n1:1", 10)) return false;
  *out = s_node;
  return true;
}

static bool s_first_name(void *ctx, const rl_timeline_event_t *e) {
  snprintf(ctx, 16, "%.15s", e->name);
  return false;
}

int rl_timeline_table_selftest(void) {
  rl_timeline_table_t *t = rl_timeline_table_new(4);
  rl_msgbuf_t b;
  rl_msg_t m;
  char err[200], first[16] = "";
  int fails = 0;
  rl_id_t owner = rl_id_random();
  s_node = rl_id_random();
  RL_CHECK_COUNT(t != NULL && rl_timeline_table_new(0) == NULL, fails);
  if (!t) return 1;
  /* Three spans kept, in order, with node and owner resolved. */
  s_report(&b, &owner, 3, false);
  RL_CHECK_COUNT(s_received(&b, &m) == 0 && rl_timeline_table_report(t, &m, s_resolve, NULL, err, sizeof err) == 0, fails);
  rl_msg_close(&m);
  RL_CHECK_COUNT(rl_timeline_table_count(t) == 3, fails);
  rl_timeline_table_each(t, s_first_name, first);
  RL_CHECK_COUNT(!strcmp(first, "f0"), fails);
  /* A bad span (node index beyond the list) adds nothing. */
  s_report(&b, &owner, 2, true);
  RL_CHECK_COUNT(s_received(&b, &m) == 0 && rl_timeline_table_report(t, &m, s_resolve, NULL, err, sizeof err) == -1,
                 fails);
  RL_CHECK_COUNT(strstr(err, "node") != NULL && rl_timeline_table_count(t) == 3, fails);
  rl_msg_close(&m);
  /* Beyond max the oldest go first. */
  s_report(&b, &owner, 3, false);
  RL_CHECK_COUNT(s_received(&b, &m) == 0 && rl_timeline_table_report(t, &m, s_resolve, NULL, err, sizeof err) == 0, fails);
  rl_msg_close(&m);
  RL_CHECK_COUNT(rl_timeline_table_count(t) == 4 && rl_timeline_table_evicted(t) == 2, fails);
  RL_CHECK_COUNT(rl_timeline_table_dropped(t) == 4, fails); /* 2 per report taken */
  rl_timeline_table_each(t, s_first_name, first);
  RL_CHECK_COUNT(!strcmp(first, "f2"), fails);
  /* Packed: [events, evicted], each event with the node id resolved. */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 3);
  rl_timeline_table_pack(t, &pk);
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  RL_CHECK_COUNT(msgpack_unpack_next(&up, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS, fails);
  const msgpack_object *ev = &up.data.via.array.ptr[0];
  rl_id_t node;
  RL_CHECK_COUNT(ev->via.array.size == 4 && rl_obj_id(&ev->via.array.ptr[0].via.array.ptr[4], &node) &&
                     rl_id_eq(&node, &s_node),
                 fails);
  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_destroy(&sb);
  rl_timeline_table_destroy(&t);
  rl_timeline_table_destroy(&t);
  RL_CHECK_COUNT(t == NULL, fails);
  return fails ? 1 : 0;
}
