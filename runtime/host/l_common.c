/* l_common.c: the checks and conversions the rayl.core binding files share. */
#include <lauxlib.h>

#include "host/host.h"
#include "sched/resources.h"

rl_cw_t *rl_host_cw(lua_State *L) {
  if (!rl_host.cw) luaL_error(L, "rayl is not initialized (call rayl.init first)");
  return rl_host.cw;
}

rl_id_t rl_host_check_id(lua_State *L, int idx, const char *what) {
  rl_id_t id;
  if (rl_id_parse(luaL_checkstring(L, idx), &id) != 0) luaL_argerror(L, idx, what);
  return id;
}

void rl_host_read_resources(lua_State *L, int idx, const char *what, rl_resources_t *res) {
  char err[200];
  rl_res_clear(res);
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1; /* stays put while we push */
  if (!lua_istable(L, idx)) return;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER ||
        rl_res_set(res, lua_tostring(L, -2), lua_tonumber(L, -1), err, sizeof err) != 0) {
      const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
      rl_host_raise(L, "ValueError", "bad resource '%s' in %s: %s", name, what,
                    lua_type(L, -1) != LUA_TNUMBER ? "the amount must be a number" : err);
    }
    lua_pop(L, 1);
  }
}

void rl_host_push_resources(lua_State *L, const msgpack_object *o) {
  rl_resources_t r;
  lua_newtable(L);
  if (rl_res_unpack(o, &r) != 0) return;
  for (int i = 0; i < r.n; i++) {
    lua_pushnumber(L, (double)r.r[i].amount / RL_RES_UNIT);
    lua_setfield(L, -2, r.r[i].name);
  }
}
