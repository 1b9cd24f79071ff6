/* pg_table_test.c: pg_table.c's selftest, built into rl_selftest only (not librayl). */
#include "gcs/pg_table.c" /* the code under test, with its file-local helpers */

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
