/* lua_env.c: the standard Lua environment every rayl state starts with. */
#include <lauxlib.h>
#include <lualib.h>

#include "host/host.h"
#include "host/l_core.h"

void rl_host_open_libs(lua_State *L) {
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/stdlib/?.lua;%s/stdlib/?/init.lua;%s", RL_SOURCE_DIR,
                  RL_SOURCE_DIR, RL_SOURCE_DIR, RL_SOURCE_DIR, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 1);
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_rayl_core);
  lua_setfield(L, -2, "rayl.core");
  lua_pop(L, 2);
}
