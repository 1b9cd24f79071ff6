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

/* Removes the node that has been dead longest. Returns 0, or -1 if none is dead. */
static int s_evict_dead(rl_node_table_t *t) {
  size_t victim = t->n;
  for (size_t i = 0; i < t->n; i++)
    if (!t->nodes[i]->alive && !t->nodes[i]->pending && (victim == t->n || t->nodes[i]->last_seen_ms < t->nodes[victim]->last_seen_ms))
      victim = i;
  if (victim == t->n) return -1;
  rl_node_t *node = t->nodes[victim];
  char hex[RL_ID_HEX];
  rl_log(RL_LOG_INFO, "forgetting dead node %s to make room", rl_id_hex(&node->id, hex));
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
  if (t->n >= RL_NODE_TABLE_MAX && s_evict_dead(t) != 0) {
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
  return died;
}

const rl_node_t *rl_node_table_get(const rl_node_table_t *t, const rl_id_t *id) {
  return rl_idmap_get(t->index, id);
}

size_t rl_node_table_size(const rl_node_table_t *t) { return t->n; }

const rl_node_t *rl_node_table_next(const rl_node_table_t *t, size_t *cursor) {
  return *cursor < t->n ? t->nodes[(*cursor)++] : NULL;
}

#define S_CHECK(c) RL_CHECK_GOTO(c)

typedef struct {
  int changed, forgotten;
  rl_id_t last;
  bool last_alive;
} s_hook_seen_t;

static void s_hook(void *arg, const rl_node_t *node, bool forgotten) {
  s_hook_seen_t *h = arg;
  if (forgotten) h->forgotten++;
  else h->changed++;
  h->last = node->id;
  h->last_alive = node->alive;
}

int rl_node_table_selftest(void) {
  int prev_level = rl_log_level;
  rl_log_level = RL_LOG_ERROR; /* the deaths below are expected */
  rl_node_table_t *t = rl_node_table_new(1000);
  rl_id_t a = rl_id_random(), b = rl_id_random(), c = rl_id_random(), d = rl_id_random();
  rl_resources_t total, avail, none;
  char err[128];
  rl_res_clear(&total);
  rl_res_clear(&none);
  S_CHECK(t && rl_res_set(&total, "CPU", 4, NULL, 0) == 0);
  avail = total;
  rl_res_set(&avail, "CPU", 1.5, NULL, 0);

  /* Register two nodes at t=0 and t=100. */
  S_CHECK(rl_node_table_register(t, &a, "tcp://10.0.0.1:7000", &total, 11, 0, err, sizeof err) == 0);
  S_CHECK(rl_node_table_register(t, &b, "tcp://10.0.0.2:7000", &total, 12, 100, err, sizeof err) == 0);
  S_CHECK(rl_node_table_size(t) == 2);
  const rl_node_t *n = rl_node_table_get(t, &a);
  S_CHECK(n && n->alive && n->pid == 11 && !strcmp(n->endpoint, "tcp://10.0.0.1:7000"));
  S_CHECK(rl_res_equal(&n->total, &total) && rl_res_equal(&n->available, &total));
  S_CHECK(rl_node_table_get(t, &c) == NULL);
  /* The GPU description, for rayl status; unknown nodes are refused. */
  S_CHECK(!n->gpus[0] && rl_node_table_set_gpus(t, &a, "none (no CUDA driver: libcuda.so.1 not found)") == 0);
  S_CHECK(!strcmp(n->gpus, "none (no CUDA driver: libcuda.so.1 not found)"));
  S_CHECK(rl_node_table_set_gpus(t, &c, "2") == -1);
  rl_node_stats_t stats = {.workers = 3};
  S_CHECK(rl_node_table_set_stats(t, &a, &stats) == 0 && n->stats.workers == 3);
  S_CHECK(rl_node_table_set_stats(t, &c, &stats) == -1);
  /* Bad endpoints. */
  S_CHECK(rl_node_table_register(t, &c, "", &total, 13, 0, err, sizeof err) == -1 && strstr(err, "empty"));
  char longep[400];
  memset(longep, 'x', sizeof longep - 1);
  longep[sizeof longep - 1] = 0;
  S_CHECK(rl_node_table_register(t, &c, longep, &total, 13, 0, err, sizeof err) == -1 && strstr(err, "long"));
  S_CHECK(rl_node_table_size(t) == 2);

  /* Heartbeats update available; unknown nodes are refused. */
  S_CHECK(rl_node_table_heartbeat(t, &a, &avail, 900) == 0);
  S_CHECK(rl_res_get(&rl_node_table_get(t, &a)->available, "CPU") == 1.5);
  S_CHECK(rl_node_table_heartbeat(t, &c, &avail, 900) == -1 && rl_node_table_size(t) == 2);

  /* Liveness (timeout 1000): at t=1150, b (last seen 100) is dead and a (900) alive; dying is
   * reported once. */
  S_CHECK(rl_node_table_expire(t, 1100) == 0); /* exactly at the timeout: still alive */
  S_CHECK(rl_node_table_expire(t, 1150) == 1);
  S_CHECK(!rl_node_table_get(t, &b)->alive && rl_node_table_get(t, &a)->alive);
  S_CHECK(rl_node_table_expire(t, 1200) == 0);
  S_CHECK(rl_node_table_expire(t, 5000) == 1 && !rl_node_table_get(t, &a)->alive);
  /* A heartbeat revives; so does re-registering, which resets available. */
  S_CHECK(rl_node_table_heartbeat(t, &a, &none, 5100) == 0 && rl_node_table_get(t, &a)->alive);
  S_CHECK(rl_node_table_get(t, &a)->available.n == 0);
  S_CHECK(rl_node_table_register(t, &b, "ipc:///tmp/b", &total, 22, 5200, err, sizeof err) == 0);
  n = rl_node_table_get(t, &b);
  S_CHECK(n->alive && n->pid == 22 && !strcmp(n->endpoint, "ipc:///tmp/b") && rl_res_equal(&n->available, &total));
  S_CHECK(rl_node_table_size(t) == 2);

  /* Listing in registration order. */
  size_t cur = 0;
  S_CHECK(rl_node_table_next(t, &cur) == rl_node_table_get(t, &a));
  S_CHECK(rl_node_table_next(t, &cur) == rl_node_table_get(t, &b));
  S_CHECK(rl_node_table_next(t, &cur) == NULL);

  /* Nodes loaded after a head restart: pending until heard from, dead at the timeout
   * from the load; the hook sees registrations, revivals, deaths and forgetting, not
   * loads nor plain heartbeats. */
  rl_node_table_destroy(&t);
  t = rl_node_table_new(1000);
  s_hook_seen_t seen = {0};
  S_CHECK(t);
  rl_node_table_set_hook(t, s_hook, &seen);
  S_CHECK(rl_node_table_load(t, &a, "tcp://a:1", &total, 1, true, 0, err, sizeof err) == 0);
  S_CHECK(rl_node_table_load(t, &b, "tcp://b:1", &total, 2, true, 0, err, sizeof err) == 0);
  S_CHECK(rl_node_table_load(t, &c, "tcp://c:1", &total, 3, false, 0, err, sizeof err) == 0);
  S_CHECK(rl_node_table_load(t, &c, "tcp://c:1", &total, 3, false, 0, err, sizeof err) == -1);
  S_CHECK(rl_node_table_load(t, &d, "", &total, 3, false, 0, err, sizeof err) == -1 && strstr(err, "empty"));
  n = rl_node_table_get(t, &a);
  S_CHECK(n && !n->alive && n->pending && n->pid == 1 && rl_res_equal(&n->total, &total));
  n = rl_node_table_get(t, &c);
  S_CHECK(n && !n->alive && !n->pending);
  S_CHECK(seen.changed == 0 && seen.forgotten == 0 && rl_node_table_size(t) == 3);
  S_CHECK(rl_node_table_heartbeat(t, &a, &avail, 500) == 0);
  n = rl_node_table_get(t, &a);
  S_CHECK(n->alive && !n->pending && seen.changed == 1 && rl_id_eq(&seen.last, &a) && seen.last_alive);
  S_CHECK(rl_node_table_heartbeat(t, &a, &avail, 600) == 0 && seen.changed == 1);
  S_CHECK(rl_node_table_expire(t, 1000) == 0 && rl_node_table_get(t, &b)->pending);
  S_CHECK(rl_node_table_expire(t, 1001) == 1); /* b, never heard from */
  n = rl_node_table_get(t, &b);
  S_CHECK(!n->alive && !n->pending && seen.changed == 2 && rl_id_eq(&seen.last, &b) && !seen.last_alive);
  S_CHECK(rl_node_table_register(t, &c, "tcp://c:2", &total, 4, 1100, err, sizeof err) == 0);
  S_CHECK(seen.changed == 3 && seen.last_alive && rl_node_table_get(t, &c)->alive);

  /* A full table makes room by forgetting the longest-dead node, never a live one. */
  rl_node_table_destroy(&t);
  t = rl_node_table_new(10);
  memset(&seen, 0, sizeof seen);
  S_CHECK(t);
  rl_node_table_set_hook(t, s_hook, &seen);
  static rl_id_t ids[RL_NODE_TABLE_MAX];
  for (int i = 0; i < RL_NODE_TABLE_MAX; i++) {
    ids[i] = rl_id_random();
    S_CHECK(rl_node_table_register(t, &ids[i], "tcp://h:1", &total, 1, i < 2 ? 0 : 5, err, sizeof err) == 0);
  }
  S_CHECK(rl_node_table_register(t, &c, "tcp://h:1", &total, 1, 5, err, sizeof err) == -1 && strstr(err, "full"));
  S_CHECK(rl_node_table_expire(t, 12) == 2); /* the first two die */
  S_CHECK(rl_node_table_register(t, &c, "tcp://h:1", &total, 1, 12, err, sizeof err) == 0);
  S_CHECK(rl_node_table_size(t) == RL_NODE_TABLE_MAX && rl_node_table_get(t, &ids[0]) == NULL);
  S_CHECK(seen.forgotten == 1 && rl_id_eq(&seen.last, &c)); /* ids[0] forgotten, then c added */
  S_CHECK(rl_node_table_get(t, &ids[1]) != NULL && rl_node_table_get(t, &ids[2]) != NULL);
  cur = 0;
  S_CHECK(rl_node_table_next(t, &cur) == rl_node_table_get(t, &ids[1]));

  rl_node_table_destroy(&t);
  rl_node_table_destroy(&t);
  S_CHECK(t == NULL);
  rl_log_level = prev_level;
  return 0;
fail:
  rl_node_table_destroy(&t);
  rl_log_level = prev_level;
  return 1;
}
