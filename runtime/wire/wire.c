/* wire.c: the packer and unpacker of every message type, driven by the field lists of
 * proto.h (one descriptor table per message and record, made by the same X-macros as the
 * structs of wire.h). */
#include "wire/wire.h"
#include "wire/res_pack.h"

#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "sched/bundles.h"
#include "wire/wire_desc.h"

/* Inlined wherever used: the path step and the msgpack writers below, which with the
 * kind a constant are a few instructions each (a call each cost more than the writing). */
#define S_INLINE static inline __attribute__((always_inline))

/* ---- descriptor tables ---- */

#define S_OPT_REQ false
#define S_OPT_OPT true
#define S_HAS_REQ(T, f) 0
#define S_HAS_OPT(T, f) (offsetof(T, has_##f) + 1)
#define S_REC_U64(e) NULL
#define S_REC_I64(e) NULL
#define S_REC_F64(e) NULL
#define S_REC_BOOL(e) NULL
#define S_REC_ID(e) NULL
#define S_REC_STR(e) NULL
#define S_REC_TEXT(e) NULL
#define S_REC_BIN(e) NULL
#define S_REC_RES(e) NULL
#define S_REC_MAP(e) NULL
#define S_REC_ANY(e) NULL
#define S_REC_LIST(e) NULL
#define S_REC_ARR(e) &s_rec_##e
#define S_REC_REC(e) &s_rec_##e
#define S_ELEMKIND_U64(e) 0
#define S_ELEMKIND_I64(e) 0
#define S_ELEMKIND_F64(e) 0
#define S_ELEMKIND_BOOL(e) 0
#define S_ELEMKIND_ID(e) 0
#define S_ELEMKIND_STR(e) 0
#define S_ELEMKIND_TEXT(e) 0
#define S_ELEMKIND_BIN(e) 0
#define S_ELEMKIND_RES(e) 0
#define S_ELEMKIND_MAP(e) 0
#define S_ELEMKIND_ANY(e) 0
#define S_ELEMKIND_LIST(e) RL_WK_##e
#define S_ELEMKIND_ARR(e) 0
#define S_ELEMKIND_REC(e) 0

#define S_FIELD(T, f, kind, opt, max, elem) \
  {#f, RL_WK_##kind, S_ELEMKIND_##kind(elem), S_OPT_##opt, (uint64_t)(max), offsetof(T, f), S_HAS_##opt(T, f), S_REC_##kind(elem)},

#define S_DECLARE_REC(name) static const rl_wire_rec_t s_rec_##name;
RL_WIRE_RECORDS(S_DECLARE_REC)

#define S_DEFINE_REC(name)                                                                         \
  static const rl_wire_field_t s_fields_##name[] = {RL_WREC_##name##_FIELDS(S_FIELD, rl_wire_##name##_t){0}}; \
  static const rl_wire_rec_t s_rec_##name = {#name, s_fields_##name,                                          \
                                             sizeof s_fields_##name / sizeof s_fields_##name[0] - 1,          \
                                             sizeof(rl_wire_##name##_t)};
RL_WIRE_RECORDS(S_DEFINE_REC)

#define S_DEFINE_MSG(TYPE, name)                                                                    \
  static const rl_wire_field_t s_mfields_##name[] = {RL_##TYPE##_FIELDS(S_FIELD, rl_##name##_msg_t){0}}; \
  static const rl_wire_rec_t s_msg_##name = {#TYPE, s_mfields_##name,                                    \
                                             sizeof s_mfields_##name / sizeof s_mfields_##name[0] - 1,   \
                                             sizeof(rl_##name##_msg_t)};
RL_WIRE_MESSAGES(S_DEFINE_MSG)

/* Message descriptors by type (NULL: unknown type). */
#define S_REGISTER(TYPE, name) [RL_##TYPE] = &s_msg_##name,
static const rl_wire_rec_t *const s_by_type[256] = {RL_WIRE_MESSAGES(S_REGISTER)};

const rl_wire_rec_t *rl_wire_desc(int type) { return type >= 0 && type < 256 ? s_by_type[type] : NULL; }

const char *rl_wire_name(int type) {
  const rl_wire_rec_t *d = rl_wire_desc(type);
  return d ? d->name : NULL;
}

/* What rl_wire_reserve's bytes point to: only its address is used, to tell them apart. */
static const char s_reserved[1];

rl_wire_bytes_t rl_wire_reserve(size_t n) {
  rl_wire_bytes_t b = {s_reserved, n};
  return b;
}

bool rl_wire_strcpy(char *out, size_t outsize, rl_wire_bytes_t b) {
  if (outsize == 0) return false;
  out[0] = 0;
  if (b.n >= outsize || (b.n && memchr(b.p, 0, b.n))) return false;
  if (b.n) memcpy(out, b.p, b.n);
  out[b.n] = 0;
  return true;
}

/* ---- errors ---- */

/* Where the codec is: the message's name and the path to the field ("args[2].data"). */
#define S_DEPTH_MAX 16

/* One step of the path: a field's name, or an array index where name is NULL. The path
 * is kept as steps and written out only when a message fails (every field of every
 * message passes through here: formatting it each time cost a quarter to a third of
 * the task and actor-call throughput). */
typedef struct {
  const char *name;
  long index;
} s_step_t;

typedef struct {
  const char *msg;
  s_step_t steps[S_DEPTH_MAX];
  int depth; /* may exceed S_DEPTH_MAX: the deeper steps are not kept */
  char *err;
  size_t errlen;
  msgpack_zone *zone; /* unpacking: where arrays go */
  /* packing with rl_wire_pack_with: who writes the reserved bytes, and where */
  rl_wire_write_fn write;
  void *arg;
  msgpack_sbuffer *sb;
  uint32_t reserved; /* reserved members written so far */
} s_ctx_t;

/* A context for message `msg`: every member but the steps, which only s_push writes and
 * s_path reads up to depth (zeroing them cost a tenth of packing a small message). */
static void s_ctx_init(s_ctx_t *c, const char *msg, char *err, size_t errlen) {
  c->msg = msg;
  c->depth = 0;
  c->err = err;
  c->errlen = errlen;
  c->zone = NULL;
  c->write = NULL;
  c->arg = NULL;
  c->sb = NULL;
  c->reserved = 0;
}

/* Writes c's path ("args[2].data") into out. */
static void s_path(const s_ctx_t *c, char *out, size_t len) {
  size_t at = 0;
  out[0] = 0;
  int depth = c->depth < S_DEPTH_MAX ? c->depth : S_DEPTH_MAX;
  for (int i = 0; i < depth && at < len; i++) {
    const s_step_t *s = &c->steps[i];
    int k = s->name ? snprintf(out + at, len - at, "%s%s", at ? "." : "", s->name)
                    : snprintf(out + at, len - at, "[%ld]", s->index);
    if (k < 0) break;
    at += (size_t)k;
  }
}

static int s_fail(s_ctx_t *c, const char *fmt, ...) {
  if (!c->err || !c->errlen) return -1;
  char path[160];
  s_path(c, path, sizeof path);
  int k = path[0] ? snprintf(c->err, c->errlen, "%s: field '%s' ", c->msg, path)
                  : snprintf(c->err, c->errlen, "%s: ", c->msg);
  if (k >= 0 && (size_t)k < c->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static const char *s_kind_name(int kind) {
  switch (kind) {
    case RL_WK_U64: return "u64";
    case RL_WK_I64: return "i64";
    case RL_WK_F64: return "f64";
    case RL_WK_BOOL: return "bool";
    case RL_WK_ID: return "id";
    case RL_WK_STR:
    case RL_WK_TEXT: return "str";
    case RL_WK_BIN: return "bin";
    case RL_WK_RES: return "resource map";
    case RL_WK_MAP: return "map";
    case RL_WK_ANY: return "any";
    case RL_WK_REC: return "array (a record)";
    default: return "array";
  }
}

static const char *s_type_name(const msgpack_object *o) {
  switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return "u64";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "i64";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "f64";
    case MSGPACK_OBJECT_STR: return "str";
    case MSGPACK_OBJECT_BIN: return "bin";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    default: return "ext";
  }
}

/* Appends "name" or "[i]" to c's path; returns the depth to cut back to. */
S_INLINE int s_push(s_ctx_t *c, const char *name, long index) {
  int at = c->depth++;
  if (at < S_DEPTH_MAX) c->steps[at] = (s_step_t){name, index};
  return at;
}

/* ---- record checks beyond each field's ---- */

static int s_check_sched(s_ctx_t *c, const rl_wire_sched_t *s) {
  if (s->kind == RL_SCHED_NODE && !s->has_node_id) return s_fail(c, "kind NODE without a node_id");
  if (s->kind == RL_SCHED_PG && (!s->has_pg_id || !s->has_bundle))
    return s_fail(c, "kind PG without a pg_id and a bundle");
  if (s->has_bundle && (s->bundle < -1 || s->bundle >= RL_PG_MAX_BUNDLES))
    return s_fail(c, "bundle %lld out of range -1..%d", (long long)s->bundle, RL_PG_MAX_BUNDLES - 1);
  return 0;
}

static int s_check(s_ctx_t *c, const rl_wire_rec_t *r, const void *v) {
  return r == &s_rec_sched ? s_check_sched(c, v) : 0;
}

/* ---- unpacking ---- */

static size_t s_elem_size(const rl_wire_field_t *f) {
  if (f->kind == RL_WK_ARR) return f->rec->size;
  switch (f->elem) {
    case RL_WK_U64: return sizeof(uint64_t);
    case RL_WK_ID: return sizeof(rl_id_t);
    case RL_WK_TEXT: return sizeof(rl_wire_bytes_t);
    default: return sizeof(rl_resources_t);
  }
}

static int s_unpack_rec(s_ctx_t *c, const rl_wire_rec_t *r, const msgpack_object *o, uint32_t n, void *out);

/* Reads o as a value of kind (a field, or a LIST element) into p. */
static int s_unpack_value(s_ctx_t *c, const rl_wire_field_t *f, int kind, const msgpack_object *o, void *p) {
  switch (kind) {
    case RL_WK_U64:
      if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) break;
      if (f->max && o->via.u64 > f->max && f->kind == RL_WK_U64)
        return s_fail(c, "value %llu over its max %llu", (unsigned long long)o->via.u64, (unsigned long long)f->max);
      *(uint64_t *)p = o->via.u64;
      return 0;
    case RL_WK_I64:
      if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *(int64_t *)p = (int64_t)o->via.u64;
        return 0;
      }
      if (o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) break;
      *(int64_t *)p = o->via.i64;
      return 0;
    case RL_WK_F64:
      if (!rl_obj_f64(o, p)) break;
      return 0;
    case RL_WK_BOOL:
      if (o->type != MSGPACK_OBJECT_BOOLEAN) break;
      *(bool *)p = o->via.boolean;
      return 0;
    case RL_WK_ID:
      if (o->type != MSGPACK_OBJECT_BIN) break;
      if (o->via.bin.size != RL_ID_SIZE) return s_fail(c, "expected id (16 bytes), got bin of %u bytes", o->via.bin.size);
      memcpy(((rl_id_t *)p)->b, o->via.bin.ptr, RL_ID_SIZE);
      return 0;
    case RL_WK_STR:
      if (o->type != MSGPACK_OBJECT_STR) break;
      if (o->via.str.size >= f->max)
        return s_fail(c, "string of %u bytes, longer than its max %llu", o->via.str.size, (unsigned long long)f->max - 1);
      if (o->via.str.size && memchr(o->via.str.ptr, 0, o->via.str.size)) return s_fail(c, "string holds a NUL byte");
      if (o->via.str.size) memcpy(p, o->via.str.ptr, o->via.str.size);
      ((char *)p)[o->via.str.size] = 0;
      return 0;
    case RL_WK_TEXT:
    case RL_WK_BIN: {
      bool str = kind == RL_WK_TEXT;
      if (o->type != (str ? MSGPACK_OBJECT_STR : MSGPACK_OBJECT_BIN)) break;
      uint32_t n = str ? o->via.str.size : o->via.bin.size;
      uint64_t max = f->kind == kind ? f->max : RL_WIRE_TEXT_MAX;
      if (n > max) return s_fail(c, "%s of %u bytes, longer than its max %llu", str ? "string" : "bin", n, (unsigned long long)max);
      rl_wire_bytes_t *b = p;
      b->p = str ? o->via.str.ptr : o->via.bin.ptr;
      b->n = n;
      return 0;
    }
    case RL_WK_RES:
      if (o->type != MSGPACK_OBJECT_MAP) break;
      if (rl_res_unpack(o, p) != 0) return s_fail(c, "is not a resource map (names to amounts, at most %d)", RL_RES_MAX);
      return 0;
    case RL_WK_MAP:
      if (o->type != MSGPACK_OBJECT_MAP) break;
      *(const msgpack_object **)p = o;
      return 0;
    case RL_WK_ANY: *(const msgpack_object **)p = o; return 0;
    case RL_WK_REC:
      if (o->type != MSGPACK_OBJECT_ARRAY) break;
      return s_unpack_rec(c, f->rec, o->via.array.ptr, o->via.array.size, p);
    case RL_WK_LIST:
    case RL_WK_ARR: {
      if (o->type != MSGPACK_OBJECT_ARRAY) break;
      uint32_t n = o->via.array.size;
      if (n > f->max) return s_fail(c, "has %u elements, more than its max %llu", n, (unsigned long long)f->max);
      size_t es = s_elem_size(f);
      char *v = NULL;
      if (n) {
        v = msgpack_zone_malloc(c->zone, (size_t)n * es);
        if (!v) return s_fail(c, "out of memory for %u elements", n);
        memset(v, 0, (size_t)n * es);
      }
      for (uint32_t i = 0; i < n; i++) {
        int at = s_push(c, NULL, (long)i);
        const msgpack_object *e = &o->via.array.ptr[i];
        int rc;
        if (f->kind == RL_WK_ARR) {
          if (e->type != MSGPACK_OBJECT_ARRAY) return s_fail(c, "expected array (a record), got %s", s_type_name(e));
          rc = s_unpack_rec(c, f->rec, e->via.array.ptr, e->via.array.size, v + i * es);
        } else {
          rc = s_unpack_value(c, f, f->elem, e, v + i * es);
        }
        if (rc != 0) return rc;
        c->depth = at;
      }
      struct {
        uint32_t n;
        void *v;
      } *a = p;
      a->n = n;
      a->v = v;
      return 0;
    }
    default: break;
  }
  return s_fail(c, "expected %s, got %s", s_kind_name(kind), s_type_name(o));
}

static int s_unpack_rec(s_ctx_t *c, const rl_wire_rec_t *r, const msgpack_object *o, uint32_t n, void *out) {
  memset(out, 0, r->size);
  *(uint32_t *)out = n;
  if (n > r->nfields) {
    return s_fail(c, "has %u fields, at most %u expected", n, r->nfields);
  }
  for (uint32_t i = 0; i < r->nfields; i++) {
    const rl_wire_field_t *f = &r->fields[i];
    int at = s_push(c, f->name, 0);
    bool present = i < n && o[i].type != MSGPACK_OBJECT_NIL;
    if (!present) {
      if (!f->opt) return i < n ? s_fail(c, "expected %s, got nil", s_kind_name(f->kind)) : s_fail(c, "missing");
    } else {
      if (s_unpack_value(c, f, f->kind, &o[i], (char *)out + f->off) != 0) return -1;
      if (f->has) *(bool *)((char *)out + f->has - 1) = true;
    }
    c->depth = at;
  }
  return s_check(c, r, out);
}

int rl_wire_unpack(const rl_msg_t *m, int type, void *msg, char *err, size_t errlen) {
  const rl_wire_rec_t *d = rl_wire_desc(type);
  s_ctx_t c;
  s_ctx_init(&c, d ? d->name : "?", err, errlen);
  c.zone = m->up.zone;
  if (!d) return s_fail(&c, "(message type %d is unknown)", type);
  if (m->type != type) {
    const char *got = rl_wire_name(m->type);
    snprintf(err, errlen, "%s: got a message of type %d (%s) instead", d->name, m->type, got ? got : "unknown");
    return -1;
  }
  return s_unpack_rec(&c, d, m->fields, m->nfields, msg);
}

bool rl_wire_read(const rl_msg_t *m, int type, void *msg) {
  char err[256];
  if (rl_wire_unpack(m, type, msg, err, sizeof err) == 0) return true;
  rl_log(RL_LOG_WARN, "dropped %s", err);
  return false;
}

bool rl_wire_request_of(const rl_msg_t *m, uint64_t *request) {
  const rl_wire_rec_t *d = rl_wire_desc(m->type);
  if (!d || d->nfields == 0 || m->nfields == 0 || strcmp(d->fields[0].name, "request") ||
      d->fields[0].kind != RL_WK_U64)
    return false;
  return rl_obj_u64(&m->fields[0], request);
}

int rl_wire_unpack_any(const rl_msg_t *m, char *err, size_t errlen) {
  const rl_wire_rec_t *d = rl_wire_desc(m->type);
  if (!d) return 0;
  union {
#define S_MEMBER(TYPE, name) rl_##name##_msg_t name;
    RL_WIRE_MESSAGES(S_MEMBER)
  } *u = malloc(sizeof *u);
  if (!u) return -1;
  int rc = rl_wire_unpack(m, m->type, u, err, errlen) == 0 ? 1 : -1;
  free(u);
  return rc;
}

/* ---- packing ---- */

static int s_pack_rec(s_ctx_t *c, const rl_wire_rec_t *r, const void *in, msgpack_packer *pk);

static inline bool s_present(const rl_wire_field_t *f, const void *in) {
  return !f->has || *(const bool *)((const char *)in + f->has - 1);
}

/* How many fields of in go on the wire: absent optional ones at the end are left off. */
static uint32_t s_count(const rl_wire_rec_t *r, const void *in) {
  uint32_t n = r->nfields;
  while (n > 0 && !s_present(&r->fields[n - 1], in)) n--;
  return n;
}

/* ---- msgpack written straight into the message's buffer ----
 *
 * rl_wire_pack_with's buffer (c->sb) is sized by s_size up front, so values are written
 * into it directly rather than through msgpack-c's packer, which hands every value to a
 * callback (a quarter of packing a small message). The encodings are msgpack's smallest,
 * as msgpack-c's. Without c->sb (rl_wire_pack_field, rl_wire_pack_sched: any packer)
 * they go through pk. */

/* Grows sb to hold n more bytes, by doubling. */
static void s_grow(msgpack_sbuffer *sb, size_t n) {
  size_t cap = sb->alloc ? sb->alloc : 64;
  while (cap - sb->size < n) cap *= 2;
  sb->data = rl_xrealloc(sb->data, cap);
  sb->alloc = cap;
}

/* Room for n more bytes at the end of sb (grown only when s_size fell short). */
S_INLINE char *s_room(msgpack_sbuffer *sb, size_t n) {
  if (__builtin_expect(sb->alloc - sb->size < n, 0)) s_grow(sb, n);
  return sb->data + sb->size;
}

/* Writes code, then v big-endian in `bytes` (1, 2, 4 or 8) bytes, at d; returns how many. */
S_INLINE size_t s_coded(char *d, uint8_t code, uint64_t v, int bytes) {
  d[0] = (char)code;
  if (bytes == 1) {
    d[1] = (char)v;
  } else if (bytes == 2) {
    uint16_t x = htobe16((uint16_t)v);
    memcpy(d + 1, &x, 2);
  } else if (bytes == 4) {
    uint32_t x = htobe32((uint32_t)v);
    memcpy(d + 1, &x, 4);
  } else {
    uint64_t x = htobe64(v);
    memcpy(d + 1, &x, 8);
  }
  return 1 + (size_t)bytes;
}

S_INLINE void s_put_u64(s_ctx_t *c, msgpack_packer *pk, uint64_t v) {
  if (!c->sb) {
    msgpack_pack_uint64(pk, v);
    return;
  }
  char *d = s_room(c->sb, 9);
  c->sb->size += v < 128         ? (d[0] = (char)v, 1)
                 : v < 256        ? s_coded(d, 0xcc, v, 1)
                 : v < 65536      ? s_coded(d, 0xcd, v, 2)
                 : v <= UINT32_MAX ? s_coded(d, 0xce, v, 4)
                                   : s_coded(d, 0xcf, v, 8);
}

static inline void s_put_i64(s_ctx_t *c, msgpack_packer *pk, int64_t v) {
  if (!c->sb) {
    msgpack_pack_int64(pk, v);
    return;
  }
  if (v >= 0) {
    s_put_u64(c, pk, (uint64_t)v);
    return;
  }
  char *d = s_room(c->sb, 9);
  uint64_t u = (uint64_t)v;
  c->sb->size += v >= -32         ? (d[0] = (char)v, 1)
                 : v >= INT8_MIN  ? s_coded(d, 0xd0, u, 1)
                 : v >= INT16_MIN ? s_coded(d, 0xd1, u, 2)
                 : v >= INT32_MIN ? s_coded(d, 0xd2, u, 4)
                                  : s_coded(d, 0xd3, u, 8);
}

static inline void s_put_f64(s_ctx_t *c, msgpack_packer *pk, double v) {
  if (!c->sb) {
    msgpack_pack_double(pk, v);
    return;
  }
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  c->sb->size += s_coded(s_room(c->sb, 9), 0xcb, bits, 8);
}

/* One byte: nil (0xc0), false (0xc2) or true (0xc3). */
S_INLINE void s_put_byte(s_ctx_t *c, msgpack_packer *pk, uint8_t b) {
  if (!c->sb) {
    if (b == 0xc0) msgpack_pack_nil(pk);
    else if (b == 0xc3) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
    return;
  }
  *s_room(c->sb, 1) = (char)b;
  c->sb->size++;
}

/* The header of a string, bin or array of n items (kind: RL_WK_TEXT, RL_WK_BIN, or
 * anything else for an array). */
S_INLINE void s_put_head(s_ctx_t *c, msgpack_packer *pk, int kind, size_t n) {
  if (!c->sb) {
    if (kind == RL_WK_TEXT) msgpack_pack_str(pk, n);
    else if (kind == RL_WK_BIN) msgpack_pack_bin(pk, n);
    else msgpack_pack_array(pk, n);
    return;
  }
  char *d = s_room(c->sb, 5);
  size_t k;
  if (kind == RL_WK_TEXT)
    k = n < 32 ? (d[0] = (char)(0xa0 | n), 1) : n < 256 ? s_coded(d, 0xd9, n, 1) : n < 65536 ? s_coded(d, 0xda, n, 2) : s_coded(d, 0xdb, n, 4);
  else if (kind == RL_WK_BIN)
    k = n < 256 ? s_coded(d, 0xc4, n, 1) : n < 65536 ? s_coded(d, 0xc5, n, 2) : s_coded(d, 0xc6, n, 4);
  else
    k = n < 16 ? (d[0] = (char)(0x90 | n), 1) : n < 65536 ? s_coded(d, 0xdc, n, 2) : s_coded(d, 0xdd, n, 4);
  c->sb->size += k;
}

/* A string or bin: its header and its n bytes. */
S_INLINE void s_put_bytes(s_ctx_t *c, msgpack_packer *pk, int kind, const void *p, size_t n) {
  s_put_head(c, pk, kind, n);
  if (!c->sb) {
    if (kind == RL_WK_TEXT) msgpack_pack_str_body(pk, p, n);
    else msgpack_pack_bin_body(pk, p, n);
    return;
  }
  if (n) memcpy(s_room(c->sb, n), p, n);
  c->sb->size += n;
}

/* Packs n reserved bytes of kind (TEXT or BIN): the header, then the bytes, which c's
 * writer writes straight into the buffer (no copy: this is what reserving is for). */
static int s_pack_reserved(s_ctx_t *c, int kind, size_t n, msgpack_packer *pk) {
  if (!c->write || !c->sb)
    return s_fail(c, "is reserved (rl_wire_reserve) but nothing writes it: pack it with rl_wire_pack_with");
  s_put_head(c, pk, kind, n);
  char *dst = s_room(c->sb, n); /* rare that it grows: s_size counted reserved bytes */
  if (c->write(c->arg, c->reserved++, dst, n) != 0) return s_fail(c, "was not written: its writer failed");
  c->sb->size += n;
  return 0;
}

static int s_pack_value(s_ctx_t *c, const rl_wire_field_t *f, int kind, const void *p, msgpack_packer *pk) {
  switch (kind) {
    case RL_WK_U64: {
      uint64_t v = *(const uint64_t *)p;
      if (f->kind == RL_WK_U64 && f->max && v > f->max)
        return s_fail(c, "value %llu over its max %llu", (unsigned long long)v, (unsigned long long)f->max);
      s_put_u64(c, pk, v);
      return 0;
    }
    case RL_WK_I64: s_put_i64(c, pk, *(const int64_t *)p); return 0;
    case RL_WK_F64: s_put_f64(c, pk, *(const double *)p); return 0;
    case RL_WK_BOOL: s_put_byte(c, pk, *(const bool *)p ? 0xc3 : 0xc2); return 0;
    case RL_WK_ID: s_put_bytes(c, pk, RL_WK_BIN, ((const rl_id_t *)p)->b, RL_ID_SIZE); return 0;
    case RL_WK_STR: {
      size_t n = strnlen(p, f->max);
      if (n >= f->max) return s_fail(c, "string longer than its max %llu", (unsigned long long)f->max - 1);
      s_put_bytes(c, pk, RL_WK_TEXT, p, n);
      return 0;
    }
    case RL_WK_TEXT:
    case RL_WK_BIN: {
      const rl_wire_bytes_t *b = p;
      uint64_t max = f->kind == kind ? f->max : RL_WIRE_TEXT_MAX;
      if (b->n > max) return s_fail(c, "of %zu bytes, longer than its max %llu", b->n, (unsigned long long)max);
      if (b->n && !b->p) return s_fail(c, "has a length but no bytes");
      if (b->p == s_reserved) return s_pack_reserved(c, kind, b->n, pk);
      s_put_bytes(c, pk, kind, b->p, b->n);
      return 0;
    }
    case RL_WK_RES: rl_res_pack(pk, p); return 0;
    case RL_WK_MAP:
    case RL_WK_ANY: {
      const msgpack_object *o = *(const msgpack_object *const *)p;
      if (!o) return s_fail(c, "is NULL");
      if (kind == RL_WK_MAP && o->type != MSGPACK_OBJECT_MAP) return s_fail(c, "expected map, got %s", s_type_name(o));
      msgpack_pack_object(pk, *o);
      return 0;
    }
    case RL_WK_REC: return s_pack_rec(c, f->rec, p, pk);
    default: { /* LIST, ARR */
      const struct {
        uint32_t n;
        const void *v;
      } *a = p;
      if (a->n > f->max) return s_fail(c, "has %u elements, more than its max %llu", a->n, (unsigned long long)f->max);
      if (a->n && !a->v) return s_fail(c, "has %u elements but no array", a->n);
      size_t es = s_elem_size(f);
      s_put_head(c, pk, RL_WK_ARR, a->n);
      for (uint32_t i = 0; i < a->n; i++) {
        int at = s_push(c, NULL, (long)i);
        const char *e = (const char *)a->v + i * es;
        if ((f->kind == RL_WK_ARR ? s_pack_rec(c, f->rec, e, pk) : s_pack_value(c, f, f->elem, e, pk)) != 0) return -1;
        c->depth = at;
      }
      return 0;
    }
  }
}

static int s_pack_rec(s_ctx_t *c, const rl_wire_rec_t *r, const void *in, msgpack_packer *pk) {
  if (s_check(c, r, in) != 0) return -1;
  uint32_t n = s_count(r, in);
  s_put_head(c, pk, RL_WK_ARR, n);
  for (uint32_t i = 0; i < n; i++) {
    const rl_wire_field_t *f = &r->fields[i];
    int at = s_push(c, f->name, 0);
    if (!s_present(f, in))
      s_put_byte(c, pk, 0xc0);
    else if (s_pack_value(c, f, f->kind, (const char *)in + f->off, pk) != 0)
      return -1;
    c->depth = at;
  }
  return 0;
}

/* Array elements whose sizes s_size adds up one by one; past them, it counts each of the
 * rest as their average (a report of thousands of rows is not walked twice). */
#define S_SIZE_SAMPLE 16

/* About how many bytes in packs into (the buffer is reserved up front: a large value is
 * not copied again and again as the buffer doubles, and reserved bytes, once written, do
 * not move). At least that many for every kind but RES, MAP, ANY, a LIST of RES, and the
 * elements of an array past the first S_SIZE_SAMPLE (counted at the average of those);
 * an estimate short of the truth only lets the buffer grow. */
static size_t s_size(const rl_wire_rec_t *r, const void *in) {
  size_t total = 8;
  for (uint32_t i = 0; i < r->nfields; i++) {
    const rl_wire_field_t *f = &r->fields[i];
    const char *p = (const char *)in + f->off;
    if (!s_present(f, in)) {
      total += 1;
    } else if (f->kind == RL_WK_TEXT || f->kind == RL_WK_BIN) {
      total += ((const rl_wire_bytes_t *)p)->n + 5;
    } else if (f->kind == RL_WK_ARR || (f->kind == RL_WK_LIST && f->elem == RL_WK_TEXT)) {
      const struct {
        uint32_t n;
        const char *v;
      } *a = (const void *)p;
      size_t es = s_elem_size(f), sampled = 0;
      uint32_t k = 0;
      for (; k < a->n && k < S_SIZE_SAMPLE && a->v; k++)
        sampled += f->kind == RL_WK_ARR ? s_size(f->rec, a->v + k * es) : ((const rl_wire_bytes_t *)(a->v + k * es))->n + 5;
      total += k ? sampled + sampled / k * (a->n - k) : 0;
    } else if (f->kind == RL_WK_LIST) {
      total += 5 + (size_t)((const uint32_t *)p)[0] * 20;
    } else if (f->kind == RL_WK_REC) {
      total += s_size(f->rec, p);
    } else if (f->kind == RL_WK_STR) { /* an endpoint or a path: up to 4 KiB */
      total += strnlen(p, f->max) + 5;
    } else {
      total += f->kind == RL_WK_RES || f->kind == RL_WK_MAP || f->kind == RL_WK_ANY ? 256 : 20;
    }
  }
  return total;
}

/* ---- straight-line packers ----
 *
 * One function per record and message, made from proto.h's field lists by the same
 * X-macros as the descriptor tables: each field is packed by its own few instructions,
 * its kind and presence known at compile time, instead of a walk of the table (the walk
 * cost a tenth of the driver's instructions per task). The bytes are the walk's, which
 * s_pack_rec still does for rl_wire_pack_field and rl_wire_pack_sched; the selftest
 * compares the two for every message type. Kinds without a fast path (RES, MAP, ANY,
 * LIST) go through s_pack_value with their descriptor. */

static inline int s_gen_u64(s_ctx_t *c, msgpack_packer *pk, uint64_t v, uint64_t max) {
  if (max && v > max)
    return s_fail(c, "value %llu over its max %llu", (unsigned long long)v, (unsigned long long)max);
  s_put_u64(c, pk, v);
  return 0;
}

static inline int s_gen_str(s_ctx_t *c, msgpack_packer *pk, const char *p, size_t max) {
  size_t n = strnlen(p, max);
  if (n >= max) return s_fail(c, "string longer than its max %llu", (unsigned long long)max - 1);
  s_put_bytes(c, pk, RL_WK_TEXT, p, n);
  return 0;
}

static inline int s_gen_bytes(s_ctx_t *c, msgpack_packer *pk, int kind, const rl_wire_bytes_t *b, uint64_t max) {
  if (b->n > max) return s_fail(c, "of %zu bytes, longer than its max %llu", b->n, (unsigned long long)max);
  if (b->n && !b->p) return s_fail(c, "has a length but no bytes");
  if (b->p == s_reserved) return s_pack_reserved(c, kind, b->n, pk);
  s_put_bytes(c, pk, kind, b->p, b->n);
  return 0;
}

/* Each kind's packer: c, pk, p (the member), max, elem (LIST: element kind; ARR, REC:
 * record name) and fd (the field's descriptor). 0, or -1 with c's error. */
#define S_GEN_U64(c, pk, p, max, elem, fd) s_gen_u64(c, pk, *(p), (uint64_t)(max))
#define S_GEN_I64(c, pk, p, max, elem, fd) (s_put_i64(c, pk, *(p)), 0)
#define S_GEN_F64(c, pk, p, max, elem, fd) (s_put_f64(c, pk, *(p)), 0)
#define S_GEN_BOOL(c, pk, p, max, elem, fd) (s_put_byte(c, pk, *(p) ? 0xc3 : 0xc2), 0)
#define S_GEN_ID(c, pk, p, max, elem, fd) (s_put_bytes(c, pk, RL_WK_BIN, (p)->b, RL_ID_SIZE), 0)
#define S_GEN_STR(c, pk, p, max, elem, fd) s_gen_str(c, pk, *(p), max)
#define S_GEN_TEXT(c, pk, p, max, elem, fd) s_gen_bytes(c, pk, RL_WK_TEXT, p, (uint64_t)(max))
#define S_GEN_BIN(c, pk, p, max, elem, fd) s_gen_bytes(c, pk, RL_WK_BIN, p, (uint64_t)(max))
#define S_GEN_RES(c, pk, p, max, elem, fd) s_pack_value(c, fd, RL_WK_RES, p, pk)
#define S_GEN_MAP(c, pk, p, max, elem, fd) s_pack_value(c, fd, RL_WK_MAP, p, pk)
#define S_GEN_ANY(c, pk, p, max, elem, fd) s_pack_value(c, fd, RL_WK_ANY, p, pk)
#define S_GEN_LIST(c, pk, p, max, elem, fd) s_pack_value(c, fd, RL_WK_LIST, p, pk)
#define S_GEN_ARR(c, pk, p, max, elem, fd) s_gen_arr_##elem(c, pk, (const void *)(p), (uint64_t)(max))
#define S_GEN_REC(c, pk, p, max, elem, fd) s_gen_rec_##elem(c, pk, p)

#define S_PRESENT_REQ(in, f) true
#define S_PRESENT_OPT(in, f) ((in)->has_##f)

/* n: how many fields go on the wire (absent optional ones at the end are left off). */
#define S_GEN_COUNT(T, f, kind, opt, max, elem) \
  k++;                                          \
  if (S_PRESENT_##opt(in, f)) n = k;

#define S_GEN_FIELD(T, f, kind, opt, max, elem)                                 \
  if (i < n) {                                                                  \
    int at = s_push(c, #f, 0);                                                  \
    if (!S_PRESENT_##opt(in, f)) s_put_byte(c, pk, 0xc0);                       \
    else if (S_GEN_##kind(c, pk, &in->f, max, elem, &fields[i]) != 0) return -1; \
    c->depth = at;                                                              \
  }                                                                             \
  i++;

/* Not every record is some array's element: its array packer may go unused. */
#define S_ARR_FN static inline __attribute__((unused))

#define S_GEN_DECLARE(name)                                                                     \
  static int s_gen_rec_##name(s_ctx_t *c, msgpack_packer *pk, const rl_wire_##name##_t *in);    \
  S_ARR_FN int s_gen_arr_##name(s_ctx_t *c, msgpack_packer *pk, const void *p, uint64_t max);
RL_WIRE_RECORDS(S_GEN_DECLARE)

#define S_GEN_RECORD(name)                                                                         \
  static int s_gen_rec_##name(s_ctx_t *c, msgpack_packer *pk, const rl_wire_##name##_t *in) {      \
    const rl_wire_field_t *fields = s_fields_##name;                                               \
    uint32_t n = 0, k = 0, i = 0;                                                                  \
    (void)fields;                                                                                  \
    if (s_check(c, &s_rec_##name, in) != 0) return -1;                                            \
    RL_WREC_##name##_FIELDS(S_GEN_COUNT, _)                                                        \
    s_put_head(c, pk, RL_WK_ARR, n);                                                               \
    RL_WREC_##name##_FIELDS(S_GEN_FIELD, _)                                                        \
    return 0;                                                                                      \
  }                                                                                                \
  S_ARR_FN int s_gen_arr_##name(s_ctx_t *c, msgpack_packer *pk, const void *p, uint64_t max) {     \
    const struct {                                                                                 \
      uint32_t n;                                                                                  \
      const rl_wire_##name##_t *v;                                                                 \
    } *a = p;                                                                                      \
    if (a->n > max) return s_fail(c, "has %u elements, more than its max %llu", a->n, (unsigned long long)max); \
    if (a->n && !a->v) return s_fail(c, "has %u elements but no array", a->n);                     \
    s_put_head(c, pk, RL_WK_ARR, a->n);                                                            \
    for (uint32_t j = 0; j < a->n; j++) {                                                          \
      int at = s_push(c, NULL, (long)j);                                                           \
      if (s_gen_rec_##name(c, pk, &a->v[j]) != 0) return -1;                                       \
      c->depth = at;                                                                               \
    }                                                                                              \
    return 0;                                                                                      \
  }
RL_WIRE_RECORDS(S_GEN_RECORD)

typedef int (*s_gen_msg_fn)(s_ctx_t *c, const void *msg, rl_msgbuf_t *b, int type);

#define S_GEN_MESSAGE(TYPE, name)                                                     \
  static int s_gen_msg_##name(s_ctx_t *c, const void *msg, rl_msgbuf_t *b, int type) { \
    const rl_##name##_msg_t *in = msg;                                                \
    const rl_wire_field_t *fields = s_mfields_##name;                                 \
    msgpack_packer *pk = &b->pk;                                                      \
    uint32_t n = 0, k = 0, i = 0;                                                     \
    (void)fields, (void)in, (void)pk, (void)c, (void)k, (void)i; /* a message of no fields */ \
    RL_##TYPE##_FIELDS(S_GEN_COUNT, _)                                                \
    rl_msgbuf_init_sized(b, (uint8_t)type, n, s_size(&s_msg_##name, msg));            \
    RL_##TYPE##_FIELDS(S_GEN_FIELD, _)                                                \
    return 0;                                                                         \
  }
RL_WIRE_MESSAGES(S_GEN_MESSAGE)

#define S_GEN_REGISTER(TYPE, name) [RL_##TYPE] = s_gen_msg_##name,
static const s_gen_msg_fn s_gen_by_type[256] = {RL_WIRE_MESSAGES(S_GEN_REGISTER)};

int rl_wire_pack(int type, const void *msg, rl_msgbuf_t *b, char *err, size_t errlen) {
  return rl_wire_pack_with(type, msg, b, NULL, NULL, err, errlen);
}

int rl_wire_pack_with(int type, const void *msg, rl_msgbuf_t *b, rl_wire_write_fn write, void *arg, char *err,
                      size_t errlen) {
  const rl_wire_rec_t *d = rl_wire_desc(type);
  s_ctx_t c;
  s_ctx_init(&c, d ? d->name : "?", err, errlen);
  c.write = write;
  c.arg = arg;
  c.sb = &b->sb;
  memset(&b->sb, 0, sizeof b->sb);
  if (!d) return s_fail(&c, "(message type %d is unknown)", type);
  if (s_gen_by_type[type](&c, msg, b, type) != 0) {
    rl_msgbuf_reset(b);
    return -1;
  }
  return 0;
}

int rl_wire_pack_walked(int type, const void *msg, rl_msgbuf_t *b, char *err, size_t errlen) {
  const rl_wire_rec_t *d = rl_wire_desc(type);
  s_ctx_t c;
  s_ctx_init(&c, d ? d->name : "?", err, errlen);
  c.sb = &b->sb;
  memset(&b->sb, 0, sizeof b->sb);
  if (!d) return s_fail(&c, "(message type %d is unknown)", type);
  uint32_t n = s_count(d, msg);
  rl_msgbuf_init_sized(b, (uint8_t)type, n, s_size(d, msg));
  /* The header's field count is n: pack the fields after it, as s_pack_rec would. */
  for (uint32_t i = 0; i < n; i++) {
    const rl_wire_field_t *f = &d->fields[i];
    int at = s_push(&c, f->name, 0);
    int rc = 0;
    if (!s_present(f, msg)) s_put_byte(&c, &b->pk, 0xc0);
    else rc = s_pack_value(&c, f, f->kind, (const char *)msg + f->off, &b->pk);
    if (rc != 0) {
      rl_msgbuf_reset(b);
      return -1;
    }
    c.depth = at;
  }
  return 0;
}

bool rl_wire_sched_eq(const rl_wire_sched_t *a, const rl_wire_sched_t *b) {
  if (a->kind != b->kind) return false;
  if (a->kind == RL_SCHED_NODE) return rl_id_eq(&a->node_id, &b->node_id) && a->soft == b->soft;
  if (a->kind == RL_SCHED_PG) return rl_id_eq(&a->pg_id, &b->pg_id) && a->bundle == b->bundle;
  return true;
}

int rl_wire_pack_sched(msgpack_packer *pk, const rl_wire_sched_t *s, char *err, size_t errlen) {
  s_ctx_t c;
  s_ctx_init(&c, "strategy", err, errlen);
  if (s_check(&c, &s_rec_sched, s) != 0) return -1;
  return s_pack_rec(&c, &s_rec_sched, s, pk);
}

int rl_wire_unpack_sched(const msgpack_object *o, rl_wire_sched_t *s, char *err, size_t errlen) {
  s_ctx_t c;
  s_ctx_init(&c, "strategy", err, errlen);
  if (!o || o->type != MSGPACK_OBJECT_ARRAY) return s_fail(&c, "expected array (a record), got %s", o ? s_type_name(o) : "nothing");
  return s_unpack_rec(&c, &s_rec_sched, o->via.array.ptr, o->via.array.size, s);
}

/* The field of message `type` named `field`, or NULL (c then holds why). */
static const rl_wire_field_t *s_field(s_ctx_t *c, int type, const char *field) {
  const rl_wire_rec_t *d = rl_wire_desc(type);
  if (!d) {
    s_fail(c, "(message type %d is unknown)", type);
    return NULL;
  }
  c->msg = d->name;
  for (uint32_t i = 0; i < d->nfields; i++)
    if (!strcmp(d->fields[i].name, field)) return &d->fields[i];
  s_fail(c, "has no field '%s'", field);
  return NULL;
}

int rl_wire_pack_field(int type, const char *field, const void *value, msgpack_packer *pk, char *err, size_t errlen) {
  s_ctx_t c;
  s_ctx_init(&c, "?", err, errlen);
  const rl_wire_field_t *f = s_field(&c, type, field);
  if (!f) return -1;
  s_push(&c, f->name, 0);
  return s_pack_value(&c, f, f->kind, value, pk);
}

int rl_wire_unpack_field(int type, const char *field, const msgpack_object *o, msgpack_zone *zone, void *value,
                         char *err, size_t errlen) {
  s_ctx_t c;
  s_ctx_init(&c, "?", err, errlen);
  c.zone = zone;
  const rl_wire_field_t *f = s_field(&c, type, field);
  if (!f) return -1;
  s_push(&c, f->name, 0);
  return s_unpack_value(&c, f, f->kind, o, value);
}

int rl_wire_send(void *sock, const zmq_msg_t *identity, int type, const void *msg) {
  rl_msgbuf_t b;
  char err[256];
  if (rl_wire_pack(type, msg, &b, err, sizeof err) != 0) {
    rl_log(RL_LOG_WARN, "could not send %s", err);
    return -1;
  }
  return rl_msg_send(sock, identity, &b);
}

int rl_wire_send_batched(void *sock, const zmq_msg_t *identity, int type, const void *msg, const void *owner) {
  rl_msgbuf_t b;
  char err[256];
  if (rl_wire_pack(type, msg, &b, err, sizeof err) != 0) {
    rl_log(RL_LOG_WARN, "could not send %s", err);
    return -1;
  }
  return rl_msg_send_batched(sock, identity, &b, owner);
}
