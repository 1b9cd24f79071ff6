/* dead_clients_test.c: dead_clients.c's selftest, built into rl_selftest only (not librayl). */
#include "gcs/dead_clients.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

int rl_dead_clients_selftest(void) {
  static rl_id_t out[RL_DEAD_CLIENTS_MAX + 10];
  rl_dead_clients_t *d = rl_dead_clients_new();
  S_CHECK(d && rl_dead_clients_seq(d) == 0 && rl_dead_clients_since(d, 0, out, 10) == 0);
  rl_id_t a = rl_id_random(), b = rl_id_random();
  S_CHECK(rl_dead_clients_add(d, &a) == 1 && rl_dead_clients_add(d, &b) == 2);
  S_CHECK(rl_dead_clients_since(d, 0, out, 10) == 2 && rl_id_eq(&out[0], &a) && rl_id_eq(&out[1], &b));
  S_CHECK(rl_dead_clients_since(d, 1, out, 10) == 1 && rl_id_eq(&out[0], &b));
  S_CHECK(rl_dead_clients_since(d, 2, out, 10) == 0);
  S_CHECK(rl_dead_clients_since(d, 0, out, 1) == 1 && rl_id_eq(&out[0], &a));
  /* A head that restarted counts from 1 again: a node that saw 50 gets all it holds. */
  S_CHECK(rl_dead_clients_since(d, 50, out, 10) == 2);
  /* Past the ring's size the oldest are gone. */
  for (int i = 0; i < RL_DEAD_CLIENTS_MAX; i++) rl_dead_clients_add(d, &a);
  rl_dead_clients_add(d, &b);
  S_CHECK(rl_dead_clients_seq(d) == RL_DEAD_CLIENTS_MAX + 3);
  S_CHECK(rl_dead_clients_since(d, 0, out, RL_DEAD_CLIENTS_MAX + 10) == RL_DEAD_CLIENTS_MAX);
  S_CHECK(rl_id_eq(&out[RL_DEAD_CLIENTS_MAX - 1], &b));
  S_CHECK(rl_dead_clients_since(d, RL_DEAD_CLIENTS_MAX + 2, out, 10) == 1 && rl_id_eq(&out[0], &b));
  rl_dead_clients_destroy(&d);
  rl_dead_clients_destroy(&d);
  return 0;
fail:
  rl_dead_clients_destroy(&d);
  return 1;
}
