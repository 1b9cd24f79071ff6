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
