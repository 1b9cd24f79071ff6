/* cli.h: the rayl program's parts: the LuaJIT-compatible runner and path set-up. */
#ifndef RL_CLI_H
#define RL_CLI_H
#include <stdbool.h>
#include <stdio.h>

#include <lua.h>

/* Runs argv as `luajit` would (options, -e chunks, a script or stdin, the `arg`
 * table), with rayl's Lua state set-up; -h/--help prints the program's usage with
 * usage(stdout). Returns the process exit code: 0, 1 on an error (reported on
 * stderr), 128+signal when the run ended by SIGINT/SIGTERM. */
int rl_cli_run_lua(int argc, char **argv, void (*usage)(FILE *out));

/* Runs the subcommand argv[0] by requiring the Lua module `module` and calling its
 * main(args) with args = argv[1..argc-1]; a missing module is a clear error. Returns
 * the exit code: main's number result, 1 if it returned false or raised. */
int rl_cli_run_module(int argc, char **argv, const char *module);

/* Sets the global `arg`: arg[i - argn] = argv[i] for every i < argc, so the script
 * (argv[argn]) is arg[0] and what came before it is negative, as in luajit. */
void rl_cli_create_arg_table(lua_State *L, int argc, char **argv, int argn);

/* One option of a command written in C: its long name ("--port"); a valued option
 * gets its value in *value (a pointer into argv), a flag sets *flag. */
typedef struct {
  const char *name;
  const char **value; /* NULL for a flag */
  bool *flag;         /* NULL for a valued option */
} rl_cli_option_t;

/* Parses argv[1..argc-1] of `rayl cmd` with rayl.cli_args, the parser of every rayl
 * command: fills the n options given and leaves the others as they are. Returns -1 when
 * the command should go on; else its exit code: 0 after printing usage for -h/--help, 2
 * after an unknown option, a missing value or a positional word (the error and usage
 * printed on stderr), 1 if Lua failed (reported). */
int rl_cli_options(const char *cmd, const char *usage, int argc, char **argv, const rl_cli_option_t *opts,
                   size_t n);

/* rayl start / stop / status (cluster.c). Each returns the process exit code. */
int rl_cli_start(int argc, char **argv);
int rl_cli_stop(int argc, char **argv);
int rl_cli_status(int argc, char **argv);

/* rayl dashboard (dashboard.c): prints the dashboard's URL. Returns the exit code. */
int rl_cli_dashboard(int argc, char **argv);
/* Reads where the head at gcs (an endpoint) serves its dashboard: its URL and token.
 * Returns 0, or -1 with err (no answer, no dashboard, or why the head could not serve it). */
int rl_cli_dashboard_record(const char *gcs, char *url, size_t un, char *token, size_t tn, char *err, size_t errlen);

/* rayl job-supervisor (job_supervisor.c): runs one job's driver for the head. Returns
 * the process exit code. */
int rl_cli_job_supervisor(int argc, char **argv);

/* `rayl repl [--address A]`: the REPL in a fresh state. Returns the exit code. */
int rl_cli_repl(int argc, char **argv);

/* Runs the REPL in L (rayl's libraries set up): connects to `address` (NULL: the
 * RAYL_ADDRESS cluster, else a private local one) unless already connected, reads
 * lines until Ctrl-D or :quit, then disconnects. Line editing and history when stdin
 * is a terminal. Returns the exit code: 0, 1 if it could not connect, 128+SIGTERM. */
int rl_cli_repl_run(lua_State *L, const char *address);

/* Prints "rayl: " + msg on stderr. */
void rl_cli_message(const char *msg);

/* Creates the Lua state for one run and installs rl_interrupt's handlers. Returns
 * NULL (reported) if out of memory. Close it with lua_close. */
lua_State *rl_cli_open(void);

/* Calls the function below its narg arguments through lua_pcall with a traceback
 * handler, with SIGINT/SIGTERM raising "interrupted!" in Lua meanwhile (as luajit.c).
 * Returns the lua_pcall status; on an error the error object is on top. */
int rl_cli_docall(lua_State *L, int narg, int nres);

/* In a REPL (on), every SIGINT interrupts the chunk rl_cli_docall runs; otherwise a
 * second one during a chunk ends the process, as in luajit. */
void rl_cli_set_interactive(bool on);

/* The signal (SIGINT/SIGTERM) that interrupted the last chunk or came since, or 0.
 * Clears it, and rl_interrupted, so the next chunk starts afresh. */
int rl_cli_take_signal(void);

/* If status is an error, prints the error object on top of the stack as
 * "rayl: msg" (tables via __tostring) and pops it. Returns status. */
int rl_cli_report(lua_State *L, int status);

/* The process exit code for a run that ended with `code`: 128+signal if it failed
 * after SIGINT/SIGTERM, else code. */
int rl_cli_exit_code(int code);

/* Sets RAYL_BIN to this executable's absolute path (from /proc/self/exe), so the
 * runtime can start daemons with it. Returns 0, or -1 if the path is unknown. */
int rl_cli_export_bin(void);

/* `rayl path`: prints LUA_PATH and LUA_CPATH exports that let any LuaJIT host
 * `require "rayl"`. Returns the exit code. */
int rl_cli_path(int argc, char **argv);

/* Prepares a fresh Lua state: opens the standard libraries, prepends rayl's Lua
 * folders to package.path and registers package.preload["rayl.core"]. Call it
 * inside a protected call: it may raise a memory error. */
void rl_cli_setup_state(lua_State *L);

#endif
