/* bundles.h: where a placement group's bundles go under PACK, SPREAD, STRICT_PACK and
 * STRICT_SPREAD, given what each node has free (pure logic: no I/O, no state). */
#ifndef RL_BUNDLES_H
#define RL_BUNDLES_H
#include <stddef.h>

#include "sched/resources.h"

typedef enum { RL_PG_PACK = 0, RL_PG_SPREAD = 1, RL_PG_STRICT_PACK = 2, RL_PG_STRICT_SPREAD = 3 } rl_pg_strategy_t;

#define RL_PG_MAX_BUNDLES 1024 /* bundles in one group */

/* "PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD" for a strategy (else "?"). */
const char *rl_pg_strategy_name(int strategy);
/* The strategy with that name, or -1. */
int rl_pg_strategy_parse(const char *name);

/* Chooses nodes for the bundles whose where[i] is -1, keeping those already placed
 * (where[i] = a node index; their resources are already out of avail). avail[k] is what
 * node k can give new bundles now; it is not changed. On success fills where[] and
 * returns 0. Returns -1 if the unplaced bundles cannot all go anywhere now under the
 * strategy (where[] is then unchanged). n <= RL_PG_MAX_BUNDLES. */
int rl_bundles_place(int strategy, const rl_resources_t *bundles, int n, const rl_resources_t *avail, int nnodes,
                     int *where);

/* Whether nodes with these totals could ever hold the whole group (ignoring what is
 * in use). Returns 0 if they could, else -1 with the reason in why (for the one-time
 * warning the group's creator gets). */
int rl_bundles_feasible(int strategy, const rl_resources_t *bundles, int n, const rl_resources_t *total, int nnodes,
                        char *why, size_t whylen);

#endif
