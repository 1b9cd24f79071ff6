/* l_obs.c: rayl.core.obs_*: what `rayl stack`, `rayl memory`, `rayl timeline` and
 * `rayl logs` ask the cluster (its head, node managers and core workers), as Lua
 * tables; lua/rayl/obs.lua turns them into the commands. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dirs.h"
#include "common/xalloc.h"
#include "host/host.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "worker/cluster_client.h"
#include "worker/head_client.h"
#include "worker/state_client.h"

#define S_TIMEOUT_MS 5000

/* The head's endpoint: of the user's address (HOST:PORT or "auto"), else of this
 * process's cluster (its unreported events sent first). Raises if neither. */
static void s_head(lua_State *L, int idx, char *gcs, size_t n) {
  const char *address = luaL_optstring(L, idx, NULL);
  char err[300];
  if (address) {
    if (rl_cluster_resolve(address, gcs, n, err, sizeof err) != 0 || rl_cluster_use_key(gcs, NULL, err, sizeof err) < 0)
      luaL_error(L, "%s", err);
    return;
  }
  if (!rl_host.cw) luaL_error(L, "rayl is not initialized and no address was given");
  rl_cw_flush_events(rl_host.cw);
  snprintf(gcs, n, "%s", rl_cw_gcs_endpoint(rl_host.cw));
}

/* One request [request] of type to endpoint; false with the reason on the stack. */
static bool s_ask(lua_State *L, const char *endpoint, int type, int timeout_ms, rl_msg_t *reply) {
  rl_msgbuf_t b;
  char err[300];
  rl_nm_list_workers_msg_t q = {.request = 1}; /* every request of this kind: [request] */
  if (rl_wire_pack(type, &q, &b, err, sizeof err) == 0 &&
      rl_state_request(endpoint, &b, 1, reply, timeout_ms, err, sizeof err) == 0)
    return true;
  lua_pushstring(L, err);
  return false;
}

/* Appends a new table to the list at the top and leaves it on top. */
static void s_append(lua_State *L) {
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, (int)lua_objlen(L, -3) + 1);
}

/* core.obs_base_dir() -> the folder rayl keeps this user's state in ($RAYL_TMPDIR) */
static int l_obs_base_dir(lua_State *L) {
  char path[512], err[300];
  if (rl_base_dir(path, sizeof path, err, sizeof err) != 0) return luaL_error(L, "%s", err);
  lua_pushstring(L, path);
  return 1;
}

/* The head at gcs's nodes (borrowing from *reply: close it): 0, or -1 with err. */
static int s_head_nodes(const char *gcs, rl_gcs_nodes_msg_t *nodes, rl_msg_t *reply, char *err, size_t errlen) {
  rl_head_t h;
  int rc = rl_head_connect(&h, gcs, err, errlen) == 0 ? rl_head_nodes(&h, nodes, reply, S_TIMEOUT_MS, err, errlen) : -1;
  rl_head_close(&h);
  return rc;
}

/* The live nodes' endpoints, as a Lua list at the top. */
static void s_live_nodes(lua_State *L, const char *gcs) {
  rl_gcs_nodes_msg_t nodes;
  rl_msg_t reply;
  char err[400];
  if (s_head_nodes(gcs, &nodes, &reply, err, sizeof err) != 0)
    luaL_error(L, "cannot reach the cluster's head: %s", err);
  lua_newtable(L);
  for (uint32_t i = 0; i < nodes.nodes.n; i++) {
    if (!nodes.nodes.v[i].alive) continue;
    lua_pushstring(L, nodes.nodes.v[i].endpoint);
    lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
  }
  rl_msg_close(&reply);
}

static const char *const s_kinds[] = {"driver", "worker", "remote"};

/* core.obs_workers(address|nil) -> nodes, unreachable
 * nodes: {{node_id=, address=, clients={{worker_id=, pid=, kind=, endpoint=}...}}...};
 * unreachable: the node managers that did not answer. */
static int l_obs_workers(lua_State *L) {
  char gcs[256];
  s_head(L, 1, gcs, sizeof gcs);
  s_live_nodes(L, gcs);
  int eps = lua_gettop(L);
  lua_newtable(L); /* nodes */
  lua_newtable(L); /* unreachable */
  for (int i = 1; i <= (int)lua_objlen(L, eps); i++) {
    lua_rawgeti(L, eps, i);
    const char *ep = lua_tostring(L, -1);
    rl_msg_t reply;
    if (!s_ask(L, ep, RL_NM_LIST_WORKERS, 3000, &reply)) {
      lua_pop(L, 1);
      lua_rawseti(L, eps + 2, (int)lua_objlen(L, eps + 2) + 1);
      continue;
    }
    lua_pushvalue(L, eps + 1);
    s_append(L);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "address");
    rl_nm_workers_msg_t w;
    bool ok = rl_nm_workers_msg_read(&reply, &w);
    char hex[RL_ID_HEX];
    if (ok) {
      lua_pushstring(L, rl_id_hex(&w.node_id, hex));
      lua_setfield(L, -2, "node_id");
    }
    lua_newtable(L);
    for (uint32_t k = 0; ok && k < w.clients.n; k++) {
      const rl_wire_client_info_t *c = &w.clients.v[k];
      s_append(L);
      lua_pushstring(L, rl_id_hex(&c->worker_id, hex));
      lua_setfield(L, -2, "worker_id");
      lua_pushnumber(L, (lua_Number)c->pid);
      lua_setfield(L, -2, "pid");
      lua_pushstring(L, s_kinds[c->kind]);
      lua_setfield(L, -2, "kind");
      lua_pushstring(L, c->endpoint);
      lua_setfield(L, -2, "endpoint");
      lua_pop(L, 1);
    }
    lua_setfield(L, -2, "clients");
    lua_pop(L, 3); /* node, nodes copy, endpoint */
    rl_msg_close(&reply);
  }
  return 2;
}

/* Pushes a STACK_REPLY as {pid=, task=, traceback=, compiled=}. */
static void s_push_stack(lua_State *L, const rl_msg_t *reply) {
  lua_newtable(L);
  rl_cw_stack_reply_msg_t r;
  if (!rl_cw_stack_reply_msg_read(reply, &r)) return;
  lua_pushnumber(L, (lua_Number)r.pid);
  lua_setfield(L, -2, "pid");
  lua_pushlstring(L, r.task.p ? r.task.p : "", r.task.n);
  lua_setfield(L, -2, "task");
  lua_pushlstring(L, r.traceback.p ? r.traceback.p : "", r.traceback.n);
  lua_setfield(L, -2, "traceback");
  lua_pushboolean(L, r.compiled);
  lua_setfield(L, -2, "compiled");
}

static void s_set_u64(lua_State *L, const char *k, uint64_t v) {
  lua_pushnumber(L, (lua_Number)v);
  lua_setfield(L, -2, k);
}

static void s_set_bytes(lua_State *L, const char *k, rl_wire_bytes_t b) {
  lua_pushlstring(L, b.p ? b.p : "", b.n);
  lua_setfield(L, -2, k);
}

/* Pushes an OWNED reply as {pid=, objects={{object_id=, size=, refs=, local=,
 * borrowers=, submitted=, captured=, call_site=, age_ms=}...}} (size nil: pending). */
static void s_push_owned(lua_State *L, const rl_msg_t *reply) {
  lua_newtable(L);
  rl_cw_owned_msg_t r;
  bool ok = rl_cw_owned_msg_read(reply, &r);
  if (ok) s_set_u64(L, "pid", r.pid);
  lua_newtable(L);
  for (uint32_t i = 0; ok && i < r.objects.n; i++) {
    const rl_wire_owned_info_t *o = &r.objects.v[i];
    char hex[RL_ID_HEX];
    s_append(L);
    lua_pushstring(L, rl_id_hex(&o->object_id, hex));
    lua_setfield(L, -2, "object_id");
    if (o->has_size) s_set_u64(L, "size", o->size);
    s_set_bytes(L, "refs", o->refs);
    s_set_u64(L, "local", o->local);
    s_set_u64(L, "borrowers", o->borrowers);
    s_set_u64(L, "submitted", o->submitted);
    s_set_u64(L, "captured", o->contained);
    s_set_bytes(L, "call_site", o->call_site);
    s_set_u64(L, "age_ms", o->age_ms);
    lua_pop(L, 1);
  }
  lua_setfield(L, -2, "objects");
}

/* core.obs_ask(what, endpoints, timeout_ms) -> results
 * Asks every core worker in the list at once: what = "stack" (rayl stack) or "owned"
 * (rayl memory). results[i]: endpoints[i]'s answer as a table (see s_push_stack,
 * s_push_owned), or false when it did not answer within timeout_ms. */
static int l_obs_ask(lua_State *L) {
  static const char *const whats[] = {"stack", "owned", NULL};
  int what = luaL_checkoption(L, 1, NULL, whats);
  luaL_checktype(L, 2, LUA_TTABLE);
  int timeout_ms = (int)luaL_optinteger(L, 3, 3000);
  int n = (int)lua_objlen(L, 2);
  const char **eps = rl_xcalloc(n > 0 ? (size_t)n : 1, sizeof *eps);
  rl_msg_t *replies = rl_xcalloc(n > 0 ? (size_t)n : 1, sizeof *replies);
  bool *got = rl_xcalloc(n > 0 ? (size_t)n : 1, sizeof *got);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 2, i + 1);
    eps[i] = lua_tostring(L, -1); /* the list keeps the string alive */
    lua_pop(L, 1);
    if (!eps[i]) eps[i] = "";
  }
  rl_state_ask_all(eps, n, what ? RL_CW_LIST_OWNED : RL_CW_STACK, what ? RL_CW_OWNED : RL_CW_STACK_REPLY, replies, got,
                   timeout_ms);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    if (!got[i]) {
      lua_pushboolean(L, 0);
    } else {
      if (what) s_push_owned(L, &replies[i]);
      else s_push_stack(L, &replies[i]);
      rl_msg_close(&replies[i]);
    }
    lua_rawseti(L, -2, i + 1);
  }
  free(eps), free(replies), free(got);
  return 1;
}

static const char *const s_task_kinds[] = {"NORMAL_TASK", "ACTOR_CREATION_TASK", "ACTOR_TASK"};

/* core.obs_timeline(address|nil) -> events, info{evicted=}
 * events: {{task_id=, name=, type=, actor_id=, node_id=, pid=, start_us=, end_us=,
 * failed=, owner_id=, owner_pid=}...}, oldest first; info: evicted (forgotten at the
 * head), dropped (owners could not send them). */
static int l_obs_timeline(lua_State *L) {
  char gcs[256], err[400];
  s_head(L, 1, gcs, sizeof gcs);
  rl_head_t h;
  rl_gcs_timeline_msg_t tl;
  rl_msg_t reply;
  int rc = rl_head_connect(&h, gcs, err, sizeof err) == 0 ? rl_head_timeline(&h, &tl, &reply, S_TIMEOUT_MS, err, sizeof err)
                                                           : -1;
  rl_head_close(&h);
  if (rc != 0) return luaL_error(L, "cannot reach the cluster's head: %s", err);
  lua_createtable(L, (int)tl.events.n, 0);
  for (uint32_t i = 0; i < tl.events.n; i++) {
    const rl_wire_timeline_event_t *e = &tl.events.v[i];
    s_append(L);
    rl_host_setfield_id(L, "task_id", &e->task_id);
    rl_host_setfield_str(L, "name", e->name.p, e->name.n);
    if (e->kind < 3) {
      lua_pushstring(L, s_task_kinds[e->kind]);
      lua_setfield(L, -2, "type");
    }
    if (e->has_actor_id) rl_host_setfield_id(L, "actor_id", &e->actor_id);
    if (e->has_node_id) rl_host_setfield_id(L, "node_id", &e->node_id);
    rl_host_setfield_num(L, "pid", (double)e->pid);
    rl_host_setfield_num(L, "start_us", (double)e->start_us);
    rl_host_setfield_num(L, "end_us", (double)e->end_us);
    lua_pushboolean(L, e->failed);
    lua_setfield(L, -2, "failed");
    rl_host_setfield_id(L, "owner_id", &e->owner_id);
    rl_host_setfield_num(L, "owner_pid", (double)e->owner_pid);
    lua_pop(L, 1);
  }
  lua_createtable(L, 0, 2);
  rl_host_setfield_num(L, "evicted", (double)tl.evicted);
  rl_host_setfield_num(L, "dropped", (double)tl.dropped);
  rl_msg_close(&reply);
  return 2;
}

/* core.obs_nodes(address|nil) -> {{node_id=, address=}...}: the live nodes */
static int l_obs_nodes(lua_State *L) {
  char gcs[256], err[400];
  s_head(L, 1, gcs, sizeof gcs);
  rl_gcs_nodes_msg_t nodes;
  rl_msg_t reply;
  if (s_head_nodes(gcs, &nodes, &reply, err, sizeof err) != 0)
    return luaL_error(L, "cannot reach the cluster's head: %s", err);
  lua_newtable(L);
  for (uint32_t i = 0; i < nodes.nodes.n; i++) {
    if (!nodes.nodes.v[i].alive) continue;
    s_append(L);
    rl_host_setfield_id(L, "node_id", &nodes.nodes.v[i].node_id);
    lua_pushstring(L, nodes.nodes.v[i].endpoint);
    lua_setfield(L, -2, "address");
    lua_pop(L, 1);
  }
  rl_msg_close(&reply);
  return 1;
}

/* core.obs_logs(node_endpoint, name|nil, offset|nil, max|nil, timeout_ms|nil)
 *   -> {files={{name=, size=, modified_ms=}...}, offset=, data=} | nil, error
 * RL_NM_LOGS: without name, the node's log files; with name, up to max bytes of that
 * file from offset (negative: from the end). A node that does not answer raises. */
static int l_obs_logs(lua_State *L) {
  const char *ep = luaL_checkstring(L, 1);
  const char *name = luaL_optstring(L, 2, NULL);
  int64_t offset = (int64_t)luaL_optnumber(L, 3, 0);
  lua_Number max = luaL_optnumber(L, 4, 0);
  int timeout_ms = (int)luaL_optinteger(L, 5, 3000);
  rl_msgbuf_t b;
  char err[300];
  rl_nm_logs_msg_t q = {.request = 1, .has_name = name != NULL, .name = rl_wire_str(name), .has_offset = name != NULL,
                        .offset = offset, .has_max = name != NULL, .max = max > 0 ? (uint64_t)max : 8u << 20};
  if (rl_nm_logs_msg_pack(&q, &b, err, sizeof err) != 0) return luaL_error(L, "bad log request: %s", err);
  rl_msg_t reply;
  if (rl_state_request(ep, &b, 1, &reply, timeout_ms, err, sizeof err) != 0)
    return luaL_error(L, "the node manager at %s did not answer: %s", ep, err);
  rl_nm_log_data_msg_t d;
  if (rl_nm_log_data_msg_unpack(&reply, &d, err, sizeof err) != 0) {
    rl_msg_close(&reply);
    return luaL_error(L, "the node manager at %s sent a malformed log reply (is it an older rayl?): %s", ep, err);
  }
  const char *data = d.data.p ? d.data.p : "", *error = d.error.p;
  size_t len = d.data.n, elen = d.error.n;
  uint64_t at = d.offset;
  if (elen) {
    lua_pushnil(L);
    lua_pushlstring(L, error, elen);
    rl_msg_close(&reply);
    return 2;
  }
  lua_newtable(L);
  lua_newtable(L);
  for (uint32_t i = 0; i < d.files.n; i++) {
    s_append(L);
    s_set_bytes(L, "name", d.files.v[i].name);
    s_set_u64(L, "size", d.files.v[i].size);
    s_set_u64(L, "modified_ms", d.files.v[i].modified_ms);
    lua_pop(L, 1);
  }
  lua_setfield(L, -2, "files");
  lua_pushnumber(L, (lua_Number)at);
  lua_setfield(L, -2, "offset");
  lua_pushlstring(L, data, len);
  lua_setfield(L, -2, "data");
  rl_msg_close(&reply);
  return 1;
}

static const luaL_Reg s_funcs[] = {
    {"obs_base_dir", l_obs_base_dir}, {"obs_workers", l_obs_workers}, {"obs_ask", l_obs_ask},
    {"obs_timeline", l_obs_timeline}, {"obs_nodes", l_obs_nodes}, {"obs_logs", l_obs_logs}, {NULL, NULL},
};

void rl_l_obs_open(lua_State *L) { luaL_register(L, NULL, s_funcs); }
