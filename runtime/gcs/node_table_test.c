/* node_table_test.c: node_table.c's selftest, built into rl_selftest only (not librayl). */
#include "gcs/node_table.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

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

  /* Past RL_NODE_DEAD_KEPT dead nodes, the longest dead are forgotten; live ones stay. */
  rl_node_table_destroy(&t);
  t = rl_node_table_new(10);
  memset(&seen, 0, sizeof seen);
  S_CHECK(t);
  rl_node_table_set_hook(t, s_hook, &seen);
  for (int i = 0; i < RL_NODE_DEAD_KEPT + 9; i++) {
    ids[i] = rl_id_random();
    S_CHECK(rl_node_table_register(t, &ids[i], "tcp://h:1", &total, 1, i, err, sizeof err) == 0);
  }
  S_CHECK(rl_node_table_heartbeat(t, &ids[0], &avail, 100) == 0); /* ids[0] lives on */
  S_CHECK(rl_node_table_expire(t, 100) == RL_NODE_DEAD_KEPT + 8);
  S_CHECK(rl_node_table_size(t) == RL_NODE_DEAD_KEPT + 1 && seen.forgotten == 8);
  S_CHECK(rl_node_table_get(t, &ids[0])->alive && rl_node_table_get(t, &ids[8]) == NULL);
  S_CHECK(rl_node_table_get(t, &ids[9]) && !rl_node_table_get(t, &ids[9])->alive);

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
