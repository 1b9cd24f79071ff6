/* node_table.h: the head's table of nodes: where each node listens, its resources,
 * and whether it is alive (heard from within the heartbeat timeout). */
#ifndef RL_NODE_TABLE_H
#define RL_NODE_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "sched/resources.h"
#include "wire/proto.h"

#define RL_NODE_TABLE_MAX 4096   /* nodes the table holds, dead ones included */
#define RL_NODE_GPUS_MAX 300     /* longest GPU description, with its NUL */

/* What a node last reported of its store, workers, queue and machine (RL_GCS_HEARTBEAT's
 * stats; all 0 until it does). */
typedef struct {
  double store_used, store_capacity, objects, spilled, workers, workers_leased, queued, mem_total, mem_available,
      load1, cpus;
} rl_node_stats_t;

typedef struct {
  rl_id_t id;
  char endpoint[RL_ENDPOINT_MAX];
  uint64_t pid;
  bool alive;
  bool pending;         /* loaded from the database and not heard from since: not alive
                         * yet, not dead either (it dies at the timeout from the load) */
  int64_t last_seen_ms; /* rl_now_ms() time of the last registration or heartbeat (or load) */
  rl_resources_t total;
  rl_resources_t available;
  char gpus[RL_NODE_GPUS_MAX]; /* how the node found its GPUs, for rayl status ("" unknown:
                                * not kept across a head restart until it registers) */
  rl_node_stats_t stats;       /* memory only: the dashboard's */
} rl_node_t;

typedef struct rl_node_table_t rl_node_table_t;

/* Called when what the head keeps of a node changes: registered or re-registered,
 * alive again, dead (node valid for the call only), or forgotten (gone: the node is
 * freed after the call). Heartbeats that only update available resources don't call. */
typedef void(rl_node_hook_fn)(void *arg, const rl_node_t *node, bool forgotten);

/* A new empty table whose nodes die after timeout_ms (> 0) without a heartbeat, or
 * NULL if out of memory. */
rl_node_table_t *rl_node_table_new(int64_t timeout_ms);
/* Frees the table and its nodes and nulls *p; safe on NULL and twice. */
void rl_node_table_destroy(rl_node_table_t **p);
/* Sets the hook (NULL: none) called on each change that outlives a restart. */
void rl_node_table_set_hook(rl_node_table_t *t, rl_node_hook_fn *hook, void *arg);
/* Adds a node remembered from before a restart, without calling the hook. If alive, it
 * is pending (alive once it heartbeats or registers, dead timeout_ms after now_ms);
 * otherwise dead. Returns 0, or -1 with err if the endpoint is bad, the id already
 * known, the table full, or out of memory. */
int rl_node_table_load(rl_node_table_t *t, const rl_id_t *id, const char *endpoint, const rl_resources_t *total,
                       uint64_t pid, bool alive, int64_t now_ms, char *err, size_t errlen);
/* Adds the node, or updates it if known (registration is idempotent): endpoint, pid
 * and total are replaced, available is reset to total, and the node is alive as of
 * now_ms. When the table is full, the longest-dead node makes room. Returns 0, or -1
 * with a message in err if the endpoint is empty or too long, or the table is full of
 * live nodes, or out of memory. */
int rl_node_table_register(rl_node_table_t *t, const rl_id_t *id, const char *endpoint,
                           const rl_resources_t *total, uint64_t pid, int64_t now_ms, char *err,
                           size_t errlen);
/* Sets the node's GPU description (cut to RL_NODE_GPUS_MAX - 1 bytes). Returns 0, or -1
 * if the node is unknown. */
int rl_node_table_set_gpus(rl_node_table_t *t, const rl_id_t *id, const char *gpus);
/* Replaces the node's stats. Returns 0, or -1 if the node is unknown. */
int rl_node_table_set_stats(rl_node_table_t *t, const rl_id_t *id, const rl_node_stats_t *stats);
/* Records a heartbeat: available resources, alive as of now_ms. A node marked dead or
 * pending is alive again (it was heard from). Returns 0, or -1 if the node is unknown. */
int rl_node_table_heartbeat(rl_node_table_t *t, const rl_id_t *id, const rl_resources_t *available,
                            int64_t now_ms);
/* Marks dead every live or pending node not heard from for more than the timeout
 * (logging each once). Returns how many died in this call. */
int rl_node_table_expire(rl_node_table_t *t, int64_t now_ms);
/* The node with this id (borrowed, valid until the table changes), or NULL. */
const rl_node_t *rl_node_table_get(const rl_node_table_t *t, const rl_id_t *id);
size_t rl_node_table_size(const rl_node_table_t *t);
/* Iteration in registration order: *cursor starts at 0; returns the next node
 * (borrowed), or NULL at the end. The table must not change during an iteration. */
const rl_node_t *rl_node_table_next(const rl_node_table_t *t, size_t *cursor);

#endif
