/* worker_main.c: a worker process: one LuaJIT state running the tasks pushed to it,
 * one at a time, in arrival order. */
#include "host/worker_main.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "host/host.h"
#include "wire/proto.h"

#define S_ERR 512

typedef struct {
  rl_encoded_t **enc;
} s_results_t;

static void s_copy_result(void *ctx, size_t i, void *dst) {
  s_results_t *r = ctx;
  rl_encoded_copy(r->enc[i], dst);
}

/* Reports a failure decided here (not raised by the user's code). */
static void s_fail(rl_cw_t *cw, lua_State *L, const char *type, const char *message) {
  rl_host_push_error(L, type, message);
  char err[S_ERR];
  rl_encoded_t *enc = rl_codec_encode(L, -1, "an error", NULL, err, sizeof err);
  lua_pop(L, 1);
  size_t len = enc ? rl_encoded_size(enc) : 0;
  s_results_t r = {&enc};
  rl_cw_task_finish(cw, true, &len, enc ? 1 : 0, s_copy_result, &r, NULL, NULL, 0, err, sizeof err);
  rl_encoded_destroy(&enc);
}

/* Pushes the task's function, decoding and caching it on first sight. */
static int s_push_function(lua_State *L, const rl_cw_task_t *t, char *err, size_t errlen) {
  lua_getfield(L, LUA_REGISTRYINDEX, "rayl.functions");
  lua_pushlstring(L, t->fn_key, t->fn_key_len);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) {
    lua_remove(L, -2);
    return 0;
  }
  lua_pop(L, 1);
  if (!t->fn) {
    snprintf(err, errlen, "the task's function was not sent to this worker");
    lua_pop(L, 1);
    return -1;
  }
  rl_codec_hooks_t hooks = rl_objref_hooks(NULL);
  /* A task's function, or an actor's class table. */
  if (rl_codec_decode(L, t->fn, t->fn_len, 0, &hooks) != 0 || (!lua_isfunction(L, -1) && !lua_istable(L, -1))) {
    snprintf(err, errlen, "cannot load the task's function: %s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_pop(L, 2);
    return -1;
  }
  lua_pushlstring(L, t->fn_key, t->fn_key_len);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);
  lua_remove(L, -2);
  return 0;
}

static void s_run(rl_cw_t *cw, lua_State *L, const rl_cw_task_t *t) {
  int base = lua_gettop(L);
  char err[S_ERR];
  static const char *entries[] = {"rayl.run_task", "rayl.create_actor", "rayl.call_actor"};
  lua_getfield(L, LUA_REGISTRYINDEX, entries[t->kind]);
  if (t->kind == RL_KIND_ACTOR_METHOD) {
    lua_pushstring(L, t->method);
  } else if (s_push_function(L, t, err, sizeof err) != 0) {
    lua_settop(L, base);
    s_fail(cw, L, "TaskError", err);
    return;
  }
  if (t->cancelled) {
    lua_settop(L, base);
    s_fail(cw, L, "TaskCancelledError", "the task was cancelled (rayl.cancel) before it started");
    return;
  }
  lua_pushstring(L, t->name);
  luaL_checkstack(L, (int)t->nargs + 8, "too many arguments");
  for (size_t i = 0; i < t->nargs; i++) {
    rl_cw_value_t v;
    if (rl_cw_task_arg(cw, i, &v, err, sizeof err) != 0 || rl_host_push_value(L, &v) != 0) {
      char msg[S_ERR + 64];
      snprintf(msg, sizeof msg, "cannot read argument %zu: %s", i + 1,
               lua_isstring(L, -1) ? lua_tostring(L, -1) : err);
      lua_settop(L, base);
      s_fail(cw, L, "SerializationError", msg);
      return;
    }
  }
  if (lua_pcall(L, 2 + (int)t->nargs, LUA_MULTRET, 0) != 0) {
    snprintf(err, sizeof err, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "internal error");
    lua_settop(L, base);
    s_fail(cw, L, "TaskError", err);
    return;
  }
  int nres = lua_gettop(L) - base - 1;
  bool ok = lua_toboolean(L, base + 1);
  int want = ok ? t->num_returns : 1;
  if (ok && t->num_returns > 1 && nres != t->num_returns) {
    snprintf(err, sizeof err, "task '%s' returned %d values but num_returns is %d", t->name, nres,
             t->num_returns);
    lua_settop(L, base);
    s_fail(cw, L, "TaskError", err);
    return;
  }
  rl_encoded_t *stack_enc[8], **enc = want <= 8 ? stack_enc : calloc((size_t)want, sizeof *enc);
  size_t stack_len[8], *lens = want <= 8 ? stack_len : calloc((size_t)want, sizeof *lens);
  if (!enc || !lens) abort();
  int encoded = 0;
  rl_reflist_t refs = {0};
  rl_codec_hooks_t hooks = rl_objref_hooks(&refs);
  for (int i = 0; i < want; i++) {
    int idx = base + 2 + i;
    if (i >= nres) {
      lua_pushnil(L);
      idx = lua_gettop(L);
    }
    enc[i] = rl_codec_encode(L, idx, ok ? "the task's return value" : "the task's error", &hooks, err, sizeof err);
    if (!enc[i]) break;
    lens[i] = rl_encoded_size(enc[i]);
    encoded++;
  }
  if (encoded == want) {
    s_results_t r = {enc};
    rl_cw_task_finish(cw, !ok, lens, (size_t)want, s_copy_result, &r, refs.ids,
                      (const char(*)[RL_ENDPOINT_MAX])refs.owners, refs.n, err, sizeof err);
  }
  rl_reflist_free(&refs);
  for (int i = 0; i < encoded; i++) rl_encoded_destroy(&enc[i]);
  if (enc != stack_enc) free(enc);
  if (lens != stack_len) free(lens);
  lua_settop(L, base);
  if (encoded != want) s_fail(cw, L, "SerializationError", err);
}

int rl_worker_main(int argc, char **argv) {
  const char *node = NULL, *session = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--node")) node = argv[i + 1];
    else if (!strcmp(argv[i], "--session")) session = argv[i + 1];
  }
  if (!node || !session) {
    fprintf(stderr, "usage: rayl worker --node ENDPOINT --session DIR (started by the node manager)\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  char path[400];
  snprintf(path, sizeof path, "%s/logs/worker-%d.log", session, (int)getpid());
  rl_log_open("worker", path);
  setenv("RAYL_WORKER", "1", 1);
  lua_State *L = luaL_newstate();
  if (!L) return 1;
  rl_host_open_libs(L);
  char err[S_ERR];
  rl_cw_t *cw = rl_cw_new(node, 1 /* RL_CLIENT_WORKER */, 30000, err, sizeof err);
  if (!cw) {
    fprintf(stderr, "rayl worker: %s\n", err);
    lua_close(L);
    return 1;
  }
  rl_host.cw = cw;
  rl_host.L = L;
  rl_cw_set_error_encoder(cw, rl_host_encode_error, L);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "rayl.functions");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "rayl.worker");
  if (lua_pcall(L, 1, 1, 0) != 0) {
    fprintf(stderr, "rayl worker: cannot load rayl.worker: %s\n", lua_tostring(L, -1));
    rl_cw_destroy(&rl_host.cw);
    lua_close(L);
    return 1;
  }
  lua_getfield(L, -1, "run");
  lua_setfield(L, LUA_REGISTRYINDEX, "rayl.run_task");
  lua_getfield(L, -1, "create_actor");
  lua_setfield(L, LUA_REGISTRYINDEX, "rayl.create_actor");
  lua_getfield(L, -1, "call_actor");
  lua_setfield(L, LUA_REGISTRYINDEX, "rayl.call_actor");
  lua_pop(L, 1);
  pid_t parent = getppid();
  bool collected = true;
  while (getppid() == parent) {
    const rl_cw_task_t *t = rl_cw_next_task(cw);
    if (t) {
      s_run(cw, L, t);
      /* ObjectRefs the task dropped must be released now, not at some later
       * collection: their owners wait for this worker to let go. */
      if (rl_cw_object_count(cw) > 0) lua_gc(L, LUA_GCCOLLECT, 0);
      collected = false;
      continue;
    }
    int64_t before = rl_now_ms();
    rl_cw_poll(cw, 1000);
    if (!collected && rl_now_ms() - before >= 900) {
      /* Idle for a while: give back what the last tasks left behind. */
      lua_gc(L, LUA_GCCOLLECT, 0);
      collected = true;
    }
  }
  rl_cw_destroy(&rl_host.cw);
  lua_close(L);
  return 0;
}
