/* pg_service.c: the head's placement group messages over its ROUTER socket: clients
 * create, remove, wait for and list groups; node managers are asked to reserve and
 * release bundles (addressed by node id, their routing id) and are told every
 * placement change; changes are kept in the database. */
#include "gcs/pg_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/idmap.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gcs/pg_table.h"
#include "wire/proto.h"
#include "wire/wire.h"

/* Waiting groups are looked at after every change, and at least this often (attempts
 * that time out); a refused attempt is retried this soon. */
#define S_SWEEP_MS 1000
#define S_RETRY_SWEEP_MS 250

/* A client waiting for a group to be created (RL_GCS_PG_WAIT). */
typedef struct s_waiter {
  zmq_msg_t identity;
  uint64_t request;
  struct s_waiter *next;
} s_waiter_t;

struct rl_pg_service_t {
  void *sock;
  rl_node_table_t *nodes;
  rl_gcs_db_t *db;
  rl_pg_table_t *table;
  rl_pg_warn_fn *warn;
  void *warn_arg;
  uint64_t version;    /* of the placements told to node managers */
  bool dirty;          /* something changed that may let a waiting group be placed */
  int64_t sweep_ms;    /* schedule then even if nothing changed (retries, timeouts) */
  rl_idmap_t *unsaved; /* ids of groups changed since the last flush to the database */
};

static void s_warn(rl_pg_service_t *s, const rl_msg_t *m, const char *why) {
  char line[640];
  snprintf(line, sizeof line, "dropped a placement group message (type %u, %u fields): %s", m->type, m->nfields, why);
  s->warn(s->warn_arg, line);
}

/* Unpacks m (of its type) into msg; false (warned, naming the field) if it does not
 * match its field list. */
static bool s_read(rl_pg_service_t *s, const rl_msg_t *m, void *msg) {
  char err[300], line[320];
  if (rl_wire_unpack(m, m->type, msg, err, sizeof err) == 0) return true;
  snprintf(line, sizeof line, "dropped %s", err);
  s->warn(s->warn_arg, line);
  return false;
}

/* Sends msg (of type) to the node manager whose routing id is node. */
static void s_send_node(rl_pg_service_t *s, const rl_id_t *node, int type, const void *msg) {
  zmq_msg_t id;
  zmq_msg_init_size(&id, RL_ID_SIZE);
  memcpy(zmq_msg_data(&id), node->b, RL_ID_SIZE);
  rl_wire_send(s->sock, &id, type, msg);
  zmq_msg_close(&id);
}

/* pg's bundles as the wire carries them, into out (pg->n of them): a bundle's node
 * once it is reserved there. */
static void s_bundles(const rl_pg_t *pg, rl_wire_bundle_t *out) {
  for (int i = 0; i < pg->n; i++) {
    out[i].has_node_id = pg->bundles[i].state == RL_BUNDLE_RESERVED;
    if (out[i].has_node_id) out[i].node_id = pg->bundles[i].node;
    out[i].resources = pg->bundles[i].resources;
  }
}

/* ---- the table's hooks ---- */

static void s_reserve(void *arg, const rl_pg_t *pg, int index) {
  rl_pg_service_t *s = arg;
  rl_gcs_pg_reserve_msg_t r = {.pg_id = pg->id, .index = (uint64_t)index, .attempt = pg->attempt,
                               .resources = pg->bundles[index].resources};
  s_send_node(s, &pg->bundles[index].node, RL_GCS_PG_RESERVE, &r);
}

static void s_release(void *arg, const rl_pg_t *pg, int index, const rl_id_t *node) {
  rl_pg_service_t *s = arg;
  rl_gcs_pg_release_msg_t r = {.pg_id = pg->id, .index = (uint64_t)index};
  s_send_node(s, node, RL_GCS_PG_RELEASE, &r);
}

/* Tells every live node manager where the group's bundles are now (or that it is gone). */
static void s_push(rl_pg_service_t *s, const rl_pg_t *pg, bool removed) {
  s->version++;
  rl_gcs_pg_placement_msg_t r = {.pg_id = pg->id, .version = s->version, .has_bundles = !removed};
  rl_wire_bundle_t *bundles = NULL;
  if (!removed) {
    bundles = rl_xcalloc((size_t)pg->n + 1, sizeof *bundles); /* at most RL_PG_MAX_BUNDLES */
    s_bundles(pg, bundles);
    r.bundles.v = bundles;
    r.bundles.n = (uint32_t)pg->n;
  }
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(s->nodes, &cur));)
    if (n->alive) s_send_node(s, &n->id, RL_GCS_PG_PLACEMENT, &r);
  free(bundles);
}

static void s_ready_reply(rl_pg_service_t *s, const zmq_msg_t *identity, uint64_t request, const rl_id_t *pg_id,
                          const char *error) {
  rl_gcs_pg_ready_msg_t r = {.request = request, .pg_id = *pg_id, .error = rl_wire_str(error), .has_error = error != NULL};
  rl_gcs_pg_ready_msg_send(s->sock, identity, &r);
}

/* Answers (and forgets) everyone waiting for pg; error NULL: it is created. */
static void s_answer_waiters(rl_pg_service_t *s, rl_pg_t *pg, const char *error) {
  for (s_waiter_t *w = pg->user, *next; w; w = next) {
    next = w->next;
    s_ready_reply(s, &w->identity, w->request, &pg->id, error);
    zmq_msg_close(&w->identity);
    free(w);
  }
  pg->user = NULL;
}

static void s_changed(void *arg, rl_pg_t *pg, rl_pg_event_t ev) {
  rl_pg_service_t *s = arg;
  char hex[RL_ID_HEX], msg[200];
  /* Saved with the batch's other changes (rl_pg_service_flush): one commit, not one
   * per change. */
  if (s->db) rl_idmap_put(s->unsaved, &pg->id, s);
  if (ev == RL_PG_EV_ADDED) return;
  s_push(s, pg, ev == RL_PG_EV_REMOVED);
  if (ev == RL_PG_EV_CREATED) s_answer_waiters(s, pg, NULL);
  if (ev == RL_PG_EV_REMOVED) {
    snprintf(msg, sizeof msg, "placement group %s was removed before all its bundles were reserved",
             rl_id_hex(&pg->id, hex));
    s_answer_waiters(s, pg, msg);
    s->dirty = true; /* its resources are free for others */
  }
}

/* ---- life ---- */

rl_pg_service_t *rl_pg_service_new(void *sock, rl_node_table_t *nodes, rl_gcs_db_t *db, rl_pg_warn_fn *warn,
                                   void *warn_arg, char *err, size_t errlen) {
  rl_pg_service_t *s = rl_xcalloc(1, sizeof *s);
  s->sock = sock;
  s->nodes = nodes;
  s->db = db;
  s->warn = warn;
  s->warn_arg = warn_arg;
  /* Another head (a restart) starts from another version, so node managers ask for
   * the whole table again. */
  s->version = (uint64_t)time(NULL) << 20;
  rl_pg_hooks_t hooks = {s_reserve, s_release, s_changed, s};
  s->table = rl_pg_table_new(nodes, &hooks);
  s->unsaved = rl_idmap_new();
  if (db && rl_gcs_db_load_pgs(db, s->table, err, errlen) != 0) {
    rl_pg_service_destroy(&s);
    return NULL;
  }
  s->dirty = true;
  return s;
}

void rl_pg_service_destroy(rl_pg_service_t **p) {
  if (!p || !*p) return;
  rl_pg_service_t *s = *p;
  for (rl_pg_t *pg = rl_pg_table_next(s->table, NULL); pg; pg = rl_pg_table_next(s->table, pg))
    for (s_waiter_t *w = pg->user, *next; w; w = next) {
      next = w->next;
      zmq_msg_close(&w->identity);
      free(w);
    }
  rl_pg_table_destroy(&s->table);
  rl_idmap_destroy(&s->unsaved);
  free(s);
  *p = NULL;
}

void rl_pg_service_flush(rl_pg_service_t *s) {
  if (!s->db || rl_idmap_size(s->unsaved) == 0) return;
  char err[300], hex[RL_ID_HEX];
  if (rl_gcs_db_begin(s->db, err, sizeof err) != 0) {
    rl_log(RL_LOG_ERROR, "placement groups not saved: %s", err);
    return; /* kept: tried again after the next batch */
  }
  size_t cur = 0;
  rl_id_t id;
  while (rl_idmap_next(s->unsaved, &cur, &id)) {
    rl_pg_t *pg = rl_pg_table_get(s->table, &id);
    rl_pg_t gone = {.id = id};
    if (rl_gcs_db_pg(s->db, pg ? pg : &gone, !pg, err, sizeof err) != 0)
      rl_log(RL_LOG_ERROR, "placement group %s not saved: %s", rl_id_hex(&id, hex), err);
  }
  if (rl_gcs_db_commit(s->db, err, sizeof err) != 0) {
    rl_log(RL_LOG_ERROR, "placement groups not saved: %s", err);
    return;
  }
  rl_idmap_destroy(&s->unsaved);
  s->unsaved = rl_idmap_new();
}

const struct rl_pg_table_t *rl_pg_service_table(const rl_pg_service_t *s) { return s->table; }

size_t rl_pg_service_count(const rl_pg_service_t *s) { return rl_pg_table_size(s->table); }

bool rl_pg_service_accepts(uint8_t type) {
  return (type >= RL_GCS_PG_CREATE && type <= RL_GCS_PG_GET) || type == RL_GCS_PG_RESERVED ||
         type == RL_GCS_CLIENT_GONE;
}

/* ---- client requests ---- */

static void s_reply(rl_pg_service_t *s, const rl_msg_t *m, uint64_t request, const char *error, const char *warning) {
  rl_gcs_pg_reply_msg_t r = {.request = request, .error = rl_wire_str(error), .has_error = error != NULL,
                             .warning = rl_wire_str(warning), .has_warning = warning != NULL};
  rl_gcs_pg_reply_msg_send(s->sock, &m->identity, &r);
}

/* [request, pg_id, name, strategy, bundles [map...], detached, creator] */
static void s_on_create(rl_pg_service_t *s, const rl_msg_t *m, int64_t now_ms) {
  rl_gcs_pg_create_msg_t q;
  char name[RL_PG_NAME_MAX], strategy[32], err[512], why[300], hex[RL_ID_HEX];
  if (rl_wire_unpack(m, m->type, &q, err, sizeof err) != 0) {
    uint64_t request;
    s_warn(s, m, err);
    if (rl_wire_request_of(m, &request)) s_reply(s, m, request, err, NULL); /* else it would wait for nothing */
    return;
  }
  if (!rl_wire_strcpy(name, sizeof name, q.name)) return s_reply(s, m, q.request, "the name is too long", NULL);
  if (!rl_wire_strcpy(strategy, sizeof strategy, q.strategy) || rl_pg_strategy_parse(strategy) < 0)
    return s_reply(s, m, q.request, "unknown strategy: expected PACK, SPREAD, STRICT_PACK or STRICT_SPREAD", NULL);
  if (q.bundles.n < 1 || q.bundles.n > RL_PG_MAX_BUNDLES)
    return s_reply(s, m, q.request, "bundles must be a list of 1 to 1024 resource maps", NULL);
  rl_pg_t *pg = rl_pg_table_add(s->table, &q.pg_id, name, rl_pg_strategy_parse(strategy), q.bundles.v,
                                (int)q.bundles.n, q.detached, &q.creator, err, sizeof err);
  if (!pg) return s_reply(s, m, q.request, err, NULL);
  const char *warning = NULL;
  if (!rl_pg_table_try(s->table, pg, now_ms) && rl_pg_table_feasible(s->table, pg, why, sizeof why) != 0) {
    snprintf(err, sizeof err, "placement group %s cannot be placed: %s. It stays pending until nodes that can "
             "hold it join the cluster", rl_id_hex(&q.pg_id, hex), why);
    warning = err;
  }
  s_reply(s, m, q.request, NULL, warning);
}

/* [request, pg_id] */
static void s_on_remove(rl_pg_service_t *s, const rl_msg_t *m) {
  rl_gcs_pg_remove_msg_t q;
  char hex[RL_ID_HEX], err[120];
  if (!s_read(s, m, &q)) return;
  rl_pg_t *pg = rl_pg_table_get(s->table, &q.pg_id);
  if (!pg) {
    snprintf(err, sizeof err, "no placement group %s (removed already?)", rl_id_hex(&q.pg_id, hex));
    return s_reply(s, m, q.request, err, NULL);
  }
  rl_pg_table_remove(s->table, pg);
  s_reply(s, m, q.request, NULL, NULL);
}

/* [request, pg_id] */
static void s_on_wait(rl_pg_service_t *s, const rl_msg_t *m) {
  rl_gcs_pg_wait_msg_t q;
  char hex[RL_ID_HEX], err[160];
  if (!s_read(s, m, &q)) return;
  rl_pg_t *pg = rl_pg_table_get(s->table, &q.pg_id);
  if (!pg) {
    snprintf(err, sizeof err, "placement group %s does not exist (it was removed, or never created)",
             rl_id_hex(&q.pg_id, hex));
    return s_ready_reply(s, &m->identity, q.request, &q.pg_id, err);
  }
  if (pg->state == RL_PG_CREATED) return s_ready_reply(s, &m->identity, q.request, &q.pg_id, NULL);
  s_waiter_t *w = rl_xcalloc(1, sizeof *w);
  zmq_msg_init(&w->identity);
  zmq_msg_copy(&w->identity, (zmq_msg_t *)&m->identity);
  w->request = q.request;
  w->next = pg->user;
  pg->user = w;
}

/* [request, pg_id?, name?]: PG_INFO with that group, or every group (both nil) */
static void s_on_get(rl_pg_service_t *s, const rl_msg_t *m) {
  rl_gcs_pg_get_msg_t q;
  char name[RL_PG_NAME_MAX];
  if (!s_read(s, m, &q)) return;
  rl_pg_t *one = NULL;
  if (q.has_pg_id) one = rl_pg_table_get(s->table, &q.pg_id);
  else if (q.has_name && rl_wire_strcpy(name, sizeof name, q.name)) one = rl_pg_table_find_name(s->table, name);
  bool all = !q.has_pg_id && !q.has_name;
  uint32_t n = 0, nb = 0;
  for (rl_pg_t *pg = rl_pg_table_next(s->table, NULL); pg; pg = rl_pg_table_next(s->table, pg))
    if (all || pg == one) n++, nb += (uint32_t)pg->n;
  /* one block: the groups, then their bundles */
  rl_wire_pg_info_t *groups = rl_xcalloc(1, n * sizeof *groups + nb * sizeof(rl_wire_bundle_t) + 1);
  rl_wire_bundle_t *bundles = (rl_wire_bundle_t *)(groups + n);
  uint32_t k = 0;
  for (rl_pg_t *pg = rl_pg_table_next(s->table, NULL); pg; pg = rl_pg_table_next(s->table, pg)) {
    if (!all && pg != one) continue;
    rl_wire_pg_info_t *g = &groups[k++];
    g->pg_id = pg->id;
    g->name = rl_wire_str(pg->name);
    g->strategy = rl_wire_str(rl_pg_strategy_name(pg->strategy));
    g->state = rl_wire_str(rl_pg_state_name(pg->state));
    g->detached = pg->detached;
    s_bundles(pg, bundles);
    g->bundles.v = bundles;
    g->bundles.n = (uint32_t)pg->n;
    bundles += pg->n;
  }
  rl_gcs_pg_info_msg_t r = {.request = q.request, .groups = {n, groups}};
  rl_gcs_pg_info_msg_send(s->sock, &m->identity, &r);
  free(groups);
}

/* ---- node managers ---- */

/* [pg_id, index, attempt, ok, available, reserved] from the node (its routing id). */
static void s_on_reserved(rl_pg_service_t *s, const rl_msg_t *m, int64_t now_ms) {
  rl_gcs_pg_reserved_msg_t q;
  rl_id_t node;
  if (zmq_msg_size((zmq_msg_t *)&m->identity) != RL_ID_SIZE) return s_warn(s, m, "not from a node manager");
  memcpy(node.b, zmq_msg_data((zmq_msg_t *)&m->identity), RL_ID_SIZE);
  if (!s_read(s, m, &q)) return;
  if (q.index >= RL_PG_MAX_BUNDLES) return s_warn(s, m, "field 'index' is not a bundle's (0 to 1023)");
  /* The node's answer is also a fresh report of what it has. */
  if (rl_node_table_heartbeat(s->nodes, &node, &q.available, now_ms) == 0)
    rl_pg_table_node_report(s->table, &node, &q.reserved);
  rl_pg_table_reserved(s->table, &q.pg_id, (int)q.index, q.attempt, q.ok, now_ms);
  if (!q.ok && s->sweep_ms > now_ms + S_RETRY_SWEEP_MS) s->sweep_ms = now_ms + S_RETRY_SWEEP_MS;
}

/* [worker_id]: its groups that are not detached go with it. */
static void s_on_client_gone(rl_pg_service_t *s, const rl_msg_t *m) {
  rl_gcs_client_gone_msg_t q;
  if (!s_read(s, m, &q)) return;
  for (rl_pg_t *pg = rl_pg_table_next(s->table, NULL), *next; pg; pg = next) {
    next = rl_pg_table_next(s->table, pg);
    if (pg->detached || !rl_id_eq(&pg->creator, &q.worker_id)) continue;
    char hex[RL_ID_HEX];
    rl_log(RL_LOG_INFO, "removing placement group %s: its creator left", rl_id_hex(&pg->id, hex));
    rl_pg_table_remove(s->table, pg);
  }
}

void rl_pg_service_handle(rl_pg_service_t *s, const rl_msg_t *m, int64_t now_ms) {
  switch (m->type) {
    case RL_GCS_PG_CREATE: s_on_create(s, m, now_ms); break;
    case RL_GCS_PG_REMOVE: s_on_remove(s, m); break;
    case RL_GCS_PG_WAIT: s_on_wait(s, m); break;
    case RL_GCS_PG_GET: s_on_get(s, m); break;
    case RL_GCS_PG_RESERVED: s_on_reserved(s, m, now_ms); break;
    case RL_GCS_CLIENT_GONE: s_on_client_gone(s, m); break;
    default: s_warn(s, m, "not a placement group message"); break;
  }
}

void rl_pg_service_heartbeat(rl_pg_service_t *s, const rl_id_t *node, const rl_resources_t *reserved) {
  if (reserved) rl_pg_table_node_report(s->table, node, reserved);
  s->dirty = true;
}

void rl_pg_service_node_changed(rl_pg_service_t *s, const rl_node_t *node, bool forgotten) {
  if (forgotten || !node->alive) rl_pg_table_node_died(s->table, &node->id);
  s->dirty = true;
}

void rl_pg_service_schedule(rl_pg_service_t *s, int64_t now_ms) {
  if (!s->dirty && now_ms < s->sweep_ms) return;
  s->dirty = false;
  s->sweep_ms = now_ms + S_SWEEP_MS;
  rl_pg_table_schedule(s->table, now_ms);
}

void rl_pg_service_view(rl_pg_service_t *s, uint64_t version, rl_gcs_nodes_msg_t *reply, void **mem) {
  reply->pg_version = s->version;
  reply->has_pg_version = true;
  *mem = NULL;
  if (version == s->version) return;
  uint32_t n = 0, nb = 0;
  for (rl_pg_t *pg = rl_pg_table_next(s->table, NULL); pg; pg = rl_pg_table_next(s->table, pg))
    if (pg->state == RL_PG_CREATED || pg->state == RL_PG_RESCHEDULING) n++, nb += (uint32_t)pg->n;
  /* one block: the groups, then their bundles (the table's size) */
  rl_wire_pg_group_t *groups = rl_xcalloc(1, n * sizeof *groups + nb * sizeof(rl_wire_bundle_t) + 1);
  rl_wire_bundle_t *bundles = (rl_wire_bundle_t *)(groups + n);
  uint32_t k = 0;
  for (rl_pg_t *pg = rl_pg_table_next(s->table, NULL); pg; pg = rl_pg_table_next(s->table, pg)) {
    if (pg->state != RL_PG_CREATED && pg->state != RL_PG_RESCHEDULING) continue;
    rl_wire_pg_group_t *g = &groups[k++];
    g->pg_id = pg->id;
    g->bundles.v = bundles;
    g->bundles.n = (uint32_t)pg->n;
    for (int i = 0; i < pg->n; i++, bundles++) {
      bundles->has_node_id = pg->bundles[i].state == RL_BUNDLE_RESERVED;
      if (bundles->has_node_id) bundles->node_id = pg->bundles[i].node;
      bundles->resources = pg->bundles[i].resources;
    }
  }
  reply->groups.v = groups;
  reply->groups.n = n;
  reply->has_groups = true;
  *mem = groups;
}
