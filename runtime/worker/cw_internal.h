/* cw_internal.h: the core worker's private state, shared by its files (core_worker.c:
 * sockets and the event loop; objects.c: the object protocol over the object table,
 * object_table.c; submitter.c: tasks and leases, over the task table (task_table.c)
 * and the dispatch decisions (dispatch.c); stealing.c: work stealing; executor.c: tasks
 * pushed to this worker; pgroups.c: placement groups). */
#ifndef RL_CW_INTERNAL_H
#define RL_CW_INTERNAL_H
#include <zmq.h>

#include "common/idmap.h"
#include "wire/msg.h"
#include "wire/wire.h"
#include "worker/core_worker.h"
#include "worker/dispatch.h"
#include "worker/io_thread.h"
#include "worker/object_table.h"
#include "worker/task_table.h"

/* Holds the core worker's lock until the end of the enclosing block (every public
 * rl_cw_* function that touches its state starts with it; nesting is free). The I/O
 * thread (io_thread.h) serves the sockets only while nobody holds it. */
#define RL_CW_HOLD(cw) \
  rl_io_hold_t rl_cw_hold_ __attribute__((cleanup(rl_io_leave), unused)) = rl_io_enter((cw)->io)

/* A connection to another core worker (a leased worker or an object's owner). */
typedef struct rl_peer {
  char endpoint[RL_ENDPOINT_MAX];
  void *sock; /* DEALER */
  bool registered; /* a remote node manager we registered with (to lease there) */
  struct rl_peer *next;
} rl_peer_t;

/* A borrower's GET_OBJECT waiting for an owned object to be ready. */
typedef struct rl_waiter {
  zmq_msg_t identity;
  uint64_t request;
  struct rl_waiter *next;
} rl_waiter_t;

typedef struct rl_task rl_task_t;

struct rl_actor;

/* A function exported by this process (kept for the life of the process). */
typedef struct rl_fn {
  uint64_t hash;
  char *key;
  size_t key_len;
  char *blob;
  size_t len;
  struct rl_fn *next;
} rl_fn_t;

enum { RL_ACTOR_PENDING, RL_ACTOR_ALIVE, RL_ACTOR_RESTARTING, RL_ACTOR_LOCATING, RL_ACTOR_DEAD };

/* An actor this process created (owned) or calls (a handle from elsewhere). */
typedef struct rl_actor {
  rl_id_t id;
  bool owned;
  char owner[RL_ENDPOINT_MAX];
  int state;                   /* RL_ACTOR_* */
  rl_class_t *cls;             /* its calls */
  char *cause;                 /* DEAD: the encoded ActorDiedError */
  size_t cause_len;
  rl_id_t worker_id;           /* its worker, while alive */
  char endpoint[RL_ENDPOINT_MAX];
  /* owner only */
  rl_fn_t *class_fn;
  rl_task_arg_t *init_args;    /* copies, for restarts */
  size_t ninit;
  rl_actor_opts_t opts;
  char name[64];
  char user_name[64];          /* owner only: the name it was given, if any */
  char ns[64];                 /* ... and its namespace */
  int restarts_left;
  uint32_t restarts;           /* owner only: times it was restarted */
  bool no_restart, killed;
  bool out_of_scope;           /* its handles are all gone: freed once its calls finish */
  bool retired;                /* out of scope and no longer waited on */
  char name_key[192];          /* owned and named: its key in the head's KV */
  bool detached;
  rl_waiter_t *locate_waiters;
  rl_id_t dead_worker;         /* locate waiters want a worker other than this one */
  struct rl_actor *next;
} rl_actor_t;

/* A task's state change waiting to be reported to the head (events.c). */
typedef struct {
  rl_id_t id, actor_id;
  const char *node; /* the node manager it runs on (rl_lease_t.node_endpoint), or NULL */
  uint32_t pid;     /* its worker's pid, 0 if not known */
  uint32_t attempt;
  uint8_t state, kind; /* RL_TS_*, RL_KIND_* */
  char name[64];
  char error[32];
  char *detail; /* a failure's message and traceback (malloc'd), or NULL */
} rl_task_event_t;

/* An actor's state change waiting to be reported. */
typedef struct {
  rl_id_t id, worker_id;
  const char *node;
  uint32_t pid;
  uint8_t state; /* RL_AS_* */
  bool detached;
  uint32_t restarts;
  char class_name[64], name[64], ns[64];
  char cause[256];
} rl_actor_event_t;

/* A task's run on a worker, for the timeline (TASK_DONE's start and end). */
typedef struct {
  rl_id_t id, actor_id;
  const char *node;
  uint32_t pid;
  uint8_t kind;
  bool failed;
  int64_t start_us, end_us;
  char name[64];
} rl_span_event_t;

/* The batch of events waiting to be sent. */
typedef struct {
  rl_span_event_t *spans;
  size_t nspans, capspans;
  uint64_t spans_dropped; /* runs not recorded (the batch was full) */
  rl_task_event_t *tasks;
  size_t ntasks, captasks;
  rl_actor_event_t *actors;
  size_t nactors, capactors;
  uint32_t gen;        /* batches sent so far */
  uint64_t dropped;    /* task events not recorded (the batch was full) */
  int64_t last_flush_ms;
} rl_events_t;

/* A task pushed to this worker. */
typedef struct rl_incoming {
  rl_cw_task_t pub;
  char name[64];
  char method[64];
  rl_id_t owner_id;
  char owner[RL_ENDPOINT_MAX];
  zmq_msg_t identity; /* the submitter's connection */
  zmq_msg_t frame;    /* the raw message: pub's pointers point into it */
  msgpack_unpacked up;
  const rl_wire_task_arg_t *args; /* in the kept message's zone */
  bool cancelled;      /* cancelled while it runs: its waits in rayl are interrupted */
  bool arg_lost;       /* a stored argument could not be read: TASK_DONE says ARG_LOST */
  int64_t start_us;    /* wall clock when it started here (rl_wall_us), 0: not yet */
  rl_id_t *held;      /* refs of its owner this task's run borrowed first (see TASK_DONE) */
  size_t nheld, capheld;
  struct rl_incoming *next;
  struct rl_incoming *next_active;
} rl_incoming_t;

typedef struct rl_pg_wait rl_pg_wait_t;

struct rl_cw_t {
  void *zctx;
  int kind;
  rl_id_t worker_id, node_id;
  char endpoint[RL_ENDPOINT_MAX];
  char node_endpoint[RL_ENDPOINT_MAX];
  char gcs_endpoint[RL_ENDPOINT_MAX];
  char session_dir[256];
  char store_path[128];
  size_t store_size;
  void *store_base;
  rl_resources_t node_resources;
  void *router; /* incoming: task pushes, borrower requests */
  void *nm;     /* DEALER to the node manager */
  void *gcs;    /* DEALER to the head, opened on first use */
  rl_peer_t *peers;
  rl_objtab_t *objects; /* what we own or borrow (objects.c answers for it) */
  rl_task_table_t *tasks; /* owned tasks by task id (pending, or kept as lineage) */
  rl_class_t *classes;
  rl_fn_t *fns;
  uint64_t lease_request_seq;
  rl_actor_t *actors;
  int actors_out_of_scope; /* owned actors waiting for their calls before being freed */
  rl_id_t hosted_actor;   /* the actor this worker runs, if any */
  uint32_t seq;
  uint64_t next_request;
  /* replies to blocking node-manager requests */
  uint64_t awaited_request;
  bool awaited_done;
  rl_msg_t awaited_reply;
  /* executing */
  rl_incoming_t *in_head, *in_tail; /* pushed, not started */
  rl_incoming_t *active;             /* started, not finished (several in a concurrent actor) */
  rl_incoming_t *running;            /* the one whose code runs now, if any */
  bool blocked_told;
  rl_cw_error_encoder encode_error;
  void *encode_error_ctx;
  rl_cw_ready_fn on_ready;
  void *on_ready_ctx;
  bool print_logs;
  rl_cw_stack_fn stack_fn; /* rayl stack: the host's traceback (inspect.c) */
  void *stack_ctx;
  rl_cw_log_hook log_hook;
  void *log_hook_ctx;
  int64_t last_lease_check_ms;
  size_t args_lost_waiting; /* tasks waiting to hear that an argument of theirs was lost */
  uint64_t messages; /* received so far (to tell whether a poll brought anything) */
  int64_t polled_us; /* the last poll's start: whatever was sent before it is handled */
  /* placement groups */
  rl_pg_wait_t *pg_waits, *pg_waits_tail; /* ready objects waiting for the head */
  bool pg_answered;                       /* some of them were answered */
  int pg_unanswered;                      /* creations and removals not answered yet */
  uint64_t *pg_creates;                   /* their request ids (creations) */
  size_t pg_creates_n, pg_creates_cap;
  rl_events_t ev;    /* task and actor state changes for the head (events.c) */
  rl_io_t *io;       /* the lock, and the I/O thread serving while the owner is away */
  rl_id_t *ready_later; /* objects that became ready on the I/O thread: on_ready runs */
  size_t nready_later, capready_later; /* ... on the owner thread, at its next call */
};

/* core_worker.c */
/* Tells the host's ready hook that object id is ready or failed: now on the owner
 * thread, else at the owner's next call into the core worker. */
void rl_cw_notify_ready(rl_cw_t *cw, const rl_id_t *id);
/* The connection to the core worker or node manager at endpoint (opened on first use);
 * NULL if it cannot be opened. */
rl_peer_t *rl_cw_peer(rl_cw_t *cw, const char *endpoint);
/* The connection to another node's manager, registered with as a remote client on
 * first use (to lease there, and to hear of its workers' deaths); NULL if it cannot be
 * opened. */
rl_peer_t *rl_cw_remote_node(rl_cw_t *cw, const char *endpoint);
/* The DEALER to the head, connected on first use; NULL if it cannot be opened. */
void *rl_cw_gcs_socket(rl_cw_t *cw);
/* Sends msg (the struct of message `type`) to the node manager and waits for the reply
 * with the same request id, handling other traffic meanwhile. Returns 0 with the reply in
 * *reply (close it), or -1 on timeout/interrupt. */
int rl_cw_nm_call(rl_cw_t *cw, int type, const void *msg, uint64_t request, rl_msg_t *reply, int timeout_ms);
uint64_t rl_cw_request_id(rl_cw_t *cw);
void rl_cw_blocked(rl_cw_t *cw, bool blocked);
/* The DEALER to the head, opened on first use (NULL if it cannot be). */
void *rl_cw_gcs_socket(rl_cw_t *cw);

/* objects.c: the object protocol over the table cw->objects (object_table.h). */
/* A waiter for a reply to `request` on the connection `identity` (copied). */
rl_waiter_t *rl_waiter_new(const zmq_msg_t *identity, uint64_t request);
/* The object table of cw, its hooks answering for freed objects; NULL if out of memory. */
rl_objtab_t *rl_obj_table_new(rl_cw_t *cw);
/* The object id, or NULL (one id-map lookup). */
static inline rl_object_t *rl_obj_find(rl_cw_t *cw, const rl_id_t *id) { return rl_objtab_find(cw->objects, id); }
/* A new object id owned by us (no refs yet), or NULL if out of memory. */
rl_object_t *rl_obj_new_owned(rl_cw_t *cw, const rl_id_t *id);
/* Frees o if nothing holds it (rl_objtab_held), telling the store, its owner and its
 * waiters, and releasing its lineage task, its actor and its contained refs. */
void rl_obj_maybe_free(rl_cw_t *cw, rl_object_t *o);
void rl_obj_set_value(rl_cw_t *cw, rl_object_t *o, int kind, const char *data, size_t len);
void rl_obj_fail(rl_cw_t *cw, rl_object_t *o, const char *type, const char *message);
/* The value is sealed in a store: size bytes at the node manager `location` (loclen
 * bytes; NULL: this node's). */
void rl_obj_set_stored(rl_cw_t *cw, rl_object_t *o, size_t size, const char *location, size_t loclen);
/* Adds delta to the task refs of object id (if known), then frees it if nothing holds it. */
void rl_obj_task_ref(rl_cw_t *cw, const rl_id_t *id, int delta);
/* The process at endpoint holds o (owned). */
void rl_obj_add_borrower(rl_cw_t *cw, rl_object_t *o, const char *endpoint);
void rl_obj_handle_get_object(rl_cw_t *cw, rl_msg_t *m);
void rl_obj_handle_object(rl_cw_t *cw, rl_msg_t *m);
void rl_obj_handle_borrower(rl_cw_t *cw, rl_msg_t *m, bool add);
/* Frees the object table and everything in it, telling nobody. */
void rl_obj_destroy_all(rl_cw_t *cw);
/* The process at endpoint died: objects we borrowed from it that are not ready yet
 * fail with OwnerDiedError. */
void rl_obj_owner_died(rl_cw_t *cw, const char *endpoint, int pid, const char *reason);
/* The same for the client worker, heard of from the head's list of dead clients: the
 * objects it owned (their ids begin with its id) that we borrow and wait for fail with
 * OwnerDiedError. */
void rl_obj_owner_gone(rl_cw_t *cw, const rl_id_t *worker);
/* The process at endpoint died: it no longer borrows objects we own. */
void rl_obj_borrower_died(rl_cw_t *cw, const char *endpoint);
/* The node manager at node died: objects stored only there are lost. */
void rl_obj_node_died(rl_cw_t *cw, const char *node);
/* Pins the sealed store object id and points v at it, pulling it to this node first if
 * location (a node manager; NULL or ours: here) holds it (retrying briefly while its
 * creator's seal is on the way). Returns 0, or -1 with err and *reason (RL_LOC_*:
 * RL_LOC_NODE_DIED if the node it was pulled from died). */
int rl_obj_store_pin(rl_cw_t *cw, const rl_id_t *id, const char *location, rl_cw_value_t *v, int *reason,
                     char *err, size_t errlen);
/* Allocates len bytes in the store for object id owned by owner, calls copy to fill
 * them, and seals. Returns 0 (also when an earlier run of the same task already sealed
 * id here), or -1 with err (store full). */
int rl_obj_store_write(rl_cw_t *cw, const rl_id_t *id, const rl_id_t *owner, size_t len,
                       void (*copy)(void *ctx, size_t i, void *dst), void *ctx, size_t i, char *err, size_t errlen);
char *rl_cw_encode_error(rl_cw_t *cw, const char *type, const char *message, size_t *len);

/* submitter.c */
void rl_sub_object_ready(rl_cw_t *cw, rl_object_t *o);
void rl_sub_handle_task_done(rl_cw_t *cw, rl_msg_t *m, rl_peer_t *from);
/* from: the remote node manager that sent it, NULL for ours. */
void rl_sub_handle_lease_granted(rl_cw_t *cw, rl_msg_t *m, rl_peer_t *from);
void rl_sub_handle_spillback(rl_cw_t *cw, rl_msg_t *m);
void rl_sub_handle_node_died(rl_cw_t *cw, rl_msg_t *m);
void rl_sub_handle_lease_infeasible(rl_cw_t *cw, rl_msg_t *m);
/* Called while a get or wait that began at since_ms blocks: once it has waited
 * RAYL_PENDING_WARN_S (default 10 s), prints to stderr (once: sets *warned) which
 * infeasible tasks this process waits on, naming the resources no node has. */
void rl_sub_warn_pending(rl_cw_t *cw, int64_t since_ms, bool *warned);
/* A lease for a removed placement group: the tasks (or the actor) waiting for it fail. */
void rl_sub_handle_lease_pg_removed(rl_cw_t *cw, rl_msg_t *m);
void rl_sub_handle_worker_died(rl_cw_t *cw, rl_msg_t *m);
/* A leased worker (from) gave back tasks it had not started (RL_CW_STOLEN). */
void rl_sub_handle_stolen(rl_cw_t *cw, rl_msg_t *m, rl_peer_t *from);
/* Whether a worker granted to c with none of its tasks queued can take over tasks
 * waiting their turn on c's other leases (else it is given back). */
bool rl_sub_can_steal(rl_cw_t *cw, rl_class_t *c);
/* stealing.c: with nothing queued here and a worker of c idle, asks the worker with
 * the most tasks waiting their turn to give some back (RL_CW_STOLEN); they are then
 * pushed to the idle one. */
void rl_sub_steal(rl_cw_t *cw, rl_class_t *c);
/* Task t, pushed to its lease's worker and given back unstarted, goes back to the front
 * of its class's queue (freed instead if it was cancelled meanwhile). */
void rl_sub_take_back(rl_cw_t *cw, rl_task_t *t);
void rl_sub_tick(rl_cw_t *cw);
/* Gives back every lease with nothing in flight or queued (a worker does this when its
 * task ends, so the workers it borrowed serve others at once). */
void rl_sub_return_idle_leases(rl_cw_t *cw);
void rl_sub_destroy_all(rl_cw_t *cw);
/* Cancels every task this process submitted that has not finished (the children of a
 * task cancelled with recursive), recursively. */
void rl_sub_cancel_children(rl_cw_t *cw, bool force);
/* Lineage: o (owned, its only copy lost with a node) is made again by re-running the
 * task that made it, if that task may still be retried. Returns true if resubmitted
 * (o is pending again), false if o must fail. */
bool rl_sub_reconstruct(rl_cw_t *cw, rl_object_t *o);
/* o, made by the kept task o->lineage, is being freed: the task goes once nothing
 * points at it. */
void rl_sub_lineage_release(rl_cw_t *cw, rl_object_t *o);

/* submitter.c and leasing.c, shared with actors.c */
rl_fn_t *rl_sub_function(rl_cw_t *cw, const void *key, size_t key_len, const void *blob, size_t len);
/* Builds a task for class cls (see rl_cw_submit) and queues it once its arguments are
 * ready; front: ahead of everything queued (an actor's creation). */
rl_task_t *rl_sub_task_new(rl_cw_t *cw, rl_class_t *cls, int kind, const char *method, rl_fn_t *fn,
                           const rl_task_arg_t *args, size_t nargs, const rl_task_opts_t *opts, rl_id_t *ids_out,
                           bool front, char *err, size_t errlen);
void rl_sub_task_fail(rl_cw_t *cw, rl_task_t *t, int kind, const char *data, size_t len);
void rl_sub_request_lease(rl_cw_t *cw, rl_class_t *c, bool dedicated, const rl_resources_t *placement);
/* The node manager at node died: lease requests waiting there are asked again of ours
 * (an actor's at once, tasks' by the next dispatch), since no answer will come. */
void rl_sub_leases_node_died(rl_cw_t *cw, const char *node);
void rl_sub_add_lease(rl_cw_t *cw, rl_class_t *c, const rl_id_t *worker, const char *endpoint, rl_peer_t *node);
/* Removes lease l from class c, giving the worker back unless it failed. */
void rl_sub_return_lease(rl_cw_t *cw, rl_class_t *c, rl_lease_t *l, bool failed);
void rl_sub_drop_lease(rl_cw_t *cw, rl_class_t *c, bool tell_node);
/* The tasks pushed to c's leases, still in flight, in running order per lease (caller
 * frees the array; NULL if out of memory). */
rl_task_t **rl_sub_inflight(rl_cw_t *cw, const rl_class_t *c, size_t *n);
/* The one retry path: if t may run again after cause (rl_task_retry decides, and
 * counts the attempt), takes it off its lease, reports and logs why, and queues it
 * ahead of tasks submitted after it (once its arguments are ready; an actor's call at
 * once, to keep the calls' order) and returns true. Else changes nothing and returns
 * false: the caller fails t. */
bool rl_sub_retry(rl_cw_t *cw, rl_task_t *t, rl_retry_cause_t cause, const char *why);

/* actors.c */
void rl_actor_created(rl_cw_t *cw, rl_task_t *t, bool failed, const char *data, size_t len);
/* Handles the death of the worker behind c (an actor class). */
void rl_actor_worker_died(rl_cw_t *cw, rl_class_t *c, int pid, const char *reason);
void rl_actor_lease_granted(rl_cw_t *cw, rl_class_t *c);
/* The actor can never be placed again (its placement group is gone): it is dead. */
void rl_actor_unplaceable(rl_cw_t *cw, rl_class_t *c, const char *message);
void rl_actor_handle_locate(rl_cw_t *cw, rl_msg_t *m);
void rl_actor_handle_location(rl_cw_t *cw, rl_msg_t *m);
void rl_actor_handle_kill(rl_cw_t *cw, rl_msg_t *m);
void rl_actor_owner_died(rl_cw_t *cw, const char *endpoint, int pid, const char *reason);
void rl_actor_destroy_all(rl_cw_t *cw);
/* The handle ref of actor id was freed: no handle of it is left anywhere. */
void rl_actor_out_of_scope(rl_cw_t *cw, const rl_id_t *id);
/* Frees actors out of scope whose calls have all finished (from rl_sub_tick). */
void rl_actor_retire(rl_cw_t *cw);
/* The owner is leaving: its actors' names are free again (detached ones keep theirs). */
void rl_actor_forget_names(rl_cw_t *cw);

/* pgroups.c */
/* An answer from the head that no call waits for (placement group replies). Safe
 * anywhere: it only takes notes; rl_pg_apply acts on them. */
void rl_pg_handle_gcs(rl_cw_t *cw, rl_msg_t *m);
/* Makes the ready objects of answered waits ready (or failed). */
void rl_pg_apply(rl_cw_t *cw);
/* Waits briefly for the head to answer the creations and removals sent (before leaving). */
void rl_pg_flush(rl_cw_t *cw);
void rl_pg_destroy_all(rl_cw_t *cw);
/* events.c: the state API's reports (owners tell the head what their tasks and actors
 * do, in batches sent at most about once a second, never a message per task). */
/* Task t was submitted. Its event is not recorded (and counted as dropped) when the
 * batch holds RL_EV_MAX_TASKS events already; then none of its later ones are. */
#define RL_EV_MAX_TASKS 10000
/* inspect.c: RL_CW_STACK and RL_CW_LIST_OWNED (wire/proto.h), from anyone. */
void rl_inspect_handle_stack(rl_cw_t *cw, rl_msg_t *m);
void rl_inspect_handle_owned(rl_cw_t *cw, rl_msg_t *m);

void rl_ev_task_new(rl_cw_t *cw, rl_task_t *t);
/* Task t's state is now state (RL_TS_*); error_type names the error of a failed one. */
void rl_ev_task(rl_cw_t *cw, rl_task_t *t, int state, const char *error_type);
/* t failed with the encoded error data (its type is read from it). */
void rl_ev_task_failed(rl_cw_t *cw, rl_task_t *t, const char *data, size_t len);
/* t runs now on lease l's worker. */
void rl_ev_task_running(rl_cw_t *cw, rl_task_t *t, const rl_lease_t *l);
/* Records t's run on lease l from start_us to end_us (wall clock, from its TASK_DONE)
 * for the head's timeline; beyond RL_EV_MAX_TASKS in a batch, only counted. */
void rl_ev_task_span(rl_cw_t *cw, const rl_task_t *t, const rl_lease_t *l, int64_t start_us, int64_t end_us,
                     bool failed);
/* Owned actor a's state is now state (RL_AS_*); cause: why it died. */
void rl_ev_actor(rl_cw_t *cw, rl_actor_t *a, int state, const char *cause);
/* Sends the batch if it holds anything and a second has passed since the last one
 * (now_ms: rl_now_ms()). */
void rl_ev_tick(rl_cw_t *cw, int64_t now_ms);
/* Sends the batch now. */
void rl_ev_flush(rl_cw_t *cw);
/* This process is leaving: its unfinished tasks fail (OwnerDiedError) and its actors
 * that are not detached die, as reported; then the batch is sent. */
void rl_ev_leaving(rl_cw_t *cw);
void rl_ev_destroy(rl_cw_t *cw);

/* executor.c */
void rl_exec_handle_push(rl_cw_t *cw, rl_msg_t *m);
void rl_exec_handle_cancel(rl_cw_t *cw, rl_msg_t *m);
/* The owner of tasks queued here takes back some not started yet (RL_CW_STEAL_TASKS). */
void rl_exec_handle_steal(rl_cw_t *cw, rl_msg_t *m);
void rl_exec_destroy_all(rl_cw_t *cw);

#endif
