/* l_core.c: the rayl.core Lua module: the core worker's operations for lua/rayl/. */
#include "host/l_core.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/memory.h"
#include "common/xalloc.h"
#include "host/host.h"
#include "wire/msg.h"
#include "worker/cluster_client.h"
#include "worker/head_client.h"
#include "wire/proto.h"

#define S_ERR 1024

static void s_shutdown(void) {
  rl_cw_destroy(&rl_host.cw);
  rl_local_cluster_stop(&rl_host.cluster);
}

static void s_atexit(void) { s_shutdown(); }

static void s_attach(lua_State *L, rl_cw_t *cw) {
  rl_host.cw = cw;
  rl_host.L = L;
  rl_cw_set_error_encoder(cw, rl_host_encode_error, L);
  rl_where_install(L, cw);
}

/* core.init{num_cpus=, num_gpus=, resources={k=v}, object_store_memory=, address=,
 *           print_worker_logs=} -> session_dir */
static int l_init(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (rl_host.cw) return luaL_error(L, "rayl is already initialized");
  char err[S_ERR];
  lua_getfield(L, 1, "address");
  const char *address = lua_tostring(L, -1);
  rl_cw_t *cw = NULL;
  if (address) {
    char node[160];
    if (rl_cluster_local_node(address, node, sizeof node, err, sizeof err) == 0)
      cw = rl_cw_new(node, RL_CLIENT_DRIVER, 10000, err, sizeof err);
  } else {
    rl_local_opts_t o = {.num_cpus = -1, .num_gpus = -1};
    const char *bin = getenv("RAYL_BIN");
    o.rayl_bin = bin && *bin ? bin : RL_BIN_DIR "/rayl";
    lua_getfield(L, 1, "num_cpus");
    if (!lua_isnil(L, -1)) o.num_cpus = lua_tonumber(L, -1);
    lua_getfield(L, 1, "num_gpus");
    if (!lua_isnil(L, -1)) o.num_gpus = lua_tonumber(L, -1);
    lua_getfield(L, 1, "object_store_memory");
    o.object_store_memory = (size_t)lua_tonumber(L, -1);
    lua_pop(L, 3);
    static char specs[16][80];
    rl_resources_t custom;
    lua_getfield(L, 1, "resources");
    rl_host_read_resources(L, -1, "rayl.init's resources", &custom);
    lua_pop(L, 1);
    if (custom.n > RL_RES_MAX - 3) /* a node also has CPU, GPU and memory */
      return rl_host_raise(L, "ValueError", "rayl.init's resources: at most %d custom resources, got %d",
                           RL_RES_MAX - 3, custom.n);
    for (int i = 0; i < custom.n; i++) {
      snprintf(specs[i], sizeof specs[i], "%s=%.17g", custom.r[i].name, (double)custom.r[i].amount / RL_RES_UNIT);
      o.resources[i] = specs[i];
    }
    rl_host.cluster = rl_local_cluster_start(&o, err, sizeof err);
    if (rl_host.cluster) cw = rl_cw_new(rl_local_cluster_node(rl_host.cluster), RL_CLIENT_DRIVER, 10000, err, sizeof err);
    if (!cw) {
      char more[S_ERR + 200];
      if (rl_host.cluster)
        snprintf(more, sizeof more, "%s (logs in %s/logs)", err, rl_local_cluster_session(rl_host.cluster));
      else
        snprintf(more, sizeof more, "%s", err); /* it says where the logs are, if any */
      rl_local_cluster_stop(&rl_host.cluster);
      return luaL_error(L, "rayl.init: cannot start a local cluster: %s", more);
    }
  }
  lua_pop(L, 1);
  if (!cw) return luaL_error(L, "rayl.init: cannot connect to %s: %s", address, err);
  s_attach(L, cw);
  char log_path[400];
  snprintf(log_path, sizeof log_path, "%s/logs/driver-%d.log", rl_cw_session_dir(cw), (int)getpid());
  rl_log_open("driver", log_path);
  lua_getfield(L, 1, "print_worker_logs");
  rl_cw_set_print_worker_logs(cw, lua_isnil(L, -1) || lua_toboolean(L, -1));
  static bool registered;
  if (!registered) atexit(s_atexit);
  registered = true;
  lua_pushstring(L, rl_cw_session_dir(cw));
  return 1;
}

static int l_shutdown(lua_State *L) {
  (void)L;
  s_shutdown();
  return 0;
}

static int l_is_initialized(lua_State *L) {
  lua_pushboolean(L, rl_host.cw != NULL);
  return 1;
}

static uint64_t s_fnv(const char *p, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
  return h;
}

/* core.export(value, what) -> key, blob : the encoding of a function (or an actor's
 * class table) and a content hash of it. */
static int l_export(lua_State *L) {
  luaL_checkany(L, 1);
  const char *what = luaL_optstring(L, 2, "the remote function");
  char err[S_ERR];
  rl_encoded_t *enc = rl_codec_encode(L, 1, what, NULL, err, sizeof err);
  if (!enc) return rl_host_raise(L, "SerializationError", "%s", err);
  size_t len = rl_encoded_size(enc);
  luaL_Buffer b;
  char *tmp = malloc(len ? len : 1); /* user-sized: the encoded function */
  if (!tmp) {
    rl_encoded_destroy(&enc);
    return rl_host_raise(L, "OutOfMemoryError", "no memory for a copy of %s (%zu bytes encoded)", what, len);
  }
  rl_encoded_copy(enc, tmp);
  rl_encoded_destroy(&enc);
  char key[40];
  snprintf(key, sizeof key, "%016llx%016llx", (unsigned long long)s_fnv(tmp, len, 1469598103934665603ull),
           (unsigned long long)s_fnv(tmp, len, 0x9e3779b97f4a7c15ull));
  lua_pushstring(L, key);
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, tmp, len);
  luaL_pushresult(&b);
  free(tmp);
  return 2;
}

/* core.submit(key, blob, opts, ...) -> ref [, ref...] */
static int l_submit(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  size_t key_len, blob_len;
  const char *key = luaL_checklstring(L, 1, &key_len);
  const char *blob = luaL_checklstring(L, 2, &blob_len);
  luaL_checktype(L, 3, LUA_TTABLE);
  int nargs = lua_gettop(L) - 3;
  rl_task_opts_t o = {.max_retries = 3, .num_returns = 1};
  lua_getfield(L, 3, "resources");
  rl_host_read_resources(L, -1, "the task's resources", &o.resources);
  lua_getfield(L, 3, "num_returns");
  if (!lua_isnil(L, -1)) o.num_returns = (int)lua_tointeger(L, -1);
  lua_getfield(L, 3, "max_retries");
  if (!lua_isnil(L, -1)) o.max_retries = (int)lua_tointeger(L, -1);
  lua_getfield(L, 3, "retry_exceptions");
  o.retry_exceptions = lua_toboolean(L, -1);
  lua_getfield(L, 3, "name");
  o.name = lua_tostring(L, -1);
  lua_getfield(L, 3, "strategy");
  rl_host_read_sched(L, -1, &o.sched);
  lua_getfield(L, 3, "runtime_env");
  o.runtime_env = lua_tostring(L, -1);
  if (o.num_returns < 1 || o.num_returns > 1024)
    return rl_host_raise(L, "ValueError", "num_returns must be between 1 and 1024 (got %d)", o.num_returns);
  char err[S_ERR];
  rl_host_args_t a;
  if (rl_host_args_encode(L, 4, nargs, &a, err, sizeof err) != 0) {
    rl_host_args_free(&a);
    return rl_host_raise(L, "SerializationError", "%s", err);
  }
  rl_id_t ids_stack[8], *ids = o.num_returns <= 8 ? ids_stack : calloc((size_t)o.num_returns, sizeof *ids);
  int submitted = ids ? rl_cw_submit(cw, key, key_len, blob, blob_len, a.args, (size_t)nargs, &o, ids, err, sizeof err)
                      : -1;
  rl_host_args_free(&a);
  return rl_host_push_refs(L, ids, ids_stack, o.num_returns, submitted, err);
}

/* Lua's collector does not see the shared memory an ObjectRef holds, so refs to large
 * objects would pile up until the store spills. Count the large bytes this process
 * handles and run a full collection after each sixteenth of the store (so freed memory, whose
 * pages are already mapped, is reused before fresh pages are touched). */
static size_t s_external_bytes;

static void s_note_external(lua_State *L, size_t bytes) {
  if (bytes < RL_INLINE_MAX) return;
  s_external_bytes += bytes;
  if (s_external_bytes > rl_cw_store_size(rl_host.cw) / 16) {
    s_external_bytes = 0;
    lua_gc(L, LUA_GCCOLLECT, 0);
  }
}

/* core.put(value) -> ref */
static int l_put(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  luaL_checkany(L, 1);
  if (rl_objref_test(L, 1))
    return rl_host_raise(L, "ValueError", "rayl.put was given an ObjectRef; pass the value itself");
  char err[S_ERR];
  rl_reflist_t refs = {0};
  rl_codec_hooks_t hooks = rl_objref_hooks(&refs);
  rl_encoded_t *enc = rl_codec_encode(L, 1, "the value passed to put", &hooks, err, sizeof err);
  if (!enc) {
    rl_reflist_free(&refs);
    return rl_host_raise(L, "SerializationError", "%s", err);
  }
  rl_id_t id;
  void *dst;
  size_t len = rl_encoded_size(enc);
  s_note_external(L, len);
  int rc = rl_cw_put(cw, len, refs.ids, (const char(*)[RL_ENDPOINT_MAX])refs.owners, refs.n, &id, &dst, err,
                     sizeof err);
  rl_reflist_free(&refs);
  if (rc != 0) {
    rl_encoded_destroy(&enc);
    return rl_host_raise(L, "OutOfMemoryError", "rayl.put of %zu bytes failed: %s", len, err);
  }
  rl_encoded_copy(enc, dst);
  rl_encoded_destroy(&enc);
  rl_cw_put_seal(cw, &id);
  const char *site = rl_where_call_site(L);
  if (site) rl_cw_set_call_site(cw, &id, site);
  rl_objref_push(L, &id, rl_cw_endpoint(cw));
  rl_cw_ref_drop(cw, &id); /* put counted the caller's handle already */
  return 1;
}

static rl_objref_t *s_checkref(lua_State *L, int idx) {
  rl_objref_t *r = rl_objref_test(L, idx);
  if (!r) luaL_typerror(L, idx, "ObjectRef");
  return r;
}

/* A wait in rayl ended early: the task running here was cancelled (rayl.cancel), or
 * a signal came (Ctrl-C). Raises the matching error. */
static int s_interrupted(lua_State *L, rl_cw_t *cw) {
  if (rl_cw_running_cancelled(cw))
    return rl_host_raise(L, "TaskCancelledError", "the task was cancelled (rayl.cancel) while it waited in rayl");
  rl_interrupted = 0;
  return luaL_error(L, "interrupted");
}

/* core.get(ref, timeout_seconds|nil) -> value, or raises the object's error */
static int l_get(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  rl_objref_t *r = s_checkref(L, 1);
  rl_id_t id = r->id;
  int timeout_ms = rl_host_check_timeout_ms(L, 2, "rayl.get");
  rl_cw_value_t v;
  char err[S_ERR];
  int rc = rl_cw_get(cw, &id, timeout_ms, &v, err, sizeof err);
  if (rc == 1) {
    char hex[RL_ID_HEX];
    return rl_host_raise(L, "GetTimeoutError", "rayl.get timed out after %g s waiting for ObjectRef(%s)",
                         lua_tonumber(L, 2), rl_id_hex(&id, hex));
  }
  if (rc == 2) {
    return s_interrupted(L, cw);
  }
  if (rc != 0) return rl_host_raise(L, "ObjectLostError", "%s", err);
  int failed = v.state == RL_OBJ_FAILED;
  if (v.pinned) s_note_external(L, v.len);
  if (rl_host_push_value(L, &v) != 0) return rl_host_raise(L, "SerializationError", "%s", lua_tostring(L, -1));
  if (failed) return lua_error(L);
  return 1;
}

/* core.state(ref) -> "pending" | "ready" | "failed" (never blocks) */
static int l_state(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  rl_objref_t *r = s_checkref(L, 1);
  int s = rl_cw_object_state(cw, &r->id);
  lua_pushstring(L, s == RL_OBJ_READY ? "ready" : s == RL_OBJ_FAILED ? "failed" : "pending");
  return 1;
}

/* core.wait(refs, num_returns, timeout_seconds|nil) -> { bool per ref } */
static int l_wait(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t n = lua_objlen(L, 1);
  double num_returns = luaL_checknumber(L, 2);
  if (!(num_returns >= 1 && num_returns <= (double)n) || num_returns != floor(num_returns))
    return rl_host_raise(L, "ValueError", "rayl.wait: num_returns must be a whole number from 1 to %zu, got %g", n,
                         num_returns);
  size_t num = (size_t)num_returns;
  int timeout_ms = rl_host_check_timeout_ms(L, 3, "rayl.wait");
  rl_id_t *ids = rl_xmalloc(n * sizeof *ids);
  bool *ready = rl_xmalloc(n);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 1, (int)i + 1);
    rl_objref_t *r = rl_objref_test(L, -1);
    if (!r) {
      free(ids);
      free(ready);
      return rl_host_raise(L, "ValueError", "rayl.wait: element %zu of the list is not an ObjectRef", i + 1);
    }
    ids[i] = r->id;
    lua_pop(L, 1);
  }
  int rc = rl_cw_wait(cw, ids, n, num, timeout_ms, ready);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushboolean(L, ready[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  free(ids);
  free(ready);
  if (rc == 2) {
    return s_interrupted(L, cw);
  }
  return 1;
}

/* core.cancel(ref, force, recursive) -> true if ref is a task result owned here */
static int l_cancel(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  rl_objref_t *r = s_checkref(L, 1);
  lua_pushboolean(L, rl_cw_cancel(cw, &r->id, lua_toboolean(L, 2), lua_toboolean(L, 3)) == 0);
  return 1;
}

/* core.poll(timeout_ms) : handle what has arrived (0: don't wait) */
static int l_poll(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  if (rl_cw_poll(cw, (int)luaL_optinteger(L, 1, 0))) {
    return s_interrupted(L, cw);
  }
  return 0;
}

static void s_set_id(lua_State *L, const char *field, const rl_id_t *id) {
  char hex[RL_ID_HEX];
  if (rl_id_is_nil(id)) return;
  lua_pushstring(L, rl_id_hex(id, hex));
  lua_setfield(L, -2, field);
}

static int l_context(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  lua_createtable(L, 0, 6);
  s_set_id(L, "node_id", rl_cw_node_id(cw));
  s_set_id(L, "worker_id", rl_cw_worker_id(cw));
  rl_id_t task = rl_cw_current_task(cw);
  s_set_id(L, "task_id", &task);
  lua_pushstring(L, "01000000");
  lua_setfield(L, -2, "job_id");
  lua_pushstring(L, rl_cw_session_dir(cw));
  lua_setfield(L, -2, "session_dir");
  lua_pushinteger(L, getpid());
  lua_setfield(L, -2, "pid");
  return 1;
}

/* core.nodes() -> { {node_id=, endpoint=, alive=, total={}, available={}}... } */
static int l_nodes(lua_State *L) {
  rl_head_t h;
  rl_gcs_nodes_msg_t nodes;
  rl_msg_t reply;
  char err[400];
  rl_head_init_cw(&h, rl_host_cw(L));
  if (rl_head_nodes(&h, &nodes, &reply, 5000, err, sizeof err) != 0)
    return rl_host_raise(L, "RuntimeError", "%s", err);
  lua_createtable(L, (int)nodes.nodes.n, 0);
  for (uint32_t i = 0; i < nodes.nodes.n; i++) {
    const rl_wire_node_info_t *n = &nodes.nodes.v[i];
    lua_createtable(L, 0, 5);
    s_set_id(L, "node_id", &n->node_id);
    lua_pushstring(L, n->endpoint);
    lua_setfield(L, -2, "endpoint");
    lua_pushboolean(L, n->alive);
    lua_setfield(L, -2, "alive");
    rl_host_push_resources(L, &n->total);
    lua_setfield(L, -2, "resources");
    rl_host_push_resources(L, &n->available);
    lua_setfield(L, -2, "available");
    lua_rawseti(L, -2, (int)i + 1);
  }
  rl_msg_close(&reply);
  return 1;
}

static int l_object_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)rl_cw_object_count(rl_host_cw(L)));
  return 1;
}

/* core.task_count() -> tasks and actor calls this process submitted, not finished */
static int l_task_count(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)rl_cw_task_count(rl_host_cw(L)));
  return 1;
}

static int l_set_error_class(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (rl_host.error_mt_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, rl_host.error_mt_ref);
  lua_pushvalue(L, 1);
  rl_host.error_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

static int l_register_class(lua_State *L) {
  luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  rl_codec_register_class(L, lua_tostring(L, 1), 2);
  return 0;
}

static int l_set_cdata_describer(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, RL_CDATA_DESCRIBER);
  return 0;
}

static int l_set_tensor_decoder(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, RL_TENSOR_DECODER);
  return 0;
}

/* core.task_cpus() -> CPUs the running task holds (1 before any), whether the math
 * thread pools follow it (a worker whose user set no thread counts); nil outside
 * workers. */
static int l_task_cpus(lua_State *L) {
  if (!getenv("RAYL_WORKER")) return 0;
  lua_pushnumber(L, rl_host.task_cpus);
  lua_pushboolean(L, rl_host.threads_auto);
  return 2;
}

/* core.on_task_cpus(fn): fn(cpus) runs when a task holding another number of CPUs starts. */
static int l_on_task_cpus(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, RL_TASK_CPUS_HOOK);
  return 0;
}

static int l_is_worker(lua_State *L) {
  lua_pushboolean(L, getenv("RAYL_WORKER") != NULL);
  return 1;
}

/* The methods table of ObjectRef (for the Lua layer to extend). */
static int l_objref_methods(lua_State *L) {
  luaL_getmetatable(L, RL_OBJREF_MT);
  lua_getfield(L, -1, "__index");
  return 1;
}

/* core.memory_limit() -> what limits this process's memory, e.g. "256.0 MiB (RLIMIT_AS of
 * the process)" or "none set (the machine has 23.5 GiB)" */
static int l_memory_limit(lua_State *L) {
  char out[200];
  rl_mem_limit_describe(out, sizeof out);
  lua_pushstring(L, out);
  return 1;
}

/* core.now() -> monotonic seconds */
static int l_now(lua_State *L) {
  lua_pushnumber(L, (double)rl_now_us() / 1e6);
  return 1;
}

static const luaL_Reg s_funcs[] = {
    {"now", l_now},
    {"init", l_init},
    {"shutdown", l_shutdown},
    {"is_initialized", l_is_initialized},
    {"is_worker", l_is_worker},
    {"export", l_export},
    {"submit", l_submit},
    {"put", l_put},
    {"get", l_get},
    {"state", l_state},
    {"wait", l_wait},
    {"cancel", l_cancel},
    {"poll", l_poll},
    {"context", l_context},
    {"memory_limit", l_memory_limit},
    {"nodes", l_nodes},
    {"object_count", l_object_count},
    {"task_count", l_task_count},
    {"set_error_class", l_set_error_class},
    {"register_class", l_register_class},
    {"set_cdata_describer", l_set_cdata_describer},
    {"set_tensor_decoder", l_set_tensor_decoder},
    {"task_cpus", l_task_cpus},
    {"on_task_cpus", l_on_task_cpus},
    {"objref_methods", l_objref_methods},
    {NULL, NULL},
};

int luaopen_rayl_core(lua_State *L) {
  rl_objref_open(L);
  lua_newtable(L);
  luaL_register(L, NULL, s_funcs);
  rl_l_actor_open(L);
  rl_l_renv_open(L);
  rl_l_pg_open(L);
  rl_l_state_open(L);
  rl_l_cuda_open(L);
  rl_l_obs_open(L);
  rl_codec_open(L);
  lua_pushstring(L, RL_VERSION);
  lua_setfield(L, -2, "version");
  /* Where this build's libraries are (librayl_torch.so for rayl.torch). */
  lua_pushstring(L, RL_BIN_DIR "/../lib");
  lua_setfield(L, -2, "lib_dir");
  return 1;
}
