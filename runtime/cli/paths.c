/* paths.c: where rayl finds itself (RAYL_BIN) and its Lua code (package.path). */
#include "cli/cli.h"
#include "host/host.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

int rl_cli_export_bin(void) {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0)
    return -1;
  path[n] = '\0';
  return setenv("RAYL_BIN", path, 1) == 0 ? 0 : -1;
}

void rl_cli_setup_state(lua_State *L) {
  /* The same environment workers get: RL_SOURCE_DIR's lua/ and stdlib/ before the
   * default path (so busted's modules in /usr/share/lua/5.1 are still found), and
   * package.preload["rayl.core"]. No collections while the libraries open, as in
   * luajit.c. */
  lua_gc(L, LUA_GCSTOP, 0);
  rl_host_open_libs(L);
  lua_gc(L, LUA_GCRESTART, -1);
}
