/* node_clients_test.c: node_clients.c's selftest, built into rl_selftest only (not librayl). */
#include "common/selftest.h"
#include "gcs/node_clients.h"

#include <stdlib.h>
#include <string.h>

#define S_CHECK(c) RL_CHECK_GOTO(c)

int rl_node_clients_selftest(void) {
  rl_node_clients_t *t = rl_node_clients_new();
  rl_id_t *got = NULL;
  char err[200];
  size_t n = 99;
  rl_id_t a = rl_id_random(), b = rl_id_random(), c = rl_id_random(), ids[2] = {a, b};
  rl_id_t node1 = rl_id_random(), node2 = rl_id_random();
  S_CHECK(rl_node_clients_take(t, &node1, &n) == NULL && n == 0);
  S_CHECK(rl_node_clients_set(t, &node1, ids, 2, err, sizeof err) == RL_OK);
  S_CHECK(rl_node_clients_set(t, &node2, &c, 1, err, sizeof err) == RL_OK);
  S_CHECK(rl_node_clients_count(t) == 3);
  /* A later heartbeat's list replaces the earlier: b left. */
  S_CHECK(rl_node_clients_set(t, &node1, &a, 1, err, sizeof err) == RL_OK && rl_node_clients_count(t) == 2);
  got = rl_node_clients_take(t, &node1, &n);
  S_CHECK(got && n == 1 && rl_id_eq(&got[0], &a));
  free(got);
  got = NULL;
  /* Taken once: the node's death does not report them twice. */
  S_CHECK(rl_node_clients_take(t, &node1, &n) == NULL && n == 0 && rl_node_clients_count(t) == 1);
  /* An empty list forgets the node. */
  S_CHECK(rl_node_clients_set(t, &node2, NULL, 0, err, sizeof err) == RL_OK && rl_node_clients_count(t) == 0);
  S_CHECK(rl_node_clients_take(t, &node2, &n) == NULL);
  /* Too many is refused, naming the count, and the old list stays. */
  S_CHECK(rl_node_clients_set(t, &node2, &c, 1, err, sizeof err) == RL_OK);
  S_CHECK(rl_node_clients_set(t, &node2, ids, RL_NODE_CLIENTS_MAX + 1, err, sizeof err) == RL_ERR);
  S_CHECK(strstr(err, "65537 clients") != NULL && rl_node_clients_count(t) == 1);
  rl_node_clients_destroy(&t);
  rl_node_clients_destroy(&t);
  return 0;
fail:
  free(got);
  rl_node_clients_destroy(&t);
  return 1;
}
