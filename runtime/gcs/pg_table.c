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

/* ---- selftest: a table over a real node table, hooks that record ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

typedef struct {
  int reserves, releases, events[4];
  rl_id_t reserve_node[16];
  int reserve_index[16];
  uint64_t attempt;
} s_seen_t;

static void s_hook_reserve(void *arg, const rl_pg_t *pg, int index) {
  s_seen_t *s = arg;
  if (s->reserves < 16) {
    s->reserve_node[s->reserves] = pg->bundles[index].node;
    s->reserve_index[s->reserves] = index;
  }
  s->reserves++;
  s->attempt = pg->attempt;
}

static void s_hook_release(void *arg, const rl_pg_t *pg, int index, const rl_id_t *node) {
  (void)pg, (void)index, (void)node;
  ((s_seen_t *)arg)->releases++;
}

static void s_hook_changed(void *arg, rl_pg_t *pg, rl_pg_event_t ev) {
  (void)pg;
  ((s_seen_t *)arg)->events[ev]++;
}

static rl_resources_t s_cpu(double n) {
  rl_resources_t r;
  rl_res_clear(&r);
  rl_res_set(&r, "CPU", n, NULL, 0);
  return r;
}

int rl_pg_table_selftest(void) {
  int prev_level = rl_log_level;
  rl_log_level = RL_LOG_ERROR;
  s_seen_t seen = {0};
  rl_pg_hooks_t hooks = {s_hook_reserve, s_hook_release, s_hook_changed, &seen};
  rl_node_table_t *nodes = rl_node_table_new(1000);
  rl_pg_table_t *t = rl_pg_table_new(nodes, &hooks);
  rl_id_t a = rl_id_random(), b = rl_id_random(), c = rl_id_random(), me = rl_id_random();
  rl_id_t g1 = rl_id_random(), g2 = rl_id_random(), g3 = rl_id_random(), g4 = rl_id_random();
  rl_resources_t four = s_cpu(4), two = s_cpu(2), one = s_cpu(1), none, bundles[4];
  char err[200];
  rl_res_clear(&none);
  S_CHECK(nodes && t);
  S_CHECK(rl_node_table_register(nodes, &a, "tcp://a:1", &four, 1, 0, err, sizeof err) == 0);
  S_CHECK(rl_node_table_register(nodes, &b, "tcp://b:1", &two, 2, 0, err, sizeof err) == 0);

  /* Bad input. */
  bundles[0] = one, bundles[1] = none;
  S_CHECK(!rl_pg_table_add(t, &g1, "", RL_PG_PACK, bundles, 2, false, &me, err, sizeof err) && strstr(err, "bundle 2"));
  S_CHECK(!rl_pg_table_add(t, &g1, "", RL_PG_PACK, bundles, 0, false, &me, err, sizeof err) && strstr(err, "1 to"));
  S_CHECK(!rl_pg_table_add(t, &g1, "", 9, bundles, 1, false, &me, err, sizeof err) && strstr(err, "strategy"));
  S_CHECK(rl_pg_table_size(t) == 0 && seen.events[RL_PG_EV_ADDED] == 0);

  /* STRICT_SPREAD over two nodes: two reservations on distinct nodes, created once
   * both are confirmed; stale or duplicate answers change nothing. */
  bundles[0] = one, bundles[1] = one;
  rl_pg_t *p1 = rl_pg_table_add(t, &g1, "first", RL_PG_STRICT_SPREAD, bundles, 2, false, &me, err, sizeof err);
  S_CHECK(p1 && p1->state == RL_PG_PENDING && seen.events[RL_PG_EV_ADDED] == 1);
  S_CHECK(!rl_pg_table_add(t, &g2, "first", RL_PG_PACK, bundles, 1, false, &me, err, sizeof err) && strstr(err, "named"));
  S_CHECK(!rl_pg_table_add(t, &g1, "", RL_PG_PACK, bundles, 1, false, &me, err, sizeof err) && strstr(err, "exists"));
  S_CHECK(rl_pg_table_find_name(t, "first") == p1 && rl_pg_table_get(t, &g1) == p1);
  S_CHECK(rl_pg_table_schedule(t, 0) == 1 && seen.reserves == 2);
  S_CHECK(!rl_id_eq(&seen.reserve_node[0], &seen.reserve_node[1]));
  S_CHECK(rl_pg_table_schedule(t, 0) == 0); /* in flight: not again */
  uint64_t att = seen.attempt;
  rl_pg_table_reserved(t, &g1, 0, att + 7, true, 0); /* another attempt's */
  rl_pg_table_reserved(t, &g1, 0, att, true, 0);
  rl_pg_table_reserved(t, &g1, 0, att, true, 0); /* twice */
  S_CHECK(p1->state == RL_PG_PENDING && seen.events[RL_PG_EV_CREATED] == 0);
  rl_pg_table_reserved(t, &g1, 1, att, true, 0);
  S_CHECK(p1->state == RL_PG_CREATED && seen.events[RL_PG_EV_CREATED] == 1 && p1->attempt == 0);

  /* PACK {3}, {2}: node a has 3 left and b 1 after the first group, so it waits; once
   * the first group is removed, it goes on a (3) and b (2). */
  bundles[0] = s_cpu(3), bundles[1] = two;
  rl_pg_t *p2 = rl_pg_table_add(t, &g2, NULL, RL_PG_PACK, bundles, 2, false, &me, err, sizeof err);
  S_CHECK(p2 && rl_pg_table_try(t, p2, 0) == 0 && seen.reserves == 2);
  S_CHECK(rl_pg_table_feasible(t, p2, err, sizeof err) == 0);
  rl_pg_table_remove(t, p1);
  S_CHECK(seen.events[RL_PG_EV_REMOVED] == 1 && rl_pg_table_size(t) == 1 && !rl_pg_table_find_name(t, "first"));
  S_CHECK(rl_pg_table_schedule(t, 0) == 1 && seen.reserves == 4);
  S_CHECK(rl_id_eq(&seen.reserve_node[2], &a) && rl_id_eq(&seen.reserve_node[3], &b));
  /* b refuses: the attempt is rolled back (a's reservation released), retried later. */
  att = seen.attempt;
  rl_pg_table_reserved(t, &g2, 0, att, true, 1000);
  rl_pg_table_reserved(t, &g2, 1, att, false, 1000);
  S_CHECK(seen.releases == 1 && p2->state == RL_PG_PENDING && p2->attempt == 0);
  S_CHECK(p2->bundles[0].state == RL_BUNDLE_UNPLACED && p2->bundles[1].state == RL_BUNDLE_UNPLACED);
  S_CHECK(rl_pg_table_schedule(t, 1100) == 0 && rl_pg_table_schedule(t, 1300) == 1 && seen.reserves == 6);
  rl_pg_table_reserved(t, &g2, 0, seen.attempt, true, 1300);
  rl_pg_table_reserved(t, &g2, 1, seen.attempt, true, 1300);
  S_CHECK(p2->state == RL_PG_CREATED);

  /* A node reporting itself busy gets no new bundle: a heartbeat with nothing free on
   * a (and a's bundles reported) leaves only c, which joins. */
  S_CHECK(rl_node_table_heartbeat(nodes, &a, &none, 10) == 0);
  rl_res_clear(&bundles[3]);
  rl_pg_table_node_report(t, &a, &bundles[3]);
  S_CHECK(rl_node_table_register(nodes, &c, "tcp://c:1", &four, 3, 10, err, sizeof err) == 0);
  bundles[0] = one;
  rl_pg_t *p3 = rl_pg_table_add(t, &g3, "third", RL_PG_PACK, bundles, 1, true, &me, err, sizeof err);
  S_CHECK(p3 && rl_pg_table_try(t, p3, 10) == 1 && rl_id_eq(&seen.reserve_node[6], &c));
  rl_pg_table_reserved(t, &g3, 0, seen.attempt, true, 10);
  S_CHECK(p3->state == RL_PG_CREATED && p3->detached);

  /* Node b dies: the group with a bundle there is rescheduling; with a and c alive the
   * lost bundle ({2}) goes to c, and the group is created again. */
  S_CHECK(rl_node_table_heartbeat(nodes, &a, &four, 1500) == 0 && rl_node_table_heartbeat(nodes, &c, &four, 1500) == 0);
  S_CHECK(rl_node_table_expire(nodes, 1500) == 1 && !rl_node_table_get(nodes, &b)->alive);
  rl_pg_table_node_died(t, &b);
  S_CHECK(p2->state == RL_PG_RESCHEDULING && seen.events[RL_PG_EV_RESCHEDULING] == 1);
  S_CHECK(p2->bundles[0].state == RL_BUNDLE_RESERVED && p2->bundles[1].state == RL_BUNDLE_UNPLACED);
  S_CHECK(p3->state == RL_PG_CREATED);
  S_CHECK(rl_pg_table_schedule(t, 1500) == 1 && rl_id_eq(&seen.reserve_node[7], &c) && seen.reserve_index[7] == 1);
  rl_pg_table_reserved(t, &g2, 1, seen.attempt, true, 1500);
  S_CHECK(p2->state == RL_PG_CREATED && seen.events[RL_PG_EV_CREATED] == 4);

  /* An attempt nobody answers is rolled back and tried again. */
  rl_pg_t *p5 = rl_pg_table_add(t, &g4, NULL, RL_PG_PACK, bundles, 1, false, &me, err, sizeof err);
  int before = seen.reserves, released = seen.releases;
  S_CHECK(p5 && rl_pg_table_try(t, p5, 1600) == 1 && seen.reserves == before + 1);
  S_CHECK(rl_pg_table_schedule(t, 1600 + RL_PG_ATTEMPT_MS) == 0 && p5->attempt != 0);
  S_CHECK(rl_pg_table_schedule(t, 1601 + RL_PG_ATTEMPT_MS) == 1 && seen.releases == released + 1);
  S_CHECK(seen.reserves == before + 2 && p5->attempt == seen.attempt);
  rl_pg_table_remove(t, p5);

  /* Infeasible: STRICT_SPREAD over more bundles than live nodes (a and c). */
  bundles[0] = bundles[1] = bundles[2] = one;
  rl_pg_t *p4 = rl_pg_table_add(t, &g4, NULL, RL_PG_STRICT_SPREAD, bundles, 3, false, &me, err, sizeof err);
  S_CHECK(p4 && rl_pg_table_feasible(t, p4, err, sizeof err) == -1 && strstr(err, "3 distinct"));
  S_CHECK(rl_pg_table_try(t, p4, 2000) == 0);

  /* Loading after a restart: states follow what was placed. */
  rl_pg_table_destroy(&t);
  t = rl_pg_table_new(nodes, &hooks);
  rl_id_t placed[2] = {a, c}, half[2] = {a, {{0}}};
  bundles[0] = bundles[1] = one;
  S_CHECK(t);
  rl_pg_t *l1 = rl_pg_table_load(t, &g1, "x", RL_PG_PACK, bundles, placed, 2, false, &me, err, sizeof err);
  rl_pg_t *l2 = rl_pg_table_load(t, &g2, "", RL_PG_SPREAD, bundles, half, 2, false, &me, err, sizeof err);
  S_CHECK(l1 && l1->state == RL_PG_CREATED && l2 && l2->state == RL_PG_RESCHEDULING);
  S_CHECK(rl_pg_table_next(t, NULL) == l1 && rl_pg_table_next(t, l1) == l2 && rl_pg_table_next(t, l2) == NULL);
  S_CHECK(strcmp(rl_pg_state_name(RL_PG_RESCHEDULING), "RESCHEDULING") == 0);
  rl_pg_table_destroy(&t);
  rl_pg_table_destroy(&t);
  rl_node_table_destroy(&nodes);
  rl_log_level = prev_level;
  return 0;
fail:
  rl_pg_table_destroy(&t);
  rl_node_table_destroy(&nodes);
  rl_log_level = prev_level;
  return 1;
}
