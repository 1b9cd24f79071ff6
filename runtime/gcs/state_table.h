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
#include "wire/proto.h"
#include "wire/wire.h"

#define RL_STATE_MAX_TASKS 100000 /* as Ray's RAY_task_events_max_num_task_in_gcs */
#define RL_STATE_MAX_DEAD_ACTORS 10000
#define RL_STATE_MAX_ERROR_BYTES ((size_t)16 << 20) /* failed tasks' error texts kept */

typedef struct rl_state_table_t rl_state_table_t;

/* Finds the node id of the node manager at endpoint (len bytes, not NUL-terminated).
 * Returns true with *out set, or false if no node has that endpoint. */
typedef bool(rl_state_node_fn)(void *ctx, const char *endpoint, size_t len, rl_id_t *out);

/* The cap on kept tasks: $RAYL_TASK_EVENTS_MAX_NUM_TASK_IN_GCS if it is a whole number in
 * 1..10,000,000, else RL_STATE_MAX_TASKS. */
size_t rl_state_table_max_tasks_env(void);

/* A new empty table holding at most max_tasks tasks (> 0) and max_dead_actors dead
 * actors, or NULL if out of memory. */
rl_state_table_t *rl_state_table_new(size_t max_tasks, size_t max_dead_actors);
/* Frees the table and nulls *p; safe on NULL and twice. */
void rl_state_table_destroy(rl_state_table_t **p);

/* Applies a RL_GCS_STATE_REPORT message (wire/proto.h, as rl_gcs_state_report_msg_read
 * gives it): every row is checked first,
 * and a message with one bad row changes nothing. resolve maps the node endpoints it
 * names to node ids. Returns 0, or -1 with what was wrong in err. */
int rl_state_table_report(rl_state_table_t *t, const rl_gcs_state_report_msg_t *r, rl_state_node_fn *resolve,
                          void *ctx, char *err, size_t errlen);

/* These clients (drivers or workers, by worker id) died: tasks they owned that had not
 * finished fail with OwnerDiedError, their actors that are not detached die, and
 * detached actors whose worker is among them die (no owner is left to say so). */
void rl_state_table_clients_died(rl_state_table_t *t, const rl_id_t *dead, size_t n);

/* Fill out with RL_GCS_STATE's rows (wire/proto.h) for "tasks" (room for
 * rl_state_table_tasks rows, oldest first) or "actors" (rl_state_table_actors); their
 * strings are borrowed from the table (valid until it changes). */
void rl_state_table_task_rows(const rl_state_table_t *t, rl_wire_task_row_t *out);
void rl_state_table_actor_rows(const rl_state_table_t *t, rl_wire_actor_row_t *out);
/* What RL_GCS_STATE counts: events dropped by their owners, tasks forgotten here. */
void rl_state_table_losses(const rl_state_table_t *t, uint64_t *dropped, uint64_t *evicted);

/* A task or actor as the table holds it, for readers in the head (the dashboard):
 * borrowed, valid during the visit. */
typedef struct {
  const rl_id_t *id, *actor_id, *node_id, *owner_id; /* actor_id, node_id: nil if none */
  uint32_t worker_pid, owner_pid, attempt;
  uint8_t state, kind; /* RL_TS_*, RL_KIND_* */
  const char *name, *error_type; /* error_type: "" if none */
  const char *error;             /* a failure's message and traceback, or NULL */
} rl_task_view_t;

typedef struct {
  const rl_id_t *id, *node_id, *owner_id;
  uint32_t pid, owner_pid;
  uint8_t state; /* RL_AS_* */
  bool detached;
  const char *class_name, *name, *ns, *cause;
  uint32_t restarts; /* times its owner restarted it */
} rl_actor_view_t;

/* Calls fn for each task, the most recently reported first, until it returns false. */
void rl_state_table_each_task(const rl_state_table_t *t, bool (*fn)(void *ctx, const rl_task_view_t *v), void *ctx);
/* Calls fn for each actor, the most recently created first, until it returns false. */
void rl_state_table_each_actor(const rl_state_table_t *t, bool (*fn)(void *ctx, const rl_actor_view_t *v),
                               void *ctx);
/* How many tasks and actors are in each state (RL_TS_*, RL_AS_*), without a scan. */
void rl_state_table_counts(const rl_state_table_t *t, size_t tasks[RL_TS_FAILED + 1], size_t actors[RL_AS_DEAD + 1]);
/* Tasks evicted to keep the table bounded, and rows owners could not report. */
uint64_t rl_state_table_evicted(const rl_state_table_t *t);
uint64_t rl_state_table_dropped(const rl_state_table_t *t);

/* Counts, for tests and logs. */
size_t rl_state_table_tasks(const rl_state_table_t *t);
size_t rl_state_table_actors(const rl_state_table_t *t);

#endif
