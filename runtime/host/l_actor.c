/* l_actor.c: the actor and head-KV functions of the rayl.core Lua module. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/result.h"
#include "host/host.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "worker/head_client.h"

#define S_ERR 512

/* The resource map at opts[field] (raises ValueError for a bad entry). */
static void s_resources(lua_State *L, int opts, const char *field, rl_resources_t *res) {
  lua_getfield(L, opts, field);
  rl_host_read_resources(L, -1, field, res);
  lua_pop(L, 1);
}

static int s_int_field(lua_State *L, int opts, const char *field, int dflt) {
  lua_getfield(L, opts, field);
  int v = lua_isnil(L, -1) ? dflt : (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* core.actor_create(key, class_blob, opts, ...) -> actor id (hex)
 * opts: resources, placement, max_restarts, max_task_retries, name (the class's),
 * strategy, detached, name_key, actor_name and namespace (if named) */
static int l_actor_create(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  size_t key_len, blob_len;
  const char *key = luaL_checklstring(L, 1, &key_len);
  const char *blob = luaL_checklstring(L, 2, &blob_len);
  luaL_checktype(L, 3, LUA_TTABLE);
  rl_actor_opts_t o = {0};
  s_resources(L, 3, "resources", &o.resources);
  s_resources(L, 3, "placement", &o.placement);
  o.max_restarts = s_int_field(L, 3, "max_restarts", 0);
  o.max_task_retries = s_int_field(L, 3, "max_task_retries", 0);
  lua_getfield(L, 3, "name");
  o.name = lua_tostring(L, -1);
  lua_getfield(L, 3, "strategy");
  rl_host_read_sched(L, -1, &o.sched);
  lua_getfield(L, 3, "detached");
  o.detached = lua_toboolean(L, -1);
  lua_getfield(L, 3, "name_key");
  o.name_key = lua_tostring(L, -1);
  lua_getfield(L, 3, "runtime_env");
  o.runtime_env = lua_tostring(L, -1);
  lua_getfield(L, 3, "actor_name");
  o.actor_name = lua_tostring(L, -1);
  lua_getfield(L, 3, "namespace");
  o.ns = lua_tostring(L, -1);
  lua_pop(L, 7); /* the strings stay alive in the options table */
  int nargs = lua_gettop(L) - 3;
  char err[S_ERR];
  rl_host_args_t a;
  if (rl_host_args_encode(L, 4, nargs, &a, err, sizeof err) != 0) {
    rl_host_args_free(&a);
    return rl_host_raise(L, "SerializationError", "%s", err);
  }
  rl_id_t id;
  int rc = rl_cw_actor_create(cw, key, key_len, blob, blob_len, a.args, (size_t)nargs, &o, &id, err, sizeof err);
  rl_host_args_free(&a);
  if (rc != RL_OK) return rl_host_raise(L, rc == RL_ENOMEM ? "OutOfMemoryError" : "ValueError", "%s", err);
  char hex[RL_ID_HEX];
  lua_pushstring(L, rl_id_hex(&id, hex));
  return 1;
}

/* core.actor_call(id, owner, method, opts, ...) -> ref [, ref...]
 * opts: num_returns, name, max_task_retries (used when the caller is not the owner) */
static int l_actor_call(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  rl_id_t id = rl_host_check_id(L, 1, "not an actor id");
  const char *owner = luaL_checkstring(L, 2);
  const char *method = luaL_checkstring(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  rl_task_opts_t o = {.num_returns = 1};
  o.num_returns = s_int_field(L, 4, "num_returns", 1);
  o.max_retries = s_int_field(L, 4, "max_task_retries", 0);
  lua_getfield(L, 4, "name");
  o.name = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (o.num_returns < 1 || o.num_returns > 1024)
    return rl_host_raise(L, "ValueError", "num_returns must be between 1 and 1024 (got %d)", o.num_returns);
  int nargs = lua_gettop(L) - 4;
  char err[S_ERR];
  rl_host_args_t a;
  if (rl_host_args_encode(L, 5, nargs, &a, err, sizeof err) != 0) {
    rl_host_args_free(&a);
    return rl_host_raise(L, "SerializationError", "%s", err);
  }
  rl_id_t ids_stack[8], *ids = o.num_returns <= 8 ? ids_stack : calloc((size_t)o.num_returns, sizeof *ids);
  int rc = ids ? rl_cw_actor_call(cw, &id, owner, method, a.args, (size_t)nargs, &o, ids, err, sizeof err) : -1;
  rl_host_args_free(&a);
  return rl_host_push_refs(L, ids, ids_stack, o.num_returns, rc, err);
}

/* core.actor_kill(id, owner, no_restart) */
static int l_actor_kill(lua_State *L) {
  rl_cw_t *cw = rl_host_cw(L);
  rl_id_t id = rl_host_check_id(L, 1, "not an actor id");
  rl_cw_actor_kill(cw, &id, luaL_checkstring(L, 2), lua_toboolean(L, 3));
  return 0;
}

/* core.actor_tie(id, handle_ref): the actor is freed once handle_ref is gone everywhere */
static int l_actor_tie(lua_State *L) {
  rl_id_t id = rl_host_check_id(L, 1, "not an actor id");
  rl_objref_t *r = rl_objref_test(L, 2);
  if (!r) return luaL_argerror(L, 2, "ObjectRef expected");
  if (rl_cw_actor_tie(rl_host_cw(L), &id, &r->id) != 0) return luaL_error(L, "actor or ref not owned by this process");
  return 0;
}

/* core.actor_state(id) -> "pending" | "alive" | "restarting" | "locating" | "dead" | "unknown" */
static int l_actor_state(lua_State *L) {
  rl_id_t id = rl_host_check_id(L, 1, "not an actor id");
  lua_pushstring(L, rl_cw_actor_state(rl_host_cw(L), &id));
  return 1;
}

/* core.endpoint() -> this process's address (owners of actors and objects) */
static int l_endpoint(lua_State *L) {
  lua_pushstring(L, rl_cw_endpoint(rl_host_cw(L)));
  return 1;
}

/* A KV request to the head; pushes the value (or nil). */
static int s_kv(lua_State *L, int type, const char *key, const char *value, size_t len, bool has_value) {
  rl_head_t h;
  rl_gcs_kv_reply_msg_t kv;
  rl_msg_t reply;
  char err[400];
  rl_head_init_cw(&h, rl_host_cw(L));
  if (rl_head_kv(&h, type, key, has_value ? value : NULL, len, &kv, &reply, 5000, err, sizeof err) != 0)
    return rl_host_raise(L, "RuntimeError", "%s", err);
  if (kv.has_error) {
    snprintf(err, sizeof err, "%.*s", (int)(kv.error.n < 300 ? kv.error.n : 300), kv.error.p);
    rl_msg_close(&reply);
    return rl_host_raise(L, "ValueError", "the head refused the KV request: %s", err);
  }
  if (kv.has_value) lua_pushlstring(L, kv.value.p, kv.value.n);
  else lua_pushnil(L);
  rl_msg_close(&reply);
  return 1;
}

/* core.kv_put(key, value|nil) -> previous value or nil */
static int l_kv_put(lua_State *L) {
  size_t len = 0;
  const char *value = lua_isnil(L, 2) ? NULL : luaL_checklstring(L, 2, &len);
  return s_kv(L, RL_GCS_KV_PUT, luaL_checkstring(L, 1), value, len, value != NULL);
}

/* core.kv_get(key) -> value or nil */
static int l_kv_get(lua_State *L) { return s_kv(L, RL_GCS_KV_GET, luaL_checkstring(L, 1), NULL, 0, false); }

static const luaL_Reg s_funcs[] = {
    {"actor_create", l_actor_create}, {"actor_call", l_actor_call}, {"actor_kill", l_actor_kill},
    {"actor_state", l_actor_state},   {"actor_tie", l_actor_tie},   {"endpoint", l_endpoint},     {"kv_put", l_kv_put},
    {"kv_get", l_kv_get},             {NULL, NULL},
};

void rl_l_actor_open(lua_State *L) { luaL_register(L, NULL, s_funcs); }
