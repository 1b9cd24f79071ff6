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

void rl_host_push_resources(lua_State *L, const msgpack_object *o) {
  rl_resources_t r;
  lua_newtable(L);
  if (rl_res_unpack(o, &r) != 0) return;
  for (int i = 0; i < r.n; i++) {
    lua_pushnumber(L, (double)r.r[i].amount / RL_RES_UNIT);
    lua_setfield(L, -2, r.r[i].name);
  }
}
