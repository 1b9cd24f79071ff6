/* cli.h: the rayl program's parts: the LuaJIT-compatible runner and path set-up. */
#ifndef RL_CLI_H
#define RL_CLI_H
#include <stdio.h>

#include <lua.h>

/* Runs argv as `luajit` would (options, -e chunks, a script or stdin, the `arg`
 * table), with rayl's Lua state set-up. Returns the process exit code: 0, 1 on an
 * error (reported on stderr), 128+signal when the run ended by SIGINT/SIGTERM. */
int rl_cli_run_lua(int argc, char **argv);

/* Runs the subcommand argv[0] by requiring the Lua module `module` and calling its
 * main(args) with args = argv[1..argc-1]; a missing module is a clear error. Returns
 * the exit code: main's number result, 1 if it returned false or raised. */
int rl_cli_run_module(int argc, char **argv, const char *module);

/* Prints the usage text to `out`. */
void rl_cli_usage(FILE *out);

/* Prints "rayl: " + msg on stderr. */
void rl_cli_message(const char *msg);

/* Sets RAYL_BIN to this executable's absolute path (from /proc/self/exe), so the
 * runtime can start daemons with it. Returns 0, or -1 if the path is unknown. */
int rl_cli_export_bin(void);

/* Prepares a fresh Lua state: opens the standard libraries, prepends rayl's Lua
 * folders to package.path and registers package.preload["rayl.core"]. Call it
 * inside a protected call: it may raise a memory error. */
void rl_cli_setup_state(lua_State *L);

#endif
