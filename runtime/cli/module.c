/* module.c: subcommands written in Lua: require a module, call its main(args). */
#include "cli/cli.h"
#include "host/pcall.h"

#include <lauxlib.h>
#include <lua.h>

/* Requires the module (a clear error if it does not exist), calls main(args) and
 * returns its exit code. */
static const char s_module_lua[] =
    "local name, cmd = ...\n"
    "if not package.preload[name] and not package.searchpath(name, package.path)\n"
    "   and not package.searchpath(name, package.cpath) then\n"
    "  return \"'\" .. cmd .. \"' is not available yet (Lua module '\" .. name ..\n"
    "         \"' not found)\"\n"
    "end\n"
    "local mod = require(name)\n"
    "if type(mod) ~= 'table' or type(mod.main) ~= 'function' then\n"
    "  error(\"module '\" .. name .. \"' has no main function\", 0)\n"
    "end\n"
    "local rc = mod.main({ select(3, ...) })\n"
    "if type(rc) == 'number' then return rc end\n"
    "return rc == false and 1 or 0\n";

typedef struct {
  int argc;
  char **argv;
  const char *module;
  int exit_code;
} s_module_run_t;

static int s_module_pmain(lua_State *L) {
  s_module_run_t *r = lua_touserdata(L, 1);
  lua_pop(L, 1);
  r->exit_code = 1;
  rl_cli_setup_state(L);
  rl_cli_create_arg_table(L, r->argc, r->argv, 0);
  int status = luaL_loadbuffer(L, s_module_lua, sizeof s_module_lua - 1, "=rayl");
  if (status == 0) {
    lua_pushstring(L, r->module);
    lua_pushstring(L, r->argv[0]);
    luaL_checkstack(L, r->argc + 3, "too many arguments");
    for (int i = 1; i < r->argc; i++)
      lua_pushstring(L, r->argv[i]);
    status = rl_cli_docall(L, r->argc + 1, 1);
  }
  if (rl_cli_report(L, status))
    return 0;
  if (lua_type(L, -1) == LUA_TSTRING) { /* not available */
    rl_cli_message(lua_tostring(L, -1));
    r->exit_code = 2;
  } else {
    r->exit_code = (int)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return 0;
}

int rl_cli_run_module(int argc, char **argv, const char *module) {
  lua_State *L = rl_cli_open();
  if (!L)
    return 1;
  s_module_run_t r = {argc, argv, module, 1};
  int status = rl_cli_report(L, rl_lua_cpcall(L, s_module_pmain, &r));
  lua_close(L);
  return rl_cli_exit_code(status ? 1 : r.exit_code);
}
