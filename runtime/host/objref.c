/* objref.c: ObjectRef userdata (reference-counted with the core worker), store pins,
 * rayl errors made from C, and the codec hooks that tie them together. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/str.h"
#include "common/xalloc.h"
#include "host/codec_int.h"
#include "host/host.h"

rl_host_t rl_host = {.error_mt_ref = LUA_NOREF, .task_cpus = 1};

#define S_PIN_MT "rayl.StorePin"

void rl_objref_push(lua_State *L, const rl_id_t *id, const char *owner) {
  rl_objref_t *r = lua_newuserdata(L, sizeof *r);
  r->id = *id;
  rl_str_copy(r->owner, sizeof r->owner, owner);
  luaL_getmetatable(L, RL_OBJREF_MT);
  lua_setmetatable(L, -2);
  if (rl_host.cw) rl_cw_ref_add(rl_host.cw, id, owner);
}

rl_objref_t *rl_objref_test(lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  if (!p || !lua_getmetatable(L, idx)) return NULL;
  luaL_getmetatable(L, RL_OBJREF_MT);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}

static int l_objref_gc(lua_State *L) {
  rl_objref_t *r = luaL_checkudata(L, 1, RL_OBJREF_MT);
  if (rl_host.cw && !rl_id_is_nil(&r->id)) rl_cw_ref_drop(rl_host.cw, &r->id);
  memset(&r->id, 0, sizeof r->id); /* safe to run twice */
  return 0;
}

static int l_objref_tostring(lua_State *L) {
  rl_objref_t *r = luaL_checkudata(L, 1, RL_OBJREF_MT);
  char hex[RL_ID_HEX];
  rl_id_hex(&r->id, hex);
  const char *state = "pending";
  if (rl_host.cw) {
    int s = rl_cw_object_state(rl_host.cw, &r->id);
    state = s == RL_OBJ_READY ? "ready" : s == RL_OBJ_FAILED ? "failed" : "pending";
  }
  lua_pushfstring(L, "ObjectRef(%s, %s)", hex, state);
  return 1;
}

static int l_objref_eq(lua_State *L) {
  rl_objref_t *a = rl_objref_test(L, 1), *b = rl_objref_test(L, 2);
  lua_pushboolean(L, a && b && rl_id_eq(&a->id, &b->id));
  return 1;
}

static int l_objref_hex(lua_State *L) {
  rl_objref_t *r = luaL_checkudata(L, 1, RL_OBJREF_MT);
  char hex[RL_ID_HEX];
  lua_pushstring(L, rl_id_hex(&r->id, hex));
  return 1;
}

void rl_objref_open(lua_State *L) {
  if (luaL_newmetatable(L, RL_OBJREF_MT)) {
    lua_pushcfunction(L, l_objref_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_objref_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, l_objref_eq);
    lua_setfield(L, -2, "__eq");
    lua_newtable(L); /* methods: the Lua module adds ready, on_ready */
    lua_pushcfunction(L, l_objref_hex);
    lua_setfield(L, -2, "hex");
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "ObjectRef");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
}

/* ---- codec hooks ---- */

static void s_ref_out(void *ctx, const rl_id_t *id, const char *owner) {
  rl_reflist_t *l = ctx;
  if (!l) return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    l->ids = rl_xrealloc(l->ids, cap * sizeof *l->ids);
    l->owners = rl_xrealloc(l->owners, cap * sizeof *l->owners);
    l->cap = cap;
  }
  l->ids[l->n] = *id;
  snprintf(l->owners[l->n], RL_ENDPOINT_MAX, "%s", owner);
  l->n++;
}

static int s_ref_in(lua_State *L, void *ctx, const rl_id_t *id, const char *owner) {
  (void)ctx;
  rl_objref_push(L, id, owner);
  return 0;
}

rl_codec_hooks_t rl_objref_hooks(rl_reflist_t *collect) {
  rl_codec_hooks_t h = {s_ref_out, s_ref_in, collect};
  return h;
}

void rl_reflist_free(rl_reflist_t *l) {
  free(l->ids);
  free(l->owners);
  memset(l, 0, sizeof *l);
}

/* ---- errors ---- */

void rl_host_push_error(lua_State *L, const char *type, const char *message) {
  lua_createtable(L, 0, 3);
  lua_pushstring(L, type);
  lua_setfield(L, -2, "type");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  if (rl_host.error_mt_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, rl_host.error_mt_ref);
    lua_setmetatable(L, -2);
  }
}

int rl_host_raise(lua_State *L, const char *type, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  rl_host_push_error(L, type, msg);
  return lua_error(L);
}

/* Plain C, no Lua: the core worker calls it from its I/O thread too. The encoding is the
 * codec's for a rayl.Error table {type = ..., message = ...} (a CLASS tag, then the map). */
void *rl_host_encode_error(void *ctx, const char *type, const char *message, size_t *len) {
  (void)ctx;
  static const char cls[] = "rayl.Error";
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_ext(&pk, sizeof cls - 1, RL_EXT_CLASS);
  msgpack_pack_ext_body(&pk, cls, sizeof cls - 1);
  msgpack_pack_map(&pk, 2);
  const char *kv[4] = {"type", type, "message", message};
  for (int i = 0; i < 4; i++) {
    size_t n = strlen(kv[i]);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, kv[i], n);
  }
  *len = sb.size;
  return msgpack_sbuffer_release(&sb);
}

/* ---- store pins: keep shared memory mapped and pinned while views of it live ---- */

typedef struct {
  rl_cw_value_t v;
} s_pin_t;

static int l_pin_gc(lua_State *L) {
  s_pin_t *p = luaL_checkudata(L, 1, S_PIN_MT);
  if (rl_host.cw && p->v.pinned) rl_cw_value_release(rl_host.cw, &p->v);
  p->v.pinned = false;
  return 0;
}

int rl_host_push_value(lua_State *L, rl_cw_value_t *v) {
  rl_codec_hooks_t hooks = rl_objref_hooks(NULL);
  if (!v->pinned) return rl_codec_decode(L, v->data, v->len, 0, &hooks);
  s_pin_t *pin = lua_newuserdata(L, sizeof *pin);
  pin->v = *v;
  v->pinned = false; /* the pin owns it now */
  if (luaL_newmetatable(L, S_PIN_MT)) {
    lua_pushcfunction(L, l_pin_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  int keeper = lua_gettop(L);
  int rc = rl_codec_decode(L, pin->v.data, pin->v.len, keeper, &hooks);
  lua_remove(L, keeper);
  return rc;
}
