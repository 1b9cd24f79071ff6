/* l_renv.c: rayl.core functions for jobs and runtime_env: requests to the head from
 * Lua (the `rayl job` commands, working_dir uploads), working_dir packages, and the
 * process set-up a runtime_env asks of a worker (folder, environment). Replies come
 * decoded from worker/head_client.h. */
#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "host/host.h"
#include "net/secure.h"
#include "renv/package.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "worker/cluster_client.h"
#include "worker/head_client.h"

/* The socket to the last head asked by endpoint (the CLI asks the same head again
 * and again). */
static rl_head_t s_last;

/* The way to the head: endpoint's (arg 1), or (nil) this process's cluster's. Returns
 * 0, or -1 with err. */
static int s_head(lua_State *L, rl_head_t **h, char *err, size_t errlen) {
  const char *endpoint = luaL_optstring(L, 1, NULL);
  static rl_head_t cw_head;
  if (!endpoint) {
    if (!rl_host.cw) {
      snprintf(err, errlen, "no head address given and rayl is not initialized");
      return -1;
    }
    rl_head_init_cw(&cw_head, rl_host.cw);
    *h = &cw_head;
    return 0;
  }
  *h = &s_last;
  if (s_last.sock && !strcmp(rl_head_endpoint(&s_last), endpoint)) return 0;
  rl_head_close(&s_last);
  if (rl_cluster_use_key(endpoint, NULL, err, errlen) < 0) rl_log(RL_LOG_WARN, "%s", err);
  return rl_head_connect(&s_last, endpoint, err, errlen);
}

/* The timeout of a head request (arg 2; default 5 s). */
static int s_timeout(lua_State *L) { return (int)luaL_optinteger(L, 2, 5000); }

/* Pushes nil, err, true (the head did not answer): 3 results. */
static int s_unreachable(lua_State *L, const char *err) {
  lua_pushnil(L);
  lua_pushstring(L, err);
  lua_pushboolean(L, 1);
  return 3;
}

/* Pushes nil, the head's error: 2 results. */
static int s_refused(lua_State *L, const rl_wire_bytes_t *error) {
  lua_pushnil(L);
  lua_pushlstring(L, error->p, error->n);
  return 2;
}

static void s_push_job(lua_State *L, const rl_wire_job_t *j) {
  lua_createtable(L, 0, 8);
  rl_host_setfield_str(L, "submission_id", j->submission_id.p, j->submission_id.n);
  rl_host_setfield_str(L, "status", j->status.p, j->status.n);
  rl_host_setfield_str(L, "entrypoint", j->entrypoint.p, j->entrypoint.n);
  rl_host_setfield_str(L, "message", j->message.p, j->message.n);
  rl_host_setfield_num(L, "start_time", (double)j->start_ms);
  rl_host_setfield_num(L, "end_time", (double)j->end_ms);
  rl_host_setfield_num(L, "driver_pid", (double)j->driver_pid);
  rl_host_setfield_str(L, "runtime_env", j->runtime_env.p, j->runtime_env.n);
}

/* A JOB_REPLY's results: job | nil, error. Closes reply. */
static int s_job_result(lua_State *L, rl_gcs_job_reply_msg_t *r, rl_msg_t *reply) {
  int n = 1;
  if (r->has_job) s_push_job(L, &r->job);
  else n = s_refused(L, &r->error);
  rl_msg_close(reply);
  return n;
}

/* A string field of the table at idx, or "" when absent. */
static rl_wire_bytes_t s_opt_field(lua_State *L, int idx, const char *k) {
  rl_wire_bytes_t s = {"", 0};
  lua_getfield(L, idx, k);
  if (!lua_isnil(L, -1)) s.p = luaL_checklstring(L, -1, &s.n);
  lua_pop(L, 1); /* the string stays referenced by the table */
  return s;
}

/* core.head_job_submit(endpoint|nil, timeout_ms|nil, {submission_id=, entrypoint={...},
 *   runtime_env=, working_dir=, env_vars={name=value}}) -> job | nil, error[, unreachable]
 * job: {submission_id=, status=, entrypoint=, message=, start_time=, end_time= (ms),
 * driver_pid=, runtime_env=}. A third result true: the head did not answer. */
static int l_head_job_submit(lua_State *L) {
  luaL_checktype(L, 3, LUA_TTABLE);
  rl_gcs_job_submit_msg_t req = {.submission_id = s_opt_field(L, 3, "submission_id"),
                             .runtime_env = s_opt_field(L, 3, "runtime_env"),
                             .working_dir = s_opt_field(L, 3, "working_dir")};
  lua_getfield(L, 3, "entrypoint");
  luaL_checktype(L, -1, LUA_TTABLE);
  int entry = lua_gettop(L);
  req.entrypoint.n = (uint32_t)lua_objlen(L, entry);
  rl_wire_bytes_t *words = lua_newuserdata(L, (req.entrypoint.n + 1) * sizeof *words);
  for (uint32_t i = 0; i < req.entrypoint.n; i++) {
    lua_rawgeti(L, entry, (int)i + 1);
    words[i].p = luaL_checklstring(L, -1, &words[i].n);
    lua_pop(L, 1);
  }
  req.entrypoint.v = words;
  lua_getfield(L, 3, "env_vars");
  int vars = lua_gettop(L);
  uint32_t nvars = 0;
  for (lua_pushnil(L); lua_istable(L, vars) && lua_next(L, vars); lua_pop(L, 1)) nvars++;
  rl_wire_env_var_t *pairs = lua_newuserdata(L, (nvars + 1) * sizeof *pairs);
  nvars = 0;
  for (lua_pushnil(L); lua_istable(L, vars) && lua_next(L, vars); lua_pop(L, 1)) {
    pairs[nvars] = (rl_wire_env_var_t){0};
    pairs[nvars].name.p = luaL_checklstring(L, -2, &pairs[nvars].name.n);
    pairs[nvars].value.p = luaL_checklstring(L, -1, &pairs[nvars].value.n);
    nvars++;
  }
  req.env_vars.v = pairs;
  req.env_vars.n = nvars;
  rl_head_t *h;
  rl_gcs_job_reply_msg_t r;
  rl_msg_t reply;
  char err[1200];
  if (s_head(L, &h, err, sizeof err) != 0 || rl_head_job_submit(h, &req, &r, &reply, s_timeout(L), err, sizeof err) != 0)
    return s_unreachable(L, err);
  return s_job_result(L, &r, &reply);
}

/* core.head_job(endpoint|nil, timeout_ms|nil, "get"|"stop", submission_id)
 *   -> job | nil, error[, unreachable] (as head_job_submit's) */
static int l_head_job(lua_State *L) {
  static const char *const ops[] = {"get", "stop", NULL};
  int op = luaL_checkoption(L, 3, NULL, ops);
  const char *id = luaL_checkstring(L, 4);
  rl_head_t *h;
  rl_gcs_job_reply_msg_t r;
  rl_msg_t reply;
  char err[1200];
  if (s_head(L, &h, err, sizeof err) != 0 ||
      rl_head_job(h, op ? RL_GCS_JOB_STOP : RL_GCS_JOB_GET, id, &r, &reply, s_timeout(L), err, sizeof err) != 0)
    return s_unreachable(L, err);
  return s_job_result(L, &r, &reply);
}

/* core.head_job_list(endpoint|nil, timeout_ms|nil) -> {job...} | nil, error, true */
static int l_head_job_list(lua_State *L) {
  rl_head_t *h;
  rl_gcs_job_list_msg_t list;
  rl_msg_t reply;
  char err[1200];
  if (s_head(L, &h, err, sizeof err) != 0 || rl_head_job_list(h, &list, &reply, s_timeout(L), err, sizeof err) != 0)
    return s_unreachable(L, err);
  lua_createtable(L, (int)list.jobs.n, 0);
  for (uint32_t i = 0; i < list.jobs.n; i++) {
    s_push_job(L, &list.jobs.v[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  rl_msg_close(&reply);
  return 1;
}

/* core.head_job_logs(endpoint|nil, timeout_ms|nil, submission_id, offset, max)
 *   -> {data=, offset=, size=, status=} | nil, error[, unreachable] */
static int l_head_job_logs(lua_State *L) {
  const char *id = luaL_checkstring(L, 3);
  lua_Number offset = luaL_checknumber(L, 4), max = luaL_checknumber(L, 5);
  if (offset < 0 || max < 0) return luaL_error(L, "head_job_logs: offset and max must not be negative");
  rl_head_t *h;
  rl_gcs_job_logs_msg_t logs;
  rl_msg_t reply;
  char err[1200];
  if (s_head(L, &h, err, sizeof err) != 0 ||
      rl_head_job_logs(h, id, (uint64_t)offset, (uint64_t)max, &logs, &reply, s_timeout(L), err, sizeof err) != 0)
    return s_unreachable(L, err);
  int n = 1;
  if (logs.has_error) {
    n = s_refused(L, &logs.error);
  } else {
    lua_createtable(L, 0, 4);
    rl_host_setfield_str(L, "data", logs.data.p, logs.data.n);
    rl_host_setfield_num(L, "offset", (double)logs.offset);
    rl_host_setfield_num(L, "size", (double)logs.size);
    rl_host_setfield_str(L, "status", logs.status.p, logs.status.n);
  }
  rl_msg_close(&reply);
  return n;
}

/* core.head_kv_exists(endpoint|nil, timeout_ms|nil, key) -> size | false | nil, error, true */
static int l_head_kv_exists(lua_State *L) {
  const char *key = luaL_checkstring(L, 3);
  rl_head_t *h;
  rl_gcs_kv_reply_msg_t kv;
  rl_msg_t reply;
  char err[1200];
  if (s_head(L, &h, err, sizeof err) != 0 ||
      rl_head_kv(h, RL_GCS_KV_EXISTS, key, NULL, 0, &kv, &reply, s_timeout(L), err, sizeof err) != 0)
    return s_unreachable(L, err);
  int n = 1;
  if (kv.has_error) n = s_refused(L, &kv.error);
  else if (kv.has_size) lua_pushnumber(L, (lua_Number)kv.size);
  else lua_pushboolean(L, 0);
  rl_msg_close(&reply);
  return n;
}

/* core.head_kv_put(endpoint|nil, timeout_ms|nil, key, value) -> true | nil, error[, unreachable] */
static int l_head_kv_put(lua_State *L) {
  const char *key = luaL_checkstring(L, 3);
  size_t len;
  const char *value = luaL_checklstring(L, 4, &len);
  rl_head_t *h;
  rl_gcs_kv_reply_msg_t kv;
  rl_msg_t reply;
  char err[1200];
  if (s_head(L, &h, err, sizeof err) != 0 ||
      rl_head_kv(h, RL_GCS_KV_PUT, key, value, len, &kv, &reply, s_timeout(L), err, sizeof err) != 0)
    return s_unreachable(L, err);
  int n = 1;
  if (kv.has_error) n = s_refused(L, &kv.error);
  else lua_pushboolean(L, 1);
  rl_msg_close(&reply);
  return n;
}

/* core.resolve_address(address) -> the head's endpoint | nil, error */
static int l_resolve_address(lua_State *L) {
  char gcs[200], err[300];
  if (rl_cluster_resolve(luaL_checkstring(L, 1), gcs, sizeof gcs, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushstring(L, gcs);
  return 1;
}

/* core.package_dir(path) -> data, key, files | nil, error : the working dir packed */
static int l_package_dir(lua_State *L) {
  rl_package_t p;
  char err[600];
  if (rl_package_pack(luaL_checkstring(L, 1), RL_PACKAGE_MAX, &p, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushlstring(L, p.data, p.len);
  free(p.data);
  lua_pushfstring(L, "%s%s", RL_PACKAGE_KEY_PREFIX, p.hash);
  lua_pushinteger(L, (lua_Integer)p.files);
  return 3;
}

/* core.package_unpack(data, dest) -> true | nil, error */
static int l_package_unpack(lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  char err[600];
  if (rl_package_unpack(data, len, luaL_checkstring(L, 2), err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.chdir(dir) -> true | nil, error */
static int l_chdir(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  if (chdir(dir) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot enter %s: %s", dir, strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* core.setenv(name, value) : seen by os.getenv and by child processes */
static int l_setenv(lua_State *L) {
  const char *name = luaL_checkstring(L, 1), *value = luaL_checkstring(L, 2);
  if (!*name || strchr(name, '=') || setenv(name, value, 1) != 0)
    return luaL_error(L, "cannot set the environment variable '%s'", name);
  return 0;
}

/* core.sleep(seconds) : returns early on a signal (Ctrl-C) */
static int l_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  if (s > 0) usleep((useconds_t)(s * 1e6));
  return 0;
}

static const luaL_Reg s_funcs[] = {
    {"sleep", l_sleep},
    {"head_job_submit", l_head_job_submit}, {"head_job", l_head_job}, {"head_job_list", l_head_job_list},
    {"head_job_logs", l_head_job_logs}, {"head_kv_exists", l_head_kv_exists}, {"head_kv_put", l_head_kv_put},
    {"resolve_address", l_resolve_address}, {"package_dir", l_package_dir},
    {"package_unpack", l_package_unpack}, {"chdir", l_chdir},                  {"setenv", l_setenv},
    {NULL, NULL},
};

void rl_l_renv_open(lua_State *L) {
  luaL_register(L, NULL, s_funcs);
  lua_pushinteger(L, (lua_Integer)RL_PACKAGE_MAX);
  lua_setfield(L, -2, "package_max");
}
