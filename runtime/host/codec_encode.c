/* codec_encode.c: Lua values to the codec's msgpack format (see codec.c). */
#include "common/selftest.h"
#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <msgpack.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/array.h"
#include "host/pcall.h"
#include "host/codec_int.h"
#include "host/host.h"

#define S_UNNAMED 0xffffffffu /* a module slot whose name is not looked up yet */

enum { S_SEG_STR, S_SEG_INT, S_SEG_NUM, S_SEG_BOOL, S_SEG_OTHER, S_SEG_KEYOF, S_SEG_UPVAL };

/* One step of the path from the root to the value being encoded (for error messages). */
typedef struct {
  int kind;
  int idx;       /* S_SEG_UPVAL: stack index of the function */
  const char *s; /* S_SEG_STR: the key; S_SEG_UPVAL: the upvalue's name */
  size_t n;
  double d;
} s_seg_t;

typedef struct {
  lua_State *L;
  rl_codec_ctx_t *cx;
  rl_encoded_t *e;
  msgpack_packer pk;
  const rl_codec_hooks_t *hooks;
  const char *what;
  char *err;
  size_t errlen;
  uint32_t nrefs;
  int depth, nseg, failed;
  s_seg_t seg[RL_CODEC_MAXDEPTH + 8];
} s_enc_t;

static int s_write(void *data, const char *buf, size_t len) {
  return rl_encoded_append(data, buf, len);
}

static int s_value(s_enc_t *s, int idx);

/* ---- error messages ---- */

typedef struct {
  char *p;
  size_t n, cap;
} s_str_t;

static void s_put(s_str_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_put(s_str_t *b, const char *fmt, ...) {
  if (b->n + 1 >= b->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  if (r > 0) b->n = b->n + (size_t)r < b->cap ? b->n + (size_t)r : b->cap - 1;
}

static int s_is_ident(const char *k, size_t n) {
  if (n == 0 || n > 60 || !(k[0] == '_' || ((k[0] | 32) >= 'a' && (k[0] | 32) <= 'z'))) return 0;
  for (size_t i = 1; i < n; i++)
    if (!(k[i] == '_' || (k[i] >= '0' && k[i] <= '9') || ((k[i] | 32) >= 'a' && (k[i] | 32) <= 'z'))) return 0;
  return 1;
}

static void s_put_seg(s_str_t *b, const s_seg_t *g) {
  switch (g->kind) {
  case S_SEG_STR:
    if (s_is_ident(g->s, g->n)) {
      s_put(b, ".%.*s", (int)g->n, g->s);
    } else {
      s_put(b, "[\"");
      for (size_t i = 0; i < g->n && i < 40; i++) {
        unsigned char c = (unsigned char)g->s[i];
        if (c == '"' || c == '\\') s_put(b, "\\%c", c);
        else if (c < 32 || c >= 127) s_put(b, "\\%u", c);
        else s_put(b, "%c", c);
      }
      s_put(b, g->n > 40 ? "...\"]" : "\"]");
    }
    break;
  case S_SEG_INT: s_put(b, "[%.0f]", g->d); break;
  case S_SEG_NUM: s_put(b, "[%.17g]", g->d); break;
  case S_SEG_BOOL: s_put(b, "[%s]", g->d != 0 ? "true" : "false"); break;
  case S_SEG_OTHER: s_put(b, "[<%s>]", g->s); break;
  case S_SEG_KEYOF: s_put(b, ": a key"); break;
  case S_SEG_UPVAL: s_put(b, "upvalue '%s", g->s && *g->s ? g->s : "?"); break;
  }
}

/* Records the failure: "cannot serialize <path>: <leaf>". Returns -1. */
static int s_fail(s_enc_t *s, const char *leaf) {
  if (s->failed) return -1;
  s->failed = 1;
  if (!s->err || s->errlen == 0) return -1;
  s_str_t b = {s->err, 0, s->errlen};
  s_put(&b, "cannot serialize ");
  int root = s->what && *s->what;
  if (root) s_put(&b, "%s", s->what);
  else if (s->nseg == 0 || s->seg[0].kind != S_SEG_UPVAL) s_put(&b, "the value");
  const s_seg_t *open_up = NULL; /* the upvalue whose quoted expression is still open */
  int elide_from = s->nseg > 24 ? 12 : s->nseg, elide_to = s->nseg > 24 ? s->nseg - 8 : s->nseg;
  for (int i = 0; i < s->nseg; i++) {
    if (i == elide_from) s_put(&b, "...");
    const s_seg_t *g = &s->seg[i];
    if ((i >= elide_from && i < elide_to) && g->kind != S_SEG_UPVAL) continue;
    if (g->kind == S_SEG_UPVAL || g->kind == S_SEG_KEYOF) {
      if (open_up) {
        lua_Debug ar;
        memset(&ar, 0, sizeof ar);
        lua_pushvalue(s->L, open_up->idx);
        lua_getinfo(s->L, ">S", &ar);
        s_put(&b, "' of function at %s:%d", ar.short_src, ar.linedefined);
        open_up = NULL;
      }
      if (g->kind == S_SEG_UPVAL) {
        if (i > 0 || root) s_put(&b, ": ");
        open_up = g;
      }
    }
    s_put_seg(&b, g);
  }
  if (open_up) {
    lua_Debug ar;
    memset(&ar, 0, sizeof ar);
    lua_pushvalue(s->L, open_up->idx);
    lua_getinfo(s->L, ">S", &ar);
    s_put(&b, "' of function at %s:%d", ar.short_src, ar.linedefined);
  }
  s_put(&b, ": %s", leaf);
  return -1;
}

static void s_push_key_seg(s_enc_t *s, int k) {
  lua_State *L = s->L;
  s_seg_t *g = &s->seg[s->nseg++];
  g->s = NULL;
  g->n = 0;
  g->d = 0;
  switch (lua_type(L, k)) {
  case LUA_TSTRING:
    g->kind = S_SEG_STR;
    g->s = lua_tolstring(L, k, &g->n);
    break;
  case LUA_TNUMBER:
    g->d = lua_tonumber(L, k);
    g->kind = g->d > -1e15 && g->d < 1e15 && g->d == (double)(long long)g->d ? S_SEG_INT : S_SEG_NUM;
    break;
  case LUA_TBOOLEAN:
    g->kind = S_SEG_BOOL;
    g->d = lua_toboolean(L, k);
    break;
  default:
    g->kind = S_SEG_OTHER;
    g->s = luaL_typename(L, k);
    break;
  }
}

/* ---- plain values ---- */

static void s_number(msgpack_packer *pk, double d) {
  if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double)(int64_t)d &&
      !(d == 0 && signbit(d)))
    msgpack_pack_int64(pk, (int64_t)d);
  else
    msgpack_pack_double(pk, d);
}

static void s_string(msgpack_packer *pk, rl_encoded_t *e, const char *p, size_t n) {
  msgpack_pack_str(pk, n);
  if (n >= RL_CODEC_BIG) rl_encoded_blob(e, p, n);
  else msgpack_pack_str_body(pk, p, n);
}

static void s_ext(s_enc_t *s, int type, const void *p, size_t n) {
  msgpack_pack_ext(&s->pk, n, (int8_t)type);
  msgpack_pack_ext_body(&s->pk, p, n);
}

static void s_ref(s_enc_t *s, uint32_t i) {
  unsigned char b[4] = {i >> 24, i >> 16, i >> 8, i};
  s_ext(s, RL_EXT_REF, b, 4);
}

/* ---- modules by name ---- */

/* Maps p to the name "mod" or "mod\0key" unless a shorter (then smaller) name has it. */
static int s_mod_add(s_enc_t *s, const void *p, const char *mod, size_t mn, const char *key, size_t kn) {
  rl_codec_ctx_t *cx = s->cx;
  size_t n = mn + (key ? 1 + kn : 0);
  rl_pslot_t *old = rl_pmap_find(&cx->mods, p);
  if (old && old->a != S_UNNAMED) {
    if (old->b < n) return 0;
    if (old->b == n) {
      int c = memcmp(cx->names + old->a, mod, mn);
      if (c < 0 || (c == 0 && key && memcmp(cx->names + old->a + mn + 1, key, kn) <= 0)) return 0;
    }
  }
  if (cx->nameslen + n > cx->namescap) {
    size_t ncap = cx->namescap ? cx->namescap * 2 : 8192;
    while (ncap < cx->nameslen + n) ncap *= 2;
    char *nn = realloc(cx->names, ncap);
    if (!nn) return -1;
    cx->names = nn;
    cx->namescap = ncap;
  }
  char *d = cx->names + cx->nameslen;
  memcpy(d, mod, mn);
  if (key) {
    d[mn] = 0;
    memcpy(d + mn + 1, key, kn);
  }
  if (!rl_pmap_put(&cx->mods, p, (uint32_t)cx->nameslen, (uint32_t)n)) return -1;
  cx->nameslen += n;
  return 0;
}

/* Maps module tables (level 1) and also the functions in them (level 2). */
static int s_mods(s_enc_t *s, int level) {
  rl_codec_ctx_t *cx = s->cx;
  lua_State *L = s->L;
  if (cx->modlevel >= level) return 0;
  if (!lua_checkstack(L, 8)) return s_fail(s, "Lua stack overflow");
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  int loaded = lua_gettop(L), rc = 0;
  if (!lua_istable(L, loaded)) lua_newtable(L), lua_replace(L, loaded);
  if (cx->modlevel == 0) {
    /* Only pointers here: most values contain no module, so names are found on a hit. */
    rl_pmap_clear(&cx->mods);
    cx->nameslen = 0;
    rc |= !rl_pmap_put(&cx->mods, lua_topointer(L, LUA_GLOBALSINDEX), S_UNNAMED, 0);
    for (lua_pushnil(L); lua_next(L, loaded); lua_pop(L, 1)) {
      int t = lua_type(L, -1);
      if ((t == LUA_TTABLE || t == LUA_TFUNCTION) && lua_type(L, -2) == LUA_TSTRING)
        rc |= !rl_pmap_put(&cx->mods, lua_topointer(L, -1), S_UNNAMED, 0);
    }
    cx->modlevel = 1;
  }
  if (level >= 2) {
    for (lua_pushnil(L); lua_next(L, loaded); lua_pop(L, 1)) {
      size_t mn;
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TTABLE) continue;
      const char *mod = lua_tolstring(L, -2, &mn);
      if (strlen(mod) != mn) continue;
      /* Lua functions in _G are the user's globals: they travel as code, not by name. */
      int is_g = lua_rawequal(L, -1, LUA_GLOBALSINDEX);
      for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
        size_t kn;
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TFUNCTION) continue;
        if (is_g && !lua_iscfunction(L, -1)) continue;
        const char *key = lua_tolstring(L, -2, &kn);
        if (strlen(key) == kn) rc |= s_mod_add(s, lua_topointer(L, -1), mod, mn, key, kn);
      }
    }
    cx->modlevel = 2;
  }
  lua_settop(L, loaded - 1);
  return rc ? s_fail(s, "out of memory") : 0;
}

/* Encodes the module value p (found in mods at level 1) by its name. */
static int s_modname(s_enc_t *s, int type, const void *p) {
  rl_codec_ctx_t *cx = s->cx;
  lua_State *L = s->L;
  rl_pslot_t *sl = rl_pmap_find(&cx->mods, p);
  if (sl->a == S_UNNAMED) { /* name it now: its shortest (then smallest) name in package.loaded */
    int rc = 0;
    if (lua_topointer(L, LUA_GLOBALSINDEX) == p) rc |= s_mod_add(s, p, "_G", 2, NULL, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
      size_t mn;
      if (lua_type(L, -2) != LUA_TSTRING || lua_topointer(L, -1) != p) continue;
      const char *mod = lua_tolstring(L, -2, &mn);
      if (strlen(mod) == mn) rc |= s_mod_add(s, p, mod, mn, NULL, 0);
    }
    lua_pop(L, 1);
    sl = rl_pmap_find(&cx->mods, p);
    if (rc || sl->a == S_UNNAMED) return s_fail(s, "module without a usable name");
  }
  s_ext(s, type, cx->names + sl->a, sl->b);
  return 0;
}

/* ---- tables, functions, userdata ---- */

static int s_enter(s_enc_t *s, const void *p) {
  if (!rl_pmap_put(&s->cx->refs, p, s->nrefs++, 0)) return s_fail(s, "out of memory");
  if (s->depth >= RL_CODEC_MAXDEPTH) return s_fail(s, "value nested too deeply");
  if (!lua_checkstack(s->L, 8)) return s_fail(s, "Lua stack overflow");
  return 0;
}

static int s_table(s_enc_t *s, int idx) {
  lua_State *L = s->L;
  const void *p = lua_topointer(L, idx);
  rl_pslot_t *sl = rl_pmap_find(&s->cx->refs, p);
  if (sl) return s_ref(s, sl->a), 0;
  if (s_mods(s, 1)) return -1;
  if (rl_pmap_find(&s->cx->mods, p)) return s_modname(s, RL_EXT_MODULE, p);
  if (lua_getmetatable(L, idx)) {
    lua_getfield(L, LUA_REGISTRYINDEX, RL_CLASSES_KEY);
    if (lua_istable(L, -1)) {
      lua_pushvalue(L, -2);
      lua_rawget(L, -2);
    } else {
      lua_pushnil(L);
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t n;
      const char *name = lua_tolstring(L, -1, &n);
      s_ext(s, RL_EXT_CLASS, name, n);
      lua_pop(L, 3);
    } else {
      const void *mt = lua_topointer(L, -3);
      lua_pop(L, 3);
      if (!rl_pmap_find(&s->cx->mods, mt)) return s_fail(s, "table with a metatable that is not a registered class");
      if (s_modname(s, RL_EXT_MODMT, mt)) return -1;
    }
  }
  if (s_enter(s, p)) return -1;
  s->depth++;
  size_t n = lua_objlen(L, idx), total = 0, seq = 0;
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    total++;
    if (lua_type(L, -2) == LUA_TNUMBER) {
      double k = lua_tonumber(L, -2);
      seq += k >= 1 && k <= (double)n && k == (double)(size_t)k;
    }
  }
  if (total == n && seq == n) {
    msgpack_pack_array(&s->pk, n);
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, (int)i);
      s->seg[s->nseg++] = (s_seg_t){S_SEG_INT, 0, NULL, 0, (double)i};
      int rc = s_value(s, lua_gettop(L));
      s->nseg--;
      lua_pop(L, 1);
      if (rc) return -1;
    }
  } else {
    msgpack_pack_map(&s->pk, total);
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
      int top = lua_gettop(L);
      s->seg[s->nseg++] = (s_seg_t){S_SEG_KEYOF, 0, NULL, 0, 0};
      int rc = s_value(s, top - 1);
      s->nseg--;
      if (rc) return lua_pop(L, 2), -1;
      s_push_key_seg(s, top - 1);
      rc = s_value(s, top);
      s->nseg--;
      if (rc) return lua_pop(L, 2), -1;
    }
  }
  s->depth--;
  return 0;
}

static int s_function(s_enc_t *s, int idx) {
  lua_State *L = s->L;
  rl_codec_ctx_t *cx = s->cx;
  const void *p = lua_topointer(L, idx);
  rl_pslot_t *sl = rl_pmap_find(&cx->refs, p);
  if (sl) return s_ref(s, sl->a), 0;
  if (s_mods(s, 2)) return -1;
  if (rl_pmap_find(&cx->mods, p)) return s_modname(s, RL_EXT_MODULE, p);
  if (lua_iscfunction(L, idx)) return s_fail(s, "C function (not found in any loaded module)");
  uint32_t fidx = s->nrefs;
  if (s_enter(s, p)) return -1;
  s->depth++;
  lua_Debug ar;
  lua_pushvalue(L, idx);
  lua_getinfo(L, ">u", &ar);
  lua_pushvalue(L, idx);
  int rc = rl_codec_dump(L, cx);
  lua_pop(L, 1);
  if (rc || cx->dumplen < 5 || memcmp(cx->dump, "\x1bLJ", 3) != 0) return s_fail(s, "cannot dump function");
  unsigned v = LUAJIT_VERSION_NUM;
  unsigned char hdr[RL_FUNC_HDR] = {v >> 24, v >> 16, v >> 8, v, (unsigned char)cx->dump[3],
                                    (unsigned char)cx->dump[4] & RL_BC_FLAGS_MASK, (unsigned char)ar.nups};
  s_ext(s, RL_EXT_FUNC, hdr, sizeof hdr);
  msgpack_pack_bin(&s->pk, cx->dumplen);
  msgpack_pack_bin_body(&s->pk, cx->dump, cx->dumplen);
  for (int i = 1; i <= ar.nups; i++) {
    void *uid = lua_upvalueid(L, idx, i);
    if ((sl = rl_pmap_find(&cx->upvals, uid))) {
      unsigned char b[5] = {sl->a >> 24, sl->a >> 16, sl->a >> 8, sl->a, (unsigned char)sl->b};
      s_ext(s, RL_EXT_UPJOIN, b, 5);
      continue;
    }
    if (!rl_pmap_put(&cx->upvals, uid, fidx, (uint32_t)i)) return s_fail(s, "out of memory");
    const char *name = lua_getupvalue(L, idx, i);
    s->seg[s->nseg++] = (s_seg_t){S_SEG_UPVAL, idx, name, 0, 0};
    rc = s_value(s, lua_gettop(L));
    s->nseg--;
    lua_pop(L, 1);
    if (rc) return -1;
  }
  s->depth--;
  return 0;
}

/* An array's bytes. owned: a->data is a malloc'd copy the encoding takes (freed on every
 * path); borrow: big payloads are referenced in place (the value at idx keeps them alive
 * until the encoding is flattened); otherwise they are copied. */
static int s_array_bytes(s_enc_t *s, int idx, const rl_array_t *a, bool owned, bool borrow) {
  const void *p = lua_topointer(s->L, idx);
  rl_pslot_t *sl = rl_pmap_find(&s->cx->refs, p);
  size_t bytes = a->n * rl_dtype_size(a->dtype);
  size_t pad = (16 - (s->e->total + 8) % 16) % 16;
  int rc = 0;
  if (sl) s_ref(s, sl->a);
  else if (s_enter(s, p)) rc = -1;
  else if (bytes > 0xffffffffu - 2 - pad) rc = s_fail(s, "rayl.array bigger than 4 GB");
  if (sl || rc) {
    if (owned) free(a->data);
    return rc;
  }
  uint32_t len = (uint32_t)(2 + pad + bytes);
  unsigned char h[8 + 15] = {0xc9, len >> 24, len >> 16, len >> 8, len, RL_EXT_ARRAY, a->dtype, (unsigned char)pad};
  rl_encoded_append(s->e, h, 8 + pad);
  if (bytes >= RL_CODEC_BIG && owned) return rl_encoded_blob_owned(s->e, a->data, bytes), 0;
  if (bytes >= RL_CODEC_BIG && borrow) rl_encoded_blob(s->e, a->data, bytes);
  else if (bytes) rl_encoded_append(s->e, a->data, bytes);
  if (owned) free(a->data);
  return 0;
}

static int s_array(s_enc_t *s, int idx, const rl_array_t *a, bool borrow) {
  return s_array_bytes(s, idx, a, false, borrow);
}

/* A tensor, as the describer returned it below idx's results at base: "tensor", dtype
 * (RL_TENSOR_*), shape {sizes}, data address, bytes, flags, and a temporary contiguous
 * copy or nil. Encoded as a TENSOR header, then its elements as an ARRAY keyed by the
 * tensor (so a tensor met twice is one value). */
static int s_tensor(s_enc_t *s, int idx, int base) {
  lua_State *L = s->L;
  rl_pslot_t *sl = rl_pmap_find(&s->cx->refs, lua_topointer(L, idx));
  if (sl) return s_ref(s, sl->a), 0;
  int dtype = (int)lua_tonumber(L, base + 2);
  size_t ndim = lua_istable(L, base + 3) ? lua_objlen(L, base + 3) : RL_TENSOR_MAXDIM + 1;
  if (dtype < RL_TENSOR_FLOAT32 || dtype > RL_TENSOR_BOOL || ndim > RL_TENSOR_MAXDIM)
    return s_fail(s, "tensor of an unsupported dtype or with too many dims");
  unsigned char h[3 + 8 * RL_TENSOR_MAXDIM] = {(unsigned char)dtype, (unsigned char)lua_tonumber(L, base + 6),
                                               (unsigned char)ndim};
  double numel = 1;
  for (size_t i = 0; i < ndim; i++) {
    lua_rawgeti(L, base + 3, (int)i + 1);
    double d = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(d >= 0 && d < 9e15)) return s_fail(s, "tensor with a bad shape");
    numel *= d;
    for (int b = 0; b < 8; b++) h[3 + 8 * i + b] = (unsigned char)((uint64_t)d >> (56 - 8 * b));
  }
  rl_array_t a = {0};
  a.dtype = (uint8_t)(dtype == RL_TENSOR_BOOL ? RL_DT_UINT8 : dtype);
  a.n = (size_t)lua_tonumber(L, base + 5) / rl_dtype_size(a.dtype);
  a.data = (void *)(uintptr_t)lua_tonumber(L, base + 4);
  if ((double)a.n != numel || (a.n && !a.data)) return s_fail(s, "tensor whose size does not match its shape");
  s_ext(s, RL_EXT_TENSOR, h, 3 + 8 * ndim);
  return s_array(s, idx, &a, lua_isnil(L, base + 7));
}

/* FFI cdata: numeric arrays travel like rayl.array (raw bytes), tensors as tensors; the
 * Lua layer's describer (registry RL_CDATA_DESCRIBER) says which: element type name and
 * count, or "tensor" and what s_tensor reads. */
static int s_cdata(s_enc_t *s, int idx) {
  lua_State *L = s->L;
  int base = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, RL_CDATA_DESCRIBER);
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return s_fail(s, "cdata");
  }
  lua_pushvalue(L, idx);
  if (rl_lua_pcall(L, 1, 7) != 0) {
    /* The describer's message is about the value: the path names where it is, so the
     * traceback (of rayl's describer) is left out. */
    const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "its describer failed";
    const char *tb = strstr(msg, "\nstack traceback:");
    char leaf[256];
    snprintf(leaf, sizeof leaf, "cdata: %.*s", tb ? (int)(tb - msg) : (int)strlen(msg), msg);
    lua_settop(L, base);
    return s_fail(s, leaf);
  }
  if (lua_type(L, base + 1) == LUA_TSTRING && !strcmp(lua_tostring(L, base + 1), "tensor")) {
    int rc = s_tensor(s, idx, base);
    lua_settop(L, base);
    return rc;
  }
  if (!lua_isstring(L, base + 1) || !lua_isnumber(L, base + 2)) {
    lua_settop(L, base);
    return s_fail(s, "cdata that is not an array of numbers (float, double, int32_t, int64_t, uint8_t) or a tensor");
  }
  rl_array_t a = {0};
  a.dtype = (uint8_t)rl_dtype_parse(lua_tostring(L, base + 1));
  a.n = (size_t)lua_tonumber(L, base + 2);
  lua_settop(L, base);
  a.data = (void *)lua_topointer(L, idx);
  if (!a.dtype || !a.data) return s_fail(s, "cdata of an unsupported element type");
  return s_array(s, idx, &a, true);
}

static int s_userdata(s_enc_t *s, int idx) {
  const rl_array_t *a = rl_array_test(s->L, idx);
  if (a) return s_array(s, idx, a, true);
  if (rl_cuda_buffer_test(s->L, idx)) { /* a device buffer travels as the rayl.array of its contents */
    rl_pslot_t *sl = rl_pmap_find(&s->cx->refs, lua_topointer(s->L, idx));
    if (sl) return s_ref(s, sl->a), 0;
    rl_array_t dev;
    char why[400];
    if (rl_cuda_buffer_copy_out(s->L, idx, &dev, why, sizeof why) != 0) return s_fail(s, why);
    return s_array_bytes(s, idx, &dev, true, false);
  }
  const rl_objref_t *r = luaL_testudata(s->L, idx, RL_OBJREF_MT);
  if (!r) return s_fail(s, "userdata");
  if (!s->hooks) return s_fail(s, "ObjectRef (not allowed here)");
  rl_codec_ctx_t *cx = s->cx;
  if (cx->norefs == cx->orefcap) {
    size_t ncap = cx->orefcap ? cx->orefcap * 2 : 16;
    const rl_objref_t **n = realloc(cx->orefs, ncap * sizeof *n);
    if (!n) return s_fail(s, "out of memory");
    cx->orefs = n;
    cx->orefcap = ncap;
  }
  cx->orefs[cx->norefs++] = r;
  unsigned char b[RL_ID_SIZE + sizeof r->owner];
  size_t on = strnlen(r->owner, sizeof r->owner - 1);
  memcpy(b, r->id.b, RL_ID_SIZE);
  memcpy(b + RL_ID_SIZE, r->owner, on);
  s_ext(s, RL_EXT_OBJREF, b, RL_ID_SIZE + on);
  return 0;
}

static int s_value(s_enc_t *s, int idx) {
  lua_State *L = s->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: msgpack_pack_nil(&s->pk); return 0;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx)) msgpack_pack_true(&s->pk);
    else msgpack_pack_false(&s->pk);
    return 0;
  case LUA_TNUMBER: s_number(&s->pk, lua_tonumber(L, idx)); return 0;
  case LUA_TSTRING: {
    size_t n;
    const char *p = lua_tolstring(L, idx, &n);
    s_string(&s->pk, s->e, p, n);
    return 0;
  }
  case LUA_TTABLE: return s_table(s, idx);
  case LUA_TFUNCTION: return s_function(s, idx);
  case LUA_TUSERDATA: return s_userdata(s, idx);
  case LUA_TTHREAD: return s_fail(s, "coroutine");
  case LUA_TLIGHTUSERDATA: return s_fail(s, "light userdata");
  default: return s_cdata(s, idx);
  }
}

int rl_codec_encode_protected(lua_State *L) {
  s_enc_t *s = lua_touserdata(L, 2);
  s->L = L;
  rl_pmap_clear(&s->cx->refs);
  rl_pmap_clear(&s->cx->upvals);
  s->cx->modlevel = 0;
  s->cx->norefs = 0;
  s_value(s, 1);
  return 0;
}

rl_encoded_t *rl_codec_encode(lua_State *L, int idx, const char *what, const rl_codec_hooks_t *hooks,
                              char *err, size_t errlen) {
  if (errlen) err[0] = 0;
  rl_encoded_t *e = rl_encoded_new();
  if (!e) goto oom;
  int t = lua_type(L, idx);
  if (t == LUA_TNIL || t == LUA_TBOOLEAN || t == LUA_TNUMBER || t == LUA_TSTRING) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, e, s_write);
    if (t == LUA_TNIL) msgpack_pack_nil(&pk);
    else if (t == LUA_TBOOLEAN) lua_toboolean(L, idx) ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    else if (t == LUA_TNUMBER) s_number(&pk, lua_tonumber(L, idx));
    else {
      size_t n;
      const char *p = lua_tolstring(L, idx, &n);
      s_string(&pk, e, p, n);
    }
    if (e->oom) goto oom;
    return e;
  }
  if (t == LUA_TNONE) {
    snprintf(err, errlen, "cannot serialize %s: no value", what && *what ? what : "the value");
    goto fail;
  }
  rl_codec_ctx_t *cx = rl_codec_ctx(L);
  if (!cx || !lua_checkstack(L, 8)) goto oom;
  if (cx->busy) {
    snprintf(err, errlen, "cannot serialize %s: the codec was re-entered", what && *what ? what : "the value");
    goto fail;
  }
  idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
  s_enc_t s;
  s.cx = cx;
  s.e = e;
  msgpack_packer_init(&s.pk, e, s_write);
  s.hooks = hooks;
  s.what = what;
  s.err = err;
  s.errlen = errlen;
  s.nrefs = 0;
  s.depth = s.nseg = s.failed = 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, cx->encode_fn);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, &s);
  cx->busy = 1;
  int rc = rl_lua_pcall(L, 2, 0);
  cx->busy = 0;
  if (rc) {
    const char *msg = lua_tostring(L, -1);
    snprintf(err, errlen, "cannot serialize %s: %s", what && *what ? what : "the value", msg ? msg : "error");
    lua_pop(L, 1);
    goto fail;
  }
  if (s.failed) goto fail;
  if (e->oom) goto oom;
  if (hooks && hooks->ref_out)
    for (size_t i = 0; i < cx->norefs; i++) hooks->ref_out(hooks->ctx, &cx->orefs[i]->id, cx->orefs[i]->owner);
  cx->norefs = 0;
  return e;
oom:
  snprintf(err, errlen, "cannot serialize %s: out of memory (its encoding had reached %zu bytes)",
           what && *what ? what : "the value", rl_encoded_size(e));
fail:
  rl_encoded_destroy(&e);
  return NULL;
}
