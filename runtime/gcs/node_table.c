/* node_table.c: node membership and liveness for the head: an id map for lookups and
 * an array that keeps registration order for listings. */
#include "common/selftest.h"
#include "gcs/node_table.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/idmap.h"
#include "common/log.h"
#include "common/xalloc.h"

struct rl_node_table_t {
  int64_t timeout_ms;
  rl_idmap_t *index; /* id -> rl_node_t * (owned by nodes[]) */
  rl_node_t **nodes; /* registration order */
  size_t n, cap;
  rl_node_hook_fn *hook;
  void *hook_arg;
};

static void s_changed(rl_node_table_t *t, const rl_node_t *node, bool forgotten) {
  if (t->hook) t->hook(t->hook_arg, node, forgotten);
}

void rl_node_table_set_hook(rl_node_table_t *t, rl_node_hook_fn *hook, void *arg) {
  t->hook = hook;
  t->hook_arg = arg;
}

rl_node_table_t *rl_node_table_new(int64_t timeout_ms) {
  assert(timeout_ms > 0);
  rl_node_table_t *t = rl_xcalloc(1, sizeof *t);
  t->timeout_ms = timeout_ms;
  t->index = rl_idmap_new();
  return t;
}

void rl_node_table_destroy(rl_node_table_t **p) {
  if (!p || !*p) return;
  rl_node_table_t *t = *p;
  for (size_t i = 0; i < t->n; i++) free(t->nodes[i]);
  free(t->nodes);
  rl_idmap_destroy(&t->index);
  free(t);
  *p = NULL;
}

/* Removes the node that has been dead longest (why: for the log). Returns 0, or -1 if
 * none is dead. */
static int s_evict_dead(rl_node_table_t *t, const char *why) {
  size_t victim = t->n;
  for (size_t i = 0; i < t->n; i++)
    if (!t->nodes[i]->alive && !t->nodes[i]->pending && (victim == t->n || t->nodes[i]->last_seen_ms < t->nodes[victim]->last_seen_ms))
      victim = i;
  if (victim == t->n) return -1;
  rl_node_t *node = t->nodes[victim];
  char hex[RL_ID_HEX];
  rl_log(RL_LOG_INFO, "forgetting dead node %s (%s) %s", rl_id_hex(&node->id, hex), node->endpoint, why);
  s_changed(t, node, true);
  rl_idmap_remove(t->index, &node->id);
  memmove(&t->nodes[victim], &t->nodes[victim + 1], (t->n - victim - 1) * sizeof t->nodes[0]);
  t->n--;
  free(node);
  return 0;
}

/* Checks endpoint; returns its length, or 0 with err. */
static size_t s_check_endpoint(const char *endpoint, char *err, size_t errlen) {
  size_t len = strnlen(endpoint, RL_ENDPOINT_MAX);
  if (len == 0 || len >= RL_ENDPOINT_MAX) {
    snprintf(err, errlen, "node endpoint is %s", len ? "too long" : "empty");
    return 0;
  }
  return len;
}

/* A new zeroed node for id, in the index and the list. Returns NULL with err. */
static rl_node_t *s_add(rl_node_table_t *t, const rl_id_t *id, char *err, size_t errlen) {
  if (t->n >= RL_NODE_TABLE_MAX && s_evict_dead(t, "to make room") != 0) {
    snprintf(err, errlen, "the node table is full (%d live nodes)", RL_NODE_TABLE_MAX);
    return NULL;
  }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    t->nodes = rl_xrealloc(t->nodes, cap * sizeof *t->nodes);
    t->cap = cap;
  }
  rl_node_t *node = rl_xcalloc(1, sizeof *node);
  node->id = *id;
  rl_idmap_put(t->index, id, node);
  t->nodes[t->n++] = node;
  return node;
}

int rl_node_table_load(rl_node_table_t *t, const rl_id_t *id, const char *endpoint, const rl_resources_t *total,
                       uint64_t pid, bool alive, int64_t now_ms, char *err, size_t errlen) {
  size_t len = s_check_endpoint(endpoint, err, errlen);
  if (!len) return -1;
  if (rl_idmap_get(t->index, id)) {
    snprintf(err, errlen, "node is already known");
    return -1;
  }
  rl_node_t *node = s_add(t, id, err, errlen);
  if (!node) return -1;
  memcpy(node->endpoint, endpoint, len + 1);
  node->pid = pid;
  node->total = *total;
  node->available = *total;
  node->alive = false;
  node->pending = alive;
  node->last_seen_ms = now_ms;
  return 0;
}

int rl_node_table_register(rl_node_table_t *t, const rl_id_t *id, const char *endpoint,
                           const rl_resources_t *total, uint64_t pid, int64_t now_ms, char *err,
                           size_t errlen) {
  size_t len = s_check_endpoint(endpoint, err, errlen);
  if (!len) return -1;
  rl_node_t *node = rl_idmap_get(t->index, id);
  if (!node && !(node = s_add(t, id, err, errlen))) return -1;
  memcpy(node->endpoint, endpoint, len + 1);
  node->pid = pid;
  node->total = *total;
  node->available = *total;
  node->alive = true;
  node->pending = false;
  node->last_seen_ms = now_ms;
  s_changed(t, node, false);
  return 0;
}

int rl_node_table_set_gpus(rl_node_table_t *t, const rl_id_t *id, const char *gpus) {
  rl_node_t *node = rl_idmap_get(t->index, id);
  if (!node) return -1;
  snprintf(node->gpus, sizeof node->gpus, "%s", gpus);
  return 0;
}

int rl_node_table_set_stats(rl_node_table_t *t, const rl_id_t *id, const rl_node_stats_t *stats) {
  rl_node_t *node = rl_idmap_get(t->index, id);
  if (!node) return -1;
  node->stats = *stats;
  return 0;
}

int rl_node_table_heartbeat(rl_node_table_t *t, const rl_id_t *id, const rl_resources_t *available,
                            int64_t now_ms) {
  rl_node_t *node = rl_idmap_get(t->index, id);
  if (!node) return -1;
  bool revived = !node->alive;
  if (revived) {
    char hex[RL_ID_HEX];
    if (node->pending)
      rl_log(RL_LOG_INFO, "node %s (%s) is back after the head's restart", rl_id_hex(id, hex), node->endpoint);
    else
      rl_log(RL_LOG_WARN, "node %s (%s) is heard from again after being marked dead", rl_id_hex(id, hex),
             node->endpoint);
  }
  node->available = *available;
  node->alive = true;
  node->pending = false;
  node->last_seen_ms = now_ms;
  if (revived) s_changed(t, node, false);
  return 0;
}

int rl_node_table_expire(rl_node_table_t *t, int64_t now_ms) {
  int died = 0;
  for (size_t i = 0; i < t->n; i++) {
    rl_node_t *node = t->nodes[i];
    if ((!node->alive && !node->pending) || now_ms - node->last_seen_ms <= t->timeout_ms) continue;
    char hex[RL_ID_HEX];
    rl_log(RL_LOG_WARN, "node %s (%s, pid %llu) is dead: no heartbeat for %lld ms%s", rl_id_hex(&node->id, hex),
           node->endpoint, (unsigned long long)node->pid, (long long)(now_ms - node->last_seen_ms),
           node->pending ? " (since the head restarted)" : "");
    node->alive = false;
    node->pending = false;
    died++;
    s_changed(t, node, false);
  }
  /* A node started again is a new node: a cluster whose nodes are restarted for days
   * would otherwise list ever more dead ones (and clients reading the first few of the
   * list would miss the live ones). */
  size_t dead = 0;
  for (size_t i = 0; died && i < t->n; i++) dead += !t->nodes[i]->alive && !t->nodes[i]->pending;
  for (; died && dead > RL_NODE_DEAD_KEPT; dead--) s_evict_dead(t, "(too many dead nodes are kept)");
  return died;
}

const rl_node_t *rl_node_table_get(const rl_node_table_t *t, const rl_id_t *id) {
  return rl_idmap_get(t->index, id);
}

size_t rl_node_table_size(const rl_node_table_t *t) { return t->n; }

const rl_node_t *rl_node_table_next(const rl_node_table_t *t, size_t *cursor) {
  return *cursor < t->n ? t->nodes[(*cursor)++] : NULL;
}
