/* node_clients.h: the head's record of which clients (drivers, workers) each node has,
 * as its node manager last listed them (RL_GCS_HEARTBEAT's clients), so that when the
 * node dies whole, with no node manager left to report its clients' deaths, the head
 * can report them itself (as Ray's GCS fails a dead node's workers). */
#ifndef RL_NODE_CLIENTS_H
#define RL_NODE_CLIENTS_H
#include <stddef.h>

#include "common/id.h"
#include "common/result.h"

/* Clients kept per node; a heartbeat listing more is refused (and the node keeps the
 * list it had). */
#define RL_NODE_CLIENTS_MAX 65536

typedef struct rl_node_clients_t rl_node_clients_t;

/* A new empty record. Can't fail (common/xalloc.h). */
rl_node_clients_t *rl_node_clients_new(void);
/* Frees the record and nulls *p; safe on NULL and twice. */
void rl_node_clients_destroy(rl_node_clients_t **p);
/* Replaces node's clients with the n ids (copied; duplicates are kept as given).
 * Returns RL_OK, or RL_ERR with a message in err if n is over RL_NODE_CLIENTS_MAX. */
rl_result_t rl_node_clients_set(rl_node_clients_t *t, const rl_id_t *node, const rl_id_t *ids, size_t n, char *err,
                                size_t errlen);
/* Removes node's clients and returns them (the caller frees the array; *n is their
 * count), or NULL with *n = 0 if none are recorded. The node's death calls this once:
 * the list is not reported twice. */
rl_id_t *rl_node_clients_take(rl_node_clients_t *t, const rl_id_t *node, size_t *n);
/* Clients recorded over all nodes (for tests and logs). */
size_t rl_node_clients_count(const rl_node_clients_t *t);

#endif
