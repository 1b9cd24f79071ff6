/* gcs_server.c: the head's message loop: node registration, heartbeats and liveness,
 * node listings (with each node's waiting resource demands and the clients that died),
 * the KV store, placement groups (pg_service.c), jobs (jobs.h) and the state API's task
 * and actor table (state_table.h), over one ROUTER socket, kept in a database when one
 * is given (gcs_db.h). */
#include "head/gcs_server.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/idmap.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gcs/actor_service.h"
#include "head/dashboard.h"
#include "gcs/dead_clients.h"
#include "gcs/gcs_db.h"
#include "gcs/jobs.h"
#include "gcs/kv.h"
#include "gcs/node_clients.h"
#include "gcs/node_table.h"
#include "gcs/pg_service.h"
#include "gcs/state_table.h"
#include "gcs/timeline_table.h"
#include "sched/resources.h"
#include "wire/wire.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/res_pack.h"

#define S_BATCH 1000 /* messages handled between two checks of the clock */

#define S_WARN_PER_SECOND 20 /* bad input is logged, but a flood can't fill the disk */
#define S_MAX_DEMANDS 256    /* resource shapes one node may report waiting */
#define S_MAX_DEAD 65536     /* dead clients one heartbeat may report */

/* A node's waiting demands as it last reported them. */
typedef struct {
  uint32_t n;
  rl_wire_demand_t d[];
} s_demands_t;

typedef struct {
  void *sock;
  rl_node_table_t *nodes;
  rl_kv_t *kv;
  rl_idmap_t *demands; /* node id -> s_demands_t * */
  rl_dead_clients_t *dead;
  rl_node_clients_t *clients; /* each node's clients, for its death */
  rl_state_table_t *state;
  rl_timeline_table_t *timeline;
  rl_gcs_db_t *db;        /* NULL: memory only */
  rl_jobs_t *jobs;
  rl_pg_service_t *pgs;   /* placement groups */
  rl_actor_service_t *actors; /* detached actors (NULL until started) */
  rl_dashboard_t *dash;       /* NULL: not serving one */
  int64_t warn_window_ms; /* start of the current one-second window */
  int warn_count;         /* warnings logged in it */
  long warn_suppressed;   /* warnings not logged since the last summary */
} s_gcs_t;

/* A warning about input, at most S_WARN_PER_SECOND a second; the rest are counted and
 * summarised once the second is over. */
static void s_warn_roll(s_gcs_t *g, int64_t now) {
  if (now - g->warn_window_ms < 1000) return;
  if (g->warn_suppressed)
    rl_log(RL_LOG_WARN, "%ld more warnings about bad input were not logged", g->warn_suppressed);
  g->warn_window_ms = now;
  g->warn_count = 0;
  g->warn_suppressed = 0;
}

static void s_warn(s_gcs_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_warn(s_gcs_t *g, const char *fmt, ...) {
  if (RL_LOG_WARN > rl_log_level) return;
  s_warn_roll(g, rl_now_ms());
  if (g->warn_count >= S_WARN_PER_SECOND) {
    g->warn_suppressed++;
    return;
  }
  g->warn_count++;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  rl_log(RL_LOG_WARN, "%s", line);
}

static const char *s_type_name(uint8_t type) {
  switch (type) {
    case RL_GCS_REGISTER_NODE: return "REGISTER_NODE";
    case RL_GCS_HEARTBEAT: return "HEARTBEAT";
    case RL_GCS_GET_NODES: return "GET_NODES";
    case RL_GCS_KV_PUT: return "KV_PUT";
    case RL_GCS_KV_GET: return "KV_GET";
    case RL_GCS_REREGISTER: return "REREGISTER";
    case RL_GCS_KV_EXISTS: return "KV_EXISTS";
    case RL_GCS_JOB_SUBMIT: return "JOB_SUBMIT";
    case RL_GCS_JOB_GET: return "JOB_GET";
    case RL_GCS_JOB_STOP: return "JOB_STOP";
    case RL_GCS_JOB_LIST_REQUEST: return "JOB_LIST_REQUEST";
    case RL_GCS_JOB_LOGS_REQUEST: return "JOB_LOGS_REQUEST";
    case RL_GCS_PG_CREATE: return "PG_CREATE";
    case RL_GCS_PG_REMOVE: return "PG_REMOVE";
    case RL_GCS_PG_WAIT: return "PG_WAIT";
    case RL_GCS_PG_GET: return "PG_GET";
    case RL_GCS_PG_RESERVED: return "PG_RESERVED";
    case RL_GCS_CLIENT_GONE: return "CLIENT_GONE";
    case RL_GCS_STATE_REPORT: return "STATE_REPORT";
    case RL_GCS_LIST_STATE: return "LIST_STATE";
    case RL_GCS_TIMELINE_GET: return "TIMELINE_GET";
    default: return "message";
  }
}

static void s_drop(s_gcs_t *g, const rl_msg_t *m, const char *why) {
  s_warn(g, "dropped %s (type %u, %u fields): %s", s_type_name(m->type), m->type, m->nfields, why);
}

static void s_send(s_gcs_t *g, const rl_msg_t *m, rl_msgbuf_t *b) {
  if (rl_msg_send(g->sock, &m->identity, b) != 0)
    s_warn(g, "could not reply to %s: %s", s_type_name(m->type), zmq_strerror(zmq_errno()));
}

/* Unpacks m (of its type) into msg, checking every field against proto.h's list; false
 * (logged, rate-limited, naming the field) if it does not match. */
static bool s_unpack(s_gcs_t *g, const rl_msg_t *m, void *msg) {
  char err[300];
  if (rl_wire_unpack(m, m->type, msg, err, sizeof err) == 0) return true;
  s_warn(g, "dropped %s", err);
  return false;
}

/* Packs msg (of type) and sends it to m's sender. */
static void s_reply(s_gcs_t *g, const rl_msg_t *m, int type, const void *msg) {
  rl_msgbuf_t b;
  char err[300];
  if (rl_wire_pack(type, msg, &b, err, sizeof err) != 0) return s_warn(g, "could not reply to %s: %s", s_type_name(m->type), err);
  s_send(g, m, &b);
}

/* [node_id id, node_endpoint str, resources map, pid u64] */
static void s_on_register(s_gcs_t *g, const rl_msg_t *m) {
  rl_gcs_register_node_msg_t r;
  char err[128], res[512], hex[RL_ID_HEX], gpus[RL_NODE_GPUS_MAX] = "";
  if (!s_unpack(g, m, &r)) return;
  if (r.has_gpus && !rl_wire_strcpy(gpus, sizeof gpus, r.gpus))
    return s_drop(g, m, "field 5 (gpus) is not a string of at most 299 bytes");
  bool known = rl_node_table_get(g->nodes, &r.node_id) != NULL;
  if (rl_node_table_register(g->nodes, &r.node_id, r.node_endpoint, &r.resources, r.pid, rl_now_ms(), err,
                             sizeof err) != 0) {
    s_warn(g, "refused node %s at %s: %s", rl_id_hex(&r.node_id, hex), r.node_endpoint, err);
    return;
  }
  rl_node_table_set_gpus(g->nodes, &r.node_id, gpus);
  rl_res_format(&r.resources, res, sizeof res);
  rl_log(RL_LOG_INFO, "node %s %sregistered at %s (pid %llu): %s%s%s", rl_id_hex(&r.node_id, hex), known ? "re-" : "",
         r.node_endpoint, (unsigned long long)r.pid, res, gpus[0] ? "; GPUs: " : "", gpus);
}

/* Keeps the node's demands (n of d, copied) for listings. */
static void s_keep_demands(s_gcs_t *g, const rl_id_t *node, const rl_wire_demand_t *d, uint32_t n) {
  s_demands_t *kept = rl_xmalloc(sizeof *kept + n * sizeof *d); /* at most S_MAX_DEMANDS */
  kept->n = n;
  if (n) memcpy(kept->d, d, n * sizeof *d);
  free(rl_idmap_remove(g->demands, node));
  rl_idmap_put(g->demands, node, kept);
}

/* Clients a node saw die (or that died with it, with_node): every node manager hears
 * of them (RL_GCS_NODES), and the state table fails what they owned. */
static void s_clients_died(s_gcs_t *g, const rl_id_t *node, const rl_id_t *ids, uint32_t n, bool with_node) {
  char hex[RL_ID_HEX], nhex[RL_ID_HEX];
  for (uint32_t i = 0; i < n; i++) {
    rl_dead_clients_add(g->dead, &ids[i]);
    rl_log(RL_LOG_INFO, "client %s died (%s node %s)", rl_id_hex(&ids[i], hex), with_node ? "with its" : "seen by",
           rl_id_hex(node, nhex));
  }
  rl_state_table_clients_died(g->state, ids, n);
  if (g->actors) rl_actor_service_clients_gone(g->actors, ids, n);
}

/* Reads a heartbeat's stats map (name -> number; unknown names ignored) into *out.
 * Returns false if it is not such a map. */
static bool s_read_stats(const msgpack_object *o, rl_node_stats_t *out) {
  if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > 64) return false;
  const struct {
    const char *name;
    double *v;
  } known[] = {{"store_used", &out->store_used},   {"store_capacity", &out->store_capacity},
               {"objects", &out->objects},         {"spilled", &out->spilled},
               {"workers", &out->workers},         {"workers_leased", &out->workers_leased},
               {"queued", &out->queued},           {"mem_total", &out->mem_total},
               {"mem_available", &out->mem_available}, {"load1", &out->load1},
               {"cpus", &out->cpus}};
  memset(out, 0, sizeof *out);
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    const char *name;
    size_t len;
    double d;
    if (!rl_obj_bytes(k, &name, &len)) return false;
    if (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32) d = v->via.f64;
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) d = (double)v->via.u64;
    else return false;
    if (!(d >= 0 && d < 1e300)) return false;
    for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
      if (strlen(known[j].name) == len && !memcmp(known[j].name, name, len)) *known[j].v = d;
  }
  return true;
}

/* [node_id id, available map, reserved map?, demands [[shape, count, infeasible]...]?,
 *  dead_clients [id...]?, stats map?, clients [id...]?] */
static void s_on_heartbeat(s_gcs_t *g, const rl_msg_t *m) {
  rl_gcs_heartbeat_msg_t hb;
  char hex[RL_ID_HEX];
  rl_node_stats_t st;
  if (!s_unpack(g, m, &hb)) return;
  if (hb.has_stats && !s_read_stats(hb.stats, &st))
    return s_drop(g, m, "field 6 (stats) is not a map of names to numbers");
  if (hb.demands.n > S_MAX_DEMANDS) return s_drop(g, m, "field 4 (demands) has more than 256 shapes");
  if (hb.dead_clients.n > S_MAX_DEAD) return s_drop(g, m, "field 5 (dead_clients) has more than 65536 ids");
  if (rl_node_table_heartbeat(g->nodes, &hb.node_id, &hb.available, rl_now_ms()) == 0) {
    rl_pg_service_heartbeat(g->pgs, &hb.node_id, hb.has_reserved ? &hb.reserved : NULL);
    if (hb.has_demands) s_keep_demands(g, &hb.node_id, hb.demands.v, hb.demands.n);
    if (hb.has_dead_clients) s_clients_died(g, &hb.node_id, hb.dead_clients.v, hb.dead_clients.n, false);
    if (hb.has_stats) rl_node_table_set_stats(g->nodes, &hb.node_id, &st);
    char err[160];
    if (hb.has_clients &&
        rl_node_clients_set(g->clients, &hb.node_id, hb.clients.v, hb.clients.n, err, sizeof err) != RL_OK)
      s_warn(g, "heartbeat from node %s: field 7 (clients) not kept: %s", rl_id_hex(&hb.node_id, hex), err);
    return;
  }
  /* Not known: registered with a head that kept no database (or lost it). */
  s_warn(g, "heartbeat from unknown node %s: asking it to register again", rl_id_hex(&hb.node_id, hex));
  rl_gcs_reregister_msg_t again = {.node_id = hb.node_id};
  rl_msgbuf_t b;
  char err[200];
  if (rl_gcs_reregister_msg_pack(&again, &b, err, sizeof err) == 0) s_send(g, m, &b);
}

/* GET_NODES -> NODES (wire/proto.h): pg_version and groups when asked with a version
 * (groups nil when the asker's is current); dead_seq and dead_clients when asked with
 * dead_since or first. Nodes pending since a restart are left out: neither alive nor
 * dead yet (a node manager told "dead" would fail everything it had there). */
static void s_on_get_nodes(s_gcs_t *g, const rl_msg_t *m) {
  rl_gcs_get_nodes_msg_t ask;
  if (!s_unpack(g, m, &ask)) return;
  bool with_dead = ask.has_dead_since || (ask.has_first && ask.first);
  bool new_node = !ask.has_dead_since;
  rl_gcs_nodes_msg_t reply = {.request = ask.request};
  uint32_t listed = 0;
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(g->nodes, &cur));) listed += !n->pending;
  rl_wire_node_info_t *nodes = rl_xcalloc(listed + 1, sizeof *nodes); /* the node table's size */
  reply.nodes.v = nodes;
  cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(g->nodes, &cur));) {
    if (n->pending) continue;
    rl_wire_node_info_t *e = &nodes[reply.nodes.n++];
    e->node_id = n->id;
    memcpy(e->endpoint, n->endpoint, sizeof e->endpoint);
    e->alive = n->alive;
    e->total = n->total;
    e->available = n->available;
    const s_demands_t *d = n->alive ? rl_idmap_get(g->demands, &n->id) : NULL;
    if (d) e->demands.v = (rl_wire_demand_t *)d->d, e->demands.n = d->n;
    e->gpus = rl_wire_str(n->gpus);
  }
  void *groups = NULL;
  if (ask.has_pg_version) rl_pg_service_view(g->pgs, ask.pg_version, &reply, &groups);
  rl_id_t *ids = NULL;
  if (with_dead) {
    /* A node manager asking for the first time has no clients yet: no news for it. */
    uint64_t seq = rl_dead_clients_seq(g->dead), since = ask.dead_since;
    size_t max = new_node || since == seq ? 0 : since < seq && seq - since < RL_DEAD_CLIENTS_MAX ? seq - since
                                                                                                 : RL_DEAD_CLIENTS_MAX;
    ids = max ? rl_xmalloc(max * sizeof *ids) : NULL; /* at most RL_DEAD_CLIENTS_MAX */
    reply.dead_seq = seq;
    reply.has_dead_seq = true;
    reply.dead_clients.v = ids;
    reply.dead_clients.n = ids ? (uint32_t)rl_dead_clients_since(g->dead, since, ids, max) : 0;
    reply.has_dead_clients = true;
  }
  s_reply(g, m, RL_GCS_NODES, &reply);
  free(ids);
  free(groups);
  free(nodes);
}

/* The node listening at endpoint, for the state table. */
static bool s_node_at(void *arg, const char *endpoint, size_t len, rl_id_t *out) {
  s_gcs_t *g = arg;
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(g->nodes, &cur));)
    if (strlen(n->endpoint) == len && !memcmp(n->endpoint, endpoint, len)) {
      *out = n->id;
      return true;
    }
  return false;
}

/* STATE_REPORT (wire/proto.h): no reply. */
static void s_on_state_report(s_gcs_t *g, const rl_msg_t *m) {
  char err[160];
  rl_gcs_state_report_msg_t r;
  if (!rl_gcs_state_report_msg_read(m, &r)) return;
  if (rl_state_table_report(g->state, &r, s_node_at, g, err, sizeof err) != 0) s_drop(g, m, err);
  else if (rl_timeline_table_report(g->timeline, &r, s_node_at, g, err, sizeof err) != 0) s_drop(g, m, err);
}

/* [request u64] -> TIMELINE [request, events, evicted, dropped] */
static void s_on_timeline(s_gcs_t *g, const rl_msg_t *m) {
  rl_gcs_timeline_get_msg_t ask;
  if (!s_unpack(g, m, &ask)) return;
  size_t n = rl_timeline_table_count(g->timeline);
  rl_gcs_timeline_msg_t r = {.request = ask.request,
                             .events = {(uint32_t)n, rl_xcalloc(n + 1, sizeof(rl_wire_timeline_event_t))},
                             .evicted = rl_timeline_table_evicted(g->timeline),
                             .dropped = rl_timeline_table_dropped(g->timeline)};
  rl_timeline_table_rows(g->timeline, r.events.v);
  s_reply(g, m, RL_GCS_TIMELINE, &r);
  free(r.events.v);
}

/* [request u64, what str] -> STATE [request, rows, dropped, evicted] */
static void s_on_list_state(s_gcs_t *g, const rl_msg_t *m) {
  rl_gcs_list_state_msg_t ask;
  if (!s_unpack(g, m, &ask)) return;
  uint64_t request = ask.request;
  bool tasks = ask.what.n == 5 && !memcmp(ask.what.p, "tasks", 5);
  if (!tasks && !(ask.what.n == 6 && !memcmp(ask.what.p, "actors", 6)))
    return s_drop(g, m, "field 2 (what) is neither \"tasks\" nor \"actors\"");
  rl_gcs_state_msg_t r = {.request = request, .has_tasks = tasks, .has_actors = !tasks};
  rl_state_table_losses(g->state, &r.dropped, &r.evicted);
  if (tasks) {
    r.tasks.n = (uint32_t)rl_state_table_tasks(g->state);
    r.tasks.v = rl_xcalloc(r.tasks.n + 1, sizeof *r.tasks.v);
    rl_state_table_task_rows(g->state, r.tasks.v);
  } else {
    r.actors.n = (uint32_t)rl_state_table_actors(g->state);
    r.actors.v = rl_xcalloc(r.actors.n + 1, sizeof *r.actors.v);
    rl_state_table_actor_rows(g->state, r.actors.v);
  }
  s_reply(g, m, RL_GCS_STATE, &r);
  free(r.tasks.v);
  free(r.actors.v);
}

/* KV_REPLY [request, value?, nil, error?]: error when the request failed. */
static void s_kv_reply(s_gcs_t *g, const rl_msg_t *m, uint64_t request, const void *value, size_t vlen,
                       const char *error) {
  rl_gcs_kv_reply_msg_t r = {.request = request, .value = rl_wire_bytes(value, vlen), .has_value = value != NULL,
                             .error = rl_wire_str(error), .has_error = error != NULL};
  s_reply(g, m, RL_GCS_KV_REPLY, &r);
}

/* KV_PUT -> KV_REPLY [request, previous value?] */
static void s_on_kv_put(s_gcs_t *g, const rl_msg_t *m) {
  rl_gcs_kv_put_msg_t put;
  if (!s_unpack(g, m, &put)) return;
  const char *key = put.key.p, *value = put.value.p;
  size_t klen = put.key.n, vlen = put.value.n;
  bool del = !put.has_value;
  uint64_t request = put.request;
  void *prev;
  size_t plen;
  char err[128], shown_key[64];
  /* A zero-length bin may come with a NULL pointer; it is still a value, not nil. */
  if (rl_kv_put(g->kv, key, klen, del ? NULL : value ? value : "", vlen, &prev, &plen, err, sizeof err) != 0) {
    snprintf(shown_key, sizeof shown_key, "%.*s", (int)(klen < 40 ? klen : 40), key ? key : "");
    for (char *c = shown_key; *c; c++)
      if (*c < 0x20 || *c > 0x7e) *c = '?';
    s_warn(g, "KV_PUT of key '%s' refused: %s", shown_key, err);
    s_kv_reply(g, m, request, NULL, 0, err);
    return;
  }
  if (g->db && rl_gcs_db_kv(g->db, key, klen, del ? NULL : value ? value : "", vlen, err, sizeof err) != 0) {
    /* Not kept, so not done: put the previous value back (can't fail: it fitted). */
    void *undo;
    size_t ulen;
    char ignored[128];
    rl_log(RL_LOG_ERROR, "KV_PUT refused: %s", err);
    rl_kv_put(g->kv, key, klen, prev, plen, &undo, &ulen, ignored, sizeof ignored);
    free(undo);
    free(prev);
    s_kv_reply(g, m, request, NULL, 0, err);
    return;
  }
  s_kv_reply(g, m, request, prev, plen, NULL);
  free(prev);
}

/* KV_GET -> KV_REPLY [request, value?] */
static void s_on_kv_get(s_gcs_t *g, const rl_msg_t *m) {
  rl_gcs_kv_get_msg_t get;
  size_t vlen = 0;
  if (!s_unpack(g, m, &get)) return;
  const void *value = rl_kv_get(g->kv, get.key.p, get.key.n, &vlen);
  s_kv_reply(g, m, get.request, value, vlen, NULL);
}

/* KV_EXISTS -> KV_REPLY [request, nil, size?] */
static void s_on_kv_exists(s_gcs_t *g, const rl_msg_t *m) {
  rl_gcs_kv_exists_msg_t ask;
  size_t vlen = 0;
  if (!s_unpack(g, m, &ask)) return;
  const void *value = rl_kv_get(g->kv, ask.key.p, ask.key.n, &vlen);
  rl_gcs_kv_reply_msg_t r = {.request = ask.request, .size = vlen, .has_size = value != NULL};
  s_reply(g, m, RL_GCS_KV_REPLY, &r);
}

static void s_handle(s_gcs_t *g, const rl_msg_t *m) {
  if (rl_actor_service_accepts(m->type)) {
    rl_actor_service_handle(g->actors, m);
    return;
  }
  rl_gcs_client_gone_msg_t gone;
  if (m->type == RL_GCS_CLIENT_GONE && rl_wire_unpack(m, m->type, &gone, NULL, 0) == 0)
    rl_actor_service_clients_gone(g->actors, &gone.worker_id, 1); /* pg_service logs a bad one */
  if (rl_pg_service_accepts(m->type)) {
    rl_pg_service_handle(g->pgs, m, rl_now_ms());
    return;
  }
  char why[300];
  int job = rl_jobs_handle(g->jobs, g->sock, m, why, sizeof why);
  if (job < 0) return s_drop(g, m, why);
  if (job > 0) return;
  switch (m->type) {
    case RL_GCS_KV_EXISTS: s_on_kv_exists(g, m); break;
    case RL_GCS_REGISTER_NODE: s_on_register(g, m); break;
    case RL_GCS_HEARTBEAT: s_on_heartbeat(g, m); break;
    case RL_GCS_GET_NODES: s_on_get_nodes(g, m); break;
    case RL_GCS_KV_PUT: s_on_kv_put(g, m); break;
    case RL_GCS_KV_GET: s_on_kv_get(g, m); break;
    case RL_GCS_STATE_REPORT: s_on_state_report(g, m); break;
    case RL_GCS_LIST_STATE: s_on_list_state(g, m); break;
    case RL_GCS_TIMELINE_GET: s_on_timeline(g, m); break;
    default: s_drop(g, m, "not a message the head accepts"); break;
  }
}

/* True once the watched parent is gone. A parent that was ours at the start is gone
 * when we are re-parented (immune to pid reuse); another process, when kill(pid, 0)
 * says it no longer exists. */
static bool s_parent_gone(pid_t parent, bool was_ppid) {
  if (parent <= 0) return false;
  if (was_ppid) return getppid() != parent;
  return kill(parent, 0) != 0 && errno == ESRCH;
}

/* The node table's hook: every change that must outlive a restart goes to the file;
 * placement groups follow nodes that come and go; a dead node's clients are dead. */
static void s_node_changed(void *arg, const rl_node_t *node, bool forgotten) {
  s_gcs_t *g = arg;
  char err[300];
  if (g->db && rl_gcs_db_node(g->db, node, forgotten, err, sizeof err) != 0) rl_log(RL_LOG_ERROR, "%s", err);
  rl_pg_service_node_changed(g->pgs, node, forgotten);
  if (g->actors && !forgotten && !node->alive && !node->pending) rl_actor_service_node_died(g->actors, node->endpoint);
  if (!forgotten && (node->alive || node->pending)) return;
  /* Dead whole: its node manager cannot report its clients, so the head does (their
   * borrowers elsewhere raise OwnerDiedError instead of waiting for ever). */
  size_t n;
  rl_id_t *ids = rl_node_clients_take(g->clients, &node->id, &n);
  if (n && !forgotten) s_clients_died(g, &node->id, ids, (uint32_t)n, true);
  free(ids);
}

static void s_warn_pg(void *arg, const char *what) { s_warn(arg, "%s", what); }

/* The dashboard's view of a node's waiting demands, as it reported them. */
static bool s_dash_demands(void *ctx, const rl_id_t *node, const rl_wire_demand_t **d, uint32_t *n) {
  const s_demands_t *kept = rl_idmap_get(((s_gcs_t *)ctx)->demands, node);
  if (!kept) return false;
  *d = kept->d, *n = kept->n;
  return true;
}

/* Starts the dashboard when asked to, and records where it is (or why not) in the KV
 * store for `rayl dashboard`. A busy port is logged; the head goes on without it. */
static void s_start_dashboard(s_gcs_t *g, const rl_gcs_opts_t *opts) {
  if (!opts->dashboard_host) return;
  char err[300], rec[600];
  rl_dashboard_tables_t t = {.nodes = g->nodes, .state = g->state, .jobs = g->jobs, .pgs = g->pgs,
                             .timeline = g->timeline, .demands = s_dash_demands, .demands_ctx = g,
                             .session_dir = opts->session_dir};
  rl_dashboard_opts_t o = {.host = opts->dashboard_host, .port = opts->dashboard_port,
                           .token = opts->dashboard_token ? opts->dashboard_token : ""};
  g->dash = rl_dashboard_new(&t, &o, err, sizeof err);
  if (g->dash) {
    rl_log(RL_LOG_INFO, "dashboard at %s", rl_dashboard_url(g->dash));
    snprintf(rec, sizeof rec, "%s\n%s\n", rl_dashboard_url(g->dash), o.token);
  } else {
    rl_log(RL_LOG_WARN, "not serving the dashboard: %s", err);
    snprintf(rec, sizeof rec, "\n\n%s", err);
  }
  void *prev;
  size_t plen;
  char ignored[128];
  if (rl_kv_put(g->kv, RL_DASHBOARD_KV_KEY, strlen(RL_DASHBOARD_KV_KEY), rec, strlen(rec), &prev, &plen, ignored,
                sizeof ignored) == 0)
    free(prev);
}

/* Opens opts->db_path and loads it into g's tables, then saves every change. */
static int s_open_db(s_gcs_t *g, const char *path) {
  char err[400];
  int64_t t0 = rl_now_ms();
  g->db = rl_gcs_db_open(path, err, sizeof err);
  if (!g->db || rl_gcs_db_load(g->db, g->nodes, g->kv, t0, err, sizeof err) != 0) {
    rl_log(RL_LOG_ERROR, "cannot use the head's database: %s", err);
    return -1;
  }
  g->pgs = rl_pg_service_new(g->sock, g->nodes, g->db, s_warn_pg, g, err, sizeof err);
  if (!g->pgs) {
    rl_log(RL_LOG_ERROR, "cannot load the placement groups of the head's database: %s", err);
    return -1;
  }
  rl_log(RL_LOG_INFO, "head state kept in %s: loaded %zu nodes and %zu KV entries, %zu placement groups, in %lld ms",
         path, rl_node_table_size(g->nodes), rl_kv_count(g->kv), rl_pg_service_count(g->pgs),
         (long long)(rl_now_ms() - t0));
  return 0;
}

int rl_gcs_serve(void *router, const rl_gcs_opts_t *opts, atomic_int *stop) {
  s_gcs_t g = {.sock = router};
  int rc = -1;
  g.nodes = rl_node_table_new(opts->heartbeat_timeout_ms > 0 ? opts->heartbeat_timeout_ms
                                                             : RL_GCS_DEFAULT_HEARTBEAT_TIMEOUT_MS);
  g.kv = rl_kv_new(opts->kv_max_bytes ? opts->kv_max_bytes : RL_GCS_DEFAULT_KV_MAX_BYTES);
  g.demands = rl_idmap_new();
  g.dead = rl_dead_clients_new();
  g.clients = rl_node_clients_new();
  g.state = rl_state_table_new(rl_state_table_max_tasks_env(), RL_STATE_MAX_DEAD_ACTORS);
  g.timeline = rl_timeline_table_new(rl_state_table_max_tasks_env()); /* runs: as many as tasks */
  if (!g.nodes || !g.kv || !g.demands || !g.dead || !g.state || !g.timeline) {
    rl_log(RL_LOG_ERROR, "out of memory starting the head");
    goto done;
  }
  if (opts->db_path && s_open_db(&g, opts->db_path) != 0) goto done;
  rl_jobs_opts_t jo = {.session_dir = opts->session_dir, .rayl_bin = opts->rayl_bin, .address = opts->address,
                       .db = g.db, .kv = g.kv};
  if (!(g.jobs = rl_jobs_new(&jo))) {
    rl_log(RL_LOG_ERROR, "out of memory starting the head");
    goto done;
  }
  if (!g.pgs) {
    char err[200];
    g.pgs = rl_pg_service_new(router, g.nodes, NULL, s_warn_pg, &g, err, sizeof err);
    if (!g.pgs) {
      rl_log(RL_LOG_ERROR, "cannot start the head: %s", err);
      goto done;
    }
  }
  char aerr[300];
  if (!(g.actors = rl_actor_service_new(router, opts->zctx, g.nodes, g.kv, g.db, opts->address, aerr, sizeof aerr))) {
    rl_log(RL_LOG_ERROR, "cannot load the actors of the head's database: %s", aerr);
    goto done;
  }
  if (rl_actor_service_count(g.actors))
    rl_log(RL_LOG_INFO, "loaded %zu detached actors", rl_actor_service_count(g.actors));
  rl_node_table_set_hook(g.nodes, s_node_changed, &g);
  s_start_dashboard(&g, opts);
  bool was_ppid = opts->parent_pid > 0 && getppid() == opts->parent_pid;
  int64_t next_tick = rl_now_ms() + RL_GCS_TICK_MS;
  zmq_pollitem_t items[2] = {{router, 0, ZMQ_POLLIN, 0}, {NULL, g.dash ? rl_dashboard_fd(g.dash) : -1, ZMQ_POLLIN, 0}};
  for (;;) {
    if (atomic_load(stop)) {
      rl_log(RL_LOG_INFO, "head stopping");
      break;
    }
    if (rl_interrupted) {
      rl_log(RL_LOG_INFO, "head stopping on signal %d", (int)rl_interrupted);
      break;
    }
    int64_t now = rl_now_ms();
    if (now >= next_tick) {
      next_tick = now + RL_GCS_TICK_MS;
      if (s_parent_gone(opts->parent_pid, was_ppid)) {
        rl_log(RL_LOG_INFO, "head stopping: parent process %d is gone", (int)opts->parent_pid);
        break;
      }
      rl_node_table_expire(g.nodes, now);
      rl_jobs_tick(g.jobs, now);
      s_warn_roll(&g, now);
      rl_pg_service_schedule(g.pgs, now);
    }
    long wait = (long)(next_tick - now);
    if (rl_actor_service_busy(g.actors) && wait > 10) wait = 10; /* its sockets are read between polls */
    long http_wait = g.dash ? rl_dashboard_timeout_ms(g.dash) : -1;
    if (http_wait >= 0 && http_wait < wait) wait = http_wait;
    int n = zmq_poll(items, g.dash ? 2 : 1, wait < 0 ? 0 : wait);
    if (n < 0) {
      if (zmq_errno() == EINTR) continue;
      rl_log(RL_LOG_ERROR, "head socket failed: %s", zmq_strerror(zmq_errno()));
      goto done;
    }
    if (g.dash && (items[1].revents || n == 0)) rl_dashboard_run(g.dash); /* ready, or its deadline */
    for (int i = 0; n > 0 && (items[0].revents & ZMQ_POLLIN) && i < S_BATCH; i++) {
      rl_msg_t m;
      int got = rl_msg_recv(router, true, &m);
      if (got == 0) break;
      if (got < 0) continue; /* malformed: logged and dropped by rl_msg_recv */
      s_handle(&g, &m);
      rl_msg_close(&m);
    }
    rl_pg_service_schedule(g.pgs, rl_now_ms());
    rl_pg_service_flush(g.pgs);
    rl_actor_service_tick(g.actors, rl_now_ms());
  }
  rc = 0;
  /* Leaving for good (stopped, or its parent is gone): jobs end with it. A head that is
   * killed leaves them running for the next one to find. */
  rl_jobs_stop_all(g.jobs);
done:
  rl_dashboard_destroy(&g.dash);
  rl_actor_service_destroy(&g.actors);
  rl_jobs_destroy(&g.jobs);
  if (g.pgs) rl_pg_service_flush(g.pgs);
  rl_pg_service_destroy(&g.pgs);
  rl_gcs_db_destroy(&g.db);
  rl_node_table_destroy(&g.nodes);
  rl_kv_destroy(&g.kv);
  if (g.demands) {
    size_t cur = 0;
    for (void *d; (d = rl_idmap_next(g.demands, &cur, NULL));) free(d);
  }
  rl_idmap_destroy(&g.demands);
  rl_dead_clients_destroy(&g.dead);
  rl_node_clients_destroy(&g.clients);
  rl_state_table_destroy(&g.state);
  rl_timeline_table_destroy(&g.timeline);
  return rc;
}
