/* pg_table.c: the head's placement groups: an id map and a creation-ordered list of
 * groups, what this table placed on each node, and the life of a group (pending ->
 * reserving -> created, rolled back on a refusal, rescheduled when a node dies). */
#include "common/selftest.h"
#include "gcs/pg_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/idmap.h"
#include "common/log.h"
#include "common/xalloc.h"

#define S_RETRY_MS 200 /* a refused attempt is tried again after this */

/* What this table has placed on a node, and what the node last said it holds. */
typedef struct {
  rl_resources_t placed, reported;
} s_node_t;

struct rl_pg_table_t {
  rl_node_table_t *nodes;
  rl_pg_hooks_t hooks;
  rl_idmap_t *index;    /* group id -> rl_pg_t */
  rl_idmap_t *per_node; /* node id -> s_node_t */
  rl_pg_t *head, *tail;
  size_t n;
  uint64_t next_attempt;
};

const char *rl_pg_state_name(int state) {
  static const char *const names[] = {"PENDING", "CREATED", "RESCHEDULING", "REMOVED"};
  return state >= 0 && state < 4 ? names[state] : "?";
}

rl_pg_table_t *rl_pg_table_new(rl_node_table_t *nodes, const rl_pg_hooks_t *hooks) {
  rl_pg_table_t *t = rl_xcalloc(1, sizeof *t);
  t->nodes = nodes;
  t->hooks = *hooks;
  t->index = rl_idmap_new();
  t->per_node = rl_idmap_new();
  return t;
}

static void s_free_pg(rl_pg_t *pg) {
  free(pg->bundles);
  free(pg);
}

void rl_pg_table_destroy(rl_pg_table_t **p) {
  if (!p || !*p) return;
  rl_pg_table_t *t = *p;
  for (rl_pg_t *pg = t->head, *next; pg; pg = next) {
    next = pg->next;
    s_free_pg(pg);
  }
  if (t->per_node) {
    size_t cur = 0;
    for (s_node_t *n; (n = rl_idmap_next(t->per_node, &cur, NULL));) free(n);
  }
  rl_idmap_destroy(&t->index);
  rl_idmap_destroy(&t->per_node);
  free(t);
  *p = NULL;
}

static s_node_t *s_node(rl_pg_table_t *t, const rl_id_t *id) {
  s_node_t *n = rl_idmap_get(t->per_node, id);
  if (n) return n;
  n = rl_xcalloc(1, sizeof *n);
  rl_idmap_put(t->per_node, id, n);
  return n;
}

/* Bundle i is placed on node (counted against it). */
static void s_place(rl_pg_table_t *t, rl_pg_t *pg, int i, const rl_id_t *node, int state, uint64_t attempt) {
  rl_pg_bundle_t *b = &pg->bundles[i];
  b->node = *node;
  b->state = state;
  b->attempt = attempt;
  s_node_t *n = s_node(t, node);
  if (n && rl_res_add(&n->placed, &b->resources) != 0)
    rl_log(RL_LOG_WARN, "a node has more resource names than the head can count; placement may overcommit it");
}

/* Bundle i is no longer placed. */
static void s_unplace(rl_pg_table_t *t, rl_pg_t *pg, int i) {
  rl_pg_bundle_t *b = &pg->bundles[i];
  s_node_t *n = rl_idmap_get(t->per_node, &b->node);
  if (n && rl_res_fits(&n->placed, &b->resources)) rl_res_sub(&n->placed, &b->resources);
  b->state = RL_BUNDLE_UNPLACED;
  memset(&b->node, 0, sizeof b->node);
  b->attempt = 0;
}

/* Checks the arguments shared by add and load and allocates the group. */
static rl_pg_t *s_new(rl_pg_table_t *t, const rl_id_t *id, const char *name, int strategy,
                      const rl_resources_t *bundles, int n, bool detached, const rl_id_t *creator, char *err,
                      size_t errlen) {
  char hex[RL_ID_HEX];
  if (!name) name = "";
  if (strlen(name) >= RL_PG_NAME_MAX) {
    snprintf(err, errlen, "the name is longer than %d bytes", RL_PG_NAME_MAX - 1);
    return NULL;
  }
  if (rl_pg_strategy_name(strategy)[0] == '?') {
    snprintf(err, errlen, "unknown strategy %d", strategy);
    return NULL;
  }
  if (n < 1 || n > RL_PG_MAX_BUNDLES) {
    snprintf(err, errlen, "a placement group has 1 to %d bundles, not %d", RL_PG_MAX_BUNDLES, n);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if (bundles[i].n == 0) {
      snprintf(err, errlen, "bundle %d asks for nothing: each bundle needs some resource", i + 1);
      return NULL;
    }
  if (rl_idmap_get(t->index, id)) {
    snprintf(err, errlen, "placement group %s exists already", rl_id_hex(id, hex));
    return NULL;
  }
  if (name[0] && rl_pg_table_find_name(t, name)) {
    snprintf(err, errlen, "a placement group named '%s' exists already", name);
    return NULL;
  }
  if (t->n >= RL_PG_TABLE_MAX) {
    snprintf(err, errlen, "the head holds %d placement groups already: remove some first", RL_PG_TABLE_MAX);
    return NULL;
  }
  rl_pg_t *pg = rl_xcalloc(1, sizeof *pg);
  pg->bundles = rl_xcalloc((size_t)n, sizeof *pg->bundles);
  rl_idmap_put(t->index, id, pg);
  pg->id = *id;
  snprintf(pg->name, sizeof pg->name, "%s", name);
  pg->strategy = strategy;
  pg->detached = detached;
  if (creator) pg->creator = *creator;
  pg->n = n;
  for (int i = 0; i < n; i++) pg->bundles[i].resources = bundles[i];
  pg->state = RL_PG_PENDING;
  pg->prev = t->tail;
  if (t->tail) t->tail->next = pg;
  else t->head = pg;
  t->tail = pg;
  t->n++;
  return pg;
}

rl_pg_t *rl_pg_table_add(rl_pg_table_t *t, const rl_id_t *id, const char *name, int strategy,
                         const rl_resources_t *bundles, int n, bool detached, const rl_id_t *creator, char *err,
                         size_t errlen) {
  rl_pg_t *pg = s_new(t, id, name, strategy, bundles, n, detached, creator, err, errlen);
  if (pg) t->hooks.changed(t->hooks.arg, pg, RL_PG_EV_ADDED);
  return pg;
}

rl_pg_t *rl_pg_table_load(rl_pg_table_t *t, const rl_id_t *id, const char *name, int strategy,
                          const rl_resources_t *bundles, const rl_id_t *nodes, int n, bool detached,
                          const rl_id_t *creator, char *err, size_t errlen) {
  rl_pg_t *pg = s_new(t, id, name, strategy, bundles, n, detached, creator, err, errlen);
  if (!pg) return NULL;
  int placed = 0;
  for (int i = 0; i < n; i++)
    if (!rl_id_is_nil(&nodes[i])) {
      s_place(t, pg, i, &nodes[i], RL_BUNDLE_RESERVED, 0);
      placed++;
    }
  pg->state = placed == n ? RL_PG_CREATED : placed ? RL_PG_RESCHEDULING : RL_PG_PENDING;
  return pg;
}

void rl_pg_table_remove(rl_pg_table_t *t, rl_pg_t *pg) {
  pg->state = RL_PG_REMOVED;
  t->hooks.changed(t->hooks.arg, pg, RL_PG_EV_REMOVED);
  for (int i = 0; i < pg->n; i++)
    if (pg->bundles[i].state != RL_BUNDLE_UNPLACED) s_unplace(t, pg, i);
  rl_idmap_remove(t->index, &pg->id);
  if (pg->prev) pg->prev->next = pg->next;
  else t->head = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  else t->tail = pg->prev;
  t->n--;
  s_free_pg(pg);
}

rl_pg_t *rl_pg_table_get(const rl_pg_table_t *t, const rl_id_t *id) { return rl_idmap_get(t->index, id); }

rl_pg_t *rl_pg_table_find_name(const rl_pg_table_t *t, const char *name) {
  for (rl_pg_t *pg = t->head; pg; pg = pg->next)
    if (pg->name[0] && !strcmp(pg->name, name)) return pg;
  return NULL;
}

size_t rl_pg_table_size(const rl_pg_table_t *t) { return t->n; }

rl_pg_t *rl_pg_table_next(const rl_pg_table_t *t, rl_pg_t *after) { return after ? after->next : t->head; }

/* avail -= req, stopping at zero (estimates may be stale). */
static void s_sub_floor(rl_resources_t *avail, const rl_resources_t *req) {
  for (int i = 0; i < req->n; i++)
    for (int k = 0; k < avail->n; k++)
      if (!strcmp(avail->r[k].name, req->r[i].name)) {
        avail->r[k].amount = avail->r[k].amount > req->r[i].amount ? avail->r[k].amount - req->r[i].amount : 0;
        break;
      }
}

/* The live nodes: their ids and what they can give new bundles (free) or have at all
 * (total). Returns how many. Free the arrays. */
static int s_live_nodes(rl_pg_table_t *t, rl_id_t **ids, rl_resources_t **res, bool free_now) {
  size_t cur = 0, count = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(t->nodes, &cur));) count += n->alive;
  *ids = rl_xmalloc(sizeof **ids * count);
  *res = rl_xmalloc(sizeof **res * count);
  int k = 0;
  cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(t->nodes, &cur));) {
    if (!n->alive) continue;
    (*ids)[k] = n->id;
    if (free_now) {
      (*res)[k] = n->available;
      s_node_t *sn = rl_idmap_get(t->per_node, &n->id);
      if (sn) {
        rl_res_add(&(*res)[k], &sn->reported);
        s_sub_floor(&(*res)[k], &sn->placed);
      }
    } else {
      (*res)[k] = n->total;
    }
    k++;
  }
  return k;
}

int rl_pg_table_try(rl_pg_table_t *t, rl_pg_t *pg, int64_t now_ms) {
  if ((pg->state != RL_PG_PENDING && pg->state != RL_PG_RESCHEDULING) || pg->attempt || now_ms < pg->not_before_ms)
    return 0;
  rl_id_t *ids;
  rl_resources_t *free_res, *bundles = rl_xmalloc(sizeof *bundles * (size_t)pg->n);
  int *where = rl_xmalloc(sizeof *where * (size_t)pg->n);
  int nnodes = s_live_nodes(t, &ids, &free_res, true), started = 0;
  int unplaced = 0;
  for (int i = 0; i < pg->n; i++) {
    rl_pg_bundle_t *b = &pg->bundles[i];
    bundles[i] = b->resources;
    where[i] = -1;
    if (b->state == RL_BUNDLE_UNPLACED) {
      unplaced++;
      continue;
    }
    for (int k = 0; k < nnodes && where[i] < 0; k++)
      if (rl_id_eq(&ids[k], &b->node)) where[i] = k;
    if (where[i] < 0) goto done; /* a kept bundle's node is not back yet (head restart) */
  }
  if (unplaced == 0 || rl_bundles_place(pg->strategy, bundles, pg->n, free_res, nnodes, where) != 0) goto done;
  pg->attempt = ++t->next_attempt;
  pg->attempt_ms = now_ms;
  pg->unanswered = 0;
  for (int i = 0; i < pg->n; i++)
    if (pg->bundles[i].state == RL_BUNDLE_UNPLACED) {
      s_place(t, pg, i, &ids[where[i]], RL_BUNDLE_RESERVING, pg->attempt);
      pg->unanswered++;
    }
  for (int i = 0; i < pg->n; i++)
    if (pg->bundles[i].attempt == pg->attempt) t->hooks.reserve(t->hooks.arg, pg, i);
  started = 1;
done:
  free(ids);
  free(free_res);
  free(bundles);
  free(where);
  return started;
}

static void s_rollback(rl_pg_table_t *t, rl_pg_t *pg, bool tell);

int rl_pg_table_schedule(rl_pg_table_t *t, int64_t now_ms) {
  int started = 0;
  for (rl_pg_t *pg = t->head; pg; pg = pg->next) {
    if (pg->attempt && now_ms - pg->attempt_ms > RL_PG_ATTEMPT_MS) {
      char hex[RL_ID_HEX];
      rl_log(RL_LOG_WARN, "placement group %s: %d reservations unanswered after %d ms; trying again",
             rl_id_hex(&pg->id, hex), pg->unanswered, RL_PG_ATTEMPT_MS);
      s_rollback(t, pg, true);
    }
    started += rl_pg_table_try(t, pg, now_ms);
  }
  return started;
}

/* Undoes the attempt in flight: its bundles are unplaced (and released on their
 * nodes if tell). */
static void s_rollback(rl_pg_table_t *t, rl_pg_t *pg, bool tell) {
  for (int i = 0; i < pg->n; i++) {
    rl_pg_bundle_t *b = &pg->bundles[i];
    if (b->state == RL_BUNDLE_UNPLACED || b->attempt != pg->attempt) continue;
    rl_id_t node = b->node;
    s_unplace(t, pg, i);
    if (tell) t->hooks.release(t->hooks.arg, pg, i, &node);
  }
  pg->attempt = 0;
  pg->unanswered = 0;
}

void rl_pg_table_reserved(rl_pg_table_t *t, const rl_id_t *pg_id, int index, uint64_t attempt, bool ok,
                          int64_t now_ms) {
  rl_pg_t *pg = rl_pg_table_get(t, pg_id);
  if (!pg || !pg->attempt || attempt != pg->attempt || index < 0 || index >= pg->n) return;
  rl_pg_bundle_t *b = &pg->bundles[index];
  if (b->attempt != attempt || b->state != RL_BUNDLE_RESERVING) return;
  if (!ok) {
    s_unplace(t, pg, index); /* the node holds nothing for it */
    s_rollback(t, pg, true);
    pg->not_before_ms = now_ms + S_RETRY_MS;
    return;
  }
  b->state = RL_BUNDLE_RESERVED;
  if (--pg->unanswered > 0) return;
  pg->attempt = 0;
  pg->state = RL_PG_CREATED;
  t->hooks.changed(t->hooks.arg, pg, RL_PG_EV_CREATED);
}

void rl_pg_table_node_report(rl_pg_table_t *t, const rl_id_t *node, const rl_resources_t *reserved) {
  s_node_t *n = s_node(t, node);
  if (n) n->reported = *reserved;
}

void rl_pg_table_node_died(rl_pg_table_t *t, const rl_id_t *node) {
  for (rl_pg_t *pg = t->head; pg; pg = pg->next) {
    bool lost = false, in_flight = false;
    for (int i = 0; i < pg->n; i++) {
      rl_pg_bundle_t *b = &pg->bundles[i];
      if (b->state == RL_BUNDLE_UNPLACED || !rl_id_eq(&b->node, node)) continue;
      if (pg->attempt && b->attempt == pg->attempt) {
        in_flight = true;
      } else {
        s_unplace(t, pg, i);
        lost = true;
      }
    }
    if (in_flight) s_rollback(t, pg, true);
    if (lost && pg->state == RL_PG_CREATED) {
      char hex[RL_ID_HEX];
      rl_log(RL_LOG_WARN, "placement group %s lost bundles with a dead node: rescheduling them",
             rl_id_hex(&pg->id, hex));
      pg->state = RL_PG_RESCHEDULING;
      t->hooks.changed(t->hooks.arg, pg, RL_PG_EV_RESCHEDULING);
    }
  }
  s_node_t *n = rl_idmap_remove(t->per_node, node);
  free(n);
}

int rl_pg_table_feasible(const rl_pg_table_t *t, const rl_pg_t *pg, char *why, size_t whylen) {
  rl_id_t *ids;
  rl_resources_t *totals, *bundles = rl_xmalloc(sizeof *bundles * (size_t)pg->n);
  int nnodes = s_live_nodes((rl_pg_table_t *)t, &ids, &totals, false);
  for (int i = 0; i < pg->n; i++) bundles[i] = pg->bundles[i].resources;
  int rc = rl_bundles_feasible(pg->strategy, bundles, pg->n, totals, nnodes, why, whylen);
  free(ids);
  free(totals);
  free(bundles);
  return rc;
}
