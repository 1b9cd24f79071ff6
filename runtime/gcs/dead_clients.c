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
