/* paths.c: where rayl finds itself (RAYL_BIN) and its Lua code (package.path). */
#include "cli/cli.h"
#include "host/host.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Says on stderr that `file`, which the exports point at, does not exist. */
static void s_warn_missing(const char *file, const char *hint) {
  if (access(file, R_OK) == 0) return;
  fprintf(stderr, "rayl path: warning: %s does not exist: require \"rayl\" will fail there; %s\n", file, hint);
}

int rl_cli_path(int argc, char **argv) {
  static const char usage[] = "usage: rayl path\n"
                              "\n"
                              "Prints shell lines that put rayl's Lua modules on LUA_PATH and LUA_CPATH, so\n"
                              "`require \"rayl\"` works in other LuaJIT hosts (LOVE, Neovim, OpenResty, luajit):\n"
                              "\n"
                              "  eval \"$(rayl path)\"\n"
                              "  love examples/love\n";
  int rc = rl_cli_options("path", usage, argc, argv, NULL, 0);
  if (rc >= 0) return rc;
  /* The exports are printed anyway (eval'd by a shell, they must stay valid); a missing
   * file is named on stderr, with how to build it. */
  s_warn_missing(RL_SOURCE_DIR "/lua/rayl/init.lua", "the rayl Lua sources are gone from the source tree");
  s_warn_missing(RL_BIN_DIR "/../lib/lua/rayl/core.so",
                 "build it with tools/rayl (or cmake --build BUILD --target rayl_core_module)");
  /* ";;" keeps the host's default search path after ours. */
  printf("export LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;%s/stdlib/?.lua;%s/stdlib/?/init.lua;;'\n", RL_SOURCE_DIR,
         RL_SOURCE_DIR, RL_SOURCE_DIR, RL_SOURCE_DIR);
  printf("export LUA_CPATH='%s/../lib/lua/?.so;;'\n", RL_BIN_DIR);
  return 0;
}
