/* l_pg.c: the placement group functions of the rayl.core Lua module (the Lua layer,
 * lua/rayl/placement_group.lua, checks the user's input and makes them idiomatic). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "wire/msg.h"
#include "wire/proto.h"

#define S_ERR 512

/* core.pg_create(bundles, strategy, name|nil, detached) -> id (hex) */
static int l_pg_create(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  rl_pg_opts_t o = {.strategy = luaL_checkstring(L, 2), .name = luaL_optstring(L, 3, NULL),
                    .detached = lua_toboolean(L, 4)};
  int n = (int)lua_objlen(L, 1);
  if (n < 1 || n > 1024) return rl_host_raise(L, "ValueError", "a placement group has 1 to 1024 bundles, not %d", n);
  rl_resources_t *bundles = lua_newuserdata(L, sizeof *bundles * (size_t)n); /* freed by the collector */
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    if (!lua_istable(L, -1)) return rl_host_raise(L, "ValueError", "bundle %d is not a table of resources", i + 1);
    char what[32];
    snprintf(what, sizeof what, "bundle %d", i + 1);
    rl_host_read_resources(L, -1, what, &bundles[i]);
    lua_pop(L, 1);
  }
  o.bundles = bundles;
  o.nbundles = n;
  rl_id_t id;
  char err[S_ERR], hex[RL_ID_HEX];
  if (rl_cw_pg_create(cw, &o, &id, err, sizeof err) != 0) return rl_host_raise(L, "ValueError", "%s", err);
  lua_pushstring(L, rl_id_hex(&id, hex));
  return 1;
}

/* core.pg_ready(id, value) -> ObjectRef ready with value once the group is created */
static int l_pg_ready(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  rl_id_t pg = rl_host_check_id(L, 1, "not a placement group id"), ref;
  luaL_checkany(L, 2);
  char err[S_ERR];
  rl_encoded_t *enc = rl_codec_encode(L, 2, "the placement group", NULL, err, sizeof err);
  if (!enc) return rl_host_raise(L, "SerializationError", "%s", err);
  size_t len = rl_encoded_size(enc);
  char *buf = malloc(len ? len : 1); /* user-sized: the encoded value */
  if (!buf) {
    rl_encoded_destroy(&enc);
    return rl_host_raise(L, "OutOfMemoryError", "no memory for a copy of the value (%zu bytes encoded)", len);
  }
  rl_encoded_copy(enc, buf);
  rl_encoded_destroy(&enc);
  int rc = rl_cw_pg_ready(cw, &pg, buf, len, &ref, err, sizeof err);
  free(buf);
  if (rc != 0) return rl_host_raise(L, "ValueError", "%s", err);
  rl_objref_push(L, &ref, rl_cw_endpoint(cw));
  rl_cw_ref_drop(cw, &ref); /* pg_ready counted the caller's handle already */
  return 1;
}

/* core.pg_remove(id) */
static int l_pg_remove(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  rl_id_t pg = rl_host_check_id(L, 1, "not a placement group id");
  char err[S_ERR];
  if (rl_cw_pg_remove(cw, &pg, err, sizeof err) != 0) return rl_host_raise(L, "ValueError", "%s", err);
  return 0;
}

/* Pushes {id=, name=, strategy=, state=, detached=, bundles={...}, nodes={hex|false...}}
 * for one entry of a PG_INFO reply, or nil if it is malformed. */
static void s_push_info(lua_State *L, const msgpack_object *e) {
  rl_id_t id, node;
  const char *s;
  size_t n;
  char hex[RL_ID_HEX];
  const msgpack_object *f = e->type == MSGPACK_OBJECT_ARRAY && e->via.array.size >= 6 ? e->via.array.ptr : NULL;
  if (!f || !rl_obj_id(&f[0], &id) || f[5].type != MSGPACK_OBJECT_ARRAY) {
    lua_pushnil(L);
    return;
  }
  lua_createtable(L, 0, 7);
  lua_pushstring(L, rl_id_hex(&id, hex));
  lua_setfield(L, -2, "id");
  static const char *const names[] = {"name", "strategy", "state"};
  for (int i = 0; i < 3; i++) {
    if (rl_obj_bytes(&f[i + 1], &s, &n)) lua_pushlstring(L, s, n);
    else lua_pushstring(L, "");
    lua_setfield(L, -2, names[i]);
  }
  lua_pushboolean(L, f[4].type == MSGPACK_OBJECT_BOOLEAN && f[4].via.boolean);
  lua_setfield(L, -2, "detached");
  uint32_t nb = f[5].via.array.size;
  lua_createtable(L, (int)nb, 0); /* bundles */
  lua_createtable(L, (int)nb, 0); /* nodes */
  for (uint32_t i = 0; i < nb; i++) {
    const msgpack_object *b = &f[5].via.array.ptr[i];
    bool ok = b->type == MSGPACK_OBJECT_ARRAY && b->via.array.size == 2;
    if (ok && rl_obj_id(&b->via.array.ptr[0], &node)) lua_pushstring(L, rl_id_hex(&node, hex));
    else lua_pushboolean(L, 0);
    lua_rawseti(L, -2, (int)i + 1);
    if (ok) rl_host_push_resources(L, &b->via.array.ptr[1]);
    else lua_newtable(L);
    lua_rawseti(L, -3, (int)i + 1);
  }
  lua_setfield(L, -3, "nodes");
  lua_setfield(L, -2, "bundles");
}

/* core.pg_get(id|nil, name|nil) -> { info... } (every group when both are nil) */
static int l_pg_get(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  rl_id_t id;
  bool by_id = !lua_isnoneornil(L, 1);
  if (by_id) id = rl_host_check_id(L, 1, "not a placement group id");
  const char *name = luaL_optstring(L, 2, NULL);
  uint64_t request = rl_cw_next_request(cw);
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_GCS_PG_GET, 3);
  msgpack_pack_uint64(&b.pk, request);
  if (by_id) rl_pack_id(&b.pk, &id);
  else msgpack_pack_nil(&b.pk);
  if (name) rl_pack_str(&b.pk, name);
  else msgpack_pack_nil(&b.pk);
  rl_msg_t reply;
  if (rl_cw_gcs_call(cw, &b, request, &reply, 5000) != 0)
    return rl_host_raise(L, "RuntimeError", "the head at %s did not answer", rl_cw_gcs_endpoint(cw));
  const msgpack_object *groups = rl_field(&reply, 1);
  lua_newtable(L);
  for (uint32_t i = 0; groups && groups->type == MSGPACK_OBJECT_ARRAY && i < groups->via.array.size; i++) {
    s_push_info(L, &groups->via.array.ptr[i]);
    if (lua_isnil(L, -1)) lua_pop(L, 1);
    else lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
  }
  rl_msg_close(&reply);
  return 1;
}

static const luaL_Reg s_funcs[] = {
    {"pg_create", l_pg_create}, {"pg_ready", l_pg_ready}, {"pg_remove", l_pg_remove},
    {"pg_get", l_pg_get},       {NULL, NULL},
};

void rl_l_pg_open(lua_State *L) { luaL_register(L, NULL, s_funcs); }
