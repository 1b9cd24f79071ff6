/* state_table.h: the head's view of tasks and actors for the state API (`rayl list`),
 * built from what owners report in batches (RL_GCS_STATE_REPORT). Bounded: the last
 * max_tasks tasks (the first reported is forgotten first) and every actor, except that
 * beyond max_dead_actors dead ones the longest dead are forgotten. Memory only: a
 * restarted head starts empty. */
#ifndef RL_STATE_TABLE_H
#define RL_STATE_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "wire/msg.h"

#define RL_STATE_MAX_TASKS 10000
#define RL_STATE_MAX_DEAD_ACTORS 10000

typedef struct rl_state_table_t rl_state_table_t;

/* Finds the node id of the node manager at endpoint (len bytes, not NUL-terminated).
 * Returns true with *out set, or false if no node has that endpoint. */
typedef bool(rl_state_node_fn)(void *ctx, const char *endpoint, size_t len, rl_id_t *out);

/* A new empty table holding at most max_tasks tasks (> 0) and max_dead_actors dead
 * actors, or NULL if out of memory. */
rl_state_table_t *rl_state_table_new(size_t max_tasks, size_t max_dead_actors);
/* Frees the table and nulls *p; safe on NULL and twice. */
void rl_state_table_destroy(rl_state_table_t **p);

/* Applies a RL_GCS_STATE_REPORT message (wire/proto.h): every row is checked first,
 * and a message with one bad row changes nothing. resolve maps the node endpoints it
 * names to node ids. Returns 0, or -1 with what was wrong in err. */
int rl_state_table_report(rl_state_table_t *t, const rl_msg_t *m, rl_state_node_fn *resolve, void *ctx, char *err,
                          size_t errlen);

/* These clients (drivers or workers, by worker id) died: tasks they owned that had not
 * finished fail with OwnerDiedError, their actors that are not detached die, and
 * detached actors whose worker is among them die (no owner is left to say so). */
void rl_state_table_clients_died(rl_state_table_t *t, const rl_id_t *dead, size_t n);

/* Packs the rows of RL_GCS_STATE (wire/proto.h) for "tasks" or "actors": the rows
 * array, dropped and evicted. */
void rl_state_table_pack_tasks(const rl_state_table_t *t, msgpack_packer *pk);
void rl_state_table_pack_actors(const rl_state_table_t *t, msgpack_packer *pk);

/* Counts, for tests and logs. */
size_t rl_state_table_tasks(const rl_state_table_t *t);
size_t rl_state_table_actors(const rl_state_table_t *t);

#endif
