/* worker_main.c: a worker process: one LuaJIT state running the tasks pushed to it in
 * arrival order, one at a time, or as coroutines in a concurrent actor. */
#include "host/worker_main.h"

#include <lauxlib.h>
#include <lualib.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/memory.h"
#include "host/host.h"
#include "host/pcall.h"
#include "host/task_runner.h"
#include "host/zygote.h"
#include "net/key.h"
#include "renv/redact.h"
#include "wire/proto.h"

#define S_ERR 512

/* A call of a concurrent actor, running in its own coroutine. */
typedef struct {
  lua_State *co;
  int ref; /* keeps the coroutine alive */
  const rl_cw_task_t *t;
} s_call_t;

#define S_MAX_CONCURRENCY 1024
/* How often the task loop looks whether its node manager (its parent) is gone. */
#define S_PARENT_CHECK_MS 100
/* A worker this long without a task collects its garbage and trims its heap. */
#define S_IDLE_MS 900

typedef struct {
  s_call_t calls[S_MAX_CONCURRENCY];
  int n;
  int max; /* the actor's max_concurrency; 1 for tasks and plain actors */
} s_calls_t;

/* The task loop's state, kept across a restart of the loop after an error escaped it. */
typedef struct {
  rl_cw_t *cw;
  pid_t parent;                 /* the node manager */
  const rl_cw_task_t *inflight; /* started on the main state and not yet reported */
} s_loop_t;

/* Fails t after a Lua call that ended with status (not 0) and error text err. An
 * allocation failure that escaped rayl.worker's own handling (no room even to build
 * the error there) is an OutOfMemoryError. */
static void s_fail(rl_cw_t *cw, lua_State *L, const rl_cw_task_t *t, int status, const char *err) {
  if (status != LUA_ERRMEM) {
    rl_task_fail(cw, L, t, "TaskError", err);
    return;
  }
  lua_gc(L, LUA_GCCOLLECT, 0);
  char limit[200], node[RL_ID_HEX], msg[S_ERR + 300];
  rl_mem_limit_describe(limit, sizeof limit);
  snprintf(msg, sizeof msg,
           "task %s ran out of memory in worker pid %d on node %s: LuaJIT could not allocate more (%s); "
           "memory limit: %s",
           t->name, (int)getpid(), rl_id_hex(rl_cw_node_id(cw), node), err, limit);
  rl_task_fail(cw, L, t, "OutOfMemoryError", msg);
}

/* s_fail with the error text on top of co. */
static void s_fail_top(rl_cw_t *cw, lua_State *L, lua_State *co, const rl_cw_task_t *t, int status) {
  char err[S_ERR];
  snprintf(err, sizeof err, "%s", lua_isstring(co, -1) ? lua_tostring(co, -1) : "internal error");
  s_fail(cw, L, t, status, err);
}

/* Runs t to the end on the main state (tasks and one-at-a-time actors). */
static void s_run(s_loop_t *lp, lua_State *L, const rl_cw_task_t *t) {
  int base = lua_gettop(L);
  lp->inflight = t;
  int nargs = rl_task_prepare(lp->cw, L, t);
  if (nargs < 0) {
    lp->inflight = NULL;
    return;
  }
  int status = rl_lua_pcall(L, nargs, LUA_MULTRET);
  if (status != 0) {
    s_fail_top(lp->cw, L, L, t, status);
    lua_settop(L, base);
  } else {
    rl_task_complete(lp->cw, L, base, t);
  }
  lp->inflight = NULL;
}

/* Resumes call i; when it ends, removes it and reports it from the main state (an
 * error there escapes to the loop's protected call, with the task in flight). */
static void s_resume(s_loop_t *lp, lua_State *L, s_calls_t *calls, int i, int nargs) {
  s_call_t c = calls->calls[i];
  rl_cw_set_current(lp->cw, c.t);
  int rc = lua_resume(c.co, nargs);
  rl_cw_set_current(lp->cw, NULL);
  if (rc == LUA_YIELD) {
    lua_settop(c.co, 0);
    return;
  }
  /* Keep arrival order: waiting calls are resumed oldest first. */
  memmove(&calls->calls[i], &calls->calls[i + 1], (size_t)(calls->n - i - 1) * sizeof c);
  calls->n--;
  lp->inflight = c.t;
  if (rc == 0) {
    int base = lua_gettop(L);
    lua_xmove(c.co, L, lua_gettop(c.co));
    rl_task_complete(lp->cw, L, base, c.t);
  } else {
    s_fail_top(lp->cw, L, c.co, c.t, rc);
  }
  lp->inflight = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, c.ref);
}

/* Starts t in a new coroutine (marked in rayl.worker.threads so rayl.get yields). Its
 * entry and arguments are built on the main state (protected) and moved over. */
static void s_start(s_loop_t *lp, lua_State *L, s_calls_t *calls, const rl_cw_task_t *t) {
  lp->inflight = t;
  lua_State *co = lua_newthread(L);
  lua_getfield(L, LUA_REGISTRYINDEX, "rayl.task_threads");
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  int nargs = rl_task_prepare(lp->cw, L, t);
  if (nargs < 0) {
    lp->inflight = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return;
  }
  lua_xmove(L, co, nargs + 1);
  calls->calls[calls->n++] = (s_call_t){co, ref, t};
  lp->inflight = NULL;
  s_resume(lp, L, calls, calls->n - 1, nargs);
}

/* The actor's max_concurrency, from rayl.worker; 1 (logged) if that fails. */
static int s_concurrency(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "rayl.concurrency");
  if (rl_lua_pcall(L, 0, 1) != 0) {
    rl_log(RL_LOG_ERROR, "cannot read the actor's max_concurrency (running one call at a time): %s",
           rl_lua_errtext(L));
    lua_pop(L, 1);
    return 1;
  }
  int n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return n < 1 ? 1 : n > S_MAX_CONCURRENCY ? S_MAX_CONCURRENCY : n;
}

/* The task loop; runs under rl_lua_cpcall (s_loop_protected) until the node manager is
 * gone. Its state survives an error that escapes it (the loop is entered again). */
static void s_loop(s_loop_t *lp, lua_State *L) {
  static s_calls_t calls = {.max = 1};
  rl_cw_t *cw = lp->cw;
  bool collected = true;
  int64_t parent_checked_ms = 0, busy_ms = 0; /* busy_ms: when the last task ran */
  for (;;) {
    /* The node manager still there? (a system call: looked at every S_PARENT_CHECK_MS,
     * not between every two tasks) */
    int64_t now_ms = rl_now_ms();
    if (now_ms - parent_checked_ms >= S_PARENT_CHECK_MS) {
      if (getppid() != lp->parent) break;
      parent_checked_ms = now_ms;
    }
    const rl_cw_task_t *t = NULL;
    if (calls.n < calls.max && (t = rl_cw_next_task(cw))) {
      if (calls.max == 1) {
        bool creation = t->kind == RL_KIND_ACTOR_CREATE; /* t is freed once it finishes */
        collected = false;
        s_run(lp, L, t);
        if (creation) calls.max = s_concurrency(L);
        /* ObjectRefs the task dropped must be released now, not at some later
         * collection: their owners wait for this worker to let go. */
        if (rl_cw_object_count(cw) > 0) lua_gc(L, LUA_GCCOLLECT, 0);
      } else {
        collected = false;
        s_start(lp, L, &calls, t);
      }
      busy_ms = rl_now_ms();
      continue;
    }
    if (calls.n > 0) {
      /* Suspended calls wait for objects: look again whenever something arrives. */
      rl_cw_poll_wait(cw, 5);
      for (int i = 0; i < calls.n;) {
        int before = calls.n;
        s_resume(lp, L, &calls, i, 0);
        if (calls.n == before) i++; /* still running; else the next one moved into i */
      }
      busy_ms = rl_now_ms();
      continue;
    }
    rl_cw_poll(cw, 1000);
    if (!collected && rl_now_ms() - busy_ms >= S_IDLE_MS) {
      /* No task for a while (messages may have come): give back what the last tasks
       * left behind, Lua's garbage and then the free pages malloc keeps (in every
       * thread's arena). */
      collected = true;
      lua_gc(L, LUA_GCCOLLECT, 0);
      malloc_trim(0);
    }
  }
}

static int s_loop_protected(lua_State *L) {
  s_loop(lua_touserdata(L, 1), L);
  return 0;
}

typedef struct {
  s_loop_t *lp;
  const rl_cw_task_t *t;
  int status;
  const char *err;
} s_late_fail_t;

static int s_late_fail_protected(lua_State *L) {
  s_late_fail_t *f = lua_touserdata(L, 1);
  s_fail(f->lp->cw, L, f->t, f->status, f->err);
  return 0;
}

/* Runs the task loop until the node manager is gone. A Lua error that escapes it (an
 * error in a __gc finalizer during a collection, an allocation failure while a task's
 * arguments or results were handled) is logged with its traceback; the task it hit, if
 * any, fails with it; the loop goes on. If even that report fails, the worker exits
 * (its node manager reports the task's worker as dead). */
static int s_run_loop(rl_cw_t *cw, lua_State *L) {
  s_loop_t lp = {cw, getppid(), NULL};
  for (;;) {
    int status = rl_lua_cpcall(L, s_loop_protected, &lp);
    if (status == 0) return 0;
    char err[S_ERR];
    snprintf(err, sizeof err, "%s", rl_lua_errtext(L));
    lua_pop(L, 1);
    rl_log(RL_LOG_ERROR, "a Lua error outside the task's own code, in the worker's loop: %s", err);
    const rl_cw_task_t *t = lp.inflight;
    lp.inflight = NULL;
    if (!t) continue;
    s_late_fail_t f = {&lp, t, status, err};
    if (rl_lua_cpcall(L, s_late_fail_protected, &f) != 0) {
      rl_log(RL_LOG_ERROR, "cannot report task %s as failed (%s): the worker exits", t->name, rl_lua_errtext(L));
      fprintf(stderr, "rayl worker: cannot report task %s as failed: %s\n", t->name, rl_lua_errtext(L));
      return 1;
    }
  }
}

/* Loads the worker's Lua side (everything that does not need the node manager), so a
 * zygote can do it once for all the workers it forks. Runs under rl_lua_cpcall: an
 * error (rayl.worker failing to load, no memory) comes back as its status. */
static int s_prepare_lua(lua_State *L) {
  rl_host_open_libs(L);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "rayl.functions");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "rayl.worker");
  lua_call(L, 1, 1); /* protected: s_prepare_lua runs under rl_lua_cpcall */
  static const char *entries[][2] = {{"run", "rayl.run_task"},       {"create_actor", "rayl.create_actor"},
                                     {"call_actor", "rayl.call_actor"}, {"threads", "rayl.task_threads"},
                                     {"concurrency", "rayl.concurrency"},
                                     {"setup_runtime_env", "rayl.setup_runtime_env"}};
  for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
    lua_getfield(L, -1, entries[i][0]);
    lua_setfield(L, LUA_REGISTRYINDEX, entries[i][1]);
  }
  lua_pop(L, 1);
  return 0;
}

typedef struct {
  const char *spec, *session;
} s_renv_t;

/* Applies the runtime_env this worker was started for (RAYL_RUNTIME_ENV: working dir,
 * environment). If that fails, every task it is given fails with RuntimeEnvSetupError
 * (rayl.runtime_env_error in the registry) instead of running without its set-up.
 * Runs under rl_lua_cpcall (ud: an s_renv_t). */
static int s_setup_runtime_env(lua_State *L) {
  const s_renv_t *r = lua_touserdata(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "rayl.setup_runtime_env");
  lua_pushstring(L, r->spec);
  lua_pushstring(L, r->session);
  if (rl_lua_pcall(L, 2, 1) != 0 || lua_isstring(L, -1)) {
    char shown[512];
    rl_log(RL_LOG_ERROR, "cannot set up the runtime_env {%s}: %s", rl_renv_redact(r->spec, shown, sizeof shown),
           rl_lua_errtext(L));
    if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushstring(L, "the runtime_env set-up raised an error that is not a string");
    }
    lua_setfield(L, LUA_REGISTRYINDEX, "rayl.runtime_env_error");
    return 0;
  }
  lua_pop(L, 1);
  return 0;
}

/* OpenMP and OpenBLAS start a thread per core unless told otherwise, so N workers would
 * start N x cores threads. Unless the user's environment (or runtime_env) sets their
 * thread counts, a worker's start with one thread each and rayl.torch follows the CPUs
 * each task holds (its num_cpus). Children of the worker inherit these. */
static void s_default_threads(void) {
  bool omp = getenv("OMP_NUM_THREADS") != NULL, blas = getenv("OPENBLAS_NUM_THREADS") != NULL;
  if (!omp) setenv("OMP_NUM_THREADS", "1", 1);
  if (!blas) setenv("OPENBLAS_NUM_THREADS", "1", 1);
  rl_host.threads_auto = !omp && !blas;
}

/* Connects to the node manager and runs tasks until it goes away. */
static int s_serve(lua_State *L, const char *node, const char *session) {
  char path[400], err[S_ERR];
  snprintf(path, sizeof path, "%s/logs/worker-%d.log", session, (int)getpid());
  rl_log_open("worker", path);
  rl_cw_t *cw = rl_cw_new(node, 1 /* RL_CLIENT_WORKER */, 30000, err, sizeof err);
  if (!cw) {
    fprintf(stderr, "rayl worker: %s\n", err);
    return 1;
  }
  rl_host.cw = cw;
  rl_host.L = L;
  rl_cw_set_error_encoder(cw, rl_host_encode_error, L);
  rl_where_install(L, cw);
  const char *spec = getenv("RAYL_RUNTIME_ENV");
  if (spec && *spec && rl_lua_cpcall(L, s_setup_runtime_env, &(s_renv_t){spec, session}) != 0) {
    fprintf(stderr, "rayl worker: cannot set up the runtime_env: %s\n", rl_lua_errtext(L));
    rl_cw_destroy(&rl_host.cw);
    return 1;
  }
  s_default_threads();
  int rc = s_run_loop(cw, L);
  rl_cw_destroy(&rl_host.cw);
  return rc;
}

int rl_worker_main(int argc, char **argv) {
  const char *node = NULL, *session = NULL, *key = NULL;
  bool zygote = false;
  static const char usage[] =
      "usage: rayl worker --node ENDPOINT --session DIR [--cluster-key FILE] [--zygote]\n"
      "Runs one worker (a LuaJIT state that runs tasks and actors). Node managers start\n"
      "workers themselves; run it by hand only to debug.\n";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--zygote")) zygote = true;
    else if (!strcmp(argv[i], "--node") && i + 1 < argc) node = argv[++i];
    else if (!strcmp(argv[i], "--session") && i + 1 < argc) session = argv[++i];
    else if (!strcmp(argv[i], "--cluster-key") && i + 1 < argc) key = argv[++i];
    else {
      fprintf(stderr, "rayl worker: unknown option or missing value: '%s'\n%s", argv[i], usage);
      return 2;
    }
  }
  if (!node || !session) {
    fprintf(stderr, "rayl worker: --node and --session are required\n%s", usage);
    return 2;
  }
  /* Read once here: a zygote's workers are forked holding it (no ZeroMQ context exists
   * before they are: each makes its own). */
  char err[S_ERR];
  if (key && rl_net_key_load(key, err, sizeof err) != 0) {
    fprintf(stderr, "rayl worker: %s\n", err);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  setenv("RAYL_WORKER", "1", 1);
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "rayl worker: cannot create a Lua state: not enough memory\n");
    return 1;
  }
  if (rl_lua_cpcall(L, s_prepare_lua, NULL) != 0) {
    fprintf(stderr, "rayl worker: cannot load rayl.worker: %s\n", rl_lua_errtext(L));
    lua_close(L);
    return 1;
  }
  /* A zygote returns here only in the workers it forks. */
  if (zygote && rl_zygote_serve() == 0) return 0;
  int rc = s_serve(L, node, session);
  lua_close(L);
  return rc;
}
