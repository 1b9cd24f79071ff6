/* paths.c: where rayl finds itself and its Lua code: RAYL_BIN and package.path. */
#include "cli/cli.h"
#include "host/l_core.h"

#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdlib.h>
#include <unistd.h>

/* Searched before the default path, so the repo's modules win over installed ones
 * while busted's modules (in /usr/share/lua/5.1) are still found. */
#define RL_LUA_PATH                                                  \
  RL_SOURCE_DIR "/lua/?.lua;" RL_SOURCE_DIR "/lua/?/init.lua;"       \
  RL_SOURCE_DIR "/stdlib/?.lua;" RL_SOURCE_DIR "/stdlib/?/init.lua;"

int rl_cli_export_bin(void) {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0)
    return -1;
  path[n] = '\0';
  return setenv("RAYL_BIN", path, 1) == 0 ? 0 : -1;
}

void rl_cli_setup_state(lua_State *L) {
  lua_gc(L, LUA_GCSTOP, 0);  /* as luajit.c: no collections while opening libraries */
  luaL_openlibs(L);
  lua_gc(L, LUA_GCRESTART, -1);

  lua_getglobal(L, "package");
  lua_pushliteral(L, RL_LUA_PATH);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");

  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_rayl_core);
  lua_setfield(L, -2, "rayl.core");
  lua_pop(L, 2);
}
