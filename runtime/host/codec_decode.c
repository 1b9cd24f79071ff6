/* codec_decode.c: the codec's msgpack format back to Lua values (bounds-checked). */
#include "common/selftest.h"
#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/array.h"
#include "host/pcall.h"
#include "host/codec_int.h"

#define S_PREFIX "cannot decode value: "

typedef struct {
  lua_State *L;
  rl_codec_ctx_t *cx;
  const unsigned char *p, *end;
  const rl_codec_hooks_t *hooks;
  int keeper; /* stack index of the keeper, or 0 */
  int reftab; /* stack slot of the reference table (nil until the first entry) */
  int env;    /* stack slot of the views' environment table {keeper} (nil until needed) */
  uint32_t nrefs;
  int depth;
} s_dec_t;

static int s_value(s_dec_t *d);

/* Raises "cannot decode value: <message>" (lua_pushfstring formats). */
static void s_error(s_dec_t *d, const char *fmt, ...) __attribute__((noreturn));
static void s_error(s_dec_t *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushstring(d->L, S_PREFIX);
  lua_pushvfstring(d->L, fmt, ap);
  va_end(ap);
  lua_concat(d->L, 2);
  lua_error(d->L);
  abort(); /* lua_error does not return */
}

static const unsigned char *s_take(s_dec_t *d, size_t n) {
  if ((size_t)(d->end - d->p) < n) s_error(d, "truncated input");
  const unsigned char *b = d->p;
  d->p += n;
  return b;
}

static uint32_t s_be(const unsigned char *b, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | b[i];
  return v;
}

/* Pushes n bytes at b as a string and returns it (for messages). */
static const char *s_lstr(lua_State *L, const unsigned char *b, size_t n) {
  lua_pushlstring(L, (const char *)b, n);
  return lua_tostring(L, -1);
}

static uint64_t s_be64(const unsigned char *b) { return (uint64_t)s_be(b, 4) << 32 | s_be(b + 4, 4); }

/* Decodes a scalar (nil, boolean, number, string) starting with byte c, already taken.
 * Returns 1 and pushes it; 0 if c starts something else. Raises on truncation. */
static int s_scalar(s_dec_t *d, unsigned c) {
  lua_State *L = d->L;
  size_t n;
  if (c <= 0x7f) return lua_pushnumber(L, c), 1;
  if (c >= 0xe0) return lua_pushnumber(L, (signed char)c), 1;
  if (c >= 0xa0 && c <= 0xbf) {
    n = c & 31;
    goto str;
  }
  switch (c) {
  case 0xc0: lua_pushnil(L); return 1;
  case 0xc2: lua_pushboolean(L, 0); return 1;
  case 0xc3: lua_pushboolean(L, 1); return 1;
  case 0xca: {
    uint32_t u = s_be(s_take(d, 4), 4);
    float f;
    memcpy(&f, &u, 4);
    lua_pushnumber(L, f);
    return 1;
  }
  case 0xcb: {
    uint64_t u = s_be64(s_take(d, 8));
    double f;
    memcpy(&f, &u, 8);
    lua_pushnumber(L, f);
    return 1;
  }
  case 0xcc: lua_pushnumber(L, *s_take(d, 1)); return 1;
  case 0xcd: lua_pushnumber(L, s_be(s_take(d, 2), 2)); return 1;
  case 0xce: lua_pushnumber(L, s_be(s_take(d, 4), 4)); return 1;
  case 0xcf: lua_pushnumber(L, (lua_Number)s_be64(s_take(d, 8))); return 1;
  case 0xd0: lua_pushnumber(L, (int8_t)*s_take(d, 1)); return 1;
  case 0xd1: lua_pushnumber(L, (int16_t)s_be(s_take(d, 2), 2)); return 1;
  case 0xd2: lua_pushnumber(L, (int32_t)s_be(s_take(d, 4), 4)); return 1;
  case 0xd3: lua_pushnumber(L, (lua_Number)(int64_t)s_be64(s_take(d, 8))); return 1;
  case 0xc4: case 0xd9: n = *s_take(d, 1); goto str;
  case 0xc5: case 0xda: n = s_be(s_take(d, 2), 2); goto str;
  case 0xc6: case 0xdb: n = s_be(s_take(d, 4), 4); goto str;
  default: return 0;
  }
str:;
  const unsigned char *b = s_take(d, n);
  lua_pushlstring(L, (const char *)b, n);
  return 1;
}

/* The size of the scalar at b if b starts one whose header fits in len, else 0. */
static size_t s_scalar_size(const unsigned char *b, size_t len) {
  unsigned c = b[0];
  if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) return 1;
  if (c >= 0xa0 && c <= 0xbf) return 1 + (c & 31);
  switch (c) {
  case 0xcc: case 0xd0: return 2;
  case 0xcd: case 0xd1: return 3;
  case 0xca: case 0xce: case 0xd2: return 5;
  case 0xcb: case 0xcf: case 0xd3: return 9;
  case 0xc4: case 0xd9: return len >= 2 ? 2 + (size_t)b[1] : 0;
  case 0xc5: case 0xda: return len >= 3 ? 3 + (size_t)s_be(b + 1, 2) : 0;
  case 0xc6: case 0xdb: return len >= 5 ? 5 + (size_t)s_be(b + 1, 4) : 0;
  default: return 0;
  }
}

/* If c (taken) starts an array or map, sets *n and *map and returns 1. */
static int s_container(s_dec_t *d, unsigned c, size_t *n, int *map) {
  if (c >= 0x90 && c <= 0x9f) return *n = c & 15, *map = 0, 1;
  if (c >= 0x80 && c <= 0x8f) return *n = c & 15, *map = 1, 1;
  switch (c) {
  case 0xdc: return *n = s_be(s_take(d, 2), 2), *map = 0, 1;
  case 0xdd: return *n = s_be(s_take(d, 4), 4), *map = 0, 1;
  case 0xde: return *n = s_be(s_take(d, 2), 2), *map = 1, 1;
  case 0xdf: return *n = s_be(s_take(d, 4), 4), *map = 1, 1;
  default: return 0;
  }
}

/* If c (taken) starts an ext, sets *type and *len (header consumed) and returns 1. */
static int s_exthdr(s_dec_t *d, unsigned c, int *type, size_t *len) {
  switch (c) {
  case 0xd4: *len = 1; break;
  case 0xd5: *len = 2; break;
  case 0xd6: *len = 4; break;
  case 0xd7: *len = 8; break;
  case 0xd8: *len = 16; break;
  case 0xc7: *len = *s_take(d, 1); break;
  case 0xc8: *len = s_be(s_take(d, 2), 2); break;
  case 0xc9: *len = s_be(s_take(d, 4), 4); break;
  default: return 0;
  }
  *type = (signed char)*s_take(d, 1);
  return 1;
}

static void s_addref(s_dec_t *d, int idx) {
  lua_State *L = d->L;
  if (d->nrefs >= 0x7ffffff0) s_error(d, "too many tables");
  if (lua_isnil(L, d->reftab)) {
    lua_createtable(L, 8, 0);
    lua_replace(L, d->reftab);
  }
  lua_pushvalue(L, idx);
  lua_rawseti(L, d->reftab, (int)++d->nrefs);
}

static void s_enter(s_dec_t *d) {
  if (d->depth >= RL_CODEC_MAXDEPTH) s_error(d, "value nested too deeply");
  if (!lua_checkstack(d->L, 8)) s_error(d, "Lua stack overflow");
  d->depth++;
}

/* Decodes the n entries (pairs if map) of a table; mt: stack index of its metatable or 0. */
static void s_table(s_dec_t *d, size_t n, int map, int mt) {
  lua_State *L = d->L;
  size_t left = (size_t)(d->end - d->p);
  if (n > (map ? left / 2 : left)) s_error(d, "truncated input");
  s_enter(d);
  lua_createtable(L, map ? 0 : (int)n, map ? (int)n : 0);
  int t = lua_gettop(L);
  if (mt) {
    lua_pushvalue(L, mt);
    lua_setmetatable(L, t);
  }
  s_addref(d, t);
  for (size_t i = 0; i < n; i++) {
    if (!map) {
      s_value(d);
      lua_rawseti(L, t, (int)i + 1);
      continue;
    }
    s_value(d);
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TNUMBER && isnan(lua_tonumber(L, -1))))
      s_error(d, "table key is nil or NaN");
    s_value(d);
    lua_rawset(L, t);
  }
  d->depth--;
}

/* Decodes the table that must follow a class tag; mt: stack index of its metatable. */
static void s_tagged(s_dec_t *d, int mt) {
  size_t n;
  int map;
  if (!s_container(d, *s_take(d, 1), &n, &map)) s_error(d, "a class tag is not followed by a table");
  s_table(d, n, map, mt);
}

/* Pushes the module (and field) named "mod" or "mod\0key". */
static void s_module(s_dec_t *d, const unsigned char *b, size_t len) {
  lua_State *L = d->L;
  const unsigned char *z = memchr(b, 0, len);
  size_t mn = z ? (size_t)(z - b) : len;
  if (mn == 2 && memcmp(b, "_G", 2) == 0) {
    lua_pushvalue(L, LUA_GLOBALSINDEX);
  } else {
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    if (!lua_istable(L, -1)) s_error(d, "package.loaded is missing");
    s_lstr(L, b, mn);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_getglobal(L, "require");
      if (!lua_isfunction(L, -1)) s_error(d, "module '%s' is not loaded and there is no require", s_lstr(L, b, mn));
      s_lstr(L, b, mn);
      lua_call(L, 1, 1); /* protected: runs under rl_codec_decode's rl_lua_pcall */
    }
  }
  if (!z) return;
  if (!lua_istable(L, -1)) s_error(d, "module '%s' is not a table", s_lstr(L, b, mn));
  lua_pushlstring(L, (const char *)z + 1, len - mn - 1);
  lua_rawget(L, -2);
  lua_remove(L, -2);
  if (lua_isnil(L, -1))
    s_error(d, "module '%s' has no field '%s' here", s_lstr(L, b, mn),
            s_lstr(L, z + 1, len - mn - 1));
}

static const char *s_jit_name(lua_State *L, uint32_t v, int bcv, int flags) {
  return lua_pushfstring(L, "LuaJIT %d.%d.%d, bytecode v%d, %s%s", (int)(v / 10000), (int)(v / 100 % 100),
                         (int)(v % 100), bcv, flags & 8 ? "GC64" : "non-GC64", flags & 1 ? ", big-endian" : "");
}

typedef struct {
  const char *p;
  size_t n;
} s_reader_t;

static const char *s_read(lua_State *L, void *ud, size_t *n) {
  (void)L;
  s_reader_t *r = ud;
  *n = r->n;
  r->n = 0;
  return *n ? r->p : NULL;
}

/* Is the next object an UPJOIN ext? Consumes it and sets fi, ui if so. */
static int s_upjoin(s_dec_t *d, uint32_t *fi, int *ui) {
  if (d->end - d->p >= 8 && d->p[0] == 0xc7 && d->p[1] == 5 && d->p[2] == RL_EXT_UPJOIN) {
    *fi = s_be(d->p + 3, 4);
    *ui = d->p[7];
    d->p += 8;
    return 1;
  }
  return 0;
}

static void s_function(s_dec_t *d, const unsigned char *h, size_t len) {
  lua_State *L = d->L;
  rl_codec_ctx_t *cx = d->cx;
  if (len != RL_FUNC_HDR) s_error(d, "bad function header");
  uint32_t v = s_be(h, 4);
  int bcv = h[4], flags = h[5], nups = h[6];
  if (v != LUAJIT_VERSION_NUM || bcv != cx->bc_version || flags != cx->bc_flags)
    s_error(d, "function was compiled by a different LuaJIT (%s) than this one (%s)", s_jit_name(L, v, bcv, flags),
            s_jit_name(L, LUAJIT_VERSION_NUM, cx->bc_version, cx->bc_flags));
  unsigned c = *s_take(d, 1);
  size_t n;
  if (c == 0xc4 || c == 0xd9) n = *s_take(d, 1);
  else if (c == 0xc5 || c == 0xda) n = s_be(s_take(d, 2), 2);
  else if (c == 0xc6 || c == 0xdb) n = s_be(s_take(d, 4), 4);
  else s_error(d, "function without bytecode");
  const unsigned char *bc = s_take(d, n);
  if (n < 5 || memcmp(bc, "\x1bLJ", 3) != 0 || bc[3] != bcv || (bc[4] & RL_BC_FLAGS_MASK) != flags)
    s_error(d, "malformed function bytecode");
  s_enter(d);
  s_reader_t r = {(const char *)bc, n};
  if (lua_loadx(L, s_read, &r, "=(shipped function)", "b") != 0)
    s_error(d, "cannot load function: %s", lua_tostring(L, -1));
  int f = lua_gettop(L);
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  lua_setfenv(L, f);
  s_addref(d, f);
  lua_Debug ar;
  lua_pushvalue(L, f);
  lua_getinfo(L, ">u", &ar);
  if (ar.nups != nups) s_error(d, "function has %d upvalues, header says %d", ar.nups, nups);
  for (int i = 1; i <= nups; i++) {
    uint32_t fi;
    int ui;
    if (s_upjoin(d, &fi, &ui)) {
      if (fi >= d->nrefs) s_error(d, "bad upvalue reference");
      lua_rawgeti(L, d->reftab, (int)fi + 1);
      if (!lua_isfunction(L, -1) || lua_iscfunction(L, -1)) s_error(d, "bad upvalue reference");
      lua_pushvalue(L, -1);
      lua_getinfo(L, ">u", &ar);
      if (ui < 1 || ui > ar.nups) s_error(d, "bad upvalue reference");
      lua_upvaluejoin(L, f, i, -1, ui);
      lua_pop(L, 1);
      continue;
    }
    s_value(d);
    lua_setupvalue(L, f, i);
  }
  d->depth--;
}

static void s_array(s_dec_t *d, const unsigned char *b, size_t len) {
  lua_State *L = d->L;
  size_t esz = len >= 2 ? rl_dtype_size(b[0]) : 0;
  if (esz == 0 || (size_t)b[1] + 2 > len || (len - 2 - b[1]) % esz) s_error(d, "malformed rayl.array");
  const unsigned char *data = b + 2 + b[1];
  size_t n = (len - 2 - b[1]) / esz;
  if (d->keeper && (uintptr_t)data % esz == 0) {
    if (lua_isnil(L, d->env)) {
      lua_createtable(L, 1, 0);
      lua_pushvalue(L, d->keeper);
      lua_rawseti(L, -2, 1);
      lua_replace(L, d->env);
    }
    rl_array_push_view(L, b[0], n, data, d->env);
  } else {
    rl_array_t *a = rl_array_push(L, b[0], n, 0);
    if (n) memcpy(a->data, data, n * esz);
  }
  s_addref(d, lua_gettop(L));
}

/* A tensor: its header here, its elements in the ARRAY that must follow (codec.c); the
 * Lua layer's decoder (registry RL_TENSOR_DECODER) makes the tensor, which then takes
 * the elements' reference index. */
static void s_tensor(s_dec_t *d, const unsigned char *b, size_t len) {
  lua_State *L = d->L;
  if (len < 3 || b[0] < RL_TENSOR_FLOAT32 || b[0] > RL_TENSOR_BOOL || b[2] > RL_TENSOR_MAXDIM ||
      len != 3 + 8 * (size_t)b[2])
    s_error(d, "malformed tensor");
  if (d->end - d->p < 6 || d->p[0] != 0xc9 || d->p[5] != RL_EXT_ARRAY) s_error(d, "tensor without its elements");
  lua_getfield(L, LUA_REGISTRYINDEX, RL_TENSOR_DECODER);
  if (!lua_isfunction(L, -1)) s_error(d, "a tensor arrived, but rayl.torch is not set up in this process");
  s_value(d);
  uint32_t ref = d->nrefs;
  const rl_array_t *a = rl_array_test(L, -1);
  if (!a || a->dtype != (b[0] == RL_TENSOR_BOOL ? RL_DT_UINT8 : b[0])) s_error(d, "tensor elements of the wrong type");
  lua_pushinteger(L, b[0]);
  lua_createtable(L, b[2], 0);
  double numel = 1;
  for (int i = 0; i < b[2]; i++) {
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | b[3 + 8 * i + k];
    if (v > (1ULL << 53)) s_error(d, "malformed tensor");
    numel *= (double)v;
    lua_pushnumber(L, (lua_Number)v);
    lua_rawseti(L, -2, i + 1);
  }
  if (numel != (double)a->n) s_error(d, "tensor shape does not match its elements");
  lua_pushinteger(L, b[1]);
  lua_call(L, 4, 1); /* protected: runs under rl_codec_decode's rl_lua_pcall */
  lua_pushvalue(L, -1);
  lua_rawseti(L, d->reftab, (int)ref);
}

static void s_objref(s_dec_t *d, const unsigned char *b, size_t len) {
  if (!d->hooks || !d->hooks->ref_in) s_error(d, "ObjectRef not allowed here");
  if (len < RL_ID_SIZE || len - RL_ID_SIZE >= sizeof(((rl_objref_t *)0)->owner)) s_error(d, "malformed ObjectRef");
  rl_id_t id;
  char owner[sizeof(((rl_objref_t *)0)->owner)];
  memcpy(id.b, b, RL_ID_SIZE);
  memcpy(owner, b + RL_ID_SIZE, len - RL_ID_SIZE);
  owner[len - RL_ID_SIZE] = 0;
  int top = lua_gettop(d->L);
  if (d->hooks->ref_in(d->L, d->hooks->ctx, &id, owner) != 0) lua_error(d->L);
  if (lua_gettop(d->L) != top + 1) s_error(d, "ref_in pushed %d values", lua_gettop(d->L) - top);
}

static void s_ext(s_dec_t *d, int type, size_t len) {
  lua_State *L = d->L;
  const unsigned char *b = s_take(d, len);
  switch (type) {
  case RL_EXT_REF: {
    uint32_t i = len == 4 ? s_be(b, 4) : 0xffffffffu;
    if (i >= d->nrefs) s_error(d, "bad back-reference");
    lua_rawgeti(L, d->reftab, (int)i + 1);
    return;
  }
  case RL_EXT_CLASS:
    lua_getfield(L, LUA_REGISTRYINDEX, RL_CLASSES_KEY);
    if (lua_istable(L, -1)) {
      lua_pushlstring(L, (const char *)b, len);
      lua_rawget(L, -2);
    } else {
      lua_pushnil(L);
    }
    if (!lua_istable(L, -1)) s_error(d, "unknown class '%s'", s_lstr(L, b, len));
    lua_remove(L, -2);
    s_tagged(d, lua_gettop(L));
    lua_remove(L, -2);
    return;
  case RL_EXT_MODMT:
    if (memchr(b, 0, len)) s_error(d, "bad module name");
    s_module(d, b, len);
    if (!lua_istable(L, -1)) s_error(d, "metatable module '%s' is not a table", s_lstr(L, b, len));
    s_tagged(d, lua_gettop(L));
    lua_remove(L, -2);
    return;
  case RL_EXT_MODULE: s_module(d, b, len); return;
  case RL_EXT_FUNC: s_function(d, b, len); return;
  case RL_EXT_ARRAY: s_array(d, b, len); return;
  case RL_EXT_OBJREF: s_objref(d, b, len); return;
  case RL_EXT_TENSOR: s_tensor(d, b, len); return;
  default: s_error(d, "unexpected ext type %d", type);
  }
}

static int s_value(s_dec_t *d) {
  if (!lua_checkstack(d->L, 8)) s_error(d, "Lua stack overflow");
  unsigned c = *s_take(d, 1);
  size_t n;
  int map, type;
  if (s_scalar(d, c)) return 0;
  if (s_container(d, c, &n, &map)) {
    s_table(d, n, map, 0);
    return 0;
  }
  if (s_exthdr(d, c, &type, &n)) {
    s_ext(d, type, n);
    return 0;
  }
  s_error(d, "bad byte %d", (int)c);
}

int rl_codec_decode_protected(lua_State *L) {
  s_dec_t *d = lua_touserdata(L, 2);
  d->L = L;
  d->keeper = lua_isnil(L, 1) ? 0 : 1;
  lua_settop(L, 4);
  d->reftab = 3;
  d->env = 4;
  s_value(d);
  if (d->p != d->end) s_error(d, "%d trailing bytes", (int)(d->end - d->p));
  return 1;
}

int rl_codec_decode(lua_State *L, const void *data, size_t len, int keeper, const rl_codec_hooks_t *hooks) {
  keeper = keeper < 0 && keeper > LUA_REGISTRYINDEX ? lua_gettop(L) + keeper + 1 : keeper;
  if (!lua_checkstack(L, 8)) return lua_pushliteral(L, S_PREFIX "Lua stack overflow"), -1;
  s_dec_t d = {L, NULL, data, (const unsigned char *)data + len, hooks, 0, 0, 0, 0, 0};
  /* Plain values (the common task argument) need no protected call. */
  if (len > 0 && s_scalar_size(data, len) == len) {
    s_scalar(&d, *d.p++);
    return 0;
  }
  rl_codec_ctx_t *cx = rl_codec_ctx(L);
  if (!cx) return lua_pushliteral(L, S_PREFIX "out of memory"), -1;
  d.cx = cx;
  lua_rawgeti(L, LUA_REGISTRYINDEX, cx->decode_fn);
  if (keeper) lua_pushvalue(L, keeper);
  else lua_pushnil(L);
  lua_pushlightuserdata(L, &d);
  if (rl_lua_pcall(L, 2, 1) == 0) return 0;
  if (!lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, S_PREFIX "error");
  } else if (strncmp(lua_tostring(L, -1), S_PREFIX, sizeof S_PREFIX - 1) != 0) {
    lua_pushliteral(L, S_PREFIX);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return -1;
}
