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

/* Fails t with what a Lua call that ended with status (not 0) left on top of co. An
 * allocation failure that escaped rayl.worker's own handling (no room even to build
 * the error there) is an OutOfMemoryError. */
static void s_fail(rl_cw_t *cw, lua_State *L, lua_State *co, const rl_cw_task_t *t, int status) {
  char err[S_ERR];
  snprintf(err, sizeof err, "%s", lua_isstring(co, -1) ? lua_tostring(co, -1) : "internal error");
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

/* Runs t to the end on the main state (tasks and one-at-a-time actors). */
static void s_run(rl_cw_t *cw, lua_State *L, const rl_cw_task_t *t) {
  int base = lua_gettop(L);
  int nargs = rl_task_prepare(cw, L, t);
  if (nargs < 0) return;
  int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
  if (status != 0) {
    s_fail(cw, L, L, t, status);
    lua_settop(L, base);
    return;
  }
  rl_task_complete(cw, L, base, t);
}

/* Resumes call i; when it ends, reports it and removes it. */
static void s_resume(rl_cw_t *cw, lua_State *L, s_calls_t *calls, int i, int nargs) {
  s_call_t *c = &calls->calls[i];
  rl_cw_set_current(cw, c->t);
  int rc = lua_resume(c->co, nargs);
  rl_cw_set_current(cw, NULL);
  if (rc == LUA_YIELD) {
    lua_settop(c->co, 0);
    return;
  }
  if (rc == 0) {
    rl_task_complete(cw, c->co, 0, c->t);
  } else {
    s_fail(cw, L, c->co, c->t, rc);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
  /* Keep arrival order: waiting calls are resumed oldest first. */
  memmove(&calls->calls[i], &calls->calls[i + 1], (size_t)(calls->n - i - 1) * sizeof *c);
  calls->n--;
}

/* Starts t in a new coroutine (marked in rayl.worker.threads so rayl.get yields). */
static void s_start(rl_cw_t *cw, lua_State *L, s_calls_t *calls, const rl_cw_task_t *t) {
  lua_State *co = lua_newthread(L);
  lua_getfield(L, LUA_REGISTRYINDEX, "rayl.task_threads");
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  int nargs = rl_task_prepare(cw, co, t);
  if (nargs < 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return;
  }
  calls->calls[calls->n++] = (s_call_t){co, ref, t};
  s_resume(cw, L, calls, calls->n - 1, nargs);
}

static int s_concurrency(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "rayl.concurrency");
  lua_call(L, 0, 1);
  int n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return n < 1 ? 1 : n > S_MAX_CONCURRENCY ? S_MAX_CONCURRENCY : n;
}

static void s_loop(rl_cw_t *cw, lua_State *L) {
  static s_calls_t calls = {.max = 1};
  pid_t parent = getppid();
  bool collected = true;
  int64_t parent_checked_ms = 0, busy_ms = 0; /* busy_ms: when the last task ran */
  for (;;) {
    /* The node manager still there? (a system call: looked at every S_PARENT_CHECK_MS,
     * not between every two tasks) */
    int64_t now_ms = rl_now_ms();
    if (now_ms - parent_checked_ms >= S_PARENT_CHECK_MS) {
      if (getppid() != parent) break;
      parent_checked_ms = now_ms;
    }
    const rl_cw_task_t *t = NULL;
    if (calls.n < calls.max && (t = rl_cw_next_task(cw))) {
      if (calls.max == 1) {
        bool creation = t->kind == RL_KIND_ACTOR_CREATE; /* t is freed once it finishes */
        s_run(cw, L, t);
        if (creation) calls.max = s_concurrency(L);
        /* ObjectRefs the task dropped must be released now, not at some later
         * collection: their owners wait for this worker to let go. */
        if (rl_cw_object_count(cw) > 0) lua_gc(L, LUA_GCCOLLECT, 0);
      } else {
        s_start(cw, L, &calls, t);
      }
      collected = false;
      busy_ms = rl_now_ms();
      continue;
    }
    if (calls.n > 0) {
      /* Suspended calls wait for objects: look again whenever something arrives. */
      rl_cw_poll_wait(cw, 5);
      for (int i = 0; i < calls.n;) {
        int before = calls.n;
        s_resume(cw, L, &calls, i, 0);
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
      lua_gc(L, LUA_GCCOLLECT, 0);
      malloc_trim(0);
      collected = true;
    }
  }
}

/* Loads the worker's Lua side (everything that does not need the node manager), so a
 * zygote can do it once for all the workers it forks. Returns 0, or -1 (reported). */
static int s_prepare_lua(lua_State *L) {
  rl_host_open_libs(L);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "rayl.functions");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "rayl.worker");
  if (lua_pcall(L, 1, 1, 0) != 0) {
    fprintf(stderr, "rayl worker: cannot load rayl.worker: %s\n", lua_tostring(L, -1));
    return -1;
  }
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

/* Applies the runtime_env this worker was started for (RAYL_RUNTIME_ENV: working dir,
 * environment). If that fails, every task it is given fails with RuntimeEnvSetupError
 * (rayl.runtime_env_error in the registry) instead of running without its set-up. */
static void s_setup_runtime_env(lua_State *L, const char *spec, const char *session) {
  lua_getfield(L, LUA_REGISTRYINDEX, "rayl.setup_runtime_env");
  lua_pushstring(L, spec);
  lua_pushstring(L, session);
  if (lua_pcall(L, 2, 1, 0) != 0 || lua_isstring(L, -1)) {
    char shown[512];
    rl_log(RL_LOG_ERROR, "cannot set up the runtime_env {%s}: %s", rl_renv_redact(spec, shown, sizeof shown),
           lua_tostring(L, -1));
    lua_setfield(L, LUA_REGISTRYINDEX, "rayl.runtime_env_error");
    return;
  }
  lua_pop(L, 1);
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
  if (spec && *spec) s_setup_runtime_env(L, spec, session);
  s_default_threads();
  s_loop(cw, L);
  rl_cw_destroy(&rl_host.cw);
  return 0;
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
  if (!L || s_prepare_lua(L) != 0) return 1;
  /* A zygote returns here only in the workers it forks. */
  if (zygote && rl_zygote_serve() == 0) return 0;
  int rc = s_serve(L, node, session);
  lua_close(L);
  return rc;
}
