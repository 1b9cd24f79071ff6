/* dispatch.h: scheduling classes, their queues and leased workers, and the decisions of
 * where a class's next task goes (which lease, how deep to pipeline, whether to ask for
 * another worker, what an idle worker does). Plain logic over these structs: no
 * sockets, no core worker. */
#ifndef RL_DISPATCH_H
#define RL_DISPATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "sched/resources.h"
#include "wire/wire.h"
#include "worker/task_table.h"

struct rl_peer;  /* a connection (cw_internal.h) */
struct rl_actor; /* an actor whose calls form a class (cw_internal.h) */

/* A leased worker. */
typedef struct rl_lease {
  rl_id_t worker_id;
  char endpoint[RL_ENDPOINT_MAX];
  struct rl_peer *peer;
  struct rl_peer *node;      /* the node manager that granted it; NULL: ours */
  const char *node_endpoint; /* that node manager's address (a string that lives as long
                              * as the core worker), NULL if not known (a handle's) */
  uint32_t pid;              /* the worker's pid, 0 if not known */
  rl_task_t *run_head, *run_tail; /* tasks pushed to it, in the order it runs them */
  int inflight;
  int64_t idle_since_ms;
  int64_t last_done_us;
  int64_t head_since_us;   /* when the task it runs now started, as far as we saw */
  bool stealing;           /* an RL_CW_STEAL_TASKS to it is not answered yet */
  bool steal_dry;          /* it gave nothing back: not asked again until its tasks change */
  bool pushed_since_steal; /* tasks were pushed to it after the last steal request was sent */
  uint64_t *fn_sent;       /* hashes of functions this worker has received */
  size_t nfn, capfn;
  struct rl_class *cls;
  struct rl_lease *next;
} rl_lease_t;

/* Tasks of one function with the same resource shape, strategy and runtime_env share
 * leases (Ray's scheduling class). An actor's calls form a class of their own whose one
 * lease is the actor's worker. */
typedef struct rl_class {
  struct rl_actor *actor; /* NULL for tasks */
  const struct rl_fn *fn; /* tasks: the function they run */
  rl_resources_t resources;
  rl_task_t *queue_head, *queue_tail; /* ready to dispatch */
  size_t queued;
  rl_lease_t *leases;
  uint64_t lease_request;  /* outstanding lease request id, or 0 */
  struct rl_peer *lease_at; /* the remote node manager it waits at (spilled), NULL: ours */
  bool dedicated;          /* its leases are actors' workers */
  rl_wire_sched_t sched;   /* scheduling strategy (rl_task_opts_t) */
  char *runtime_env;       /* canonical runtime_env, "" for none (owned) */
  bool detached;           /* its lease outlives us (a detached actor) */
  rl_resources_t placement;
  double service_us;       /* moving average of a task's run time, 0 until known */
  bool infeasible_warned;
  char infeasible_why[160]; /* the node manager's reason, when infeasible_warned */
  /* A worker leased for tasks pipelined behind others came when none was left to give
   * it: no more such requests until a task is queued (else lease, return, lease...). */
  bool spare_unused;
  struct rl_class *next;
} rl_class_t;

/* A lease with nothing to do (and nothing to steal) is given back after this long. */
#define RL_DISPATCH_IDLE_MS 500

/* ---- the class queue ---- */

/* Queues t (ready to push) on its class t->cls, at the front (a retry, a task given
 * back: ahead of those submitted after it) or the back; t is on no lease then. */
void rl_dispatch_enqueue(rl_task_t *t, bool front);
/* Takes the first queued task of c off the queue (c has one). */
rl_task_t *rl_dispatch_dequeue(rl_class_t *c);
/* Takes t off its class's queue, wherever it is (no-op if not queued). */
void rl_dispatch_unqueue(rl_task_t *t);

/* ---- the tasks on a lease, in running order ---- */

/* Pushes t onto lease l (t->lease, l->inflight, push time now_us). Returns true if t
 * runs now (nothing ran on l before it). */
bool rl_dispatch_run_push(rl_lease_t *l, rl_task_t *t, int64_t now_us);
/* Takes t off its lease (t->lease is cleared; no-op if it is on none) without touching
 * the lease's in-flight count. Returns the task that starts running on that lease
 * because t was the one running, or NULL. */
rl_task_t *rl_dispatch_run_remove(rl_task_t *t);
/* t's result came back from its lease l at now_us: l's in-flight count and idle time,
 * and the class's run time estimate (a moving average of the time from t's start, or
 * the previous result on l, to now). t stays on l (rl_dispatch_run_remove). */
void rl_dispatch_done(rl_lease_t *l, const rl_task_t *t, int64_t now_us);

/* ---- decisions ---- */

/* How many tasks of c to push to one leased worker before its results come back: 1
 * (never queue behind a running task) for SPREAD, or for a run time not known yet or
 * long (2 ms and more); deeper for short tasks, where the wait behind another is shorter
 * than getting another worker and pipelining hides the round trip. */
int rl_dispatch_depth(const rl_class_t *c);
/* Whether lease l's running task has run far longer than its class's tasks do (twice
 * as long, plus 2 ms), as of polled_us (the last poll, which read every result sent
 * before it): tasks behind it may wait long. */
bool rl_dispatch_stalled(const rl_lease_t *l, int64_t polled_us);
/* The lease to push c's next task to: an idle one, else (an actor's, or a short class)
 * the least loaded one below the pipeline depth whose running task is not held up
 * (as of polled_us). NULL: the task waits in the queue for a worker. */
rl_lease_t *rl_dispatch_pick(const rl_class_t *c, int64_t polled_us);
/* Whether c (a task class with no lease request outstanding) should ask for another
 * worker: tasks are queued, or, while no lease of it is idle, tasks wait behind others
 * on a pipelined lease (for those submitted next; not after a spare one went unused). */
bool rl_dispatch_wants_lease(const rl_class_t *c);

/* What a lease of a task class does when nothing runs on it. */
typedef enum {
  RL_IDLE_BUSY,   /* tasks run on it: not idle */
  RL_IDLE_KEEP,   /* kept: a task is queued for it, or it waits a while for the next */
  RL_IDLE_STEAL,  /* it takes over tasks waiting their turn on another lease */
  RL_IDLE_RETURN, /* nothing for it: given back to its node */
} rl_idle_t;
/* What lease l of c does now (now_ms). can_steal: tasks wait their turn on another
 * lease of c that l could take over (stealing.c, rl_sub_can_steal). linger: it may wait
 * RL_DISPATCH_IDLE_MS for more tasks; without it (a lease just granted, or its holder
 * leaves) it goes back at once when nothing is queued or to steal. */
rl_idle_t rl_dispatch_idle(const rl_class_t *c, const rl_lease_t *l, bool can_steal, bool linger, int64_t now_ms);

#endif
