/* options.c: the options of the commands written in C, parsed by rayl.cli_args (the one
 * option parser of every rayl command) in a short-lived Lua state. */
#include "cli/cli.h"

#include <lauxlib.h>
#include <signal.h>
#include <string.h>

/* Parses; returns nil (go on: the options are in the table it returns second) or the
 * exit code. Positional words are refused: these commands take none. */
static const char s_options_lua[] =
    "local cmd, usage, spec, args = ...\n"
    "local cli_args = require 'rayl.cli_args'\n"
    "local o, rc = cli_args.parse(cmd, usage, args, spec)\n"
    "if not o then return rc end\n"
    "if #o.args > 0 then\n"
    "  return cli_args.fail(cmd, usage, (\"unexpected argument '%s'\"):format(o.args[1]))\n"
    "end\n"
    "return nil, o\n";

typedef struct {
  const char *cmd, *usage;
  int argc;
  char **argv;
  const rl_cli_option_t *opts;
  size_t n;
  int exit_code;
} s_parse_t;

/* The argv string that holds value v of option `name` (its last use): "--name=v" or
 * "--name" "v". Values point into argv, so they outlive the Lua state. */
static const char *s_in_argv(const s_parse_t *p, const char *name, const char *v) {
  size_t len = strlen(name);
  for (int i = p->argc - 1; i >= 1; i--) {
    const char *a = p->argv[i];
    if (!strncmp(a, name, len) && a[len] == '=' && !strcmp(a + len + 1, v)) return a + len + 1;
    if (i > 1 && !strcmp(a, v) && !strcmp(p->argv[i - 1], name)) return a;
  }
  return NULL;
}

static int s_parse(lua_State *L) {
  s_parse_t *p = lua_touserdata(L, 1);
  lua_pop(L, 1);
  rl_cli_setup_state(L);
  if (luaL_loadbuffer(L, s_options_lua, sizeof s_options_lua - 1, "=rayl") != 0) return lua_error(L);
  lua_pushstring(L, p->cmd);
  lua_pushstring(L, p->usage);
  lua_createtable(L, (int)p->n, 0);
  for (size_t i = 0; i < p->n; i++) {
    lua_createtable(L, 2, 0);
    lua_pushstring(L, p->opts[i].name);
    lua_rawseti(L, -2, 1);
    lua_pushstring(L, p->opts[i].value ? "value" : "flag");
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, (int)i + 1);
  }
  lua_createtable(L, p->argc, 0);
  for (int i = 1; i < p->argc; i++) {
    lua_pushstring(L, p->argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 4, 2);
  if (!lua_isnil(L, -2)) {
    p->exit_code = (int)lua_tointeger(L, -2);
    return 0;
  }
  for (size_t i = 0; i < p->n; i++) {
    const rl_cli_option_t *o = &p->opts[i];
    lua_pushstring(L, o->name + 2);
    luaL_gsub(L, lua_tostring(L, -1), "-", "_");
    lua_gettable(L, -3);
    if (o->flag && lua_toboolean(L, -1)) *o->flag = true;
    if (o->value && lua_isstring(L, -1)) *o->value = s_in_argv(p, o->name, lua_tostring(L, -1));
    lua_pop(L, 2);
  }
  p->exit_code = -1;
  return 0;
}

int rl_cli_options(const char *cmd, const char *usage, int argc, char **argv, const rl_cli_option_t *opts,
                   size_t n) {
  /* rl_cli_open turns SIGINT/SIGTERM into a flag for Lua; the command itself (a wait for
   * an unreachable head) must stay stoppable by Ctrl-C, so its handlers come back after. */
  struct sigaction old_int, old_term;
  sigaction(SIGINT, NULL, &old_int);
  sigaction(SIGTERM, NULL, &old_term);
  lua_State *L = rl_cli_open();
  s_parse_t p = {cmd, usage, argc, argv, opts, n, 1};
  int status = L ? rl_cli_report(L, lua_cpcall(L, s_parse, &p)) : 1;
  if (L) lua_close(L);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  int sig = rl_cli_take_signal();
  if (sig) raise(sig); /* what came while parsing ends the command as it would have */
  return status ? 1 : p.exit_code;
}
