/* l_renv.c: rayl.core functions for jobs and runtime_env: requests to the head from
 * Lua (the `rayl job` commands, working_dir uploads), working_dir packages, and the
 * process set-up a runtime_env asks of a worker (folder, environment). */
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

#define S_DEPTH 16

/* Packs the Lua value at idx: nil, booleans, numbers, strings, and tables as arrays
 * (1..t.n, or 1..#t). */
static void s_pack(lua_State *L, int idx, msgpack_packer *pk, int depth) {
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) msgpack_pack_true(pk);
      else msgpack_pack_false(pk);
      return;
    case LUA_TNUMBER: {
      double d = lua_tonumber(L, idx);
      if (d == (double)(int64_t)d && d >= 0) msgpack_pack_uint64(pk, (uint64_t)d);
      else if (d == (double)(int64_t)d) msgpack_pack_int64(pk, (int64_t)d);
      else msgpack_pack_double(pk, d);
      return;
    }
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      msgpack_pack_str(pk, n);
      msgpack_pack_str_body(pk, s, n);
      return;
    }
    case LUA_TTABLE: {
      if (depth >= S_DEPTH) luaL_error(L, "gcs_request: fields nested too deeply");
      if (idx < 0) idx = lua_gettop(L) + idx + 1;
      lua_getfield(L, idx, "n");
      int n = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : (int)lua_objlen(L, idx);
      lua_pop(L, 1);
      msgpack_pack_array(pk, (uint32_t)n);
      for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        s_pack(L, -1, pk, depth + 1);
        lua_pop(L, 1);
      }
      return;
    }
    default: msgpack_pack_nil(pk); return;
  }
}

/* Pushes a msgpack object: arrays become tables with n (nil elements are holes). */
static void s_push(lua_State *L, const msgpack_object *o, int depth) {
  luaL_checkstack(L, 4, "reply nested too deeply");
  switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN: lua_pushboolean(L, o->via.boolean); return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: lua_pushnumber(L, (double)o->via.u64); return;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: lua_pushnumber(L, (double)o->via.i64); return;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: lua_pushnumber(L, o->via.f64); return;
    case MSGPACK_OBJECT_STR: lua_pushlstring(L, o->via.str.ptr, o->via.str.size); return;
    case MSGPACK_OBJECT_BIN: lua_pushlstring(L, o->via.bin.ptr, o->via.bin.size); return;
    case MSGPACK_OBJECT_ARRAY:
      if (depth >= S_DEPTH) break;
      lua_createtable(L, (int)o->via.array.size, 1);
      for (uint32_t i = 0; i < o->via.array.size; i++) {
        s_push(L, &o->via.array.ptr[i], depth + 1);
        lua_rawseti(L, -2, (int)i + 1);
      }
      lua_pushinteger(L, (lua_Integer)o->via.array.size);
      lua_setfield(L, -2, "n");
      return;
    default: break;
  }
  lua_pushnil(L);
}

/* One socket to the last head asked (the CLI asks the same head again and again). */
static struct {
  void *ctx, *sock;
  char endpoint[200];
  uint64_t request;
} s_gcs;

static int s_standalone_call(const char *endpoint, rl_msgbuf_t *b, uint64_t request, rl_msg_t *reply, int timeout_ms) {
  if (!s_gcs.sock || strcmp(s_gcs.endpoint, endpoint)) {
    if (s_gcs.sock) zmq_close(s_gcs.sock);
    if (!s_gcs.ctx) s_gcs.ctx = zmq_ctx_new();
    s_gcs.sock = s_gcs.ctx ? zmq_socket(s_gcs.ctx, ZMQ_DEALER) : NULL;
    int zero = 0, ivl = 10;
    if (!s_gcs.sock) {
      rl_msgbuf_reset(b);
      return -1;
    }
    zmq_setsockopt(s_gcs.sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s_gcs.sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    snprintf(s_gcs.endpoint, sizeof s_gcs.endpoint, "%s", endpoint);
    char err[300];
    if (rl_cluster_use_key(endpoint, NULL, err, sizeof err) < 0) rl_log(RL_LOG_WARN, "%s", err);
    if (rl_net_connect(s_gcs.sock, endpoint) != 0) {
      zmq_close(s_gcs.sock);
      s_gcs.sock = NULL;
      rl_msgbuf_reset(b);
      return -1;
    }
  }
  if (rl_msg_send(s_gcs.sock, NULL, b) != 0) return -1;
  int64_t deadline = rl_now_ms() + timeout_ms;
  zmq_pollitem_t it = {s_gcs.sock, 0, ZMQ_POLLIN, 0};
  while (rl_now_ms() < deadline && !rl_interrupted) {
    if (zmq_poll(&it, 1, deadline - rl_now_ms()) <= 0) continue;
    while (rl_msg_recv(s_gcs.sock, false, reply) == 1) {
      uint64_t got;
      if (rl_field_u64(reply, 0, &got) && got == request) return 0;
      rl_msg_close(reply);
    }
  }
  return -1;
}

/* core.gcs_request(endpoint|nil, type, {fields after the request id}, timeout_ms)
 *   -> reply type, {reply fields after the request id} | nil, error
 * endpoint nil: this process's cluster (after rayl.init). */
static int l_gcs_request(lua_State *L) {
  const char *endpoint = luaL_optstring(L, 1, NULL);
  int type = (int)luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  int timeout = (int)luaL_optinteger(L, 4, 5000);
  if (!endpoint && !rl_host.cw) return luaL_error(L, "gcs_request: no endpoint and rayl is not initialized");
  if (type < 0 || type > 255) return luaL_error(L, "gcs_request: message type %d is out of range", type);
  uint64_t request = endpoint ? ++s_gcs.request : rl_cw_next_request(rl_host.cw);
  lua_getfield(L, 3, "n");
  int n = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : (int)lua_objlen(L, 3);
  lua_pop(L, 1);
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, (uint8_t)type, (uint32_t)n + 1);
  msgpack_pack_uint64(&b.pk, request);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 3, i);
    s_pack(L, -1, &b.pk, 0);
    lua_pop(L, 1);
  }
  rl_msg_t reply;
  int rc = endpoint ? s_standalone_call(endpoint, &b, request, &reply, timeout)
                    : rl_cw_gcs_call(rl_host.cw, &b, request, &reply, timeout);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "the head at %s did not answer within %d ms%s",
                    endpoint ? endpoint : rl_cw_gcs_endpoint(rl_host.cw), timeout,
                    rl_interrupted ? " (interrupted)" : "");
    return 2;
  }
  lua_pushinteger(L, reply.type);
  lua_createtable(L, (int)reply.nfields, 1);
  for (uint32_t i = 1; i < reply.nfields; i++) {
    s_push(L, &reply.fields[i], 0);
    lua_rawseti(L, -2, (int)i);
  }
  lua_pushinteger(L, reply.nfields ? (lua_Integer)reply.nfields - 1 : 0);
  lua_setfield(L, -2, "n");
  rl_msg_close(&reply);
  return 2;
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
    {"gcs_request", l_gcs_request},   {"resolve_address", l_resolve_address}, {"package_dir", l_package_dir},
    {"package_unpack", l_package_unpack}, {"chdir", l_chdir},                  {"setenv", l_setenv},
    {NULL, NULL},
};

void rl_l_renv_open(lua_State *L) {
  luaL_register(L, NULL, s_funcs);
  /* The message types the Lua side sends and reads. */
  static const struct {
    const char *name;
    int type;
  } types[] = {{"KV_PUT", RL_GCS_KV_PUT},
               {"KV_GET", RL_GCS_KV_GET},
               {"KV_REPLY", RL_GCS_KV_REPLY},
               {"KV_EXISTS", RL_GCS_KV_EXISTS},
               {"JOB_SUBMIT", RL_GCS_JOB_SUBMIT},
               {"JOB_GET", RL_GCS_JOB_GET},
               {"JOB_STOP", RL_GCS_JOB_STOP},
               {"JOB_LIST_REQUEST", RL_GCS_JOB_LIST_REQUEST},
               {"JOB_LOGS_REQUEST", RL_GCS_JOB_LOGS_REQUEST},
               {"JOB_REPLY", RL_GCS_JOB_REPLY},
               {"JOB_LIST", RL_GCS_JOB_LIST},
               {"JOB_LOGS", RL_GCS_JOB_LOGS}};
  lua_createtable(L, 0, (int)(sizeof types / sizeof *types));
  for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
    lua_pushinteger(L, types[i].type);
    lua_setfield(L, -2, types[i].name);
  }
  lua_setfield(L, -2, "msg");
  lua_pushinteger(L, (lua_Integer)RL_PACKAGE_MAX);
  lua_setfield(L, -2, "package_max");
}
