/* script.c: the LuaJIT-compatible runner: options, the arg table, -e, scripts, stdin. */
#include "cli/cli.h"
#include "host/pcall.h"

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Option flags, as luajit.c collects them. */
enum {
  F_EXEC = 1,        /* -e or -b: something runs even without a script */
  F_OPTION = 2,      /* -l or -j */
  F_VERSION = 4,     /* -v */
  F_NOENV = 8,       /* -E */
  F_INTERACTIVE = 16, /* -i */
  F_HELP = 32         /* -h, --help */
};

/* One run: the command line and what it came to. */
typedef struct {
  int argc;
  char **argv;
  void (*usage)(FILE *out);
  int exit_code;
} s_run_t;

static int s_dostring(lua_State *L, const char *s, const char *name) {
  int status = luaL_loadbuffer(L, s, strlen(s), name);
  if (status == 0)
    status = rl_cli_docall(L, 0, 0);
  return rl_cli_report(L, status);
}

/* Runs file `name` (NULL: stdin). */
static int s_dofile(lua_State *L, const char *name) {
  int status = luaL_loadfile(L, name);
  if (status == 0)
    status = rl_cli_docall(L, 0, 0);
  return rl_cli_report(L, status);
}

/* Pushes `s` split at commas (LuaJIT's -j/-O argument convention). Returns how many. */
static int s_push_split(lua_State *L, const char *s) {
  int n = 0;
  while (s && *s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    lua_pushlstring(L, s, len);
    n++;
    s = comma ? comma + 1 : NULL;
  }
  return n;
}

/* -j cmd[=a,b], -O[opts] and -b: LuaJIT's control commands, done in Lua. */
static const char s_jit_lua[] =
    "local kind, cmd = ...\n"
    "local jit = require 'jit'\n"
    "if kind == 'O' then require('jit.opt').start(select(3, ...)) return end\n"
    "local f = jit[cmd]\n"
    "if type(f) ~= 'function' then\n"
    "  local ok, m = pcall(require, 'jit.' .. cmd)\n"
    "  if not ok and not tostring(m):match('^module ') then error(m, 0) end\n"
    "  if not ok or type(m) ~= 'table' or type(m.start) ~= 'function' then\n"
    "    return 'unknown luaJIT command or jit.* modules not installed'\n"
    "  end\n"
    "  f = m.start\n"
    "end\n"
    "f(select(3, ...))\n";

/* Runs a chunk that returns nothing, or a message to report without a traceback.
 * Returns non-zero on an error (reported). */
static int s_call_checked(lua_State *L, int narg) {
  int status = rl_cli_docall(L, narg, 1);
  if (status != 0)
    return rl_cli_report(L, status);
  if (lua_isstring(L, -1)) {
    rl_cli_message(lua_tostring(L, -1));
    status = 1;
  }
  lua_pop(L, 1);
  return status;
}

/* Runs a LuaJIT control command: kind 'j' (cmd, args), 'O' (args) or 'b'. */
static int s_dojit(lua_State *L, char kind, const char *cmd, int nextra) {
  int status = luaL_loadbuffer(L, s_jit_lua, sizeof s_jit_lua - 1, "=(command line)");
  if (status != 0) {
    lua_pop(L, nextra);
    return rl_cli_report(L, status);
  }
  lua_insert(L, -(nextra + 1)); /* f, extras... */
  lua_pushlstring(L, &kind, 1);
  lua_insert(L, -(nextra + 1)); /* f, kind, extras... */
  lua_pushstring(L, cmd);
  lua_insert(L, -(nextra + 1)); /* f, kind, cmd, extras... */
  return s_call_checked(L, nextra + 2);
}

static int s_dojitcmd(lua_State *L, const char *arg) {
  const char *eq = strchr(arg, '=');
  char cmd[64];
  size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
  if (len >= sizeof cmd)
    len = sizeof cmd - 1;
  memcpy(cmd, arg, len);
  cmd[len] = '\0';
  return s_dojit(L, 'j', cmd, s_push_split(L, eq ? eq + 1 : NULL));
}

/* -b: everything after it goes to jit.bcsave. */
static int s_dobytecode(lua_State *L, char **argv, int argc, int i) {
  int n = 0;
  if (argv[i][2]) { /* "-bl" -> "-l" */
    lua_pushfstring(L, "-%s", argv[i] + 2);
    n++;
  }
  for (i++; i < argc; i++, n++)
    lua_pushstring(L, argv[i]);
  return s_dojit(L, 'j', "bcsave", n);
}

/* ---- the command line ---- */

/* Finds the script's index (argc: none) and sets *flags; -1 on a bad option, whose
 * index goes to *bad. */
static int s_collect(int argc, char **argv, int *flags, int *bad) {
  int i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    *bad = i;
    if (a[0] != '-')
      return i;
    if (strcmp(a, "--version") == 0) {
      *flags |= F_VERSION;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      *flags |= F_HELP;
      continue;
    }
    if (strcmp(a, "--address") == 0) {
      if (++i >= argc)
        return -1;
      continue;
    }
    if (strncmp(a, "--address=", 10) == 0)
      continue;
    if (a[1] == '-')
      return a[2] ? -1 : i + 1;
    switch (a[1]) {
    case '\0':
      return i;
    case 'i':
      if (a[2])
        return -1;
      *flags |= F_INTERACTIVE; /* the REPL's banner shows the version */
      break;
    case 'v':
      if (a[2])
        return -1;
      *flags |= F_VERSION;
      break;
    case 'e':
      *flags |= F_EXEC;
      /* fallthrough */
    case 'j':
    case 'l':
      *flags |= F_OPTION;
      if (a[2] == '\0' && ++i >= argc)
        return -1;
      break;
    case 'O':
      break;
    case 'b':
      if (*flags)
        return -1;
      *flags |= F_EXEC;
      return argc; /* bcsave takes the rest */
    case 'E':
      if (a[2])
        return -1;
      *flags |= F_NOENV;
      break;
    default:
      return -1;
    }
  }
  return i;
}

/* The value of the last --address option before the script, or NULL. */
static const char *s_address(char **argv, int argn) {
  const char *address = NULL;
  for (int i = 1; i < argn; i++) {
    if (strcmp(argv[i], "--") == 0)
      break;
    if (strcmp(argv[i], "--address") == 0 && i + 1 < argn)
      address = argv[++i];
    else if (strncmp(argv[i], "--address=", 10) == 0)
      address = argv[i] + 10;
    else if (argv[i][0] == '-' && strchr("ejl", argv[i][1]) && argv[i][1] && argv[i][2] == '\0')
      i++; /* the option's argument */
  }
  return address;
}

/* arg[i - argn] = argv[i]: the script at 0, what came before it negative. */
void rl_cli_create_arg_table(lua_State *L, int argc, char **argv, int argn) {
  lua_createtable(L, argc - argn > 0 ? argc - argn : 0, argn + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - argn);
  }
  lua_setglobal(L, "arg");
}

/* Runs -e, -l, -j, -O, -b in command-line order. Returns non-zero on an error. */
static int s_run_options(lua_State *L, int argc, char **argv, int argn) {
  for (int i = 1; i < argn; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '-')
      continue;
    const char *v = a + 2;
    int status = 0;
    switch (a[1]) {
    case 'e':
      if (!*v)
        v = argv[++i];
      status = s_dostring(L, v, "=(command line)");
      break;
    case 'l':
      if (!*v)
        v = argv[++i];
      lua_getglobal(L, "require");
      lua_pushstring(L, v);
      status = rl_cli_report(L, rl_cli_docall(L, 1, 0));
      break;
    case 'j':
      if (!*v)
        v = argv[++i];
      status = s_dojitcmd(L, v);
      break;
    case 'O':
      status = s_dojit(L, 'O', "", s_push_split(L, v));
      break;
    case 'b':
      return s_dobytecode(L, argv, argc, i) ? 1 : 0;
    }
    if (status != 0)
      return status;
  }
  return 0;
}

static int s_run_script(lua_State *L, int argc, char **argv, int argn) {
  const char *name = argv[argn];
  if (strcmp(name, "-") == 0 && strcmp(argv[argn - 1], "--") != 0)
    name = NULL; /* stdin */
  int narg = argc - argn - 1;
  int status = luaL_loadfile(L, name);
  if (status == 0) {
    luaL_checkstack(L, narg + 3, "too many arguments to script");
    for (int i = argn + 1; i < argc; i++)
      lua_pushstring(L, argv[i]);
    status = rl_cli_docall(L, narg, 0);
  }
  return rl_cli_report(L, status);
}

static void s_print_version(void) {
  printf("rayl %s (%s)\n", RL_VERSION, LUAJIT_VERSION);
  fflush(stdout);
}

/* The whole run, protected (as luajit.c's pmain): even set-up errors are caught. */
static int s_pmain(lua_State *L) {
  s_run_t *r = lua_touserdata(L, 1);
  int argc = r->argc, flags = 0, bad = 0;
  char **argv = r->argv;
  lua_pop(L, 1);
  r->exit_code = 1;

  int argn = s_collect(argc, argv, &flags, &bad);
  if (argn < 0) {
    if (bad < argc && (strcmp(argv[bad], "--address") == 0 ||
                       (argv[bad][1] && strchr("ejl", argv[bad][1]) && argv[bad][2] == '\0')))
      fprintf(stderr, "rayl: '%s' needs an argument\n", argv[bad]);
    else
      fprintf(stderr, "rayl: unrecognized option '%s'\n", bad < argc ? argv[bad] : "");
    fprintf(stderr, "see rayl --help\n");
    return 0;
  }
  if (flags & F_HELP) {
    r->usage(stdout);
    r->exit_code = 0;
    return 0;
  }
  const char *address = s_address(argv, argn);
  if (address && setenv("RAYL_ADDRESS", address, 1) != 0) {
    rl_cli_message("cannot set RAYL_ADDRESS");
    return 0;
  }
  rl_cli_setup_state(L);
  rl_cli_create_arg_table(L, argc, argv, argn);
  if (!(flags & F_NOENV)) {
    const char *init = getenv("LUA_INIT");
    if (init && (init[0] == '@' ? s_dofile(L, init + 1)
                                : s_dostring(L, init, "=LUA_INIT")))
      return 0;
  }
  if (flags & F_VERSION)
    s_print_version();
  if (s_run_options(L, argc, argv, argn))
    return 0;
  if (argn < argc) {
    if (s_run_script(L, argc, argv, argn))
      return 0;
  } else if (!(flags & (F_EXEC | F_VERSION | F_INTERACTIVE))) {
    if (isatty(STDIN_FILENO)) {
      r->exit_code = rl_cli_repl_run(L, NULL);
      return 0;
    }
    if (s_dofile(L, NULL))
      return 0;
  }
  r->exit_code = flags & F_INTERACTIVE ? rl_cli_repl_run(L, NULL) : 0;
  return 0;
}

int rl_cli_run_lua(int argc, char **argv, void (*usage)(FILE *out)) {
  lua_State *L = rl_cli_open();
  if (!L)
    return 1;
  s_run_t r = {argc, argv, usage, 1};
  int status = rl_cli_report(L, rl_lua_cpcall(L, s_pmain, &r));
  lua_close(L);
  return rl_cli_exit_code(status ? 1 : r.exit_code);
}
