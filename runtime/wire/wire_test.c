/* wire_test.c: every message type packed and unpacked back (all fields, and without its
 * optional ones), malformed messages refused with the field named, reserved members
 * written in place by the sender, and one field's value packed alone. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/selftest.h"
#include "wire/wire.h"
#include "wire/res_pack.h"
#include "wire/wire_desc.h"

#define S_CHECK(c) RL_CHECK_COUNT(c, fails)

static const char s_bin[] = "\x00\x01\xfe bin";

/* A map {"a": 1} for MAP and ANY fields. */
static msgpack_object_kv s_kv = {
    .key = {.type = MSGPACK_OBJECT_STR, .via.str = {1, "a"}},
    .val = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1},
};
static const msgpack_object s_map = {.type = MSGPACK_OBJECT_MAP, .via.map = {1, &s_kv}};

static void s_fill(const rl_wire_rec_t *r, void *out, bool opt, msgpack_zone *z);

/* Sets the value of kind at p (a field of f, or an element of its LIST). */
static void s_fill_value(const rl_wire_field_t *f, int kind, void *p, bool opt, msgpack_zone *z, unsigned seed) {
  switch (kind) {
    case RL_WK_U64: *(uint64_t *)p = f->kind == RL_WK_U64 && f->max ? f->max : 1000 + seed; break;
    case RL_WK_I64: *(int64_t *)p = -1; break;
    case RL_WK_F64: *(double *)p = 2.5; break;
    case RL_WK_BOOL: *(bool *)p = true; break;
    case RL_WK_ID:
      for (int i = 0; i < RL_ID_SIZE; i++) ((rl_id_t *)p)->b[i] = (uint8_t)(seed * 31 + i);
      break;
    case RL_WK_STR: snprintf(p, f->max, "s%u", seed); break;
    case RL_WK_TEXT: *(rl_wire_bytes_t *)p = rl_wire_str("text"); break;
    case RL_WK_BIN: *(rl_wire_bytes_t *)p = rl_wire_bytes(s_bin, sizeof s_bin - 1); break;
    case RL_WK_RES:
      rl_res_clear(p);
      rl_res_set(p, "CPU", 1.5, NULL, 0);
      break;
    case RL_WK_MAP:
    case RL_WK_ANY: *(const msgpack_object **)p = &s_map; break;
    case RL_WK_REC: s_fill(f->rec, p, opt, z); break;
    default: { /* LIST, ARR: two elements */
      size_t es = f->kind == RL_WK_ARR ? f->rec->size
                  : f->elem == RL_WK_U64 ? sizeof(uint64_t)
                  : f->elem == RL_WK_ID  ? sizeof(rl_id_t)
                  : f->elem == RL_WK_TEXT ? sizeof(rl_wire_bytes_t)
                                          : sizeof(rl_resources_t);
      char *v = msgpack_zone_malloc(z, 2 * es);
      memset(v, 0, 2 * es);
      for (unsigned i = 0; i < 2; i++) {
        if (f->kind == RL_WK_ARR)
          s_fill(f->rec, v + i * es, opt, z);
        else
          s_fill_value(f, f->elem, v + i * es, opt, z, seed + i);
      }
      struct {
        uint32_t n;
        void *v;
      } *a = p;
      a->n = 2;
      a->v = v;
    }
  }
}

/* Fills every field of a record or message; optional ones only if opt (those of a
 * strategy always: PG needs them). */
static void s_fill(const rl_wire_rec_t *r, void *out, bool opt, msgpack_zone *z) {
  memset(out, 0, r->size);
  for (uint32_t i = 0; i < r->nfields; i++) {
    const rl_wire_field_t *f = &r->fields[i];
    if (f->opt && !opt && strcmp(r->name, "sched")) continue;
    s_fill_value(f, f->kind, (char *)out + f->off, opt, z, i);
    if (f->has) *(bool *)((char *)out + f->has - 1) = true;
  }
}

static bool s_equal(const rl_wire_rec_t *r, const void *a, const void *b);

static bool s_equal_value(const rl_wire_field_t *f, int kind, const char *a, const char *b) {
  switch (kind) {
    case RL_WK_U64:
    case RL_WK_I64: return !memcmp(a, b, 8);
    case RL_WK_F64: return *(const double *)a == *(const double *)b;
    case RL_WK_BOOL: return *(const bool *)a == *(const bool *)b;
    case RL_WK_ID: return rl_id_eq((const rl_id_t *)a, (const rl_id_t *)b);
    case RL_WK_STR: return !strcmp(a, b);
    case RL_WK_TEXT:
    case RL_WK_BIN: {
      const rl_wire_bytes_t *x = (const void *)a, *y = (const void *)b;
      return x->n == y->n && (!x->n || !memcmp(x->p, y->p, x->n));
    }
    case RL_WK_RES: return rl_res_equal((const void *)a, (const void *)b);
    case RL_WK_MAP:
    case RL_WK_ANY: {
      const msgpack_object *x = *(const msgpack_object *const *)a, *y = *(const msgpack_object *const *)b;
      return x->type == y->type && x->via.map.size == y->via.map.size;
    }
    case RL_WK_REC: return s_equal(f->rec, a, b);
    default: {
      const struct {
        uint32_t n;
        const char *v;
      } *x = (const void *)a, *y = (const void *)b;
      if (x->n != y->n) return false;
      size_t es = f->kind == RL_WK_ARR ? f->rec->size
                  : f->elem == RL_WK_U64 ? sizeof(uint64_t)
                  : f->elem == RL_WK_ID  ? sizeof(rl_id_t)
                  : f->elem == RL_WK_TEXT ? sizeof(rl_wire_bytes_t)
                                          : sizeof(rl_resources_t);
      for (uint32_t i = 0; i < x->n; i++) {
        bool eq = f->kind == RL_WK_ARR ? s_equal(f->rec, x->v + i * es, y->v + i * es)
                                       : s_equal_value(f, f->elem, x->v + i * es, y->v + i * es);
        if (!eq) return false;
      }
      return true;
    }
  }
}

static bool s_equal(const rl_wire_rec_t *r, const void *a, const void *b) {
  for (uint32_t i = 0; i < r->nfields; i++) {
    const rl_wire_field_t *f = &r->fields[i];
    bool pa = !f->has || *(const bool *)((const char *)a + f->has - 1);
    bool pb = !f->has || *(const bool *)((const char *)b + f->has - 1);
    if (pa != pb) {
      fprintf(stderr, "%s: field %s: present %d, came back %d\n", r->name, f->name, pa, pb);
      return false;
    }
    if (pa && !s_equal_value(f, f->kind, (const char *)a + f->off, (const char *)b + f->off)) {
      fprintf(stderr, "%s: field %s came back different\n", r->name, f->name);
      return false;
    }
  }
  return true;
}

/* Packs msg of type, reads it back into out and checks it came back the same. Returns
 * 0, or -1 with err. */
static int s_roundtrip(const rl_wire_rec_t *d, int type, const void *msg, void *out, char *err, size_t errlen) {
  rl_msgbuf_t b;
  rl_msg_t m;
  if (rl_wire_pack(type, msg, &b, err, errlen) != 0) return -1;
  int rc = rl_msg_from_bytes(b.sb.data, b.sb.size, &m);
  rl_msgbuf_reset(&b);
  if (rc != 1) {
    snprintf(err, errlen, "the packed bytes do not read back");
    return -1;
  }
  rc = rl_wire_unpack(&m, type, out, err, errlen);
  if (rc == 0 && !s_equal(d, msg, out)) rc = -1, snprintf(err, errlen, "came back different");
  if (rc == 0 && rl_wire_unpack_any(&m, err, errlen) != 1) rc = -1;
  rl_msg_close(&m);
  return rc;
}

/* 0 if the straight-line packer of type gives msg the same bytes as the walk of its
 * descriptor table (s_pack_rec's way); -1 with err otherwise. */
static int s_same_as_walk(int type, const void *msg, char *err, size_t errlen) {
  rl_msgbuf_t fast, walked;
  if (rl_wire_pack(type, msg, &fast, err, errlen) != 0) return -1;
  if (rl_wire_pack_walked(type, msg, &walked, err, errlen) != 0) {
    rl_msgbuf_reset(&fast);
    return -1;
  }
  int rc = 0;
  if (fast.sb.size != walked.sb.size || memcmp(fast.sb.data, walked.sb.data, fast.sb.size)) {
    snprintf(err, errlen, "the straight-line packer's %zu bytes differ from the walk's %zu", fast.sb.size,
             walked.sb.size);
    rc = -1;
  }
  rl_msgbuf_reset(&fast);
  rl_msgbuf_reset(&walked);
  return rc;
}

/* Unpacks the message of type whose body the test wrote into pk's buffer. Returns
 * rl_wire_unpack's result, err filled. */
static int s_unpack_raw(int type, msgpack_sbuffer *sb, char *err, size_t errlen) {
  char *frame = malloc(sb->size + RL_MSG_HEADER);
  frame[0] = RL_WIRE_VERSION, frame[1] = (char)type, frame[2] = frame[3] = 0;
  memcpy(frame + RL_MSG_HEADER, sb->data, sb->size);
  rl_msg_t m;
  int rc = -2;
  if (rl_msg_from_bytes(frame, sb->size + RL_MSG_HEADER, &m) == 1) {
    static union {
#define S_MEMBER(TYPE, name) rl_##name##_msg_t name;
      RL_WIRE_MESSAGES(S_MEMBER)
    } u;
    err[0] = 0;
    rc = rl_wire_unpack(&m, type, &u, err, errlen);
    rl_msg_close(&m);
  }
  free(frame);
  msgpack_sbuffer_clear(sb);
  return rc;
}

static void s_str(msgpack_packer *pk, const char *s) { rl_pack_str(pk, s); }

/* Malformed bodies, each refused with the field named. */
static int s_malformed(void) {
  int fails = 0;
  char err[256], big[300];
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  rl_resources_t res;
  rl_res_clear(&res);
  rl_res_set(&res, "CPU", 1, NULL, 0);
  rl_id_t id = rl_id_random();

  /* Wrong type: the strategy as the string it once was. */
  msgpack_pack_array(&pk, 6);
  msgpack_pack_uint64(&pk, 1);
  rl_res_pack(&pk, &res);
  msgpack_pack_nil(&pk);
  msgpack_pack_nil(&pk);
  msgpack_pack_nil(&pk);
  s_str(&pk, "SPREAD");
  S_CHECK(s_unpack_raw(RL_NM_LEASE, &sb, err, sizeof err) == -1 &&
          !strcmp(err, "NM_LEASE: field 'strategy' expected array (a record), got str"));
  /* Wrong type: a u64 where a string goes. */
  msgpack_pack_array(&pk, 5);
  msgpack_pack_uint64(&pk, 0);
  rl_pack_id(&pk, &id);
  msgpack_pack_uint64(&pk, 1);
  msgpack_pack_uint64(&pk, 7);
  msgpack_pack_uint64(&pk, 0);
  S_CHECK(s_unpack_raw(RL_NM_REGISTER, &sb, err, sizeof err) == -1 &&
          !strcmp(err, "NM_REGISTER: field 'endpoint' expected str, got u64"));
  /* Truncated: required fields missing. */
  msgpack_pack_array(&pk, 2);
  msgpack_pack_uint64(&pk, 0);
  rl_pack_id(&pk, &id);
  S_CHECK(s_unpack_raw(RL_NM_REGISTER, &sb, err, sizeof err) == -1 &&
          !strcmp(err, "NM_REGISTER: field 'pid' missing"));
  /* Nil for a required field. */
  msgpack_pack_array(&pk, 2);
  msgpack_pack_nil(&pk);
  msgpack_pack_true(&pk);
  S_CHECK(s_unpack_raw(RL_NM_RETURN, &sb, err, sizeof err) == -1 &&
          !strcmp(err, "NM_RETURN: field 'worker_id' expected id, got nil"));
  /* An id of the wrong size. */
  msgpack_pack_array(&pk, 2);
  rl_pack_bin(&pk, "short", 5);
  msgpack_pack_true(&pk);
  S_CHECK(s_unpack_raw(RL_NM_RETURN, &sb, err, sizeof err) == -1 && strstr(err, "'worker_id'") &&
          strstr(err, "5 bytes"));
  /* Too many fields. */
  msgpack_pack_array(&pk, 3);
  rl_pack_id(&pk, &id);
  msgpack_pack_true(&pk);
  msgpack_pack_true(&pk);
  S_CHECK(s_unpack_raw(RL_NM_RETURN, &sb, err, sizeof err) == -1 &&
          !strcmp(err, "NM_RETURN: has 3 fields, at most 2 expected"));
  /* Too long a string. */
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  msgpack_pack_array(&pk, 1);
  s_str(&pk, big);
  S_CHECK(s_unpack_raw(RL_NM_NODE_DIED, &sb, err, sizeof err) == -1 && strstr(err, "'node_endpoint'") &&
          strstr(err, "longer than its max 255"));
  /* A NUL inside a string. */
  msgpack_pack_array(&pk, 1);
  msgpack_pack_str(&pk, 3);
  msgpack_pack_str_body(&pk, "a\0b", 3);
  S_CHECK(s_unpack_raw(RL_NM_NODE_DIED, &sb, err, sizeof err) == -1 && strstr(err, "NUL"));
  /* A value over its max (an unknown client kind). */
  msgpack_pack_array(&pk, 5);
  msgpack_pack_uint64(&pk, 9);
  rl_pack_id(&pk, &id);
  msgpack_pack_uint64(&pk, 1);
  s_str(&pk, "ipc://x");
  msgpack_pack_uint64(&pk, 0);
  S_CHECK(s_unpack_raw(RL_NM_REGISTER, &sb, err, sizeof err) == -1 && strstr(err, "'kind' value 9 over its max 2"));
  /* Wrong count: a task argument of two fields, then of four. */
  for (int n = 2; n <= 4; n += 2) {
    msgpack_pack_array(&pk, 9);
    rl_pack_id(&pk, &id);
    rl_pack_id(&pk, &id);
    s_str(&pk, "ipc://owner");
    rl_pack_bin(&pk, "key", 3);
    msgpack_pack_nil(&pk);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, (size_t)n);
    for (int k = 0; k < n; k++) k == 1 ? rl_pack_bin(&pk, "v", 1) : msgpack_pack_uint64(&pk, 0);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint64(&pk, 0);
    s_str(&pk, "f");
    S_CHECK(s_unpack_raw(RL_CW_PUSH_TASK, &sb, err, sizeof err) == -1 &&
            !strcmp(err, n == 2 ? "CW_PUSH_TASK: field 'args[0].size' missing"
                                : "CW_PUSH_TASK: field 'args[0]' has 4 fields, at most 3 expected"));
  }
  /* Wrong count: more bundles than a group may have. */
  msgpack_pack_array(&pk, 7);
  msgpack_pack_uint64(&pk, 1);
  rl_pack_id(&pk, &id);
  s_str(&pk, "");
  s_str(&pk, "PACK");
  msgpack_pack_array(&pk, 1025);
  for (int k = 0; k < 1025; k++) rl_res_pack(&pk, &res);
  msgpack_pack_false(&pk);
  rl_pack_id(&pk, &id);
  S_CHECK(s_unpack_raw(RL_GCS_PG_CREATE, &sb, err, sizeof err) == -1 &&
          !strcmp(err, "GCS_PG_CREATE: field 'bundles' has 1025 elements, more than its max 1024"));
  /* A strategy that names no node, and one whose bundle is out of range. */
  msgpack_pack_array(&pk, 6);
  msgpack_pack_uint64(&pk, 1);
  rl_res_pack(&pk, &res);
  msgpack_pack_nil(&pk);
  msgpack_pack_nil(&pk);
  msgpack_pack_nil(&pk);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_uint64(&pk, RL_SCHED_NODE);
  S_CHECK(s_unpack_raw(RL_NM_LEASE, &sb, err, sizeof err) == -1 &&
          !strcmp(err, "NM_LEASE: field 'strategy' kind NODE without a node_id"));
  msgpack_pack_array(&pk, 6);
  msgpack_pack_uint64(&pk, 1);
  rl_res_pack(&pk, &res);
  msgpack_pack_nil(&pk);
  msgpack_pack_nil(&pk);
  msgpack_pack_nil(&pk);
  msgpack_pack_array(&pk, 5);
  msgpack_pack_uint64(&pk, RL_SCHED_PG);
  msgpack_pack_nil(&pk);
  msgpack_pack_nil(&pk);
  rl_pack_id(&pk, &id);
  msgpack_pack_int64(&pk, -2);
  S_CHECK(s_unpack_raw(RL_NM_LEASE, &sb, err, sizeof err) == -1 && strstr(err, "bundle -2 out of range"));
  /* A resource map holding a string. */
  msgpack_pack_array(&pk, 3);
  msgpack_pack_uint64(&pk, 1);
  msgpack_pack_map(&pk, 1);
  s_str(&pk, "CPU");
  s_str(&pk, "lots");
  rl_res_pack(&pk, &res);
  S_CHECK(s_unpack_raw(RL_NM_RESOURCES_REPLY, &sb, err, sizeof err) == -1 && strstr(err, "'total'"));
  msgpack_sbuffer_destroy(&sb);

  /* The packer refuses what the unpacker would. */
  rl_msgbuf_t b;
  rl_nm_node_died_msg_t died;
  memset(died.node_endpoint, 'x', sizeof died.node_endpoint); /* no NUL */
  S_CHECK(rl_nm_node_died_msg_pack(&died, &b, err, sizeof err) == -1 && strstr(err, "'node_endpoint'"));
  rl_nm_lease_msg_t lease = {.request = 1, .has_strategy = true, .strategy = {.kind = RL_SCHED_PG}};
  S_CHECK(rl_nm_lease_msg_pack(&lease, &b, err, sizeof err) == -1 &&
          !strcmp(err, "NM_LEASE: field 'strategy' kind PG without a pg_id and a bundle"));
  static char env[RL_NM_RUNTIME_ENV_MAX + 1];
  lease = (rl_nm_lease_msg_t){.request = 1, .has_runtime_env = true, .runtime_env = rl_wire_bytes(env, sizeof env)};
  S_CHECK(rl_nm_lease_msg_pack(&lease, &b, err, sizeof err) == -1 && strstr(err, "'runtime_env'"));
  rl_nm_register_msg_t reg = {.kind = 3};
  S_CHECK(rl_nm_register_msg_pack(&reg, &b, err, sizeof err) == -1 && strstr(err, "'kind' value 3"));

  /* A message of another type, and one of no known type. */
  rl_nm_return_msg_t ret = {.worker_id = id};
  rl_msg_t m;
  S_CHECK(rl_nm_return_msg_pack(&ret, &b, err, sizeof err) == 0);
  S_CHECK(rl_msg_from_bytes(b.sb.data, b.sb.size, &m) == 1);
  rl_msgbuf_reset(&b);
  S_CHECK(rl_nm_register_msg_unpack(&m, &reg, err, sizeof err) == -1 && strstr(err, "NM_RETURN"));
  S_CHECK(rl_wire_unpack_any(&m, err, sizeof err) == 1);
  m.type = 250;
  S_CHECK(rl_wire_unpack_any(&m, err, sizeof err) == 0);
  rl_msg_close(&m);
  return fails;
}

/* ---- reserved members: written by the sender, in place ---- */

/* The test's writer: fills reserved member k with bytes (k * 7 + i) and notes where. */
typedef struct {
  const rl_msgbuf_t *b; /* the message being packed (only read) */
  uint32_t calls, fail_at;
  size_t n[4];
  size_t off[4];    /* of each reserved member's bytes in b's buffer */
  const char *data; /* b's buffer when the last one was written */
} s_writer_t;

static char s_pattern(uint32_t k, size_t i) { return (char)(k * 7 + i); }

static int s_write(void *arg, uint32_t k, char *dst, size_t n) {
  s_writer_t *w = arg;
  if (k != w->calls || k >= 4) return -1; /* called once each, in wire order */
  w->calls++;
  if (k == w->fail_at) return -1;
  /* dst lies in the message's own buffer, room for n bytes: nothing is copied after. */
  if (dst < w->b->sb.data || dst + n > w->b->sb.data + w->b->sb.alloc) return -1;
  for (size_t i = 0; i < n; i++) dst[i] = s_pattern(k, i);
  w->n[k] = n;
  w->off[k] = (size_t)(dst - w->b->sb.data);
  w->data = w->b->sb.data;
  return 0;
}

static bool s_is_pattern(rl_wire_bytes_t b, uint32_t k, size_t n) {
  if (b.n != n) return false;
  for (size_t i = 0; i < n; i++)
    if (b.p[i] != s_pattern(k, i)) return false;
  return true;
}

static int s_reserved(void) {
  int fails = 0;
  char err[256];
  rl_msgbuf_t b;
  rl_msg_t m;
  rl_id_t id = rl_id_random();
  /* TASK_DONE as the executor sends it: inline results reserved (one empty, one large),
   * a stored one given as plain bytes between them. */
  enum { BIG = 90 * 1024 };
  rl_wire_task_arg_t rets[4] = {
      {.kind = RL_RET_INLINE, .data = rl_wire_reserve(5), .size = 5},
      {.kind = RL_RET_STORE, .data = rl_wire_str("ipc://node"), .size = 1 << 20},
      {.kind = RL_RET_INLINE, .data = rl_wire_reserve(0), .size = 0},
      {.kind = RL_RET_INLINE, .data = rl_wire_reserve(BIG), .size = BIG},
  };
  /* Refs it returns, their owners' endpoints long: the buffer is sized for them too. */
  rl_wire_borrow_t refs[3];
  for (int i = 0; i < 3; i++) {
    refs[i].object_id = id;
    memset(refs[i].owner_endpoint, 'e', RL_ENDPOINT_MAX - 1);
    refs[i].owner_endpoint[RL_ENDPOINT_MAX - 1] = 0;
  }
  rl_cw_task_done_msg_t done = {.task_id = id, .status = RL_TASK_OK, .returns = {4, rets}, .borrowed = {3, refs},
                                .has_held = true, .held = {1, &id}};
  s_writer_t w = {.b = &b, .fail_at = 99};
  S_CHECK(rl_cw_task_done_msg_pack_with(&done, &b, s_write, &w, err, sizeof err) == 0);
  S_CHECK(w.calls == 3 && w.n[0] == 5 && w.n[1] == 0 && w.n[2] == BIG);
  /* The big one went straight into the buffer that is sent: it was not moved after. */
  S_CHECK(w.data == b.sb.data && w.off[2] + BIG <= b.sb.size);
  rl_cw_task_done_msg_t got;
  S_CHECK(rl_msg_from_bytes(b.sb.data, b.sb.size, &m) == 1);
  rl_msgbuf_reset(&b);
  S_CHECK(rl_cw_task_done_msg_unpack(&m, &got, err, sizeof err) == 0 && got.returns.n == 4 &&
          s_is_pattern(got.returns.v[0].data, 0, 5) && got.returns.v[1].data.n == 10 &&
          !memcmp(got.returns.v[1].data.p, "ipc://node", 10) && got.returns.v[2].data.n == 0 &&
          s_is_pattern(got.returns.v[3].data, 2, BIG) && got.returns.v[3].size == BIG && got.borrowed.n == 3 &&
          strlen(got.borrowed.v[2].owner_endpoint) == RL_ENDPOINT_MAX - 1 && got.has_held &&
          got.held.n == 1 && rl_id_eq(&got.held.v[0], &id));
  rl_msg_close(&m);

  /* A reserved TEXT member reads back as the text written. */
  rl_nm_lease_infeasible_msg_t inf = {.request = 3, .reason = rl_wire_reserve(3)};
  w = (s_writer_t){.b = &b, .fail_at = 99};
  S_CHECK(rl_nm_lease_infeasible_msg_pack_with(&inf, &b, s_write, &w, err, sizeof err) == 0);
  S_CHECK(rl_msg_from_bytes(b.sb.data, b.sb.size, &m) == 1);
  rl_msgbuf_reset(&b);
  S_CHECK(rl_nm_lease_infeasible_msg_unpack(&m, &inf, err, sizeof err) == 0 && s_is_pattern(inf.reason, 0, 3));
  rl_msg_close(&m);

  /* Limits hold for reserved members: over its max, the field is named and its writer is
   * not called. */
  rl_nm_pull_msg_t pull = {.request = 1, .object_id = id, .has_token = true, .token = rl_wire_reserve(17)};
  w = (s_writer_t){.b = &b, .fail_at = 99};
  S_CHECK(rl_nm_pull_msg_pack_with(&pull, &b, s_write, &w, err, sizeof err) == -1 &&
          !strcmp(err, "NM_PULL: field 'token' of 17 bytes, longer than its max 16") && w.calls == 0 && !b.sb.data);
  pull.token = rl_wire_reserve(16);
  S_CHECK(rl_nm_pull_msg_pack_with(&pull, &b, s_write, &w, err, sizeof err) == 0 && w.calls == 1);
  rl_msgbuf_reset(&b);
  /* A writer that fails fails the packing, naming the field; nothing is left in b. */
  w = (s_writer_t){.b = &b, .fail_at = 2};
  S_CHECK(rl_cw_task_done_msg_pack_with(&done, &b, s_write, &w, err, sizeof err) == -1 &&
          !strcmp(err, "CW_TASK_DONE: field 'returns[3].data' was not written: its writer failed") && !b.sb.data);
  /* Without a writer a reserved member is refused: its bytes would be whatever was there. */
  S_CHECK(rl_cw_task_done_msg_pack(&done, &b, err, sizeof err) == -1 && strstr(err, "'returns[0].data' is reserved") &&
          strstr(err, "rl_wire_pack_with") && !b.sb.data);
  S_CHECK(rl_wire_send(NULL, NULL, RL_CW_TASK_DONE, &done) == -1);
  return fails;
}

/* One field's value alone: the head's kept __init arguments. */
static int s_field_alone(void) {
  int fails = 0;
  char err[256];
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  rl_wire_task_arg_t args[2] = {{.kind = RL_RET_INLINE, .data = rl_wire_bytes(s_bin, sizeof s_bin - 1), .size = 5},
                                {.kind = RL_RET_STORE, .data = rl_wire_str("0123456789abcdefipc://n"), .size = 9}};
  rl_cw_push_task_msg_t push = {.args = {2, args}}, back;
  S_CHECK(rl_wire_pack_field(RL_CW_PUSH_TASK, "args", &push.args, &pk, err, sizeof err) == 0);
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  S_CHECK(msgpack_unpack_next(&up, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS);
  S_CHECK(rl_wire_unpack_field(RL_CW_PUSH_TASK, "args", &up.data, up.zone, &back.args, err, sizeof err) == 0 &&
          back.args.n == 2 && back.args.v[1].kind == RL_RET_STORE && back.args.v[1].size == 9 &&
          back.args.v[0].data.n == sizeof s_bin - 1 && !memcmp(back.args.v[0].data.p, s_bin, sizeof s_bin - 1));
  /* Checked as within a message. */
  S_CHECK(rl_wire_unpack_field(RL_CW_PUSH_TASK, "num_returns", &up.data, up.zone, &back.num_returns, err, sizeof err) ==
              -1 &&
          !strcmp(err, "CW_PUSH_TASK: field 'num_returns' expected u64, got array"));
  S_CHECK(rl_wire_unpack_field(RL_CW_PUSH_TASK, "nope", &up.data, up.zone, &back.args, err, sizeof err) == -1 &&
          !strcmp(err, "CW_PUSH_TASK: has no field 'nope'"));
  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_clear(&sb);
  args[1].kind = 9;
  S_CHECK(rl_wire_pack_field(RL_CW_PUSH_TASK, "args", &push.args, &pk, err, sizeof err) == -1 &&
          !strcmp(err, "CW_PUSH_TASK: field 'args[1].kind' value 9 over its max 2"));
  args[1].kind = RL_RET_STORE;
  args[0].data = rl_wire_reserve(3);
  S_CHECK(rl_wire_pack_field(RL_CW_PUSH_TASK, "args", &push.args, &pk, err, sizeof err) == -1 &&
          strstr(err, "'args[0].data' is reserved"));
  msgpack_sbuffer_destroy(&sb);
  return fails;
}

/* Packs m (NM_LOGS) into b the fast way (rl_wire_pack: straight into the buffer) and the
 * fields one by one through msgpack-c's packer (rl_wire_pack_field); 0 if the bytes are
 * the same. */
static int s_same_bytes(const rl_nm_logs_msg_t *m) {
  char err[256];
  rl_msgbuf_t b;
  if (rl_wire_pack(RL_NM_LOGS, m, &b, err, sizeof err) != 0) return 1;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  int rc = rl_wire_pack_field(RL_NM_LOGS, "request", &m->request, &pk, err, sizeof err) |
           rl_wire_pack_field(RL_NM_LOGS, "name", &m->name, &pk, err, sizeof err) |
           rl_wire_pack_field(RL_NM_LOGS, "offset", &m->offset, &pk, err, sizeof err) |
           rl_wire_pack_field(RL_NM_LOGS, "max", &m->max, &pk, err, sizeof err);
  rc |= b.sb.size != RL_MSG_HEADER + sb.size || memcmp(b.sb.data + RL_MSG_HEADER, sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
  rl_msgbuf_reset(&b);
  return rc != 0;
}

/* The packer writes msgpack itself: the same bytes as msgpack-c's, at every size
 * boundary of its encodings (ints, negative ints, string lengths). */
static int s_encodings(void) {
  int fails = 0;
  static char text[70000];
  memset(text, 'x', sizeof text);
  const uint64_t u[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295u, 4294967296u, UINT64_MAX};
  const int64_t i[] = {0, -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN, 5, INT64_MAX};
  const size_t n[] = {0, 1, 31, 32, 255, 256, 4096};
  for (size_t k = 0; k < sizeof u / sizeof *u; k++)
    for (size_t j = 0; j < sizeof i / sizeof *i; j++) {
      rl_nm_logs_msg_t m = {.request = u[k], .has_name = true, .name = rl_wire_bytes(text, n[(k + j) % 7]),
                            .has_offset = true, .offset = i[j], .has_max = true, .max = u[(k + 3) % 11]};
      S_CHECK(s_same_bytes(&m) == 0);
    }
  return fails;
}

int rl_wire_selftest(void) {
  int fails = 0, types = 0;
  char err[256];
  int prev = rl_log_level;
  rl_log_level = -1;
  for (int type = 0; type < 256; type++) {
    const rl_wire_rec_t *d = rl_wire_desc(type);
    if (!d) continue;
    types++;
    for (int opt = 0; opt < 2; opt++) {
      msgpack_zone *z = msgpack_zone_new(4096);
      void *in = calloc(1, d->size), *out = calloc(1, d->size);
      s_fill(d, in, opt, z);
      err[0] = 0;
      int rc = s_roundtrip(d, type, in, out, err, sizeof err);
      if (rc == 0) rc = s_same_as_walk(type, in, err, sizeof err);
      if (rc != 0) fprintf(stderr, "%s: %s\n", d->name, err);
      S_CHECK(rc == 0);
      free(in);
      free(out);
      msgpack_zone_free(z);
    }
  }
  S_CHECK(types == 87); /* every type of proto.h's enum rl_msg_type */
  S_CHECK(!strcmp(rl_wire_name(RL_NM_LEASE), "NM_LEASE") && rl_wire_name(0) == NULL);
  fails += s_malformed();
  fails += s_reserved();
  fails += s_field_alone();
  fails += s_encodings();
  rl_log_level = prev;
  return fails ? 1 : 0;
}
