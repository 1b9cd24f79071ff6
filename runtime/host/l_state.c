/* l_state.c: rayl.core.state_list: the state API's rows (nodes, tasks, actors, objects)
 * as Lua tables, from the head and the node managers; rayl.util.state filters them. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "host/host.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/res_pack.h"
#include "worker/cluster_client.h"
#include "worker/state_client.h"

#define S_TIMEOUT_MS 5000
#define S_NODES_TIMEOUT_MS 3000 /* node managers asked for their objects */

static const char *const s_task_states[] = {"SUBMITTED", "RUNNING", "FINISHED", "FAILED"};
static const char *const s_task_types[] = {"NORMAL_TASK", "ACTOR_CREATION_TASK", "ACTOR_TASK"};
static const char *const s_actor_states[] = {"PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD"};
static const char *const s_object_states[] = {"BEING_WRITTEN", "IN_MEMORY", "SPILLED"};

/* Where to ask: this process's cluster (cw) or the head at gcs. */
typedef struct {
  rl_cw_t *cw;
  char gcs[200];
} s_target_t;

/* Sends b to the head and waits for its reply. Raises a Lua error if it does not come. */
static void s_ask_head(lua_State *L, const s_target_t *to, rl_msgbuf_t *b, uint64_t request, rl_msg_t *reply) {
  char err[300];
  if (to->cw) {
    if (rl_cw_gcs_call(to->cw, b, request, reply, S_TIMEOUT_MS) == 0) return;
    snprintf(err, sizeof err, "%s did not answer within %d ms", rl_cw_gcs_endpoint(to->cw), S_TIMEOUT_MS);
  } else if (rl_state_request(to->gcs, b, request, reply, S_TIMEOUT_MS, err, sizeof err) == 0) {
    return;
  }
  luaL_error(L, "cannot reach the cluster's head: %s", err);
}

/* Field setters for the row table at the top of the stack. */
static void s_str(lua_State *L, const char *k, const msgpack_object *o) {
  const char *p;
  size_t n;
  if (!rl_obj_bytes(o, &p, &n)) return;
  lua_pushlstring(L, p, n);
  lua_setfield(L, -2, k);
}

static void s_id(lua_State *L, const char *k, const msgpack_object *o) {
  rl_id_t id;
  char hex[RL_ID_HEX];
  if (!rl_obj_id(o, &id)) return;
  lua_pushstring(L, rl_id_hex(&id, hex));
  lua_setfield(L, -2, k);
}

static void s_num(lua_State *L, const char *k, const msgpack_object *o, bool zero_is_nil) {
  uint64_t v;
  if (!rl_obj_u64(o, &v) || (zero_is_nil && v == 0)) return;
  lua_pushnumber(L, (lua_Number)v);
  lua_setfield(L, -2, k);
}

static void s_name(lua_State *L, const char *k, const msgpack_object *o, const char *const *names, uint64_t n) {
  uint64_t v;
  if (!rl_obj_u64(o, &v) || v >= n) return;
  lua_pushstring(L, names[v]);
  lua_setfield(L, -2, k);
}

static void s_bool(lua_State *L, const char *k, const msgpack_object *o) {
  lua_pushboolean(L, o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean);
  lua_setfield(L, -2, k);
}

static void s_resources(lua_State *L, const char *k, const msgpack_object *o) {
  rl_resources_t r;
  lua_newtable(L);
  if (rl_res_unpack(o, &r) == 0)
    for (int i = 0; i < r.n; i++) {
      lua_pushnumber(L, (double)r.r[i].amount / RL_RES_UNIT);
      lua_setfield(L, -2, r.r[i].name);
    }
  lua_setfield(L, -2, k);
}

/* Appends a new row table to the list below it (the row stays on top). */
static const msgpack_object *s_row(lua_State *L, const msgpack_object *o, uint32_t fields) {
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < fields) return NULL;
  lua_createtable(L, 0, (int)fields);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, (int)lua_objlen(L, -3) + 1);
  return o->via.array.ptr;
}

static void s_task_row(lua_State *L, const msgpack_object *o) {
  const msgpack_object *f = s_row(L, o, 11);
  if (!f) return;
  s_id(L, "task_id", &f[0]);
  s_name(L, "state", &f[1], s_task_states, 4);
  s_num(L, "attempt_number", &f[2], false);
  s_str(L, "name", &f[3]);
  s_name(L, "type", &f[4], s_task_types, 3);
  s_id(L, "actor_id", &f[5]);
  s_id(L, "node_id", &f[6]);
  s_num(L, "worker_pid", &f[7], true);
  s_str(L, "error_type", &f[8]);
  s_id(L, "owner_id", &f[9]);
  s_num(L, "owner_pid", &f[10], true);
  lua_pop(L, 1);
}

static void s_actor_row(lua_State *L, const msgpack_object *o) {
  const msgpack_object *f = s_row(L, o, 11);
  if (!f) return;
  s_id(L, "actor_id", &f[0]);
  s_name(L, "state", &f[1], s_actor_states, 4);
  s_str(L, "class_name", &f[2]);
  s_str(L, "name", &f[3]);
  s_str(L, "namespace", &f[4]);
  s_bool(L, "is_detached", &f[5]);
  s_id(L, "node_id", &f[6]);
  s_num(L, "pid", &f[7], true);
  s_str(L, "death_cause", &f[8]);
  s_id(L, "owner_id", &f[9]);
  s_num(L, "owner_pid", &f[10], true);
  lua_pop(L, 1);
}

static void s_node_row(lua_State *L, const msgpack_object *o) {
  const msgpack_object *f = s_row(L, o, 5);
  if (!f) return;
  s_id(L, "node_id", &f[0]);
  s_str(L, "address", &f[1]);
  lua_pushstring(L, f[2].type == MSGPACK_OBJECT_BOOLEAN && f[2].via.boolean ? "ALIVE" : "DEAD");
  lua_setfield(L, -2, "state");
  s_resources(L, "resources_total", &f[3]);
  s_resources(L, "resources_available", &f[4]);
  lua_pop(L, 1);
}

/* Appends the row of object o, stored on node, to the list at the top. */
static void s_object_row(lua_State *L, const rl_wire_object_info_t *o, const rl_id_t *node) {
  char hex[RL_ID_HEX];
  lua_createtable(L, 0, 7);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, (int)lua_objlen(L, -3) + 1);
  lua_pushstring(L, rl_id_hex(&o->object_id, hex));
  lua_setfield(L, -2, "object_id");
  lua_pushnumber(L, (lua_Number)o->size);
  lua_setfield(L, -2, "object_size");
  lua_pushstring(L, s_object_states[o->state]); /* the wire layer checked state <= RL_OS_SPILLED */
  lua_setfield(L, -2, "state");
  lua_pushboolean(L, o->state == RL_OS_SPILLED);
  lua_setfield(L, -2, "spilled");
  lua_pushnumber(L, (lua_Number)o->pins);
  lua_setfield(L, -2, "pins");
  if (o->has_owner_id) {
    lua_pushstring(L, rl_id_hex(&o->owner_id, hex));
    lua_setfield(L, -2, "owner_id");
  }
  lua_pushstring(L, rl_id_hex(node, hex));
  lua_setfield(L, -2, "node_id");
  lua_pop(L, 1);
}

/* GET_NODES: leaves the reply in *reply (close it). */
static const msgpack_object *s_nodes(lua_State *L, const s_target_t *to, rl_msg_t *reply) {
  uint64_t request = to->cw ? rl_cw_next_request(to->cw) : 1;
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_GCS_GET_NODES, 1);
  msgpack_pack_uint64(&b.pk, request);
  s_ask_head(L, to, &b, request, reply);
  const msgpack_object *nodes = rl_field(reply, 1);
  if (!nodes || nodes->type != MSGPACK_OBJECT_ARRAY) {
    rl_msg_close(reply);
    luaL_error(L, "the head sent a malformed node list");
  }
  return nodes;
}

/* Objects: each live node manager's store, asked all at once. info.unreachable lists
 * the nodes that did not answer. */
static void s_objects(lua_State *L, const s_target_t *to) {
  rl_msg_t nodes_reply;
  const msgpack_object *nodes = s_nodes(L, to, &nodes_reply);
  uint32_t n = nodes->via.array.size;
  const char **endpoints = rl_xcalloc(n, sizeof *endpoints);
  char (*eps)[RL_ENDPOINT_MAX] = rl_xcalloc(n, sizeof *eps);
  rl_msg_t *replies = rl_xcalloc(n, sizeof *replies);
  bool *got = rl_xcalloc(n, sizeof *got);
  int live = 0;
  for (uint32_t i = 0; i < n; i++) {
    const msgpack_object *e = &nodes->via.array.ptr[i];
    const char *ep;
    size_t len;
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 3 || !rl_obj_bytes(&e->via.array.ptr[1], &ep, &len) ||
        len >= RL_ENDPOINT_MAX || e->via.array.ptr[2].type != MSGPACK_OBJECT_BOOLEAN || !e->via.array.ptr[2].via.boolean)
      continue;
    memcpy(eps[live], ep, len);
    eps[live][len] = 0;
    endpoints[live] = eps[live];
    live++;
  }
  rl_msg_close(&nodes_reply);
  rl_state_objects(endpoints, live, replies, got, S_NODES_TIMEOUT_MS);
  lua_newtable(L); /* rows */
  lua_newtable(L); /* info */
  lua_newtable(L); /* info.unreachable */
  for (int i = 0; i < live; i++) {
    if (!got[i]) {
      lua_pushstring(L, endpoints[i]);
      lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
      continue;
    }
    rl_nm_objects_msg_t objs;
    bool ok = rl_nm_objects_msg_read(&replies[i], &objs);
    lua_pushvalue(L, -3);
    for (uint32_t k = 0; ok && k < objs.objects.n; k++) s_object_row(L, &objs.objects.v[k], &objs.node_id);
    lua_pop(L, 1);
    rl_msg_close(&replies[i]);
  }
  lua_setfield(L, -2, "unreachable");
  free(endpoints), free(eps), free(replies), free(got);
}

/* core.state_list(what, address|nil) -> rows, info
 * what: "nodes" | "tasks" | "actors" | "objects". address: the head's (a user's
 * address: HOST:PORT or "auto"); nil: this process's cluster (rayl.init), whose
 * unreported events are sent first so its own tasks are listed. info: dropped and
 * evicted (tasks and actors), unreachable (objects). Raises if no head answers. */
static int l_state_list(lua_State *L) {
  static const char *const whats[] = {"nodes", "tasks", "actors", "objects", NULL};
  int what = luaL_checkoption(L, 1, NULL, whats);
  const char *address = luaL_optstring(L, 2, NULL);
  s_target_t to = {.cw = address ? NULL : rl_host.cw};
  char err[300];
  if (!to.cw) {
    if (!address) return luaL_error(L, "rayl is not initialized and no address was given");
    if (rl_cluster_resolve(address, to.gcs, sizeof to.gcs, err, sizeof err) != 0 ||
        rl_cluster_use_key(to.gcs, NULL, err, sizeof err) < 0)
      return luaL_error(L, "%s", err);
  } else {
    rl_cw_flush_events(to.cw);
  }
  if (what == 3) {
    s_objects(L, &to);
    return 2;
  }
  rl_msg_t reply;
  if (what == 0) {
    const msgpack_object *nodes = s_nodes(L, &to, &reply);
    lua_newtable(L);
    for (uint32_t i = 0; i < nodes->via.array.size; i++) s_node_row(L, &nodes->via.array.ptr[i]);
    rl_msg_close(&reply);
    lua_newtable(L);
    return 2;
  }
  uint64_t request = to.cw ? rl_cw_next_request(to.cw) : 1;
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_GCS_LIST_STATE, 2);
  msgpack_pack_uint64(&b.pk, request);
  rl_pack_str(&b.pk, whats[what]);
  s_ask_head(L, &to, &b, request, &reply);
  const msgpack_object *rows = rl_field(&reply, 1);
  if (reply.type != RL_GCS_STATE || !rows || rows->type != MSGPACK_OBJECT_ARRAY) {
    rl_msg_close(&reply);
    return luaL_error(L, "the head sent a malformed %s list (is it an older rayl?)", whats[what]);
  }
  lua_createtable(L, (int)rows->via.array.size, 0);
  for (uint32_t i = 0; i < rows->via.array.size; i++) {
    if (what == 1) s_task_row(L, &rows->via.array.ptr[i]);
    else s_actor_row(L, &rows->via.array.ptr[i]);
  }
  lua_newtable(L);
  uint64_t v;
  if (rl_field_u64(&reply, 2, &v)) {
    lua_pushnumber(L, (lua_Number)v);
    lua_setfield(L, -2, "dropped");
  }
  if (rl_field_u64(&reply, 3, &v)) {
    lua_pushnumber(L, (lua_Number)v);
    lua_setfield(L, -2, "evicted");
  }
  rl_msg_close(&reply);
  return 2;
}

static const luaL_Reg s_funcs[] = {
    {"state_list", l_state_list},
    {NULL, NULL},
};

void rl_l_state_open(lua_State *L) { luaL_register(L, NULL, s_funcs); }
