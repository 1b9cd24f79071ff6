/* dead_clients.c: a ring of the last RL_DEAD_CLIENTS_MAX deaths. */
#include "common/selftest.h"
#include "common/xalloc.h"
#include "gcs/dead_clients.h"

#include <stdlib.h>
#include <string.h>

struct rl_dead_clients_t {
  rl_id_t ids[RL_DEAD_CLIENTS_MAX];
  uint64_t seq; /* of the latest; ids[(seq - 1) % MAX] */
};

rl_dead_clients_t *rl_dead_clients_new(void) { return rl_xcalloc(1, sizeof(rl_dead_clients_t)); }

void rl_dead_clients_destroy(rl_dead_clients_t **p) {
  if (!p || !*p) return;
  free(*p);
  *p = NULL;
}

uint64_t rl_dead_clients_add(rl_dead_clients_t *d, const rl_id_t *id) {
  d->ids[d->seq % RL_DEAD_CLIENTS_MAX] = *id;
  return ++d->seq;
}

uint64_t rl_dead_clients_seq(const rl_dead_clients_t *d) { return d->seq; }

size_t rl_dead_clients_since(const rl_dead_clients_t *d, uint64_t since, rl_id_t *out, size_t max) {
  uint64_t oldest = d->seq > RL_DEAD_CLIENTS_MAX ? d->seq - RL_DEAD_CLIENTS_MAX + 1 : 1;
  uint64_t from = since >= d->seq ? (since == d->seq ? d->seq + 1 : oldest) : since + 1;
  if (from < oldest) from = oldest;
  size_t n = 0;
  for (uint64_t s = from; s <= d->seq && n < max; s++) out[n++] = d->ids[(s - 1) % RL_DEAD_CLIENTS_MAX];
  return n;
}

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
