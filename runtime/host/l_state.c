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
#include "worker/head_client.h"
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

/* Opens the way to the head of to. Returns 0, or -1 with err. */
static int s_head(const s_target_t *to, rl_head_t *h, char *err, size_t errlen) {
  if (!to->cw) return rl_head_connect(h, to->gcs, err, errlen);
  rl_head_init_cw(h, to->cw);
  return 0;
}

/* The head's nodes (they borrow from *reply: close it): 0, or -1 with err. */
static int s_head_nodes(const s_target_t *to, rl_gcs_nodes_msg_t *nodes, rl_msg_t *reply, char *err, size_t errlen) {
  rl_head_t h;
  int rc = s_head(to, &h, err, errlen) == 0 ? rl_head_nodes(&h, nodes, reply, S_TIMEOUT_MS, err, errlen) : -1;
  rl_head_close(&h);
  return rc;
}

/* Field setters for the row table at the top of the stack. */
static void s_name(lua_State *L, const char *k, uint64_t v, const char *const *names, uint64_t n) {
  if (v >= n) return;
  lua_pushstring(L, names[v]);
  lua_setfield(L, -2, k);
}

/* Appends a new row table to the list below it (the row stays on top). */
static void s_row(lua_State *L, int fields) {
  lua_createtable(L, 0, fields);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, (int)lua_objlen(L, -3) + 1);
}

static void s_task_row(lua_State *L, const rl_wire_task_row_t *t) {
  s_row(L, 11);
  rl_host_setfield_id(L, "task_id", &t->task_id);
  s_name(L, "state", t->state, s_task_states, 4);
  rl_host_setfield_num(L, "attempt_number", (double)t->attempt);
  rl_host_setfield_str(L, "name", t->name.p, t->name.n);
  s_name(L, "type", t->kind, s_task_types, 3);
  if (t->has_actor_id) rl_host_setfield_id(L, "actor_id", &t->actor_id);
  if (t->has_node_id) rl_host_setfield_id(L, "node_id", &t->node_id);
  if (t->worker_pid) rl_host_setfield_num(L, "worker_pid", (double)t->worker_pid);
  if (t->has_error_type) rl_host_setfield_str(L, "error_type", t->error_type.p, t->error_type.n);
  rl_host_setfield_id(L, "owner_id", &t->owner_id);
  if (t->owner_pid) rl_host_setfield_num(L, "owner_pid", (double)t->owner_pid);
  lua_pop(L, 1);
}

static void s_actor_row(lua_State *L, const rl_wire_actor_row_t *a) {
  s_row(L, 11);
  rl_host_setfield_id(L, "actor_id", &a->actor_id);
  s_name(L, "state", a->state, s_actor_states, 4);
  rl_host_setfield_str(L, "class_name", a->class_name.p, a->class_name.n);
  rl_host_setfield_str(L, "name", a->name.p, a->name.n);
  rl_host_setfield_str(L, "namespace", a->namespace_.p, a->namespace_.n);
  lua_pushboolean(L, a->detached);
  lua_setfield(L, -2, "is_detached");
  if (a->has_node_id) rl_host_setfield_id(L, "node_id", &a->node_id);
  if (a->pid) rl_host_setfield_num(L, "pid", (double)a->pid);
  if (a->has_death_cause) rl_host_setfield_str(L, "death_cause", a->death_cause.p, a->death_cause.n);
  rl_host_setfield_id(L, "owner_id", &a->owner_id);
  if (a->owner_pid) rl_host_setfield_num(L, "owner_pid", (double)a->owner_pid);
  lua_pop(L, 1);
}

static void s_node_row(lua_State *L, const rl_wire_node_info_t *n) {
  s_row(L, 5);
  rl_host_setfield_id(L, "node_id", &n->node_id);
  lua_pushstring(L, n->endpoint);
  lua_setfield(L, -2, "address");
  lua_pushstring(L, n->alive ? "ALIVE" : "DEAD");
  lua_setfield(L, -2, "state");
  rl_host_push_resources(L, &n->total);
  lua_setfield(L, -2, "resources_total");
  rl_host_push_resources(L, &n->available);
  lua_setfield(L, -2, "resources_available");
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

/* Objects: each live node manager's store, asked all at once. info.unreachable lists
 * the nodes that did not answer. */
static int s_objects(lua_State *L, const s_target_t *to) {
  rl_gcs_nodes_msg_t nodes;
  rl_msg_t reply;
  char err[400];
  if (s_head_nodes(to, &nodes, &reply, err, sizeof err) != 0)
    return luaL_error(L, "cannot reach the cluster's head: %s", err);
  uint32_t n = nodes.nodes.n;
  const char **endpoints = rl_xcalloc(n, sizeof *endpoints);
  char (*eps)[RL_ENDPOINT_MAX] = rl_xcalloc(n, sizeof *eps);
  rl_msg_t *replies = rl_xcalloc(n, sizeof *replies);
  bool *got = rl_xcalloc(n, sizeof *got);
  int live = 0;
  for (uint32_t i = 0; i < n; i++) {
    const rl_wire_node_info_t *e = &nodes.nodes.v[i];
    if (!e->alive || strlen(e->endpoint) >= RL_ENDPOINT_MAX) continue;
    memcpy(eps[live], e->endpoint, strlen(e->endpoint) + 1);
    endpoints[live] = eps[live];
    live++;
  }
  rl_msg_close(&reply);
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
  return 2;
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
  if (what == 3) return s_objects(L, &to);
  rl_msg_t reply;
  if (what == 0) {
    rl_gcs_nodes_msg_t nodes;
    if (s_head_nodes(&to, &nodes, &reply, err, sizeof err) != 0)
      return luaL_error(L, "cannot reach the cluster's head: %s", err);
    lua_createtable(L, (int)nodes.nodes.n, 0);
    for (uint32_t i = 0; i < nodes.nodes.n; i++) s_node_row(L, &nodes.nodes.v[i]);
    rl_msg_close(&reply);
    lua_newtable(L);
    return 2;
  }
  rl_head_t h;
  rl_gcs_state_msg_t st;
  int rc = s_head(&to, &h, err, sizeof err) == 0 ? rl_head_state(&h, what == 2, &st, &reply, S_TIMEOUT_MS, err, sizeof err)
                                                 : -1;
  rl_head_close(&h);
  if (rc != 0) return luaL_error(L, "cannot reach the cluster's head: %s", err);
  lua_createtable(L, (int)(what == 1 ? st.tasks.n : st.actors.n), 0);
  for (uint32_t i = 0; what == 1 && i < st.tasks.n; i++) s_task_row(L, &st.tasks.v[i]);
  for (uint32_t i = 0; what == 2 && i < st.actors.n; i++) s_actor_row(L, &st.actors.v[i]);
  lua_createtable(L, 0, 2);
  rl_host_setfield_num(L, "dropped", (double)st.dropped);
  rl_host_setfield_num(L, "evicted", (double)st.evicted);
  rl_msg_close(&reply);
  return 2;
}

static const luaL_Reg s_funcs[] = {
    {"state_list", l_state_list},
    {NULL, NULL},
};

void rl_l_state_open(lua_State *L) { luaL_register(L, NULL, s_funcs); }
