/* proto.h: every message type on the wire and the fields of its body, in order.
 *
 * A message is one ZeroMQ frame: 4 header bytes (RL_WIRE_VERSION, type, 0, 0) and a
 * msgpack array of fields (wire/msg.h). ROUTER sockets see the sender's routing id as
 * an extra first frame. Field notation: id = bin of 16 bytes; str; bin; u64; f64;
 * bool; map{str: f64} = a resource map; [..] = array; ? = may be nil.
 * A receiver checks every field it reads (rl_field_*) and drops, with a log line,
 * a message that does not match its schema. */
#ifndef RL_PROTO_H
#define RL_PROTO_H

enum rl_msg_type {
  /* ---- client (driver or worker) -> node manager, on the node's ROUTER ---- */
  /* [kind u64 (RL_CLIENT_*), worker_id id, pid u64, endpoint str, job_id u64] */
  RL_NM_REGISTER = 1,
  /* [request u64, resources map, dedicated bool?, placement map?, spilled bool?,
   *  strategy str?, detached bool?] : lease one worker
   * that can hold these resources. dedicated: the worker becomes an actor's (killed,
   * not reused, when returned or when its lessee leaves). placement: resources that
   * must be free to place it without being held (Ray's 1 CPU to place an actor).
   * spilled: another node sent the client here; grant or queue, never spill again.
   * strategy: "" (default: local first), "SPREAD" (round robin over nodes that fit),
   * "NODE:<node id hex>" (only that node) or "NODE_SOFT:<node id hex>" (that node
   * if it can, else the default). detached: an actor's worker that outlives its
   * lessee (lifetime = "detached"). */
  RL_NM_LEASE = 2,
  /* [worker_id id, worker_failed bool] : give a leased worker back */
  RL_NM_RETURN = 3,
  /* [] : the calling worker is blocked in get/wait; lend its CPU to others */
  RL_NM_BLOCKED = 4,
  /* [] : the calling worker runs again */
  RL_NM_UNBLOCKED = 5,
  /* [request u64, object_id id, size u64, owner_worker_id id] : allocate size bytes in
   * the store; the object is deleted when its owner (a registered client) leaves */
  RL_NM_STORE_CREATE = 6,
  /* [object_id id] : the creator finished writing; the object is immutable now */
  RL_NM_STORE_SEAL = 7,
  /* [request u64, object_id id, location str?] : where is this sealed object? pins it
   * for the caller. location: the node manager holding it, if not this one; the
   * object is pulled from there first. */
  RL_NM_STORE_GET = 8,
  /* [object_id id] : the caller no longer reads the object (one pin less) */
  RL_NM_STORE_RELEASE = 9,
  /* [object_id id] : the owner frees the object (deleted once no reader pins it) */
  RL_NM_STORE_DELETE = 10,
  /* [request u64] : total and available resources of this node */
  RL_NM_RESOURCES = 11,
  /* [] : the client is leaving (returns its leases, drops its pins); the node manager
   * flushes pending worker output to it and answers with RL_NM_GOODBYE */
  RL_NM_GOODBYE = 12,

  /* ---- node manager -> client ---- */
  /* [node_id id, store_path str, store_size u64, node_endpoint str, gcs_endpoint str,
   *  session_dir str, resources map] */
  RL_NM_WELCOME = 20,
  /* [request u64, worker_id id, endpoint str, pid u64] */
  RL_NM_LEASE_GRANTED = 21,
  /* [request u64, reason str] : the node can never satisfy this request */
  RL_NM_LEASE_INFEASIBLE = 22,
  /* [worker_id id, pid u64, reason str, endpoint str] : a worker of this node died; sent
   * to every client (its lessee retries its tasks, borrowers of objects it owned fail
   * them with OwnerDiedError) */
  RL_NM_WORKER_DIED = 23,
  /* [request u64, offset u64] or [request u64, nil, error str] */
  RL_NM_STORE_CREATED = 24,
  /* [request u64, offset u64, size u64] or [request u64, nil, error str] */
  RL_NM_STORE_LOCATION = 25,
  /* [request u64, total map, available map] */
  RL_NM_RESOURCES_REPLY = 26,
  /* [pid u64, stream str ("out"|"err"), text str] : worker output for the driver */
  RL_NM_LOG = 27,
  /* ---- node manager <-> node manager: objects pulled by the node that needs them ---- */
  /* [request u64, object_id id, offset u64, length u64] : send me this part */
  RL_NM_PULL = 29,
  /* [request u64, object_id id, total u64, offset u64, data bin] or
   * [request u64, object_id id, nil, nil, error str] */
  RL_NM_PULL_DATA = 30,
  /* [node_endpoint str] : the head stopped hearing from that node: it is dead (sent to
   * every client; workers leased there and objects stored there are gone) */
  RL_NM_NODE_DIED = 31,
  /* [request u64, node_endpoint str] : this node cannot (or should not) serve the lease;
   * ask that node manager (register there first) */
  RL_NM_LEASE_SPILLBACK = 28,

  /* ---- core worker <-> core worker, on the receiver's ROUTER ---- */
  /* [task_id id, owner_id id, owner_endpoint str, function_key bin, function bin?,
   *  args [[kind u64, data bin, size u64]...], num_returns u64, attempt u64, name str]
   * [kind u64 (RL_KIND_*), method str, actor_id id] (absent: a plain task)
   * : run this task (pipelined). Arg kinds are the RL_RET_* kinds: INLINE data is an
   * encoded value; STORE: the value is sealed in this node's store under object id
   * `data` (16 bytes), size bytes. For RL_KIND_ACTOR_CREATE the function is the actor's
   * class table; for RL_KIND_ACTOR_METHOD it is absent and `method` names the method. */
  RL_CW_PUSH_TASK = 40,
  /* [task_id id, status u64 (RL_TASK_*), returns [[kind u64, data bin, size u64]...],
   *  borrowed [[object_id id, owner_endpoint str]...]]
   * kind RL_RET_INLINE: data is the encoded value; RL_RET_STORE: the value is sealed in
   * the store of this node, size bytes; RL_RET_ERROR: data is an encoded error. */
  RL_CW_TASK_DONE = 41,
  /* [request u64, object_id id] : a borrower asks the owner for a value (reply when
   * ready) */
  RL_CW_GET_OBJECT = 42,
  /* [request u64, object_id id, kind u64, data bin, size u64] */
  RL_CW_OBJECT = 43,
  /* [task_id id, force bool] : cancel a queued (or, with force, running) task */
  RL_CW_CANCEL = 44,
  /* [object_id id, borrower_endpoint str] : one more process holds this ref */
  RL_CW_ADD_BORROWER = 45,
  /* [object_id id, borrower_endpoint str] : the borrower dropped its last handle */
  RL_CW_REMOVE_BORROWER = 46,
  /* [request u64, actor_id id] : where does this actor run? (to its owner; answered
   * once the actor is alive or dead) */
  RL_CW_ACTOR_LOCATE = 47,
  /* [request u64, actor_id id, alive bool, worker_id id, endpoint str, cause bin]
   * cause: when dead, the encoded ActorDiedError */
  RL_CW_ACTOR_LOCATION = 48,
  /* [actor_id id, no_restart bool] : kill this actor (to its owner, or to the actor's
   * worker itself when its owner is gone: a detached actor) */
  RL_CW_KILL_ACTOR = 49,

  /* ---- node manager -> head (GCS) ---- */
  /* [node_id id, node_endpoint str, resources map, pid u64] */
  RL_GCS_REGISTER_NODE = 60,
  /* [node_id id, available map, demands [[shape map, count u64, infeasible bool]...]?,
   *  dead_clients [id...]?]
   * demands: the lease requests waiting in this node's queue, grouped by the resources
   * they ask for (count: how many requests; each stands for at least one task or
   * actor); infeasible: no node of the cluster has that much. dead_clients: clients
   * of this node (drivers, workers) that died since the last heartbeat; the head passes
   * them to every node manager (RL_GCS_NODES), which release what they held there. */
  RL_GCS_HEARTBEAT = 61,
  /* [request u64, dead_since u64|nil?] : dead_since (node managers): the last
   * dead-client sequence number seen, nil the first time */
  RL_GCS_GET_NODES = 62,
  /* [request u64, nodes [[node_id id, endpoint str, alive bool, total map,
   *  available map, demands [[shape map, count u64, infeasible bool]...]]...],
   *  dead_seq u64?, dead_clients [id...]?]
   * dead_seq and dead_clients answer a request with dead_since: the clients reported
   * dead after dead_since (none when it is nil: a new node manager has no clients
   * yet), and the sequence number to ask from next time. */
  RL_GCS_NODES = 63,
  /* [request u64, key str, value bin?] : value nil deletes */
  RL_GCS_KV_PUT = 64,
  /* [request u64, key str] */
  RL_GCS_KV_GET = 65,
  /* [request u64, value bin?] (reply to KV_PUT and KV_GET) */
  RL_GCS_KV_REPLY = 66,
  /* head -> node manager: [node_id id] : a heartbeat came from a node the head does not
   * know (the head restarted without its tables): send RL_GCS_REGISTER_NODE again */
  RL_GCS_REREGISTER = 67,

  /* ---- the state API (rayl list) ---- */
  /* core worker -> head, no reply: state changes of the tasks and actors this process
   * owns, batched (sent at most about once a second, and when it leaves):
   * [worker_id id, pid u64, nodes [endpoint str...],
   *  tasks [[task_id id, state u64 (RL_TS_*), attempt u64, name str, kind u64 (RL_KIND_*),
   *          actor_id id?, node u64, worker_pid u64, error_type str?]...],
   *  actors [[actor_id id, state u64 (RL_AS_*), class_name str, name str, namespace str,
   *           detached bool, node u64, pid u64, worker_id id?, death_cause str?]...],
   *  dropped u64]
   * node: 1 + an index into nodes (the node managers the tasks and actors run on), or 0
   * when not known. dropped: task events this process did not report (its buffer was
   * full) since the last batch. The last event of a task or actor wins. */
  RL_GCS_STATE_REPORT = 140,
  /* [request u64, what str ("tasks" | "actors")] */
  RL_GCS_LIST_STATE = 141,
  /* [request u64, rows [...], dropped u64, evicted u64], rows in the order first reported:
   * tasks:  [task_id id, state u64, attempt u64, name str, kind u64, actor_id id?,
   *          node_id id?, worker_pid u64, error_type str?, owner_id id, owner_pid u64]
   * actors: [actor_id id, state u64, class_name str, name str, namespace str,
   *          detached bool, node_id id?, pid u64, death_cause str?, owner_id id,
   *          owner_pid u64]
   * dropped: task events owners could not report; evicted: tasks the head forgot to
   * stay within its bounds (both since the head started). */
  RL_GCS_STATE = 142,
  /* any process -> node manager (registered or not; routing id of 16 bytes):
   * [request u64] : what the node's object store holds */
  RL_NM_LIST_OBJECTS = 143,
  /* [request u64, node_id id, objects [[object_id id, size u64, state u64 (RL_OS_*),
   *  pins u64, owner_id id?]...]] */
  RL_NM_OBJECTS = 144,
};

/* Task states in the state API: submitted (waiting for its arguments, a worker, or
 * its turn on the worker), running, finished, failed. */
enum { RL_TS_SUBMITTED = 0, RL_TS_RUNNING = 1, RL_TS_FINISHED = 2, RL_TS_FAILED = 3 };
/* Actor states: waiting for its worker and __init, alive, restarting, dead. */
enum { RL_AS_PENDING = 0, RL_AS_ALIVE = 1, RL_AS_RESTARTING = 2, RL_AS_DEAD = 3 };
/* Objects in a node's store: being written, in memory (sealed), spilled to disk. */
enum { RL_OS_CREATED = 0, RL_OS_IN_MEMORY = 1, RL_OS_SPILLED = 2 };

/* DRIVER: a script on this node (gets worker output; reaped by pid); WORKER: a worker
 * this node started; REMOTE: a process on another node that leases workers here. */
enum { RL_CLIENT_DRIVER = 0, RL_CLIENT_WORKER = 1, RL_CLIENT_REMOTE = 2 };
enum { RL_TASK_OK = 0, RL_TASK_FAILED = 1 };
enum { RL_RET_INLINE = 0, RL_RET_STORE = 1, RL_RET_ERROR = 2 };
enum { RL_KIND_TASK = 0, RL_KIND_ACTOR_CREATE = 1, RL_KIND_ACTOR_METHOD = 2 };

#endif
