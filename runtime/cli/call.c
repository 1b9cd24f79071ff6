/* call.c: protected calls into Lua: traceback handler, error reports, Ctrl-C. */
#include "cli/cli.h"
#include "common/interrupt.h"
#include "host/pcall.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The state a signal handler hooks, as luajit.c's globalL. */
static lua_State *s_L;
/* rl_interrupt's handlers, restored between chunks and chained from ours. */
static struct sigaction s_prev_int, s_prev_term;
/* The signal that interrupted a chunk (rl_interrupted may be reset by the runtime
 * once it has raised its own "interrupted" error). */
static volatile sig_atomic_t s_signal;
/* A REPL: every Ctrl-C interrupts the running chunk (else a second one ends the
 * process, as in luajit). */
static bool s_interactive;

void rl_cli_message(const char *msg) {
  fprintf(stderr, "rayl: %s\n", msg);
  fflush(stderr);
}

/* ---- signals: the handler only sets rl_interrupted and a hook (as luajit.c) ---- */

static void s_stop_hook(lua_State *L, lua_Debug *ar) {
  lua_sethook(L, NULL, 0, 0);
  if (ar->event == LUA_HOOKCALL && lua_getinfo(L, "f", ar)) {
    /* A C call (a blocking get) already failed because of the signal and this is
     * the call of our error handler: raising here would make the report "error in
     * error handling". Let that error through instead. */
    int in_handler = lua_tocfunction(L, -1) == rl_lua_traceback;
    lua_pop(L, 1);
    if (in_handler)
      return;
  }
  rl_interrupted = 0; /* consumed by this error, as the runtime's own waits do */
  /* A C hook adds no frame, so luaL_error would blame the wrong line. */
  luaL_where(L, 0);
  lua_pushfstring(L, "%sinterrupted!", lua_tostring(L, -1));
  lua_error(L);
}

static void s_on_signal(int sig) {
  const struct sigaction *prev = sig == SIGINT ? &s_prev_int : &s_prev_term;
  if (!(prev->sa_flags & SA_SIGINFO) && prev->sa_handler != SIG_DFL &&
      prev->sa_handler != SIG_IGN)
    prev->sa_handler(sig); /* rl_interrupt's: records the signal */
  else
    rl_interrupted = sig;
  s_signal = sig;
  if (!s_interactive || sig != SIGINT)
    signal(sig, SIG_DFL); /* a second signal ends the process, as in luajit */
  lua_sethook(s_L, s_stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void s_clear_stop_hook(lua_State *L) {
  if (lua_gethook(L) == s_stop_hook)
    lua_sethook(L, NULL, 0, 0);
}

static void s_catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = s_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static void s_release_signals(void) {
  sigaction(SIGINT, &s_prev_int, NULL);
  sigaction(SIGTERM, &s_prev_term, NULL);
}

/* ---- protected calls ---- */

static int s_collect(lua_State *L) {
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}

/* Calls the function below its narg arguments through rl_lua_pcall (the traceback
 * handler), catching SIGINT/SIGTERM meanwhile. Returns the status; the stack is
 * balanced. */
int rl_cli_docall(lua_State *L, int narg, int nres) {
  rl_lua_set_interrupt_hook(s_stop_hook);
  s_catch_signals();
  if (rl_interrupted) { /* a signal came during set-up or between chunks */
    s_signal = rl_interrupted;
    lua_sethook(L, s_stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  }
  int status = rl_lua_pcall(L, narg, nres);
  s_release_signals();
  s_clear_stop_hook(L); /* a signal that came as the chunk returned */
  /* Free what a failed chunk left behind; a finalizer's error is reported, not fatal. */
  if (status != 0 && rl_lua_cpcall(L, s_collect, NULL) != 0)
    rl_cli_report(L, LUA_ERRRUN);
  return status;
}

/* Prints the error on top of the stack (if any) and pops it. Returns status. */
int rl_cli_report(lua_State *L, int status) {
  if (status != 0 && !lua_isnil(L, -1)) {
    const char *msg = lua_tostring(L, -1);
    rl_cli_message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  } else if (status != 0) {
    lua_pop(L, 1);
  }
  return status;
}

/* The state the runner and subcommands share, with rl_interrupt's handlers saved
 * for chaining. NULL if out of memory (reported). */
lua_State *rl_cli_open(void) {
  rl_interrupt_install();
  sigaction(SIGINT, NULL, &s_prev_int);
  sigaction(SIGTERM, NULL, &s_prev_term);
  lua_State *L = luaL_newstate();
  if (!L)
    rl_cli_message("cannot create state: not enough memory");
  s_L = L;
  return L;
}

void rl_cli_set_interactive(bool on) { s_interactive = on; }

int rl_cli_take_signal(void) {
  int sig = s_signal ? s_signal : rl_interrupted;
  s_signal = 0;
  rl_interrupted = 0;
  return sig;
}

/* 128+signal if the run was ended by SIGINT/SIGTERM, else code. */
int rl_cli_exit_code(int code) {
  if (code != 0 && (s_signal || rl_interrupted))
    return 128 + (s_signal ? s_signal : rl_interrupted);
  return code;
}
