/* repl.c: the REPL's terminal side: line editing and history (libedit), tab
 * completion, Ctrl-C at the prompt, and the runtime kept working while the user types.
 * What a line means (chunks, printing, :commands) is lua/rayl/repl.lua. */
#include "cli/cli.h"
#include "common/interrupt.h"
#include "common/xalloc.h"
#include "host/host.h"
#include "host/pcall.h"

#include <editline/readline.h>
#include <lauxlib.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_HISTORY_MAX 1000 /* lines kept in the history file */
#define S_IDLE_MS 100      /* how often the runtime's timers run while the user types */

static const char s_prompt[] = "rayl> ";
static const char s_continue[] = "  ..> ";

/* Word boundaries for completion: '.' and ':' are not among them, so the word under
 * the cursor is a whole path (rayl.ge). */
static char s_word_breaks[] = " \t\n\"'`@$><=;|&{(,+-*/%^~#[])}";

typedef enum { S_LINE, S_EOF, S_CANCEL, S_TERM } s_input_t;

/* The one REPL of this process. */
static struct {
  lua_State *L;
  int mod;            /* registry ref of the rayl.repl module */
  bool tty;           /* stdin is a terminal: line editing on */
  char history[1024]; /* the history file, or "" for none */
  bool history_saved;
  char *line;         /* what libedit handed to s_on_line (ours to free) */
  bool line_done;
  char **matches;     /* completions being handed to libedit */
  size_t nmatches, next_match;
} s_repl;

/* Pushes rayl.repl's function `name`. */
static void s_push_fn(lua_State *L, const char *name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, s_repl.mod);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

/* ---- tab completion ---- */

static void s_free_matches(void) {
  for (size_t i = s_repl.next_match; i < s_repl.nmatches; i++)
    free(s_repl.matches[i]);
  free(s_repl.matches);
  s_repl.matches = NULL;
  s_repl.nmatches = s_repl.next_match = 0;
}

/* libedit's generator: hands out one completion per call (it frees them). */
static char *s_next_match(const char *text, int state) {
  (void)text;
  (void)state;
  if (s_repl.next_match >= s_repl.nmatches)
    return NULL;
  return s_repl.matches[s_repl.next_match++];
}

/* Asks rayl.repl.complete for the completions of `text` (the word before the cursor). */
static char **s_complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  lua_State *L = s_repl.L;
  int top = lua_gettop(L);
  s_free_matches();
  rl_attempted_completion_over = 1; /* never fall back to file names */
  rl_completion_append_character = '\0';
  s_push_fn(L, "complete");
  lua_pushstring(L, text);
  if (rl_lua_pcall(L, 1, 1) == 0 && lua_istable(L, -1)) {
    size_t n = lua_objlen(L, -1);
    s_repl.matches = rl_xcalloc(n, sizeof *s_repl.matches);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (int)i + 1);
      const char *s = lua_tostring(L, -1);
      if (s)
        s_repl.matches[s_repl.nmatches++] = rl_xstrdup(s);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, top);
  if (s_repl.nmatches == 0)
    return NULL;
  return rl_completion_matches(text, s_next_match);
}

/* ---- reading a line ---- */

static void s_on_line(char *line) {
  s_repl.line = line;
  s_repl.line_done = true;
  rl_callback_handler_remove();
}

/* Worker output arriving while the prompt shows: clear the line, let it print, then
 * draw the prompt and what was typed again below it. */
static void s_around_output(void *ctx, bool before) {
  (void)ctx;
  if (before) {
    fputs("\r\033[K", stdout);
    fflush(stdout);
  } else {
    rl_forced_update_display();
  }
}

/* Waits for input on stdin while the runtime handles its messages and timers.
 * Returns true when stdin is readable, false when a signal came. */
static bool s_wait_input(void) {
  while (!rl_interrupted) {
    bool ready = false;
    if (rl_host.cw) {
      rl_cw_poll_fd(rl_host.cw, STDIN_FILENO, S_IDLE_MS, &ready);
    } else { /* after rayl.shutdown() at the prompt */
      struct pollfd p = {STDIN_FILENO, POLLIN, 0};
      ready = poll(&p, 1, S_IDLE_MS) > 0;
    }
    if (ready)
      return true;
  }
  return false;
}

/* True if the terminal is gone (stdin hung up or closed). */
static bool s_hung_up(void) {
  struct pollfd p = {STDIN_FILENO, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Reads a line with editing. On S_LINE, *line is the caller's to free. */
static s_input_t s_read_edited(const char *prompt, char **line) {
  s_repl.line = NULL;
  s_repl.line_done = false;
  rl_cw_t *cw = rl_host.cw; /* no Lua runs while reading: it stays the same */
  if (cw)
    rl_cw_set_log_hook(cw, s_around_output, NULL);
  rl_callback_handler_install(prompt, s_on_line);
  s_input_t got = S_LINE;
  while (!s_repl.line_done) {
    if (!s_wait_input()) {
      rl_callback_handler_remove();
      got = rl_cli_take_signal() == SIGINT ? S_CANCEL : S_TERM;
      break;
    }
    if (s_hung_up()) { /* libedit would not report it: it would spin */
      rl_callback_handler_remove();
      got = S_EOF;
      break;
    }
    rl_callback_read_char();
  }
  if (cw)
    rl_cw_set_log_hook(cw, NULL, NULL);
  if (got != S_LINE)
    return got;
  *line = s_repl.line;
  return *line ? S_LINE : S_EOF;
}

/* Reads a line from a stdin that is not a terminal (no prompt, no editing). */
static s_input_t s_read_plain(char **line) {
  size_t cap = 0;
  char *buf = NULL;
  ssize_t n = getline(&buf, &cap, stdin);
  if (n < 0) {
    free(buf);
    clearerr(stdin);
    int sig = rl_cli_take_signal();
    return sig == SIGINT ? S_CANCEL : sig ? S_TERM : S_EOF;
  }
  if (n > 0 && buf[n - 1] == '\n')
    buf[n - 1] = '\0';
  *line = buf;
  return S_LINE;
}

/* ---- history ---- */

/* Saves the history once: when the REPL ends, or at exit if a chunk calls os.exit. */
static void s_history_save(void) {
  if (!s_repl.history[0] || s_repl.history_saved)
    return;
  s_repl.history_saved = true;
  if (write_history(s_repl.history) != 0) {
    fprintf(stderr, "rayl: cannot write the history file %s\n", s_repl.history);
    return;
  }
  history_truncate_file(s_repl.history, S_HISTORY_MAX);
}

/* The file is $RAYL_HISTORY ("" for none), else ~/.rayl_history. */
static void s_history_open(void) {
  const char *path = getenv("RAYL_HISTORY");
  const char *home = getenv("HOME");
  if (path)
    snprintf(s_repl.history, sizeof s_repl.history, "%s", path);
  else if (home && *home)
    snprintf(s_repl.history, sizeof s_repl.history, "%s/.rayl_history", home);
  using_history();
  stifle_history(S_HISTORY_MAX);
  if (s_repl.history[0])
    read_history(s_repl.history); /* none yet is fine */
  atexit(s_history_save);
}

static bool s_blank(const char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  return *s == '\0';
}

/* ---- evaluation ---- */

/* Shows the error on top of the stack through rayl.repl.report (KeyboardInterrupt
 * after Ctrl-C) and pops it. */
static void s_report(lua_State *L, int sig) {
  s_push_fn(L, "report");
  lua_insert(L, -2);
  lua_pushinteger(L, sig);
  if (rl_cli_docall(L, 2, 0) != 0)
    rl_cli_report(L, 1);
}

/* Hands one line to rayl.repl.feed and runs what it makes of it. *more says whether
 * the chunk continues. Returns 1 to leave the REPL (:quit), 2 on SIGTERM, else 0. */
static int s_feed(lua_State *L, const char *line, bool *more) {
  int top = lua_gettop(L);
  *more = false;
  s_push_fn(L, "feed");
  lua_pushstring(L, line);
  if (rl_cli_docall(L, 1, 2) != 0) {
    s_report(L, rl_cli_take_signal());
    lua_settop(L, top);
    return 0;
  }
  const char *what = lua_tostring(L, top + 1);
  what = what ? what : "";
  *more = strcmp(what, "more") == 0;
  int leave = strcmp(what, "quit") == 0;
  if (strcmp(what, "run") != 0) {
    lua_settop(L, top);
    return leave;
  }
  lua_remove(L, top + 1); /* the chunk */
  int status = rl_cli_docall(L, 0, LUA_MULTRET);
  if (status == 0) {
    s_push_fn(L, "show");
    lua_insert(L, top + 1);
    status = rl_cli_docall(L, lua_gettop(L) - top - 1, 0);
  }
  int sig = rl_cli_take_signal();
  if (status != 0)
    s_report(L, sig);
  lua_settop(L, top);
  return sig == SIGTERM ? 2 : 0;
}

/* ---- the loop ---- */

static void s_setup_editing(void) {
  rl_readline_name = "rayl"; /* ~/.editrc lines may start "rayl:" */
  rl_catch_signals = 0;      /* ours: libedit's would signal the whole process group */
  rl_attempted_completion_function = s_complete;
  rl_basic_word_break_characters = s_word_breaks;
  rl_completer_word_break_characters = s_word_breaks;
  rl_initialize();
  s_history_open();
}

int rl_cli_repl_run(lua_State *L, const char *address) {
  int top = lua_gettop(L);
  s_repl.L = L;
  s_repl.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "rayl.repl");
  if (rl_cli_report(L, rl_cli_docall(L, 1, 1)))
    return 1;
  s_repl.mod = luaL_ref(L, LUA_REGISTRYINDEX);
  s_push_fn(L, "start");
  lua_pushstring(L, address);
  lua_pushboolean(L, s_repl.tty);
  int status = rl_cli_report(L, rl_cli_docall(L, 2, 1));
  if (status == 0 && lua_isstring(L, -1))
    rl_cli_message(lua_tostring(L, -1)); /* cannot connect */
  if (status != 0 || !lua_isnil(L, -1)) {
    lua_settop(L, top);
    luaL_unref(L, LUA_REGISTRYINDEX, s_repl.mod);
    return 1;
  }
  lua_pop(L, 1);
  if (s_repl.tty)
    s_setup_editing();
  rl_cli_set_interactive(true);
  int code = 0;
  bool more = false;
  for (;;) {
    fflush(stdout);
    fflush(stderr);
    char *line = NULL;
    s_input_t got = s_repl.tty ? s_read_edited(more ? s_continue : s_prompt, &line) : s_read_plain(&line);
    if (got == S_CANCEL) { /* Ctrl-C at the prompt: drop the chunk being typed */
      if (s_repl.tty)
        fputs("^C\n", stdout);
      s_push_fn(L, "cancel");
      rl_cli_report(L, rl_cli_docall(L, 0, 0));
      more = false;
      continue;
    }
    if (got != S_LINE) {
      if (s_repl.tty && got == S_EOF)
        fputs("\n", stdout);
      code = got == S_TERM ? 128 + SIGTERM : 0;
      break;
    }
    if (s_repl.tty && !s_blank(line))
      add_history(line);
    int leave = s_feed(L, line, &more);
    free(line);
    if (leave) {
      code = leave == 2 ? 128 + SIGTERM : 0;
      break;
    }
  }
  rl_cli_set_interactive(false);
  if (s_repl.tty)
    s_history_save();
  s_free_matches();
  s_push_fn(L, "stop");
  if (rl_cli_report(L, rl_cli_docall(L, 0, 0)) && code == 0)
    code = 1;
  luaL_unref(L, LUA_REGISTRYINDEX, s_repl.mod);
  return code;
}

/* ---- rayl repl [--address A] ---- */

typedef struct {
  int argc;
  char **argv;
  const char *address;
  int exit_code;
} s_run_t;

static int s_pmain(lua_State *L) {
  s_run_t *r = lua_touserdata(L, 1);
  lua_pop(L, 1);
  rl_cli_setup_state(L);
  rl_cli_create_arg_table(L, r->argc, r->argv, 0);
  r->exit_code = rl_cli_repl_run(L, r->address);
  return 0;
}

static const char s_usage[] =
    "usage: rayl repl [--address HOST:PORT|auto]\n"
    "An interactive Lua prompt connected to a cluster: the one at --address, else the\n"
    "one RAYL_ADDRESS names, else a private local cluster that stops when you leave.\n"
    "`rayl` with no script on a terminal does the same. Type :help inside.\n";

int rl_cli_repl(int argc, char **argv) {
  s_run_t r = {argc, argv, NULL, 1};
  const rl_cli_option_t opts[] = {{"--address", &r.address, NULL}};
  int rc = rl_cli_options("repl", s_usage, argc, argv, opts, 1);
  if (rc >= 0) return rc;
  lua_State *L = rl_cli_open();
  if (!L)
    return 1;
  int status = rl_cli_report(L, rl_lua_cpcall(L, s_pmain, &r));
  lua_close(L);
  return rl_cli_exit_code(status ? 1 : r.exit_code);
}
