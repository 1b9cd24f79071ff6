/* codec.c: the value codec's shared parts: format, buffers, per-state context, classes. */
/*
 * Wire format. One value is one msgpack object; the whole encoding is exactly one
 * object (trailing bytes are an error). Plain values:
 *   nil, booleans        msgpack nil, true, false
 *   numbers              integral doubles in [-2^63, 2^63) (except -0) as msgpack ints,
 *                        all others as float64; decoders also accept uint64 and float32
 *   strings              msgpack str (any bytes); decoders also accept bin
 *   tables               a msgpack array when the keys are exactly 1..n, else a map of all
 *                        pairs; each table gets the next reference index when it starts
 * Reference indices count, from 0 in stream order, every table, function (encoded with
 * its bytecode) and rayl.array, at the point where it starts (before its contents), so a
 * decoder assigns the same numbers. Module values, ObjectRefs and REFs get none.
 * Special kinds are msgpack ext objects; some are prefixes that tag the next object(s):
 *   1 REF     u32 index: the value already decoded with that reference index
 *   2 CLASS   the class name (rl_codec_register_class); followed by the table (array or
 *             map), which gets the metatable registered under that name
 *   3 FUNC    u32 LUAJIT_VERSION_NUM, u8 bytecode version, u8 dump flags & 0x09 (big
 *             endian, FR2/GC64), u8 nups; followed by a bin (lua_dump output, not
 *             stripped), then nups objects: each upvalue's value, or an UPJOIN
 *   4 ARRAY   always ext32: u8 dtype (RL_DT_*), u8 pad, pad zero bytes, raw elements in
 *             host byte order; pad makes the elements start 16-byte aligned relative to
 *             the start of the encoding
 *   5 MODULE  "mod" (require(mod), "_G" is the globals table) or "mod\0key" (its field)
 *   6 MODMT   "mod": a metatable that is a module; followed by the table
 *   7 UPJOIN  u32 function index, u8 upvalue number: only in an upvalue position; this
 *             upvalue is shared with that upvalue of an earlier function
 *   8 OBJREF  16-byte object id, then the owner endpoint (up to 119 bytes)
 *   9 TENSOR  u8 dtype (RL_TORCH_*: 1-5 as RL_DT_*, 6 bool), u8 flags (bit 0:
 *             requires_grad), u8 ndim (<= 16), ndim u64 sizes (big endian); followed by
 *             an ARRAY of its elements in row-major order (bool as uint8), which gets the
 *             reference index: the decoded tensor takes that index's place
 */
#include "common/copy.h"
#include "common/selftest.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "host/codec_int.h"
#include "host/pcall.h"

#include <assert.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/array.h"

/* ---- pointer map ---- */

static uint32_t s_phash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return (uint32_t)x;
}

rl_pslot_t *rl_pmap_find(const rl_pmap_t *m, const void *key) {
  if (!m->slots || m->count == 0) return NULL;
  for (uint32_t i = s_phash(key) & m->mask;; i = (i + 1) & m->mask) {
    rl_pslot_t *s = &m->slots[i];
    if (s->gen != m->gen) return NULL;
    if (s->key == key) return s;
  }
}

static int s_pmap_grow(rl_pmap_t *m) {
  uint32_t ncap = m->slots ? (m->mask + 1) * 2 : 64;
  rl_pslot_t *ns = calloc(ncap, sizeof *ns);
  if (!ns) return -1;
  if (m->slots) {
    for (uint32_t i = 0; i <= m->mask; i++) {
      rl_pslot_t *s = &m->slots[i];
      if (s->gen != m->gen) continue;
      uint32_t j = s_phash(s->key) & (ncap - 1);
      while (ns[j].gen == 1) j = (j + 1) & (ncap - 1);
      ns[j] = *s;
      ns[j].gen = 1;
    }
    free(m->slots);
  }
  m->slots = ns;
  m->mask = ncap - 1;
  m->gen = 1;
  return 0;
}

rl_pslot_t *rl_pmap_put(rl_pmap_t *m, const void *key, uint32_t a, uint32_t b) {
  if (!m->slots || (m->count + 1) * 2 > m->mask + 1)
    if (s_pmap_grow(m)) return NULL;
  uint32_t i = s_phash(key) & m->mask;
  while (m->slots[i].gen == m->gen && m->slots[i].key != key) i = (i + 1) & m->mask;
  rl_pslot_t *s = &m->slots[i];
  if (s->gen != m->gen) m->count++;
  s->key = key;
  s->gen = m->gen;
  s->a = a;
  s->b = b;
  return s;
}

void rl_pmap_clear(rl_pmap_t *m) {
  if (m->count == 0) return;
  m->count = 0;
  if (++m->gen == 0) { /* wrapped: old stamps could match again */
    memset(m->slots, 0, ((size_t)m->mask + 1) * sizeof *m->slots);
    m->gen = 1;
  }
}

/* ---- encoded buffer ---- */

rl_encoded_t *rl_encoded_new(void) {
  rl_encoded_t *e = malloc(sizeof *e);
  if (!e) return NULL;
  e->buf = e->inl;
  e->len = 0;
  e->cap = sizeof e->inl;
  e->blobs = NULL;
  e->nblobs = e->blobcap = 0;
  e->total = 0;
  e->oom = 0;
  return e;
}

int rl_encoded_append(rl_encoded_t *e, const void *p, size_t n) {
  if (e->len + n > e->cap) {
    size_t ncap = e->cap * 2;
    while (ncap < e->len + n) ncap *= 2;
    char *nb = e->buf == e->inl ? malloc(ncap) : realloc(e->buf, ncap);
    if (!nb) {
      e->oom = 1;
      return -1;
    }
    if (e->buf == e->inl) memcpy(nb, e->inl, e->len);
    e->buf = nb;
    e->cap = ncap;
  }
  memcpy(e->buf + e->len, p, n);
  e->len += n;
  e->total += n;
  return 0;
}

static int s_blob(rl_encoded_t *e, const void *p, size_t n, int owned) {
  if (e->nblobs == e->blobcap) {
    size_t ncap = e->blobcap ? e->blobcap * 2 : 4;
    rl_blob_t *nb = realloc(e->blobs, ncap * sizeof *nb);
    if (!nb) {
      e->oom = 1;
      return -1;
    }
    e->blobs = nb;
    e->blobcap = ncap;
  }
  e->blobs[e->nblobs++] = (rl_blob_t){e->len, p, n, owned};
  e->total += n;
  return 0;
}

int rl_encoded_blob(rl_encoded_t *e, const void *p, size_t n) { return s_blob(e, p, n, 0); }

int rl_encoded_blob_owned(rl_encoded_t *e, void *p, size_t n) {
  if (s_blob(e, p, n, 1) == 0) return 0;
  free(p);
  return -1;
}

size_t rl_encoded_size(const rl_encoded_t *e) { return e->total; }

void rl_encoded_copy(const rl_encoded_t *e, void *dst) {
  char *d = dst;
  size_t at = 0;
  for (size_t i = 0; i < e->nblobs; i++) {
    const rl_blob_t *b = &e->blobs[i];
    memcpy(d, e->buf + at, b->at - at);
    d += b->at - at;
    at = b->at;
    rl_copy(d, b->p, b->n); /* a large blob (an array's data) on two cores */
    d += b->n;
  }
  memcpy(d, e->buf + at, e->len - at);
}

void rl_encoded_destroy(rl_encoded_t **p) {
  if (!p || !*p) return;
  rl_encoded_t *e = *p;
  if (e->buf != e->inl) free(e->buf);
  for (size_t i = 0; i < e->nblobs; i++)
    if (e->blobs[i].owned) free((void *)e->blobs[i].p);
  free(e->blobs);
  free(e);
  *p = NULL;
}

/* ---- per-state context ---- */

static const char s_ctx_key = 0;

static int s_ctx_gc(lua_State *L) {
  rl_codec_ctx_t **box = lua_touserdata(L, 1);
  rl_codec_ctx_t *cx = box ? *box : NULL;
  if (!cx) return 0;
  free(cx->refs.slots);
  free(cx->upvals.slots);
  free(cx->mods.slots);
  free(cx->names);
  free(cx->dump);
  free(cx->orefs);
  free(cx);
  *box = NULL;
  return 0;
}

static int s_dump_writer(lua_State *L, const void *p, size_t n, void *ud) {
  (void)L;
  rl_codec_ctx_t *cx = ud;
  if (cx->dumplen + n > cx->dumpcap) {
    size_t ncap = cx->dumpcap ? cx->dumpcap * 2 : 4096;
    while (ncap < cx->dumplen + n) ncap *= 2;
    char *nd = realloc(cx->dump, ncap);
    if (!nd) return 1;
    cx->dump = nd;
    cx->dumpcap = ncap;
  }
  memcpy(cx->dump + cx->dumplen, p, n);
  cx->dumplen += n;
  return 0;
}

/* Dumps the function at the top of the stack into cx->dump. Returns 0 or -1. */
int rl_codec_dump(lua_State *L, rl_codec_ctx_t *cx) {
  cx->dumplen = 0;
  return lua_dump(L, s_dump_writer, cx) == 0 ? 0 : -1;
}

static int s_ctx_create(lua_State *L) {
  rl_codec_ctx_t **out = lua_touserdata(L, 1);
  rl_codec_ctx_t **box = lua_newuserdata(L, sizeof *box);
  *box = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, s_ctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  rl_codec_ctx_t *cx = rl_xcalloc(1, sizeof *cx);
  *box = cx;
  lua_pushlightuserdata(L, (void *)&s_ctx_key);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushcfunction(L, rl_codec_encode_protected);
  cx->encode_fn = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushcfunction(L, rl_codec_decode_protected);
  cx->decode_fn = luaL_ref(L, LUA_REGISTRYINDEX);
  /* This LuaJIT's bytecode header: "\x1bLJ", version, flags. */
  if (luaL_loadstring(L, "return") || rl_codec_dump(L, cx) || cx->dumplen < 5)
    return luaL_error(L, "cannot dump a function");
  cx->bc_version = (unsigned char)cx->dump[3];
  cx->bc_flags = (unsigned char)cx->dump[4] & RL_BC_FLAGS_MASK;
  *out = cx;
  return 0;
}

rl_codec_ctx_t *rl_codec_ctx(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&s_ctx_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  rl_codec_ctx_t **box = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (box && *box) return *box;
  rl_codec_ctx_t *cx = NULL;
  if (rl_lua_cpcall(L, s_ctx_create, &cx) != 0) {
    lua_pop(L, 1);
    return NULL;
  }
  return cx;
}

/* ---- classes and the Lua-facing parts ---- */

void rl_codec_register_class(lua_State *L, const char *name, int mt) {
  mt = mt < 0 && mt > LUA_REGISTRYINDEX ? lua_gettop(L) + mt + 1 : mt;
  lua_getfield(L, LUA_REGISTRYINDEX, RL_CLASSES_KEY);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RL_CLASSES_KEY);
  }
  lua_getfield(L, -1, name); /* forget an older metatable registered under this name */
  if (!lua_isnil(L, -1)) {
    lua_pushnil(L);
    lua_rawset(L, -3);
  } else {
    lua_pop(L, 1);
  }
  lua_pushvalue(L, mt);
  lua_setfield(L, -2, name);
  lua_pushvalue(L, mt);
  lua_pushstring(L, name);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

void rl_codec_open(lua_State *L) { rl_array_open(L); }

/* ---- selftest ---- */

#include "common/log.h"

static int s_fails;
#define S_CHECK(c) RL_CHECK_COUNT(c, s_fails)

lua_State *rl_codec_test_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  rl_codec_open(L);
  lua_setglobal(L, "rayl");
  return L;
}

/* Runs src (chunk "@x.lua") in L and leaves its one result on top; -1 on error. */
int rl_codec_test_run(lua_State *L, const char *src) {
  if (luaL_loadbuffer(L, src, strlen(src), "@x.lua") || rl_lua_pcall(L, 0, 1)) {
    rl_log(RL_LOG_ERROR, "codec selftest: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  return 0;
}

/* Hooks for ObjectRefs: ref_out counts, ref_in makes a new ObjectRef userdata. */
static void s_ref_out(void *ctx, const rl_id_t *id, const char *owner) {
  (void)id;
  (void)owner;
  (*(int *)ctx)++;
}

static int s_ref_in(lua_State *L, void *ctx, const rl_id_t *id, const char *owner) {
  (void)ctx;
  rl_objref_t *r = lua_newuserdata(L, sizeof *r);
  r->id = *id;
  rl_str_copy(r->owner, sizeof r->owner, owner);
  luaL_newmetatable(L, RL_OBJREF_MT);
  lua_setmetatable(L, -2);
  return 0;
}

/* Encodes A's top value (popped), decodes it into B as global v (through a keeper
 * userdata if keeper), and runs check in B, which must return true. */
static void s_rt_top(lua_State *A, lua_State *B, const char *check, int keeper, const rl_codec_hooks_t *hk) {
  char err[256];
  rl_encoded_t *e = rl_codec_encode(A, -1, "argument 1", hk, err, sizeof err);
  lua_pop(A, 1);
  if (!e) rl_log(RL_LOG_ERROR, "codec selftest: %s (for %s)", err, check);
  S_CHECK(e != NULL);
  if (!e) return;
  size_t n = rl_encoded_size(e);
  int top = lua_gettop(B);
  unsigned char *buf = lua_newuserdata(B, n + 64);
  buf = (unsigned char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
  rl_encoded_copy(e, buf);
  rl_encoded_destroy(&e);
  S_CHECK(e == NULL);
  if (rl_codec_decode(B, buf, n, keeper ? -1 : 0, hk) != 0) {
    rl_log(RL_LOG_ERROR, "codec selftest: %s (for %s)", lua_tostring(B, -1), check);
    s_fails++;
    lua_settop(B, top);
    return;
  }
  lua_setglobal(B, "v");
  lua_settop(B, top);
  lua_gc(B, LUA_GCCOLLECT, 0); /* views must keep the keeper alive by themselves */
  lua_pushlightuserdata(B, buf);
  lua_setglobal(B, "kbuf");
  lua_pushnumber(B, (lua_Number)n);
  lua_setglobal(B, "klen");
  if (rl_codec_test_run(B, check) != 0 || !lua_toboolean(B, -1)) {
    rl_log(RL_LOG_ERROR, "codec selftest: check failed: %s", check);
    s_fails++;
  }
  lua_settop(B, top);
}

static void s_rt(lua_State *A, lua_State *B, const char *make, const char *check, int keeper) {
  if (rl_codec_test_run(A, make) != 0) {
    s_fails++;
    return;
  }
  s_rt_top(A, B, check, keeper, NULL);
}

/* Encodes A's top (popped) into a malloc'd buffer (*n bytes); NULL on failure. */
unsigned char *rl_codec_test_encode(lua_State *A, size_t *n) {
  char err[256];
  rl_encoded_t *e = rl_codec_encode(A, -1, "x", NULL, err, sizeof err);
  lua_pop(A, 1);
  if (!e) return NULL;
  *n = rl_encoded_size(e);
  unsigned char *b = malloc(*n);
  if (b) rl_encoded_copy(e, b);
  rl_encoded_destroy(&e);
  return b;
}

/* Tensors (faked: FFI structs a test describer describes) through the codec. */
static void s_tensor_tests(lua_State *A, lua_State *B) {
  /* As rayl.torch describes them, faked here with FFI structs): a header, their
   * elements as an array (copied when the describer made a temporary copy), identity kept;
   * the receiver's decoder makes the tensor. */
  S_CHECK(rl_codec_test_run(A, "local ffi = require 'ffi' ffi.cdef 'typedef struct { int k; } fake_tensor;'"
                               " keep = {} debug.getregistry()['" RL_CDATA_DESCRIBER "'] = function(t)"
                               "   local k = keep[t.k] if k.fail then error(k.fail, 0) end local a = k.tmp or k.a"
                               "   return 'tensor', k.dtype, k.shape, tonumber(ffi.cast('uintptr_t', a:ptr())),"
                               "     a:bytes(), k.flags, k.tmp end"
                               " function fake(k, a, dtype, shape, flags, tmp) keep[k] = {a = a, dtype = dtype,"
                               "   shape = shape, flags = flags, tmp = tmp} return ffi.new('fake_tensor', k) end"
                               " return true") == 0);
  lua_pop(A, 1);
  S_CHECK(rl_codec_test_run(B, "debug.getregistry()['" RL_TENSOR_DECODER "'] = function(a, dtype, shape, flags)"
                               " return {a = a, dtype = dtype, shape = shape, flags = flags} end return true") == 0);
  lua_pop(B, 1);
  s_rt(A, B, "local t = fake(1, rayl.array('float32', {1, 2, 3, 4, 5, 6}), 1, {2, 3}, 1) return {t, t, 5}",
       "local t = v[1] return v[2] == t and v[3] == 5 and t.dtype == 1 and #t.shape == 2 and t.shape[1] == 2"
       " and t.shape[2] == 3 and t.flags == 1 and t.a.dtype == 'float32' and #t.a == 6 and t.a[6] == 6", 0);
  s_rt(A, B, "local a = rayl.array('float64', 20000) a[20000] = 7 return fake(2, a, 2, {100, 200}, 0)",
       "local p = tonumber(tostring(v.a:ptr()):match('0x%x+')) local k = tonumber(tostring(kbuf):match('0x%x+'))"
       " return v.a[20000] == 7 and p >= k and p < k + klen and v.shape[2] == 200 and v.flags == 0", 1);
  s_rt(A, B, "local a = rayl.array('float32', 30000) a[1] = 3 return fake(3, a, 1, {30000}, 0, a:copy())",
       "return v.a[1] == 3 and #v.a == 30000", 0);
  s_rt(A, B, "return fake(4, rayl.array('uint8', {1, 0}), 6, {2}, 0)",
       "return v.dtype == 6 and v.a.dtype == 'uint8' and v.a[1] == 1 and v.a[2] == 0", 0);
  s_rt(A, B, "return fake(5, rayl.array('float32', 0), 1, {0, 4}, 0)", "return #v.a == 0 and v.shape[2] == 4", 0);
  S_CHECK(rl_codec_test_run(A, "return fake(6, rayl.array('float32', 3), 1, {2, 2}, 0)") == 0);
  char err0[256];
  rl_encoded_t *e0 = rl_codec_encode(A, -1, "argument 1", NULL, err0, sizeof err0);
  S_CHECK(!e0 && strstr(err0, "tensor whose size does not match its shape"));
  lua_pop(A, 1);
  S_CHECK(rl_codec_test_run(A, "local t = fake(8, rayl.array('float32', 1), 1, {1}, 0) keep[8].fail = 'no such dtype'"
                               " return {t}") == 0);
  e0 = rl_codec_encode(A, -1, "argument 1", NULL, err0, sizeof err0);
  S_CHECK(!e0 && !strcmp(err0, "cannot serialize argument 1[1]: cdata: no such dtype"));
  lua_pop(A, 1);
  S_CHECK(rl_codec_test_run(A, "return fake(7, rayl.array('float32', 1), 1, {}, 0)") == 0);
  size_t n = 0;
  unsigned char *tb = rl_codec_test_encode(A, &n);
  lua_State *C0 = rl_codec_test_state();
  S_CHECK(tb && tb[0] == 0xc7 && tb[1] == 3 && tb[2] == RL_EXT_TENSOR && tb[5] == 0);
  if (tb) {
    S_CHECK(rl_codec_decode(C0, tb, n, 0, NULL) == -1 && strstr(lua_tostring(C0, -1), "rayl.torch is not set up"));
    lua_settop(C0, 0);
    tb[6] = 0xc0; /* the elements replaced by nil */
    S_CHECK(rl_codec_decode(B, tb, n, 0, NULL) == -1 && strstr(lua_tostring(B, -1), "tensor without its elements"));
    lua_settop(B, 0);
  }
  free(tb);
  lua_close(C0);
}

int rl_codec_selftest(void) {
  s_fails = 0;
  lua_State *A = rl_codec_test_state(), *B = rl_codec_test_state();
  /* Numbers: integral values as ints, the rest as float64, all come back exactly. */
  static const char *const nums[][2] = {
      {"0", "v == 0 and 1/v > 0"}, {"-1", "v == -1"}, {"2^53", "v == 2^53"}, {"1.5", "v == 1.5"},
      {"1e308", "v == 1e308"}, {"0/0", "v ~= v"}, {"1/0", "v == math.huge"}, {"-1/0", "v == -math.huge"},
      {"-0.0", "v == 0 and 1/v < 0"}, {"2^63", "v == 2^63"}, {"-2^63", "v == -2^63"},
      {"2^64 + 2^12", "v == 2^64 + 2^12"}, {"-2^53 - 2", "v == -2^53 - 2"}, {"0.1", "v == 0.1"}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    char make[64], check[96];
    snprintf(make, sizeof make, "return %s", nums[i][0]);
    snprintf(check, sizeof check, "return type(v) == 'number' and %s", nums[i][1]);
    s_rt(A, B, make, check, 0);
  }
  size_t n = 0;
  unsigned char *b;
  lua_pushnumber(A, 1);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n == 1 && b[0] == 1);
  free(b);
  lua_pushnumber(A, 1.5);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n == 9 && b[0] == 0xcb);
  free(b);
  /* Strings, nested tables, shared sub-tables, cycles. */
  s_rt(A, B, "return 'a\\0b\\0'", "return v == 'a\\0b\\0' and #v == 4", 0);
  s_rt(A, B, "return string.rep('xy', 100000)", "return #v == 200000 and v:sub(1, 4) == 'xyxy'", 0);
  s_rt(A, B, "return {}", "return type(v) == 'table' and next(v) == nil", 0);
  s_rt(A, B, "return {1, 2, {a = {b = {c = 'd'}}}, x = true, [1.5] = 'f', [false] = 0, [-3] = 'n'}",
       "return v[1] == 1 and v[2] == 2 and v[3].a.b.c == 'd' and v.x == true and v[1.5] == 'f'"
       " and v[false] == 0 and v[-3] == 'n'", 0);
  s_rt(A, B, "return {1, nil, 3}", "return v[1] == 1 and v[2] == nil and v[3] == 3", 0);
  s_rt(A, B, "local s = {1} return {a = s, b = s, c = {s}}",
       "return v.a == v.b and v.c[1] == v.a and v.a[1] == 1", 0);
  s_rt(A, B, "local t = {} t.self = t t[t] = 'k' return t", "return v.self == v and v[v] == 'k'", 0);
  /* Closures, recursion, shared upvalues, modules by name, globals rebound. */
  s_rt(A, B, "local a, b = 10, {x = 2} return function(y) return a + b.x + y end", "return v(3) == 15", 0);
  s_rt(A, B, "local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end return fact",
       "return v(5) == 120", 0);
  s_rt(A, B, "local n = 0 local function inc() n = n + 1 end local function get() return n end"
             " return {inc = inc, get = get}",
       "v.inc() v.inc() return v.get() == 2", 0);
  s_rt(A, B, "local n, f, g = 5 function f() n = n + 1 return g end function g() return n, f end return f",
       "local g = v() local n, f = g() return n == 6 and f == v and select(1, v()()) == 7", 0);
  s_rt(A, B, "local floor, s = math.floor, string return function(x) return floor(x) .. s.rep('a', 2) end",
       "return v(2.5) == '2aa' and select(2, debug.getupvalue(v, 1)) == math.floor"
       " and select(2, debug.getupvalue(v, 2)) == string", 0);
  s_rt(A, B, "return {m = math, g = _G, f = string.format, p = print}",
       "return v.m == math and v.g == _G and v.f == string.format and v.p == print", 0);
  s_rt(A, B, "function gf(x) return x * 2 end return gf", "return gf == nil and v(2) == 4", 0);
  s_rt(A, B, "return function() return math.max(1, seen_global or 2) end",
       "seen_global = 7 return v() == 7 and getfenv(v) == _G", 0);
  s_rt(A, B, "return function() error('boom') end",
       "local ok, e = pcall(v) return not ok and e:find('x.lua:1: boom', 1, true) ~= nil", 0);
  /* Arrays: copies, views into the keeper, identity, alignment. */
  s_rt(A, B, "local a = rayl.array('float64', {1.5, 2.5, 3.5}) return {a, a, 'x'}",
       "v[1][1] = 9 return v[1] == v[2] and v[1][1] == 9 and v[1][2] == 2.5 and #v[1] == 3", 0);
  s_rt(A, B, "local a = rayl.array('int32', 100000) for i = 1, #a do a[i] = i end"
             " return {pad = 'abc', a = a, b = rayl.array('uint8', {7}), c = rayl.array('float32', {0.5})}",
       "local ok, e = pcall(function() v.a[1] = 0 end)"
       " local p = tonumber(tostring(v.a:ptr()):match('0x%x+')) local k = tonumber(tostring(kbuf):match('0x%x+'))"
       " return v.a[100000] == 100000 and not ok and e:find('read%-only view') and v.a:copy()[5] == 5"
       " and p >= k and p + v.a:bytes() <= k + klen and (p - k) % 16 == 0 and v.b[1] == 7 and v.c[1] == 0.5", 1);
  s_tensor_tests(A, B);
  /* Registered classes, module metatables. */
  const char *cls = "local P = {} P.__index = P function P.sum(self) return self.x + self.y end"
                    " package.loaded.modmt = {__index = {hi = function() return 'hi' end}} return P";
  lua_State *C = rl_codec_test_state();
  S_CHECK(rl_codec_test_run(A, cls) == 0 && rl_codec_test_run(B, cls) == 0 && rl_codec_test_run(C, cls) == 0);
  rl_codec_register_class(A, "Point", -1);
  rl_codec_register_class(B, "Point", -1);
  lua_setglobal(A, "P");
  lua_setglobal(B, "P");
  lua_setglobal(C, "P");
  s_rt(A, B, "return {setmetatable({x = 1, y = 2}, P), setmetatable({}, package.loaded.modmt)}",
       "return getmetatable(v[1]) == P and v[1]:sum() == 3 and v[2].hi() == 'hi'", 0);
  S_CHECK(rl_codec_test_run(A, "return setmetatable({x = 1}, P)") == 0);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b != NULL);
  S_CHECK(b && rl_codec_decode(C, b, n, 0, NULL) == -1 && strstr(lua_tostring(C, -1), "unknown class 'Point'"));
  lua_settop(C, 0);
  free(b);
  lua_close(C);
  /* ObjectRefs go through the hooks. */
  int outs = 0;
  rl_codec_hooks_t hk = {s_ref_out, s_ref_in, &outs};
  rl_objref_t *r = lua_newuserdata(A, sizeof *r);
  memset(r, 0, sizeof *r);
  r->id.b[0] = 42;
  snprintf(r->owner, sizeof r->owner, "tcp://10.0.0.1:5555");
  luaL_newmetatable(A, RL_OBJREF_MT);
  lua_setmetatable(A, -2);
  lua_setglobal(A, "ref");
  S_CHECK(rl_codec_test_run(A, "return {ref, ref}") == 0);
  s_rt_top(A, B, "return getmetatable(v[1]) == getmetatable(v[2]) and v[1] ~= nil", 0, &hk);
  S_CHECK(outs == 2);
  char err[256];
  S_CHECK(rl_codec_test_run(A, "return {r = ref}") == 0);
  rl_encoded_t *e = rl_codec_encode(A, -1, "argument 1", NULL, err, sizeof err);
  S_CHECK(e == NULL && strcmp(err, "cannot serialize argument 1.r: ObjectRef (not allowed here)") == 0);
  lua_pop(A, 1);
  S_CHECK(lua_gettop(A) == 0 && lua_gettop(B) == 0);
  lua_close(A);
  lua_close(B);
  return s_fails ? 1 : 0;
}
