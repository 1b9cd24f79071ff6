/* task_runner.c: one task on a Lua state: its function and arguments pushed, its
 * results or error encoded and sent back. */
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "host/host.h"
#include "host/pcall.h"
#include "host/task_runner.h"
#include "wire/proto.h"

#define S_ERR 512

typedef struct {
  rl_encoded_t **enc;
} s_results_t;

static void s_copy_result(void *ctx, size_t i, void *dst) {
  s_results_t *r = ctx;
  rl_encoded_copy(r->enc[i], dst);
}

void rl_task_fail(rl_cw_t *cw, lua_State *L, const rl_cw_task_t *t, const char *type, const char *message) {
  rl_host_push_error(L, type, message);
  char err[S_ERR];
  rl_encoded_t *enc = rl_codec_encode(L, -1, "an error", NULL, err, sizeof err);
  lua_pop(L, 1);
  size_t len = enc ? rl_encoded_size(enc) : 0;
  s_results_t r = {&enc};
  rl_cw_task_finish(cw, t, true, &len, enc ? 1 : 0, s_copy_result, &r, NULL, NULL, 0, err, sizeof err);
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

/* A task holding another number of CPUs than the last one: size the math libraries'
 * thread pools to it (unless the user set them), in the environment (for libraries
 * loaded from now on, and child processes) and through the Lua layer's hook (rayl.torch,
 * once loaded). */
static void s_task_cpus(lua_State *L, double cpus) {
  rl_host.task_cpus = cpus;
  if (rl_host.threads_auto) {
    char n[32];
    snprintf(n, sizeof n, "%d", cpus > 1 ? (int)ceil(cpus) : 1);
    setenv("OMP_NUM_THREADS", n, 1);
    setenv("OPENBLAS_NUM_THREADS", n, 1);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, RL_TASK_CPUS_HOOK);
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  lua_pushnumber(L, cpus);
  if (rl_lua_pcall(L, 1, 0) != 0) {
    rl_log(RL_LOG_WARN, "cannot size the thread pools for %g CPUs: %s", cpus, rl_lua_errtext(L));
    lua_pop(L, 1);
  }
}

int rl_task_prepare(rl_cw_t *cw, lua_State *L, const rl_cw_task_t *t) {
  int base = lua_gettop(L);
  char err[S_ERR];
  if (t->num_cpus >= 0 && t->num_cpus != rl_host.task_cpus) s_task_cpus(L, t->num_cpus);
  lua_getfield(L, LUA_REGISTRYINDEX, "rayl.runtime_env_error");
  if (lua_isstring(L, -1)) {
    snprintf(err, sizeof err, "%s", lua_tostring(L, -1));
    lua_settop(L, base);
    rl_task_fail(cw, L, t, "RuntimeEnvSetupError", err);
    return -1;
  }
  lua_pop(L, 1);
  static const char *entries[] = {"rayl.run_task", "rayl.create_actor", "rayl.call_actor"};
  lua_getfield(L, LUA_REGISTRYINDEX, entries[t->kind]);
  if (t->kind == RL_KIND_ACTOR_METHOD) {
    lua_pushstring(L, t->method);
  } else if (s_push_function(L, t, err, sizeof err) != 0) {
    lua_settop(L, base);
    rl_task_fail(cw, L, t, "TaskError", err);
    return -1;
  }
  if (t->cancelled) {
    lua_settop(L, base);
    rl_task_fail(cw, L, t, "TaskCancelledError", "the task was cancelled (rayl.cancel) before it started");
    return -1;
  }
  lua_pushstring(L, t->name);
  luaL_checkstack(L, (int)t->nargs + 8, "too many arguments");
  for (size_t i = 0; i < t->nargs; i++) {
    rl_cw_value_t v;
    /* The reason: err if the argument could not be had, the decoder's message (on the
     * stack) if it could not be read. */
    bool had = rl_cw_task_arg(cw, t, i, &v, err, sizeof err) == 0;
    if (!had || rl_host_push_value(L, &v) != 0) {
      char msg[S_ERR + 64];
      snprintf(msg, sizeof msg, "cannot read argument %zu: %s", i + 1,
               had && lua_isstring(L, -1) ? lua_tostring(L, -1) : err);
      lua_settop(L, base);
      rl_task_fail(cw, L, t, "SerializationError", msg);
      return -1;
    }
  }
  return 2 + (int)t->nargs;
}

void rl_task_complete(rl_cw_t *cw, lua_State *L, int base, const rl_cw_task_t *t) {
  char err[S_ERR];
  int nres = lua_gettop(L) - base - 1;
  bool ok = lua_toboolean(L, base + 1);
  int want = ok ? t->num_returns : 1;
  if (ok && t->num_returns > 1 && nres != t->num_returns) {
    snprintf(err, sizeof err, "task '%s' returned %d values but num_returns is %d", t->name, nres,
             t->num_returns);
    lua_settop(L, base);
    rl_task_fail(cw, L, t, "TaskError", err);
    return;
  }
  rl_encoded_t *stack_enc[8], **enc = want <= 8 ? stack_enc : rl_xcalloc((size_t)want, sizeof *enc);
  size_t stack_len[8], *lens = want <= 8 ? stack_len : rl_xcalloc((size_t)want, sizeof *lens);
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
    rl_cw_task_finish(cw, t, !ok, lens, (size_t)want, s_copy_result, &r, refs.ids,
                      (const char(*)[RL_ENDPOINT_MAX])refs.owners, refs.n, err, sizeof err);
  }
  rl_reflist_free(&refs);
  for (int i = 0; i < encoded; i++) rl_encoded_destroy(&enc[i]);
  if (enc != stack_enc) free(enc);
  if (lens != stack_len) free(lens);
  lua_settop(L, base);
  if (encoded != want) rl_task_fail(cw, L, t, "SerializationError", err);
}

