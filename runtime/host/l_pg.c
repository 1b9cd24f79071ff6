/* l_pg.c: the placement group functions of the rayl.core Lua module (the Lua layer,
 * lua/rayl/placement_group.lua, checks the user's input and makes them idiomatic). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "worker/head_client.h"

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
 * for one group of a PG_INFO reply. */
static void s_push_info(lua_State *L, const rl_wire_pg_info_t *g) {
  char hex[RL_ID_HEX];
  lua_createtable(L, 0, 7);
  lua_pushstring(L, rl_id_hex(&g->pg_id, hex));
  lua_setfield(L, -2, "id");
  rl_host_setfield_str(L, "name", g->name.p, g->name.n);
  rl_host_setfield_str(L, "strategy", g->strategy.p, g->strategy.n);
  rl_host_setfield_str(L, "state", g->state.p, g->state.n);
  lua_pushboolean(L, g->detached);
  lua_setfield(L, -2, "detached");
  lua_createtable(L, (int)g->bundles.n, 0); /* bundles */
  lua_createtable(L, (int)g->bundles.n, 0); /* nodes */
  for (uint32_t i = 0; i < g->bundles.n; i++) {
    const rl_wire_bundle_t *b = &g->bundles.v[i];
    if (b->has_node_id) lua_pushstring(L, rl_id_hex(&b->node_id, hex));
    else lua_pushboolean(L, 0);
    lua_rawseti(L, -2, (int)i + 1);
    rl_host_push_resources(L, &b->resources);
    lua_rawseti(L, -3, (int)i + 1);
  }
  lua_setfield(L, -3, "nodes");
  lua_setfield(L, -2, "bundles");
}

/* core.pg_get(id|nil, name|nil) -> { info... } (every group when both are nil) */
static int l_pg_get(lua_State *L) {
  rl_id_t id;
  bool by_id = !lua_isnoneornil(L, 1);
  if (by_id) id = rl_host_check_id(L, 1, "not a placement group id");
  const char *name = luaL_optstring(L, 2, NULL);
  rl_head_t h;
  rl_gcs_pg_info_msg_t info;
  rl_msg_t reply;
  char err[400];
  rl_head_init_cw(&h, rl_host_cw(L));
  if (rl_head_pg_info(&h, by_id ? &id : NULL, name, &info, &reply, 5000, err, sizeof err) != 0)
    return rl_host_raise(L, "RuntimeError", "%s", err);
  lua_createtable(L, (int)info.groups.n, 0);
  for (uint32_t i = 0; i < info.groups.n; i++) {
    s_push_info(L, &info.groups.v[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  rl_msg_close(&reply);
  return 1;
}

static const luaL_Reg s_funcs[] = {
    {"pg_create", l_pg_create}, {"pg_ready", l_pg_ready}, {"pg_remove", l_pg_remove},
    {"pg_get", l_pg_get},       {NULL, NULL},
};

void rl_l_pg_open(lua_State *L) { luaL_register(L, NULL, s_funcs); }
