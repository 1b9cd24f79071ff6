/* task_table.h: the tasks a process owns (submitted and not finished, or finished and
 * kept as the lineage of their results): lookup by id, the one retry decision, and
 * lineage reference counts. Plain data: no sockets, no core worker. */
#ifndef RL_TASK_TABLE_H
#define RL_TASK_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "worker/core_worker.h" /* rl_task_opts_t */

struct rl_fn;    /* the function a task runs (cw_internal.h) */
struct rl_class; /* its scheduling class (dispatch.h) */
struct rl_lease; /* the leased worker it was pushed to (dispatch.h) */

/* One argument of an owned task: an inline value (copied), or a ref resolved before the
 * task is pushed. */
typedef struct {
  bool is_ref;
  rl_id_t ref;
  char *data;
  size_t len;
  rl_id_t *contained;
  size_t ncontained;
  /* once resolved (is_ref): */
  int kind;
  char *rdata;     /* INLINE: the value; STORE: its id and location */
  size_t rdata_len;
  size_t rlen;     /* the value's size */
} rl_arg_t;

typedef struct rl_task {
  rl_id_t id;
  struct rl_fn *fn; /* NULL for actor methods */
  int kind;         /* RL_KIND_* */
  char method[64];
  rl_arg_t *args;
  size_t nargs;
  int unresolved;   /* ref arguments not ready yet */
  rl_task_opts_t opts;
  char name[64];
  int attempt;      /* runs started before the current one */
  int retries_left; /* -1: forever */
  int64_t args_lost_ms; /* its worker could not read a stored argument, and this process
                           has not heard of the argument's loss yet: waits since (ms); 0: no */
  bool cancelled, finished;
  int lineage_refs; /* finished: its return objects that still point at it (lineage) */
  int64_t pushed_us;
  struct rl_class *cls;
  struct rl_lease *lease;
  struct rl_task *next; /* in the class queue */
  struct rl_task *run_prev, *run_next; /* on its lease, in running order */
  bool ev_on;       /* its events are reported (its first one was not dropped) */
  uint32_t ev_gen;  /* the batch holding its last event ... */
  uint32_t ev_slot; /* ... at this index (updated in place while that batch waits) */
} rl_task_t;

/* ---- a task ---- */

/* A new task id of kind (RL_KIND_*) with opts (its name copied, opts->name not kept),
 * method ("" if NULL), retries_left = opts->max_retries and nargs zeroed arguments. Can't
 * fail. */
rl_task_t *rl_task_new(const rl_id_t *id, int kind, const char *method, const rl_task_opts_t *opts, size_t nargs);
/* Frees t with the copies its arguments hold (not the references they stand for: the
 * caller drops those first). Safe on NULL. */
void rl_task_delete(rl_task_t *t);

/* Why a task might run again. */
typedef enum {
  RL_RETRY_WORKER_DIED, /* its worker died while it ran or waited there */
  RL_RETRY_NODE_DIED,   /* its worker's node died */
  RL_RETRY_EXCEPTION,   /* it raised (retried only with retry_exceptions) */
  RL_RETRY_ACTOR_DIED,  /* an actor call whose actor's worker died (max_task_retries) */
  RL_RETRY_LINEAGE,     /* finished, kept as lineage: a result of it was lost */
  RL_RETRY_ARG_LOST,    /* its worker could not read a stored argument (not counted) */
} rl_retry_cause_t;

/* The one retry decision: whether t may run again after cause. If so, counts the new
 * attempt (attempt + 1; retries_left - 1 unless it is -1, forever), marks a lineage
 * task unfinished, and returns true; else changes nothing and returns false. Never
 * retried: a cancelled task, an actor's creation (its restarts are the actor's), a task
 * with no retries left, a finished one (except for lineage), an unfinished one for
 * lineage (it runs already). ARG_LOST is not counted against retries_left (the lost
 * argument's own retries bound it, as in Ray, where such a task waits for it). */
bool rl_task_retry(rl_task_t *t, rl_retry_cause_t cause);
/* Whether t, finishing now, may be kept as the lineage of its stored results (a plain
 * task that could be retried to make them again). */
bool rl_task_keeps_lineage(const rl_task_t *t);
/* t finished and is kept for refs (> 0) of its results that live in a store. */
void rl_task_lineage_hold(rl_task_t *t, int refs);
/* One of those results is freed. Returns true when t is to be freed now (finished,
 * and nothing points at it any more). */
bool rl_task_lineage_drop(rl_task_t *t);

/* ---- the table: owned tasks by id ---- */
typedef struct rl_task_table rl_task_table_t;

/* A new empty table. Can't fail. */
rl_task_table_t *rl_task_table_new(void);
/* Frees the table and every task still in it (rl_task_delete), and nulls *p; safe on
 * NULL and twice. */
void rl_task_table_destroy(rl_task_table_t **p);
/* Adds t under t->id. Can't fail. */
void rl_task_table_insert(rl_task_table_t *tt, rl_task_t *t);
/* The task with id, or NULL. */
rl_task_t *rl_task_table_find(const rl_task_table_t *tt, const rl_id_t *id);
/* Takes t out of the table (if it is in it); t is not freed. */
void rl_task_table_remove(rl_task_table_t *tt, rl_task_t *t);
size_t rl_task_table_size(const rl_task_table_t *tt);
/* Iteration: *cursor starts at 0; returns the next task, or NULL at the end. The table
 * must not change during an iteration (collect, then act). */
rl_task_t *rl_task_table_next(const rl_task_table_t *tt, size_t *cursor);

#endif
