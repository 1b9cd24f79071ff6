/* bundles_test.c: bundles.c's selftest, built into rl_selftest only (not librayl). */
#include "sched/bundles.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

static rl_resources_t s_res(double cpu, double gpu) {
  rl_resources_t r;
  rl_res_clear(&r);
  rl_res_set(&r, "CPU", cpu, NULL, 0);
  rl_res_set(&r, "GPU", gpu, NULL, 0);
  return r;
}

static void s_unplace(int *where, int n) {
  for (int i = 0; i < n; i++) where[i] = -1;
}

int rl_bundles_selftest(void) {
  char why[300];
  int where[8];
  rl_resources_t nodes[4] = {s_res(4, 0), s_res(2, 1), s_res(1, 0), s_res(0, 0)};
  rl_resources_t one = s_res(1, 0), two = s_res(2, 0), gpu = s_res(1, 1), big = s_res(8, 0);
  rl_resources_t b[8];

  S_CHECK(rl_pg_strategy_parse("STRICT_SPREAD") == RL_PG_STRICT_SPREAD && rl_pg_strategy_parse("pack") == -1);
  S_CHECK(rl_pg_strategy_parse(NULL) == -1 && !strcmp(rl_pg_strategy_name(RL_PG_SPREAD), "SPREAD"));

  /* STRICT_PACK: all on the first node that holds the sum. */
  b[0] = one, b[1] = one, b[2] = two;
  s_unplace(where, 3);
  S_CHECK(rl_bundles_place(RL_PG_STRICT_PACK, b, 3, nodes, 4, where) == 0);
  S_CHECK(where[0] == 0 && where[1] == 0 && where[2] == 0);
  b[3] = one; /* 5 CPUs: more than any node has */
  s_unplace(where, 4);
  S_CHECK(rl_bundles_place(RL_PG_STRICT_PACK, b, 4, nodes, 4, where) == -1 && where[0] == -1);
  S_CHECK(rl_bundles_feasible(RL_PG_STRICT_PACK, b, 4, nodes, 4, why, sizeof why) == -1 && strstr(why, "CPU: 5"));
  /* Kept bundles pin the node. */
  b[0] = one, b[1] = one;
  where[0] = 1, where[1] = -1;
  S_CHECK(rl_bundles_place(RL_PG_STRICT_PACK, b, 2, nodes, 4, where) == 0 && where[1] == 1);

  /* STRICT_SPREAD: distinct nodes; the GPU node is kept for the bundle that needs it
   * even when an earlier bundle would take it first (an augmenting path). */
  b[0] = one, b[1] = gpu, b[2] = one;
  s_unplace(where, 3);
  S_CHECK(rl_bundles_place(RL_PG_STRICT_SPREAD, b, 3, nodes, 4, where) == 0);
  S_CHECK(where[1] == 1 && where[0] != where[2] && where[0] != 1 && where[2] != 1 && where[0] >= 0 && where[2] >= 0);
  rl_resources_t two_nodes[2] = {s_res(4, 1), s_res(4, 0)};
  b[0] = one, b[1] = gpu;
  s_unplace(where, 2);
  S_CHECK(rl_bundles_place(RL_PG_STRICT_SPREAD, b, 2, two_nodes, 2, where) == 0 && where[0] == 1 && where[1] == 0);
  /* More bundles than nodes with room: not now, and not ever with these nodes. */
  b[0] = b[1] = b[2] = b[3] = b[4] = one;
  s_unplace(where, 4);
  S_CHECK(rl_bundles_place(RL_PG_STRICT_SPREAD, b, 4, nodes, 4, where) == -1);
  S_CHECK(rl_bundles_feasible(RL_PG_STRICT_SPREAD, b, 4, nodes, 4, why, sizeof why) == -1);
  S_CHECK(rl_bundles_feasible(RL_PG_STRICT_SPREAD, b, 5, nodes, 4, why, sizeof why) == -1 && strstr(why, "5 distinct"));
  S_CHECK(rl_bundles_feasible(RL_PG_STRICT_SPREAD, b, 3, nodes, 4, why, sizeof why) == 0);
  /* Rescheduling: the kept bundle's node is not used again. */
  where[0] = 0, where[1] = -1, where[2] = -1;
  S_CHECK(rl_bundles_place(RL_PG_STRICT_SPREAD, b, 3, nodes, 4, where) == 0);
  S_CHECK(where[1] > 0 && where[2] > 0 && where[1] != where[2]);

  /* PACK: one node when it can; else the fewest nodes, bundle by bundle. */
  b[0] = two, b[1] = two;
  s_unplace(where, 2);
  S_CHECK(rl_bundles_place(RL_PG_PACK, b, 2, nodes, 4, where) == 0 && where[0] == 0 && where[1] == 0);
  b[2] = two;
  s_unplace(where, 3);
  S_CHECK(rl_bundles_place(RL_PG_PACK, b, 3, nodes, 4, where) == 0 && where[0] == 0 && where[1] == 0 && where[2] == 1);
  b[3] = two;
  s_unplace(where, 4);
  S_CHECK(rl_bundles_place(RL_PG_PACK, b, 4, nodes, 4, where) == -1 && where[0] == -1);

  /* SPREAD: distinct nodes when it can; else as even as it can. */
  b[0] = b[1] = b[2] = one;
  s_unplace(where, 3);
  S_CHECK(rl_bundles_place(RL_PG_SPREAD, b, 3, nodes, 4, where) == 0);
  S_CHECK(where[0] != where[1] && where[1] != where[2] && where[0] != where[2]);
  for (int i = 0; i < 6; i++) b[i] = one;
  s_unplace(where, 6);
  S_CHECK(rl_bundles_place(RL_PG_SPREAD, b, 6, nodes, 4, where) == 0);
  int per[4] = {0};
  for (int i = 0; i < 6; i++) per[where[i]]++;
  S_CHECK(per[0] == 3 && per[1] == 2 && per[2] == 1 && per[3] == 0);

  /* A bundle no node has is named in the reason. */
  b[0] = one, b[1] = big;
  S_CHECK(rl_bundles_feasible(RL_PG_PACK, b, 2, nodes, 4, why, sizeof why) == -1);
  S_CHECK(strstr(why, "bundle 2") && strstr(why, "CPU: 8"));
  S_CHECK(rl_bundles_feasible(RL_PG_SPREAD, b, 1, nodes, 4, why, sizeof why) == 0);
  /* No nodes at all. */
  s_unplace(where, 1);
  S_CHECK(rl_bundles_place(RL_PG_PACK, b, 1, nodes, 0, where) == -1);
  S_CHECK(rl_bundles_feasible(RL_PG_STRICT_PACK, b, 1, nodes, 0, why, sizeof why) == -1);
  S_CHECK(rl_bundles_place(7, b, 1, nodes, 4, where) == -1);
  return 0;
fail:
  return 1;
}
