/* core_worker.h: the core worker: what every driver and worker process runs to own
 * objects, submit tasks to leased workers, and receive tasks. Plain C: values are
 * opaque encoded bytes (host/codec.h makes them from Lua). One owner thread calls it
 * (the one that created it); while that thread is away (computing, not calling in),
 * the core worker's I/O thread answers its peers (worker/io_thread.h). Inline bytes it
 * hands out stay valid while the caller holds a reference to their object. */
#ifndef RL_CORE_WORKER_H
#define RL_CORE_WORKER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "wire/wire.h"
#include "sched/resources.h"
#include "wire/proto.h"

/* Results and put values below this size travel inline; larger ones go to the store. */
#define RL_INLINE_MAX (100 * 1024)

typedef struct rl_cw_t rl_cw_t;

/* Creates a core worker connected to the node manager at node_endpoint, registers as
 * a driver or worker (RL_CLIENT_*), and waits up to timeout_ms for the welcome.
 * Returns NULL with a message in err on failure. */
rl_cw_t *rl_cw_new(const char *node_endpoint, int kind, int timeout_ms, char *err, size_t errlen);
/* Says goodbye to the node manager (flushing worker output first), closes every socket
 * and frees everything; nulls *p; safe twice. */
void rl_cw_destroy(rl_cw_t **p);

/* Facts about this process and its node (borrowed strings). */
const rl_id_t *rl_cw_worker_id(const rl_cw_t *cw);
const rl_id_t *rl_cw_node_id(const rl_cw_t *cw);
const char *rl_cw_endpoint(const rl_cw_t *cw);
const char *rl_cw_session_dir(const rl_cw_t *cw);
const char *rl_cw_gcs_endpoint(const rl_cw_t *cw);
const rl_resources_t *rl_cw_node_resources(const rl_cw_t *cw);
/* The current task's id while a task runs in this worker, else a nil id. */
rl_id_t rl_cw_current_task(const rl_cw_t *cw);

/* Processes incoming messages and timers, waiting up to timeout_ms (0: don't wait) for
 * something to happen. Returns 1 if an interrupt (rl_interrupted) arrived, else 0. */
int rl_cw_poll(rl_cw_t *cw, int timeout_ms);

/* Like rl_cw_poll, but also returns as soon as file descriptor fd is readable, setting
 * *fd_ready (a program waiting for its user's input keeps its tasks moving meanwhile). */
int rl_cw_poll_fd(rl_cw_t *cw, int fd, int timeout_ms, bool *fd_ready);

/* Like rl_cw_poll, but spins for up to RL_SPIN_US first (for callers about to block
 * on a reply that is probably on its way). */
#define RL_SPIN_US 60
int rl_cw_poll_wait(rl_cw_t *cw, int timeout_ms);

/* ---- references ---- */
/* One more / one less local handle on an object (an ObjectRef userdata). Dropping the
 * last reference of every kind frees the object (and tells its owner, if borrowed). */
void rl_cw_ref_add(rl_cw_t *cw, const rl_id_t *id, const char *owner);
void rl_cw_ref_drop(rl_cw_t *cw, const rl_id_t *id);
/* Number of objects this process tracks (owned or borrowed): for leak checks. */
size_t rl_cw_object_count(const rl_cw_t *cw);
/* Number of tasks and actor calls this process submitted that have not finished. */
size_t rl_cw_task_count(const rl_cw_t *cw);

/* ---- objects ---- */
/* Stores an encoded value as a new owned object. If len >= RL_INLINE_MAX the value goes
 * to the node's store: *dst is set to len bytes of shared memory to fill, and
 * rl_cw_put_seal must follow; otherwise *dst is set to an internal buffer to fill (no
 * seal needed, but calling it is harmless). contained: ids of refs inside the value,
 * kept alive while the object lives. Returns 0, or -1 with a message in err (store
 * full). The new object has one local reference (the caller's handle). */
int rl_cw_put(rl_cw_t *cw, size_t len, const rl_id_t *contained, const char (*contained_owner)[RL_ENDPOINT_MAX],
              size_t ncontained, rl_id_t *id_out, void **dst, char *err, size_t errlen);
void rl_cw_put_seal(rl_cw_t *cw, const rl_id_t *id);

/* The state of an object as seen from here: RL_OBJ_PENDING (not known to be ready),
 * RL_OBJ_READY, RL_OBJ_FAILED (its value is an encoded error). */
enum { RL_OBJ_PENDING = 0, RL_OBJ_READY = 1, RL_OBJ_FAILED = 2 };
/* Starts fetching (if borrowed) and returns the state without waiting. */
int rl_cw_object_state(rl_cw_t *cw, const rl_id_t *id);

/* A value ready to decode: either inline bytes (owned by the core worker, valid until
 * the next call into it) or a pinned range of the store (release it with
 * rl_cw_value_release). */
typedef struct {
  int state;          /* RL_OBJ_READY or RL_OBJ_FAILED */
  const void *data;
  size_t len;
  bool pinned;        /* data is in the store; release when done */
  rl_id_t id;
} rl_cw_value_t;
/* Waits until the object is ready (timeout_ms < 0: forever) and fills *v. Returns 0,
 * 1 on timeout, 2 if interrupted, -1 with a message in err (object unknown, owner
 * gone, store unreachable). */
int rl_cw_get(rl_cw_t *cw, const rl_id_t *id, int timeout_ms, rl_cw_value_t *v, char *err, size_t errlen);
void rl_cw_value_release(rl_cw_t *cw, rl_cw_value_t *v);
/* Base address and size of the mapped store region. */
void *rl_cw_store_base(const rl_cw_t *cw);
size_t rl_cw_store_size(const rl_cw_t *cw);

/* Waits until at least num_ready of ids are ready or failed, or timeout. Sets
 * ready[i]. Returns 0, or 2 if interrupted. */
int rl_cw_wait(rl_cw_t *cw, const rl_id_t *ids, size_t n, size_t num_ready, int timeout_ms, bool *ready);

/* ---- tasks ---- */
typedef struct {
  rl_resources_t resources;
  int max_retries;        /* retries after a worker dies (-1: forever) */
  bool retry_exceptions;  /* also retry when the task raises */
  int num_returns;
  const char *name;       /* for errors and logs */
  rl_wire_sched_t sched;  /* where it runs (zeroed: RL_SCHED_DEFAULT, local first) */
  const char *runtime_env; /* NULL or "": none; else the canonical runtime_env its worker
                            * is set up with (lua/rayl/runtime_env.lua) */
} rl_task_opts_t;

/* One argument of a task: an encoded value, or a ref to resolve before the task runs. */
typedef struct {
  bool is_ref;
  rl_id_t ref;                    /* if is_ref */
  char owner[RL_ENDPOINT_MAX];    /* if is_ref */
  const void *data;               /* if !is_ref: the encoding (copied by submit) */
  size_t len;
  const rl_id_t *contained;       /* refs nested inside data */
  const char (*contained_owner)[RL_ENDPOINT_MAX];
  size_t ncontained;
} rl_task_arg_t;

/* Submits a task calling the function whose encoding is fn (identified by fn_key, a
 * content hash) with args. Returns at once: ids_out receives num_returns object ids,
 * each with one local reference for the caller. Returns RL_OK, or RL_ERR with a message
 * in err, or RL_ENOMEM (no memory to keep fn, a user-sized copy: common/result.h). */
int rl_cw_submit(rl_cw_t *cw, const void *fn_key, size_t fn_key_len, const void *fn, size_t fn_len,
                 const rl_task_arg_t *args, size_t nargs, const rl_task_opts_t *opts, rl_id_t *ids_out,
                 char *err, size_t errlen);
/* ---- actors ---- */
/* The owner a detached actor's handles name: callers ask the head where it runs. */
#define RL_ACTOR_OWNER_HEAD "head"
typedef struct {
  rl_resources_t resources;  /* held while it lives (Ray: 0 CPU by default) */
  rl_resources_t placement;  /* must be free to place it (Ray: 1 CPU by default) */
  rl_wire_sched_t sched;     /* as for tasks */
  const char *runtime_env;   /* as for tasks */
  bool detached;             /* outlives its owner (lifetime = "detached") */
  const char *name_key;      /* the head's KV key of its name, if named: freed when it dies */
  const char *actor_name;    /* its name, if named (for rayl list actors) */
  const char *ns;            /* and its namespace */
  int max_restarts;          /* -1: forever */
  int max_task_retries;      /* calls in flight when it dies; -1: forever */
  const char *name;          /* class name, for messages */
} rl_actor_opts_t;

/* Creates an actor from its class (the encoded class table, keyed by its hash) and
 * __init arguments; returns at once with its id. Calls made before it is alive wait
 * for it. Returns RL_OK, or RL_ERR with err, or RL_ENOMEM with err (no memory to keep
 * the class or an __init argument: user-sized copies; common/result.h). */
int rl_cw_actor_create(rl_cw_t *cw, const void *key, size_t key_len, const void *cls, size_t cls_len,
                       const rl_task_arg_t *args, size_t nargs, const rl_actor_opts_t *opts, rl_id_t *id_out,
                       char *err, size_t errlen);
/* Calls method on actor id (owned by owner): returns at once with num_returns refs.
 * Calls from one caller run in submission order. Returns 0, or -1 with err. */
int rl_cw_actor_call(rl_cw_t *cw, const rl_id_t *id, const char *owner, const char *method,
                     const rl_task_arg_t *args, size_t nargs, const rl_task_opts_t *opts, rl_id_t *ids_out,
                     char *err, size_t errlen);
/* Ties an owned actor's life to the owned object `handle_ref`, which every handle of
 * it carries: once no process holds that ref any more, the actor is freed (after the
 * calls already submitted to it finish), as Ray frees an actor whose handles are all
 * gone. Detached and named actors are never freed this way. Returns 0, or -1 if either
 * is not owned here. */
int rl_cw_actor_tie(rl_cw_t *cw, const rl_id_t *actor, const rl_id_t *handle_ref);
/* Kills the actor (asking its owner if it is not ours). no_restart: for good. */
void rl_cw_actor_kill(rl_cw_t *cw, const rl_id_t *id, const char *owner, bool no_restart);
/* The actor's state as seen here: "pending", "alive", "restarting", "dead"... */
const char *rl_cw_actor_state(rl_cw_t *cw, const rl_id_t *id);
/* Cancels the task producing object id: its results fail with TaskCancelledError at
 * once. A queued task never runs; a running one is killed if force, else it is stopped
 * at its next wait in rayl (get, wait, poll raise TaskCancelledError in it; a task
 * computing without calling rayl runs on, its result discarded). recursive: the tasks
 * it submitted are cancelled too (by its worker). Returns 0, or -1 if id is not a task
 * result owned here. */
int rl_cw_cancel(rl_cw_t *cw, const rl_id_t *id, bool force, bool recursive);
/* True while the task this worker runs has been cancelled (rl_cw_cancel); waits in it
 * return as interrupted. */
bool rl_cw_running_cancelled(rl_cw_t *cw);

/* ---- executing tasks (in worker processes) ---- */
typedef struct {
  rl_id_t task_id;
  const void *fn_key;
  size_t fn_key_len;
  const void *fn; /* NULL if this worker already got it */
  size_t fn_len;
  size_t nargs;
  int num_returns;
  const char *name;
  bool cancelled; /* cancelled before it started: load its function, then report it */
  int kind;       /* RL_KIND_*: a task, an actor's creation, or a method call */
  const char *method;
  double num_cpus; /* the CPUs it holds (tasks, actor creations), or -1: not said */
} rl_cw_task_t;
/* The next task pushed to this worker, or NULL if none is waiting; it becomes the
 * current task. Valid until rl_cw_task_finish. Several may be started at once (a
 * concurrent actor runs each in its own coroutine). */
const rl_cw_task_t *rl_cw_next_task(rl_cw_t *cw);
/* Which started task's code runs now (for get_runtime_context and blocking), or NULL. */
void rl_cw_set_current(rl_cw_t *cw, const rl_cw_task_t *t);
/* Argument i of task t as a value to decode (inline, or pinned in the store). */
int rl_cw_task_arg(rl_cw_t *cw, const rl_cw_task_t *t, size_t i, rl_cw_value_t *v, char *err, size_t errlen);
/* Fills dst with the encoding of return value i (lens[i] bytes). */
typedef void (*rl_cw_copy_fn)(void *ctx, size_t i, void *dst);
/* Reports the running task's outcome: on success, n = num_returns encoded values of
 * lens[i] bytes each; on failure one encoded error (failed = true). copy writes each
 * value straight to its destination (a message, or the store for large values).
 * contained: the refs inside the values; the caller becomes a borrower of those this
 * process owns before it hears of them, so they outlive this task. Returns 0, or -1
 * with err if a value could not be stored (then the task is reported as failed). */
int rl_cw_task_finish(rl_cw_t *cw, const rl_cw_task_t *t, bool failed, const size_t *lens, size_t n,
                      rl_cw_copy_fn copy, void *ctx,
                      const rl_id_t *contained, const char (*contained_owner)[RL_ENDPOINT_MAX], size_t ncontained,
                      char *err, size_t errlen);
/* A handler the host sets to encode a runtime error (a message of a given type) as an
 * error value, so failures decided in C reach Lua as rayl errors. */
/* It runs on the I/O thread too: plain C, no Lua state. */
typedef void *(*rl_cw_error_encoder)(void *ctx, const char *type, const char *message, size_t *len);
void rl_cw_set_error_encoder(rl_cw_t *cw, rl_cw_error_encoder fn, void *ctx);

/* ---- placement groups ---- */
typedef struct {
  const rl_resources_t *bundles; /* each asks for something */
  int nbundles;
  const char *strategy;          /* "PACK", "SPREAD", "STRICT_PACK" or "STRICT_SPREAD" */
  const char *name;              /* NULL or "": unnamed */
  bool detached;                 /* outlives this process */
} rl_pg_opts_t;
/* Asks the head to create a placement group and returns at once with its id (the
 * head places it in the background; warnings, e.g. that no node can hold it, are
 * printed to stderr when its answer comes). A named group waits for the answer, so a
 * name in use is reported here. Returns 0, or -1 with err. */
int rl_cw_pg_create(rl_cw_t *cw, const rl_pg_opts_t *o, rl_id_t *id_out, char *err, size_t errlen);
/* A new owned object (one local reference) that becomes ready with the encoded value
 * (copied) once the group is created, or fails with a ValueError if it is removed or
 * unknown. Returns 0, or -1 with err. */
int rl_cw_pg_ready(rl_cw_t *cw, const rl_id_t *pg, const void *value, size_t len, rl_id_t *id_out, char *err,
                   size_t errlen);
/* Asks the head to remove the group and returns at once (the request is delivered
 * before this process leaves). Returns 0, or -1 with err. */
int rl_cw_pg_remove(rl_cw_t *cw, const rl_id_t *pg, char *err, size_t errlen);
/* A handler told whenever an object this process tracks becomes ready or fails (from
 * inside rl_cw_poll, rl_cw_cancel, ...), so a host can run completions without
 * scanning its pending objects. It must not call into the core worker. It runs on the
 * owner thread only (what became ready on the I/O thread is told at the next poll). */
typedef void (*rl_cw_ready_fn)(void *ctx, const rl_id_t *id);
void rl_cw_set_ready_hook(rl_cw_t *cw, rl_cw_ready_fn fn, void *ctx);

/* Sends a request to the head (GCS) and waits up to timeout_ms for the reply whose
 * first field is `request`. Returns 0 with *reply filled (close it), -1 on timeout. */
int rl_cw_gcs_call(rl_cw_t *cw, void *msgbuf, uint64_t request, void *reply, int timeout_ms);
uint64_t rl_cw_next_request(rl_cw_t *cw);

/* Sends the task and actor events this process has not reported to the head yet (the
 * state API; they are otherwise sent at most about once a second). */
void rl_cw_flush_events(rl_cw_t *cw);

/* Output from workers (RL_NM_LOG) is printed by the driver with a "(pid=N) " prefix. */
void rl_cw_set_print_worker_logs(rl_cw_t *cw, bool on);
/* fn(ctx, true) runs before and fn(ctx, false) after each piece of worker output is
 * printed (a line editor clears its line, then redraws it), on the owner thread only
 * (the I/O thread prints without it). NULL: no hook. */
typedef void (*rl_cw_log_hook)(void *ctx, bool before);
void rl_cw_set_log_hook(rl_cw_t *cw, rl_cw_log_hook fn, void *ctx);

/* `rayl stack`: fills tb (n > 0) with the Lua thread's traceback, waiting up to
 * timeout_ms for it; returns false if it did not come (the thread runs compiled code
 * or C), tb then says where the thread is as far as the kernel tells. Called on
 * whichever thread serves the core worker (the I/O thread too). */
typedef bool (*rl_cw_stack_fn)(void *ctx, char *tb, size_t n, int timeout_ms);
void rl_cw_set_stack_fn(rl_cw_t *cw, rl_cw_stack_fn fn, void *ctx);
/* `rayl memory`: records where the owned object id was created ("file:line", a string
 * that must live as long as the process). Unknown ids are ignored. */
void rl_cw_set_call_site(rl_cw_t *cw, const rl_id_t *id, const char *site);

#endif
