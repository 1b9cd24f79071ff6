/* dead_clients.h: the head's recent list of clients (drivers, workers) that died, each
 * with a sequence number, so every node manager learns of each death once, including
 * those of clients on other nodes that leased workers from it. */
#ifndef RL_DEAD_CLIENTS_H
#define RL_DEAD_CLIENTS_H
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"

/* Deaths kept; a node manager that fell further behind misses the oldest (it polls
 * twice a second, so it would have to be silent through this many deaths). */
#define RL_DEAD_CLIENTS_MAX 4096

typedef struct rl_dead_clients_t rl_dead_clients_t;

/* A new empty list (sequence numbers start at 1), or NULL if out of memory. */
rl_dead_clients_t *rl_dead_clients_new(void);
/* Frees the list and nulls *p; safe on NULL and twice. */
void rl_dead_clients_destroy(rl_dead_clients_t **p);
/* Records a death; returns its sequence number. Can't fail (the oldest is dropped). */
uint64_t rl_dead_clients_add(rl_dead_clients_t *d, const rl_id_t *id);
/* The latest sequence number (0: none yet). */
uint64_t rl_dead_clients_seq(const rl_dead_clients_t *d);
/* The ids recorded after sequence number `since`, oldest first, up to max of them into
 * out. Asked with a `since` beyond the latest (the head restarted and counts from 1
 * again), it gives every death it still holds. Returns how many. */
size_t rl_dead_clients_since(const rl_dead_clients_t *d, uint64_t since, rl_id_t *out, size_t max);

#endif
