/* proto.h: every message type on the wire and the fields of its body, in order.
 *
 * A message is one ZeroMQ frame: 4 header bytes (RL_WIRE_VERSION, type, 0, 0) and a
 * msgpack array of fields (wire/msg.h). ROUTER sockets see the sender's routing id as
 * an extra first frame. Field notation: id = bin of 16 bytes; str; bin; u64; f64;
 * bool; map{str: f64} = a resource map; [..] = array; ? = may be nil.
 * Each message's fields are also declared once, as data, below the enum
 * (RL_<TYPE>_FIELDS): wire/wire.h turns each list into a C struct and a packer and an
 * unpacker that validate every field; a receiver drops, with a log line naming the
 * message and the field, a message that does not match its list. */
#ifndef RL_PROTO_H
#define RL_PROTO_H

enum rl_msg_type {
  /* ---- client (driver or worker) -> node manager, on the node's ROUTER ---- */
  /* [kind u64 (RL_CLIENT_*), worker_id id, pid u64, endpoint str, job_id u64] */
  RL_NM_REGISTER = 1,
  /* [request u64, resources map, dedicated bool?, placement map?, spilled bool?,
   *  strategy sched?, detached bool?, runtime_env str?] : lease one worker
   * that can hold these resources. dedicated: the worker becomes an actor's (killed,
   * not reused, when returned or when its lessee leaves). placement: resources that
   * must be free to place it without being held (Ray's 1 CPU to place an actor).
   * spilled: another node sent the client here; grant or queue, never spill again.
   * strategy: the record RL_WREC_sched_FIELDS (below): DEFAULT (absent too: local
   * first), SPREAD (round robin over nodes that fit), NODE (only that node; soft: that
   * node if it can, else the default) or PG (from that bundle of a placement group, on
   * the node holding it; bundle -1: any of its bundles).
   * detached: an actor's worker that outlives its lessee (lifetime = "detached").
   * runtime_env: the canonical runtime_env the worker must be set up with ("" or
   * absent: none); a worker serves only leases of the runtime_env it was started with. */
  RL_NM_LEASE = 2,
  /* [worker_id id, worker_failed bool] : give a leased worker back */
  RL_NM_RETURN = 3,
  /* [] : the calling worker is blocked in get/wait; lend its CPU to others */
  RL_NM_BLOCKED = 4,
  /* [] : the calling worker runs again */
  RL_NM_UNBLOCKED = 5,
  /* [request u64, object_id id, size u64, owner_worker_id id?] : allocate size bytes in
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
  /* [object_id id, location str?] : the owner frees the object (deleted once no reader
   * pins it). location: the node manager holding its primary copy, when that is another
   * node (a task's result stored where it ran): this node manager passes the delete on
   * there, without location, and deletes its own pulled copy, if any */
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
  /* [worker_id id, pid u64, reason str, endpoint str, error_type str] : a worker of this
   * node died; sent to every client (its lessee retries its tasks, borrowers of objects it
   * owned fail them with OwnerDiedError). error_type: what its tasks fail with when no
   * retry is left, "WorkerCrashedError" or "OutOfMemoryError" (the kernel killed it) */
  RL_NM_WORKER_DIED = 23,
  /* [request u64, offset u64] or [request u64, nil, error str] */
  RL_NM_STORE_CREATED = 24,
  /* [request u64, offset u64, size u64] or [request u64, nil, nil, error str,
   *  reason u64 (RL_LOC_*)?] */
  RL_NM_STORE_LOCATION = 25,
  /* [request u64, total map, available map] */
  RL_NM_RESOURCES_REPLY = 26,
  /* [pid u64, stream str ("out"|"err"), text bin] : worker output for the driver */
  RL_NM_LOG = 27,
  /* ---- node manager <-> node manager: objects pulled by the node that needs them ---- */
  /* [request u64, object_id id, offset u64, length u64] : send me this part (plain:
   * clusters without security, or ipc). In a secured cluster, on the serving node's
   * transfer data socket (the endpoint in RL_NM_PULL_OPENED, plain tcp):
   * [request u64, object_id id, offset u64, length u64, token bin(16)]; offset is a
   * multiple of the chunk size (4 MiB) and the whole chunk there comes back. */
  RL_NM_PULL = 29,
  /* [request u64, object_id id, total u64, offset u64, data bin] or
   * [request u64, object_id id, nil, nil, nil, error str]. On the data socket, data is
   * the chunk sealed with AES-256-OCB (net/seal.h; ciphertext then 16-byte tag) under
   * the transfer's key, counter offset / chunk size, associated data: object_id (16
   * bytes), offset and total (8 bytes each, little-endian) */
  RL_NM_PULL_DATA = 30,
  /* [request u64, object_id id] : (secured clusters, on the CURVE channel) I will pull
   * this object: give me a key for it. An object of at most 1 MiB is answered with one
   * RL_NM_PULL_DATA holding all of it (offset 0) on that channel instead */
  RL_NM_PULL_OPEN = 32,
  /* [request u64, total u64, data_endpoint str, key bin(32), nonce bin(12), token bin(16)]
   * or [request u64, nil, nil, nil, nil, nil, error str] : the answer to RL_NM_PULL_OPEN, a
   * fresh random AES-256-OCB key and nonce base for this transfer, and the token that
   * RL_NM_PULL names on the plain data socket at data_endpoint (forgotten after 10 s
   * unused) */
  RL_NM_PULL_OPENED = 33,
  /* [request u64, pg_id id] : the lease was for a placement group that is removed: it
   * will never be granted (the tasks waiting for it fail) */
  RL_NM_LEASE_PG_REMOVED = 112,
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
   * [num_cpus f64] (absent: as before; tasks and actor creations send it: the CPUs the
   * task or actor holds, which size the worker's math thread pools)
   * : run this task (pipelined). Arg kinds are the RL_RET_* kinds: INLINE data is an
   * encoded value; STORE: the value is sealed in this node's store under object id
   * `data` (16 bytes), size bytes. For RL_KIND_ACTOR_CREATE the function is the actor's
   * class table; for RL_KIND_ACTOR_METHOD it is absent and `method` names the method. */
  RL_CW_PUSH_TASK = 40,
  /* [task_id id, status u64 (RL_TASK_*), returns [[kind u64, data bin, size u64]...],
   *  borrowed [[object_id id, owner_endpoint str]...], held [object_id id...]?,
   *  start_us u64?, end_us u64?]
   * start_us, end_us: when the task started and ended on the worker (wall clock, us
   * since the epoch; start 0: it never started), for the timeline.
   * held: refs of the task's owner that the worker borrowed while running it and still
   * holds (the owner adds it as their borrower before releasing the task's args).
   * kind RL_RET_INLINE: data is the encoded value; RL_RET_STORE: the value is sealed in
   * the store of the node manager whose endpoint data holds, size bytes; RL_RET_ERROR:
   * data is an encoded error. */
  RL_CW_TASK_DONE = 41,
  /* [request u64, object_id id, lost_at str?] : a borrower asks the owner for a value
   * (reply when ready). lost_at: the node whose copy the borrower had or was told of
   * died; an owner that still names it waits to hear of that death (it rebuilds the
   * object from lineage, or fails it saying why) before it replies. */
  RL_CW_GET_OBJECT = 42,
  /* [request u64, object_id id, kind u64, data bin, size u64] kind RL_RET_STORE: data is
   * the endpoint of the node manager whose store holds it, size bytes */
  RL_CW_OBJECT = 43,
  /* [task_id id, force bool, recursive bool?] : cancel a task: queued, it never runs;
   * running, force kills its worker, else its next wait in rayl raises
   * TaskCancelledError; recursive: the tasks it submitted are cancelled too */
  RL_CW_CANCEL = 44,
  /* [object_id id, borrower_endpoint str] : one more process holds this ref */
  RL_CW_ADD_BORROWER = 45,
  /* [object_id id, borrower_endpoint str] : the borrower dropped its last handle */
  RL_CW_REMOVE_BORROWER = 46,
  /* [request u64, actor_id id, dead_worker id] : where does this actor run? (to its
   * owner; answered once the actor is alive on a worker other than dead_worker, or dead) */
  RL_CW_ACTOR_LOCATE = 47,
  /* [request u64, actor_id id, alive bool, worker_id id, endpoint str, cause bin,
   *  message str?, node_endpoint str?] cause: when dead, the encoded ActorDiedError;
   * message: when dead and cause is empty (from the head, which encodes no values), why;
   * node_endpoint: the node manager the worker runs on (from the head) */
  RL_CW_ACTOR_LOCATION = 48,
  /* [actor_id id, no_restart bool] : kill this actor (to its owner, or to the actor's
   * worker itself when its owner is gone: a detached actor) */
  RL_CW_KILL_ACTOR = 49,
  /* [max u64] : owner -> a worker it leased: give back up to max of the tasks pushed to
   * you that have not started, the last pushed first (Ray's work stealing: another
   * worker of the owner is idle). Only plain tasks of this owner, not cancelled, and
   * none carrying a function body (tasks queued before it may need it). Answered with
   * RL_CW_STOLEN, also when nothing is given back. */
  RL_CW_STEAL_TASKS = 50,
  /* [task_ids [id...]] : worker -> owner: these tasks, in push order, will not run
   * here; the owner runs them elsewhere (not a retry: they never started). It speaks of
   * the tasks the worker held when it read the request: tasks pushed after the request
   * were not there yet (an empty answer says nothing of them). */
  RL_CW_STOLEN = 51,

  /* ---- node manager -> head (GCS) ---- */
  /* [node_id id, node_endpoint str, resources map, pid u64, gpus str?]
   * gpus: how the node found its GPUs, one line for rayl status ("2 (detected by the
   * CUDA driver; ids 0,1)", "none (no CUDA driver: libcuda.so.1 not found)") */
  RL_GCS_REGISTER_NODE = 60,
  /* [node_id id, available map, reserved map?, demands [[shape map, count u64,
   *  infeasible bool, waiting u64? (RL_WAIT_*)]...]?, dead_clients [id...]?, stats map?,
   *  clients [id...]?]
   * reserved: what placement group bundles hold on the node (kept out of available).
   * demands: the lease requests waiting in this node's queue, grouped by the resources
   * they ask for (count: how many requests; each stands for at least one task or
   * actor); infeasible: no node of the cluster has that much. dead_clients: clients
   * of this node (drivers, workers) that died since the last heartbeat; the head passes
   * them to every node manager (RL_GCS_NODES), which release what they held there.
   * stats: what the dashboard and /metrics show of the node, name -> number
   * (store_used, store_capacity, objects, spilled, workers, workers_leased, queued,
   * mem_total, mem_available, load1, cpus); unknown names are ignored.
   * clients: every client (driver, worker) registered at this node now, not those of
   * other nodes that lease here; when the head declares the node dead it lists them as
   * dead clients (nobody is left to report them), so their borrowers hear of it. */
  RL_GCS_HEARTBEAT = 61,
  /* [request u64, pg_version u64?, dead_since u64?, first bool?] (node managers send
   * pg_version and dead_since, or first the first time)
   * pg_version: a node manager's version of the placement group table
   * (RL_GCS_PG_PLACEMENT); the reply carries the table when the head's differs.
   * dead_since: the last dead-client sequence number seen; first: none seen yet */
  RL_GCS_GET_NODES = 62,
  /* [request u64, nodes [[node_id id, endpoint str, alive bool, total map,
   *  available map, demands [[shape map, count u64, infeasible bool]...], gpus str]...],
   *  pg_version u64?, groups [[pg_id id, bundles]...]?, dead_seq u64?, dead_clients [id...]?]
   * groups: every created (or rescheduling) placement group, bundles as in
   * RL_GCS_PG_PLACEMENT; nil when the asker's pg_version is current. dead_seq and
   * dead_clients answer a request with dead_since or first: the clients reported dead
   * after dead_since (none for first: a new node manager has no clients yet), and the
   * sequence number to ask from next time. */
  RL_GCS_NODES = 63,
  /* [request u64, key str, value bin?] : value nil deletes */
  RL_GCS_KV_PUT = 64,
  /* [request u64, key str] */
  RL_GCS_KV_GET = 65,
  /* [request u64, value bin?, size u64?, error str?] (reply to KV_PUT, KV_GET and
   * KV_EXISTS; error: refused) */
  RL_GCS_KV_REPLY = 66,
  /* head -> node manager: [node_id id] : a heartbeat came from a node the head does not
   * know (the head restarted without its tables): send RL_GCS_REGISTER_NODE again */
  RL_GCS_REREGISTER = 67,

  /* ---- placement groups: client (driver or worker) -> head ---- */
  /* [request u64, pg_id id, name str, strategy str ("PACK"|"SPREAD"|"STRICT_PACK"|
   *  "STRICT_SPREAD"), bundles [map...], detached bool, creator id]
   * : create a group (answered with RL_GCS_PG_REPLY at once; placed asynchronously).
   * name "": unnamed. creator: the creating process's worker id (a group that is not
   * detached is removed when its creator leaves). */
  RL_GCS_PG_CREATE = 100,
  /* [request u64, pg_id id] : remove a group (RL_GCS_PG_REPLY); its bundles are
   * released and the workers leased in them killed */
  RL_GCS_PG_REMOVE = 101,
  /* [request u64, pg_id id] : answer RL_GCS_PG_READY once the group is created */
  RL_GCS_PG_WAIT = 102,
  /* [request u64, pg_id id?, name str?] : one group by id or name, or (both nil)
   * every group: RL_GCS_PG_INFO */
  RL_GCS_PG_GET = 103,
  /* head -> client: [request u64, error str?, warning str?] error: refused; warning:
   * created, but no node set of the cluster can hold it now (it stays pending) */
  RL_GCS_PG_REPLY = 104,
  /* head -> client: [request u64, pg_id id, error str?] : created, or (error) removed
   * or unknown */
  RL_GCS_PG_READY = 105,
  /* head -> client: [request u64, groups [[pg_id id, name str, strategy str, state str,
   *  detached bool, bundles [[node_id id?, resources map]...]]...]] state: "PENDING",
   * "CREATED" or "RESCHEDULING"; node_id: where the bundle is reserved */
  RL_GCS_PG_INFO = 106,

  /* ---- placement groups: head <-> node manager ---- */
  /* head -> node: [pg_id id, index u64, attempt u64, resources map] : reserve bundle
   * `index` (0-based) out of the node's available resources (again: no change) */
  RL_GCS_PG_RESERVE = 107,
  /* node -> head: [pg_id id, index u64, attempt u64, ok bool, available map, reserved map]
   * available, reserved: the node's, after the request (as in a heartbeat) */
  RL_GCS_PG_RESERVED = 108,
  /* head -> node: [pg_id id, index u64] : give the bundle back (a rolled-back attempt) */
  RL_GCS_PG_RELEASE = 109,
  /* head -> every node: [pg_id id, version u64, bundles [[node_id id?, resources map]...]?]
   * : the group's placement changed (created, or rescheduling: bundles on a dead node
   * have no node). A node serves leases from the bundles listed for it, releases those
   * it holds that are not, and spills other leases for the group to the listed nodes.
   * bundles nil or left off: the group is removed (release what it holds; kill its leased workers).
   * version: the head's table version after this change (+1 per change). */
  RL_GCS_PG_PLACEMENT = 110,
  /* node -> head: [worker_id id] : a driver or worker of this node left (groups it
   * created that are not detached are removed) */
  RL_GCS_CLIENT_GONE = 111,
  /* ---- jobs and runtime_env packages: client (CLI, driver, worker) -> head ---- */
  /* [request u64, key str] -> KV_REPLY [request, nil, size u64?] : is this key set (and how
   * large is its value)? Used to upload a working_dir package only once. */
  RL_GCS_KV_EXISTS = 120,
  /* [request u64, submission_id str ("": the head makes one up), entrypoint [str...],
   *  runtime_env str, working_dir str, env_vars [[name str, value str]...]] -> JOB_REPLY
   * : run the entrypoint as a driver on the head's node. entrypoint[0] ending in .lua
   * runs with rayl, else it is a command looked up on PATH. runtime_env: the job's
   * runtime_env in canonical form (lua/rayl/runtime_env.lua), inherited by its tasks;
   * working_dir: the KV key of the package the driver runs in ("": none; uploaded
   * first); env_vars: set in the driver's environment. */
  RL_GCS_JOB_SUBMIT = 121,
  /* [request u64, submission_id str] -> JOB_REPLY */
  RL_GCS_JOB_GET = 122,
  /* [request u64, submission_id str] -> JOB_REPLY : SIGTERM to the driver's process
   * group, SIGKILL 3 s later if it is still there; the job ends STOPPED */
  RL_GCS_JOB_STOP = 123,
  /* [request u64] -> JOB_LIST */
  RL_GCS_JOB_LIST_REQUEST = 124,
  /* [request u64, submission_id str, offset u64, max u64] -> JOB_LOGS : up to max bytes
   * (at most 1 MiB) of the driver's output from offset */
  RL_GCS_JOB_LOGS_REQUEST = 125,

  /* ---- head -> client ---- */
  /* [request u64, job?, error str?] : job = [submission_id str, status str (PENDING,
   * RUNNING, SUCCEEDED, FAILED, STOPPED), entrypoint str, message str, start_ms u64,
   * end_ms u64 (0 while running), driver_pid u64, runtime_env str] (times: ms since the
   * epoch); nil with an error when the request failed */
  RL_GCS_JOB_REPLY = 130,
  /* [request u64, [job...]] : every job, oldest first */
  RL_GCS_JOB_LIST = 131,
  /* [request u64, data bin, offset u64, size u64, status str] : data starts at offset;
   * size: the whole log's size now; status: the job's; or [request u64, nil, nil, nil,
   * nil, error str] */
  RL_GCS_JOB_LOGS = 132,
  /* ---- the state API (rayl list) ---- */
  /* core worker -> head, no reply: state changes of the tasks and actors this process
   * owns, batched (sent at most about once a second, and when it leaves):
   * [worker_id id, pid u64, nodes [endpoint str...],
   *  tasks [[task_id id, state u64 (RL_TS_*), attempt u64, name str, kind u64 (RL_KIND_*),
   *          actor_id id?, node u64, worker_pid u64, error_type str?, error str?]...],
   *  actors [[actor_id id, state u64 (RL_AS_*), class_name str, name str, namespace str,
   *           detached bool, node u64, pid u64, worker_id id?, death_cause str?,
   *           restarts u64?]...],
   *  dropped u64, spans [[task_id id, name str, kind u64, actor_id id?, node u64,
   *  pid u64, start_us u64, end_us u64, failed bool]...]?, spans_dropped u64?]
   * spans: runs of tasks that ended since the last batch, for the timeline (wall clock
   * us since the epoch; gcs/timeline_table.c); spans_dropped: runs not sent (the
   * batch was full).
   * node: 1 + an index into nodes (the node managers the tasks and actors run on), or 0
   * when not known. error: a failed task's message and remote traceback (at most
   * RL_TASK_ERROR_MAX bytes; optional). dropped: task events this process did not report (its buffer was
   * full) since the last batch. The last event of a task or actor wins. */
  RL_GCS_STATE_REPORT = 140,
  /* [request u64, what str ("tasks" | "actors")] */
  RL_GCS_LIST_STATE = 141,
  /* [request u64, tasks [...]?, dropped u64, evicted u64, actors [...]?]: the rows asked
   * for (tasks or actors), in the order first reported:
   * tasks:  [task_id id, state u64, attempt u64, name str, kind u64, actor_id id?,
   *          node_id id?, worker_pid u64, error_type str?, owner_id id, owner_pid u64]
   * actors: [actor_id id, state u64, class_name str, name str, namespace str,
   *          detached bool, node_id id?, pid u64, death_cause str?, owner_id id,
   *          owner_pid u64]
   * dropped: task events owners could not report; evicted: tasks the head forgot to
   * stay within its bounds (both since the head started). */
  RL_GCS_STATE = 142,
  /* ---- actors the head owns: a detached actor's owner hands it to the head, which
   * restarts it once the owner is gone (gcs/actor_service.c) ---- */
  /* core worker -> head, no reply: [actor_id id, class_name str, name_key str,
   *  function_key bin, function bin, args [[kind u64, data bin, size u64]...],
   *  args_have_refs bool, resources map, placement map, strategy sched, runtime_env str,
   *  max_restarts i64 (-1: forever), owner_id id, owner_endpoint str, owner_node str]
   * : a detached actor was created (its spec, as its creation task is pushed; args are
   * the inline ones; args_have_refs: some were object refs, so the head can't create it
   * again). owner_node: the owner's node manager (its death is the owner's). */
  RL_GCS_ACTOR_REGISTER = 150,
  /* core worker -> head, no reply: [actor_id id, state u64 (RL_AS_*), restarts_used u64,
   *  worker_id id, endpoint str, node_endpoint str, message str] : the owner's news of
   * its detached actor (alive on that worker, restarting, dead: message says why) */
  RL_GCS_ACTOR_UPDATE = 151,
  /* any client -> head: [request u64, actor_id id, dead_worker id] : where does this
   * detached actor run? Answered with RL_CW_ACTOR_LOCATION once it is alive on a worker
   * other than dead_worker, or dead (or unknown to the head) */
  RL_GCS_ACTOR_LOCATE = 152,
  /* any client -> head, no reply: [actor_id id, no_restart bool] : rayl.kill of a
   * detached actor; the head tells its worker to exit and, with no_restart, marks it dead */
  RL_GCS_ACTOR_KILL = 153,
  /* any process -> node manager (registered or not; routing id of 16 bytes):
   * [request u64] : what the node's object store holds */
  RL_NM_LIST_OBJECTS = 143,
  /* [request u64, node_id id, objects [[object_id id, size u64, state u64 (RL_OS_*),
   *  pins u64, owner_id id?]...]] */
  RL_NM_OBJECTS = 144,
  /* ---- observability: rayl timeline, rayl stack, rayl memory ---- */
  /* any client -> head: [request u64] : the kept task runs (gcs/timeline_table.h) */
  RL_GCS_TIMELINE_GET = 170,
  /* [request u64, events [[task_id id, name str, kind u64, actor_id id?, node_id id?,
   *  pid u64, start_us u64, end_us u64, failed bool, owner_id id, owner_pid u64]...],
   *  evicted u64, dropped u64] oldest first; times: wall clock us since the epoch;
   * evicted: runs forgotten to stay within bounds, dropped: runs owners could not send */
  RL_GCS_TIMELINE = 171,
  /* any process -> node manager (as RL_NM_LIST_OBJECTS): [request u64] : its drivers
   * and workers */
  RL_NM_LIST_WORKERS = 172,
  /* [request u64, node_id id, clients [[worker_id id, pid u64, kind u64 (RL_CLIENT_*),
   *  endpoint str]...]] */
  RL_NM_WORKERS = 173,
  /* any process -> core worker: [request u64] : what does your Lua thread run now? */
  RL_CW_STACK = 174,
  /* [request u64, pid u64, task str, traceback str, compiled bool] task: the running
   * task or actor method ("" when idle); compiled: the Lua thread did not answer in
   * time (it runs compiled code or C); traceback then says where the thread is as far
   * as the kernel tells (on a CPU, or the system call it is blocked in and where) */
  RL_CW_STACK_REPLY = 175,
  /* any process -> core worker: [request u64] : the objects you own */
  RL_CW_LIST_OWNED = 176,
  /* [request u64, pid u64, objects [[object_id id, size u64? (nil: pending), refs str, local u64,
   *  borrowers u64, submitted u64, contained u64, call_site str, age_ms u64]...]]
   * refs: the reference kinds held ("local", "borrowed", "pinned by a task",
   * "captured"), comma-separated; call_site: file:line that created it ("" unknown) */
  RL_CW_OWNED = 177,
  /* ---- observability: rayl logs and the dashboard's logs of other nodes ---- */
  /* any process -> node manager (as RL_NM_LIST_OBJECTS): [request u64, name str?,
   * offset i64?, max u64?] : without name, the files of its session's logs/ folder;
   * with name, up to max bytes (default and at most 8 MiB) of that file from offset
   * (negative: that many bytes before its end) */
  RL_NM_LOGS = 178,
  /* [request u64, node_id id, files [[name str, size u64, modified_ms u64]...],
   *  offset u64, data bin, error str] a listing has files (sorted by name) and no data;
   * a read has the file (its size now; modified_ms 0) and the bytes from offset; error:
   * "" or why nothing was read (a bad name, no such file) */
  RL_NM_LOG_DATA = 179,
};

/* Task states in the state API: submitted (waiting for its arguments, a worker, or
 * its turn on the worker), running, finished, failed. */
#define RL_TASK_ERROR_MAX 1024 /* bytes of a failed task's error text in STATE_REPORT */
enum { RL_TS_SUBMITTED = 0, RL_TS_RUNNING = 1, RL_TS_FINISHED = 2, RL_TS_FAILED = 3 };
/* Actor states: waiting for its worker and __init, alive, restarting, dead. */
enum { RL_AS_PENDING = 0, RL_AS_ALIVE = 1, RL_AS_RESTARTING = 2, RL_AS_DEAD = 3 };
/* Objects in a node's store: being written, in memory (sealed), spilled to disk. */
enum { RL_OS_CREATED = 0, RL_OS_IN_MEMORY = 1, RL_OS_SPILLED = 2 };

/* DRIVER: a script on this node (gets worker output; reaped by pid); WORKER: a worker
 * this node started; REMOTE: a process on another node that leases workers here. */
enum { RL_CLIENT_DRIVER = 0, RL_CLIENT_WORKER = 1, RL_CLIENT_REMOTE = 2 };
/* TASK_DONE's status. ARG_LOST: failed because a stored argument could not be read (the
 * node holding it died); its owner runs it again once the argument is there again. */
enum { RL_TASK_OK = 0, RL_TASK_FAILED = 1, RL_TASK_ARG_LOST = 2 };
enum { RL_RET_INLINE = 0, RL_RET_STORE = 1, RL_RET_ERROR = 2 };
enum { RL_KIND_TASK = 0, RL_KIND_ACTOR_CREATE = 1, RL_KIND_ACTOR_METHOD = 2 };
/* What a demand waits for (RL_GCS_HEARTBEAT): resources to be free, or a worker to
 * start (its resources are free). */
enum { RL_WAIT_RESOURCES = 0, RL_WAIT_WORKER = 1 };
/* Why a STORE_LOCATION has no location (beside its error text): GONE: not there
 * (unknown, deleted, unreachable; absent too); NOT_SEALED: its creator is still writing
 * it (ask again shortly); NODE_DIED: the node it was being pulled from died. */
enum { RL_LOC_GONE = 0, RL_LOC_NOT_SEALED = 1, RL_LOC_NODE_DIED = 2 };


/* ---- the fields of every message, as data (wire/wire.h makes structs and codecs) ----
 * Each list is F(c, name, kind, presence, max, elem), in wire order:
 *   kind: U64 (max, when not 0: the largest value), I64, F64, BOOL, ID (bin of 16),
 *     STR (a string of fewer than max bytes, no NUL: copied into char[max]), TEXT and
 *     BIN (str / bin of at most max bytes, borrowed from the message), RES (a resource
 *     map), MAP (any msgpack map, borrowed), ANY (any msgpack value, borrowed),
 *     LIST (an array of at most max elem values: U64, ID, TEXT or RES), ARR (an array of
 *     at most max elem records, each a msgpack array), REC (one elem record).
 *   presence: REQ, or OPT (nil or absent: the struct's has_<name> is false).
 * Records (RL_WREC_<elem>_FIELDS) are lists of the same form. */

/* Longest endpoint (ipc://, tcp://) of a node manager, worker or head, with its NUL. */
#define RL_ENDPOINT_MAX 256
/* Longest canonical runtime_env of a lease. */
#define RL_NM_RUNTIME_ENV_MAX (64 << 10)
/* Longest path (store, session folder), with its NUL. */
#define RL_WIRE_PATH_MAX 4096
/* Longest free text (a reason, an error message, a traceback, a name). */
#define RL_WIRE_TEXT_MAX (1 << 20)
/* Most elements of one array (tasks, objects, rows...). */
#define RL_WIRE_COUNT_MAX (1 << 22)
/* Largest bin field (a value, a function body, a chunk of an object). */
#define RL_WIRE_BIN_MAX ((1u << 28) - 4096)

/* A lease's scheduling strategy (RL_NM_LEASE, RL_GCS_ACTOR_REGISTER):
 * DEFAULT: local first; SPREAD: round robin over nodes that fit; NODE: node_id only
 * (soft: that node if it can, else the default); PG: from bundle `bundle` of
 * placement group pg_id, on the node holding it (-1: any of its bundles). */
enum { RL_SCHED_DEFAULT = 0, RL_SCHED_SPREAD = 1, RL_SCHED_NODE = 2, RL_SCHED_PG = 3 };
/* [kind u64 (RL_SCHED_*), node_id id?, soft bool?, pg_id id?, bundle i64?]: node_id
 * for NODE, pg_id and bundle for PG (bundle -1 .. RL_PG_MAX_BUNDLES - 1). */
#define RL_WREC_sched_FIELDS(F, c) \
  F(c, kind, U64, REQ, RL_SCHED_PG, _) F(c, node_id, ID, OPT, 0, _) F(c, soft, BOOL, OPT, 0, _) \
  F(c, pg_id, ID, OPT, 0, _) F(c, bundle, I64, OPT, 0, _)
/* A task's argument or return: [kind u64 (RL_RET_*), data bin, size u64] */
#define RL_WREC_task_arg_FIELDS(F, c) \
  F(c, kind, U64, REQ, RL_RET_ERROR, _) F(c, data, BIN, REQ, RL_WIRE_BIN_MAX, _) F(c, size, U64, REQ, 0, _)
/* [object_id id, owner_endpoint str] */
#define RL_WREC_borrow_FIELDS(F, c) \
  F(c, object_id, ID, REQ, 0, _) F(c, owner_endpoint, STR, REQ, RL_ENDPOINT_MAX, _)
/* [shape map, count u64, infeasible bool, waiting u64? (RL_WAIT_*)] */
#define RL_WREC_demand_FIELDS(F, c) \
  F(c, shape, RES, REQ, 0, _) F(c, count, U64, REQ, 0, _) F(c, infeasible, BOOL, REQ, 0, _) \
  F(c, waiting, U64, OPT, RL_WAIT_WORKER, _)
/* [node_id id, endpoint str, alive bool, total map, available map, demands [demand...], gpus str] */
#define RL_WREC_node_info_FIELDS(F, c) \
  F(c, node_id, ID, REQ, 0, _) F(c, endpoint, STR, REQ, RL_ENDPOINT_MAX, _) F(c, alive, BOOL, REQ, 0, _) \
  F(c, total, RES, REQ, 0, _) F(c, available, RES, REQ, 0, _) F(c, demands, ARR, REQ, RL_WIRE_COUNT_MAX, demand) \
  F(c, gpus, TEXT, REQ, 4096, _)
/* A placement group's bundle: [node_id id?, resources map] */
#define RL_WREC_bundle_FIELDS(F, c) F(c, node_id, ID, OPT, 0, _) F(c, resources, RES, REQ, 0, _)
/* [pg_id id, bundles [bundle...]] */
#define RL_WREC_pg_group_FIELDS(F, c) F(c, pg_id, ID, REQ, 0, _) F(c, bundles, ARR, REQ, 1024, bundle)
/* [pg_id id, name str, strategy str, state str, detached bool, bundles [bundle...]] */
#define RL_WREC_pg_info_FIELDS(F, c) \
  F(c, pg_id, ID, REQ, 0, _) F(c, name, TEXT, REQ, 4096, _) F(c, strategy, TEXT, REQ, 64, _) \
  F(c, state, TEXT, REQ, 64, _) F(c, detached, BOOL, REQ, 0, _) F(c, bundles, ARR, REQ, 1024, bundle)
/* [name str, value str] */
#define RL_WREC_env_var_FIELDS(F, c) F(c, name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, value, TEXT, REQ, RL_WIRE_TEXT_MAX, _)
/* [submission_id str, status str, entrypoint str, message str, start_ms u64, end_ms u64,
 *  driver_pid u64, runtime_env str] */
#define RL_WREC_job_FIELDS(F, c) \
  F(c, submission_id, TEXT, REQ, 4096, _) F(c, status, TEXT, REQ, 64, _) \
  F(c, entrypoint, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, message, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, start_ms, U64, REQ, 0, _) F(c, end_ms, U64, REQ, 0, _) F(c, driver_pid, U64, REQ, 0, _) \
  F(c, runtime_env, TEXT, REQ, RL_WIRE_TEXT_MAX, _)
/* RL_GCS_STATE_REPORT's task event */
#define RL_WREC_task_event_FIELDS(F, c) \
  F(c, task_id, ID, REQ, 0, _) F(c, state, U64, REQ, RL_TS_FAILED, _) F(c, attempt, U64, REQ, 0, _) \
  F(c, name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, kind, U64, REQ, RL_KIND_ACTOR_METHOD, _) \
  F(c, actor_id, ID, OPT, 0, _) F(c, node, U64, REQ, 0, _) F(c, worker_pid, U64, REQ, 0, _) \
  F(c, error_type, TEXT, OPT, 4096, _) F(c, error, TEXT, OPT, RL_TASK_ERROR_MAX, _)
/* RL_GCS_STATE_REPORT's actor event */
#define RL_WREC_actor_event_FIELDS(F, c) \
  F(c, actor_id, ID, REQ, 0, _) F(c, state, U64, REQ, RL_AS_DEAD, _) F(c, class_name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, namespace_, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, detached, BOOL, REQ, 0, _) F(c, node, U64, REQ, 0, _) F(c, pid, U64, REQ, 0, _) \
  F(c, worker_id, ID, OPT, 0, _) F(c, death_cause, TEXT, OPT, RL_WIRE_TEXT_MAX, _) F(c, restarts, U64, OPT, 0, _)
/* RL_GCS_STATE_REPORT's span */
#define RL_WREC_span_FIELDS(F, c) \
  F(c, task_id, ID, REQ, 0, _) F(c, name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, kind, U64, REQ, RL_KIND_ACTOR_METHOD, _) \
  F(c, actor_id, ID, OPT, 0, _) F(c, node, U64, REQ, 0, _) F(c, pid, U64, REQ, 0, _) \
  F(c, start_us, U64, REQ, 0, _) F(c, end_us, U64, REQ, 0, _) F(c, failed, BOOL, REQ, 0, _)
/* RL_NM_OBJECTS' object */
#define RL_WREC_object_info_FIELDS(F, c) \
  F(c, object_id, ID, REQ, 0, _) F(c, size, U64, REQ, 0, _) F(c, state, U64, REQ, RL_OS_SPILLED, _) \
  F(c, pins, U64, REQ, 0, _) F(c, owner_id, ID, OPT, 0, _)
/* RL_GCS_TIMELINE's event */
#define RL_WREC_timeline_event_FIELDS(F, c) \
  F(c, task_id, ID, REQ, 0, _) F(c, name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, kind, U64, REQ, RL_KIND_ACTOR_METHOD, _) \
  F(c, actor_id, ID, OPT, 0, _) F(c, node_id, ID, OPT, 0, _) F(c, pid, U64, REQ, 0, _) \
  F(c, start_us, U64, REQ, 0, _) F(c, end_us, U64, REQ, 0, _) F(c, failed, BOOL, REQ, 0, _) \
  F(c, owner_id, ID, REQ, 0, _) F(c, owner_pid, U64, REQ, 0, _)
/* RL_GCS_STATE's task row */
#define RL_WREC_task_row_FIELDS(F, c) \
  F(c, task_id, ID, REQ, 0, _) F(c, state, U64, REQ, RL_TS_FAILED, _) F(c, attempt, U64, REQ, 0, _) \
  F(c, name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, kind, U64, REQ, RL_KIND_ACTOR_METHOD, _) \
  F(c, actor_id, ID, OPT, 0, _) F(c, node_id, ID, OPT, 0, _) F(c, worker_pid, U64, REQ, 0, _) \
  F(c, error_type, TEXT, OPT, 4096, _) F(c, owner_id, ID, REQ, 0, _) F(c, owner_pid, U64, REQ, 0, _)
/* RL_GCS_STATE's actor row */
#define RL_WREC_actor_row_FIELDS(F, c) \
  F(c, actor_id, ID, REQ, 0, _) F(c, state, U64, REQ, RL_AS_DEAD, _) F(c, class_name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, namespace_, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, detached, BOOL, REQ, 0, _) F(c, node_id, ID, OPT, 0, _) F(c, pid, U64, REQ, 0, _) \
  F(c, death_cause, TEXT, OPT, RL_WIRE_TEXT_MAX, _) F(c, owner_id, ID, REQ, 0, _) F(c, owner_pid, U64, REQ, 0, _)
/* RL_NM_WORKERS' client */
#define RL_WREC_client_info_FIELDS(F, c) \
  F(c, worker_id, ID, REQ, 0, _) F(c, pid, U64, REQ, 0, _) F(c, kind, U64, REQ, RL_CLIENT_REMOTE, _) \
  F(c, endpoint, STR, REQ, RL_ENDPOINT_MAX, _)
/* RL_CW_OWNED's object */
#define RL_WREC_owned_info_FIELDS(F, c) \
  F(c, object_id, ID, REQ, 0, _) F(c, size, U64, OPT, 0, _) F(c, refs, TEXT, REQ, 4096, _) \
  F(c, local, U64, REQ, 0, _) F(c, borrowers, U64, REQ, 0, _) F(c, submitted, U64, REQ, 0, _) \
  F(c, contained, U64, REQ, 0, _) F(c, call_site, TEXT, REQ, 4096, _) F(c, age_ms, U64, REQ, 0, _)
/* RL_NM_LOG_DATA's file */
#define RL_WREC_log_file_FIELDS(F, c) \
  F(c, name, TEXT, REQ, 4096, _) F(c, size, U64, REQ, 0, _) F(c, modified_ms, U64, REQ, 0, _)

/* Every record, each after those it holds. */
#define RL_WIRE_RECORDS(R) \
  R(sched) R(task_arg) R(borrow) R(demand) R(node_info) R(bundle) R(pg_group) R(pg_info) R(env_var) R(job) \
  R(task_event) R(actor_event) R(span) R(object_info) R(timeline_event) R(client_info) R(owned_info) R(log_file) \
  R(task_row) R(actor_row)

/* ---- client <-> node manager ---- */
#define RL_NM_REGISTER_FIELDS(F, c) \
  F(c, kind, U64, REQ, RL_CLIENT_REMOTE, _) F(c, worker_id, ID, REQ, 0, _) F(c, pid, U64, REQ, 0, _) \
  F(c, endpoint, STR, REQ, RL_ENDPOINT_MAX, _) F(c, job_id, U64, REQ, 0, _)
#define RL_NM_LEASE_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, resources, RES, REQ, 0, _) F(c, dedicated, BOOL, OPT, 0, _) \
  F(c, placement, RES, OPT, 0, _) F(c, spilled, BOOL, OPT, 0, _) F(c, strategy, REC, OPT, 0, sched) \
  F(c, detached, BOOL, OPT, 0, _) F(c, runtime_env, TEXT, OPT, RL_NM_RUNTIME_ENV_MAX, _)
#define RL_NM_RETURN_FIELDS(F, c) F(c, worker_id, ID, REQ, 0, _) F(c, worker_failed, BOOL, REQ, 0, _)
#define RL_NM_BLOCKED_FIELDS(F, c)
#define RL_NM_UNBLOCKED_FIELDS(F, c)
#define RL_NM_STORE_CREATE_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, object_id, ID, REQ, 0, _) F(c, size, U64, REQ, 0, _) \
  F(c, owner_worker_id, ID, OPT, 0, _)
#define RL_NM_STORE_SEAL_FIELDS(F, c) F(c, object_id, ID, REQ, 0, _)
#define RL_NM_STORE_GET_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, object_id, ID, REQ, 0, _) F(c, location, STR, OPT, RL_ENDPOINT_MAX, _)
#define RL_NM_STORE_RELEASE_FIELDS(F, c) F(c, object_id, ID, REQ, 0, _)
#define RL_NM_STORE_DELETE_FIELDS(F, c) F(c, object_id, ID, REQ, 0, _) F(c, location, STR, OPT, RL_ENDPOINT_MAX, _)
#define RL_NM_RESOURCES_FIELDS(F, c) F(c, request, U64, REQ, 0, _)
#define RL_NM_GOODBYE_FIELDS(F, c)
#define RL_NM_WELCOME_FIELDS(F, c) \
  F(c, node_id, ID, REQ, 0, _) F(c, store_path, STR, REQ, RL_WIRE_PATH_MAX, _) F(c, store_size, U64, REQ, 0, _) \
  F(c, node_endpoint, STR, REQ, RL_ENDPOINT_MAX, _) F(c, gcs_endpoint, STR, REQ, RL_ENDPOINT_MAX, _) \
  F(c, session_dir, STR, REQ, RL_WIRE_PATH_MAX, _) F(c, resources, RES, REQ, 0, _)
#define RL_NM_LEASE_GRANTED_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, worker_id, ID, REQ, 0, _) F(c, endpoint, STR, REQ, RL_ENDPOINT_MAX, _) \
  F(c, pid, U64, REQ, 0, _)
#define RL_NM_LEASE_INFEASIBLE_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, reason, TEXT, REQ, RL_WIRE_TEXT_MAX, _)
#define RL_NM_WORKER_DIED_FIELDS(F, c) \
  F(c, worker_id, ID, REQ, 0, _) F(c, pid, U64, REQ, 0, _) F(c, reason, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, endpoint, STR, REQ, RL_ENDPOINT_MAX, _) F(c, error_type, STR, REQ, 64, _)
/* [request u64, offset u64?, error str?]: offset, or an error */
#define RL_NM_STORE_CREATED_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, offset, U64, OPT, 0, _) F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _)
/* [request u64, offset u64?, size u64?, error str?]: offset and size, or an error */
#define RL_NM_STORE_LOCATION_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, offset, U64, OPT, 0, _) F(c, size, U64, OPT, 0, _) \
  F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _) F(c, reason, U64, OPT, RL_LOC_NODE_DIED, _)
#define RL_NM_RESOURCES_REPLY_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, total, RES, REQ, 0, _) F(c, available, RES, REQ, 0, _)
#define RL_NM_LOG_FIELDS(F, c) \
  F(c, pid, U64, REQ, 0, _) F(c, stream, STR, REQ, 4, _) F(c, text, BIN, REQ, RL_WIRE_BIN_MAX, _)
#define RL_NM_PULL_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, object_id, ID, REQ, 0, _) F(c, offset, U64, REQ, 0, _) \
  F(c, length, U64, REQ, 0, _) F(c, token, BIN, OPT, 16, _)
#define RL_NM_PULL_OPEN_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, object_id, ID, REQ, 0, _)
#define RL_NM_PULL_OPENED_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, total, U64, OPT, 0, _) F(c, data_endpoint, STR, OPT, RL_ENDPOINT_MAX, _) \
  F(c, key, BIN, OPT, 32, _) F(c, nonce, BIN, OPT, 12, _) F(c, token, BIN, OPT, 16, _) \
  F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _)
/* [request u64, object_id id, total u64?, offset u64?, data bin?, error str?]: a part, or
 * an error */
#define RL_NM_PULL_DATA_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, object_id, ID, REQ, 0, _) F(c, total, U64, OPT, 0, _) \
  F(c, offset, U64, OPT, 0, _) F(c, data, BIN, OPT, RL_WIRE_BIN_MAX, _) F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _)
#define RL_NM_LEASE_PG_REMOVED_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, pg_id, ID, REQ, 0, _)
#define RL_NM_NODE_DIED_FIELDS(F, c) F(c, node_endpoint, STR, REQ, RL_ENDPOINT_MAX, _)
#define RL_NM_LEASE_SPILLBACK_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, node_endpoint, STR, REQ, RL_ENDPOINT_MAX, _)
#define RL_NM_LIST_OBJECTS_FIELDS(F, c) F(c, request, U64, REQ, 0, _)
#define RL_NM_OBJECTS_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, node_id, ID, REQ, 0, _) F(c, objects, ARR, REQ, RL_WIRE_COUNT_MAX, object_info)
#define RL_NM_LIST_WORKERS_FIELDS(F, c) F(c, request, U64, REQ, 0, _)
#define RL_NM_WORKERS_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, node_id, ID, REQ, 0, _) F(c, clients, ARR, REQ, RL_WIRE_COUNT_MAX, client_info)
#define RL_NM_LOGS_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, name, TEXT, OPT, 4096, _) F(c, offset, I64, OPT, 0, _) F(c, max, U64, OPT, 0, _)
#define RL_NM_LOG_DATA_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, node_id, ID, REQ, 0, _) F(c, files, ARR, REQ, RL_WIRE_COUNT_MAX, log_file) \
  F(c, offset, U64, REQ, 0, _) F(c, data, BIN, REQ, RL_WIRE_BIN_MAX, _) F(c, error, TEXT, REQ, RL_WIRE_TEXT_MAX, _)

/* ---- core worker <-> core worker ---- */
#define RL_CW_PUSH_TASK_FIELDS(F, c) \
  F(c, task_id, ID, REQ, 0, _) F(c, owner_id, ID, REQ, 0, _) F(c, owner_endpoint, STR, REQ, RL_ENDPOINT_MAX, _) \
  F(c, function_key, BIN, REQ, 4096, _) F(c, function, BIN, OPT, RL_WIRE_BIN_MAX, _) \
  F(c, args, ARR, REQ, RL_WIRE_COUNT_MAX, task_arg) F(c, num_returns, U64, REQ, 0, _) F(c, attempt, U64, REQ, 0, _) \
  F(c, name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, kind, U64, OPT, RL_KIND_ACTOR_METHOD, _) \
  F(c, method, TEXT, OPT, RL_WIRE_TEXT_MAX, _) F(c, actor_id, ID, OPT, 0, _) F(c, num_cpus, F64, OPT, 0, _)
#define RL_CW_TASK_DONE_FIELDS(F, c) \
  F(c, task_id, ID, REQ, 0, _) F(c, status, U64, REQ, RL_TASK_ARG_LOST, _) \
  F(c, returns, ARR, REQ, RL_WIRE_COUNT_MAX, task_arg) F(c, borrowed, ARR, REQ, RL_WIRE_COUNT_MAX, borrow) \
  F(c, held, LIST, OPT, RL_WIRE_COUNT_MAX, ID) F(c, start_us, U64, OPT, 0, _) F(c, end_us, U64, OPT, 0, _)
#define RL_CW_GET_OBJECT_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, object_id, ID, REQ, 0, _) F(c, lost_at, STR, OPT, RL_ENDPOINT_MAX, _)
#define RL_CW_OBJECT_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, object_id, ID, REQ, 0, _) F(c, kind, U64, REQ, RL_RET_ERROR, _) \
  F(c, data, BIN, REQ, RL_WIRE_BIN_MAX, _) F(c, size, U64, REQ, 0, _)
#define RL_CW_CANCEL_FIELDS(F, c) \
  F(c, task_id, ID, REQ, 0, _) F(c, force, BOOL, REQ, 0, _) F(c, recursive, BOOL, OPT, 0, _)
#define RL_CW_ADD_BORROWER_FIELDS(F, c) \
  F(c, object_id, ID, REQ, 0, _) F(c, borrower_endpoint, STR, REQ, RL_ENDPOINT_MAX, _)
#define RL_CW_REMOVE_BORROWER_FIELDS(F, c) \
  F(c, object_id, ID, REQ, 0, _) F(c, borrower_endpoint, STR, REQ, RL_ENDPOINT_MAX, _)
#define RL_CW_ACTOR_LOCATE_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, actor_id, ID, REQ, 0, _) F(c, dead_worker, ID, REQ, 0, _)
#define RL_CW_ACTOR_LOCATION_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, actor_id, ID, REQ, 0, _) F(c, alive, BOOL, REQ, 0, _) \
  F(c, worker_id, ID, REQ, 0, _) F(c, endpoint, STR, REQ, RL_ENDPOINT_MAX, _) F(c, cause, BIN, REQ, RL_WIRE_BIN_MAX, _) \
  F(c, message, TEXT, OPT, RL_WIRE_TEXT_MAX, _) F(c, node_endpoint, STR, OPT, RL_ENDPOINT_MAX, _)
#define RL_CW_KILL_ACTOR_FIELDS(F, c) F(c, actor_id, ID, REQ, 0, _) F(c, no_restart, BOOL, REQ, 0, _)
#define RL_CW_STEAL_TASKS_FIELDS(F, c) F(c, max, U64, REQ, 0, _)
#define RL_CW_STOLEN_FIELDS(F, c) F(c, task_ids, LIST, REQ, RL_WIRE_COUNT_MAX, ID)
#define RL_CW_STACK_FIELDS(F, c) F(c, request, U64, REQ, 0, _)
#define RL_CW_STACK_REPLY_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, pid, U64, REQ, 0, _) F(c, task, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, traceback, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, compiled, BOOL, REQ, 0, _)
#define RL_CW_LIST_OWNED_FIELDS(F, c) F(c, request, U64, REQ, 0, _)
#define RL_CW_OWNED_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, pid, U64, REQ, 0, _) F(c, objects, ARR, REQ, RL_WIRE_COUNT_MAX, owned_info)

/* ---- head (GCS) ---- */
#define RL_GCS_REGISTER_NODE_FIELDS(F, c) \
  F(c, node_id, ID, REQ, 0, _) F(c, node_endpoint, STR, REQ, RL_ENDPOINT_MAX, _) F(c, resources, RES, REQ, 0, _) \
  F(c, pid, U64, REQ, 0, _) F(c, gpus, TEXT, OPT, 4096, _)
#define RL_GCS_HEARTBEAT_FIELDS(F, c) \
  F(c, node_id, ID, REQ, 0, _) F(c, available, RES, REQ, 0, _) F(c, reserved, RES, OPT, 0, _) \
  F(c, demands, ARR, OPT, RL_WIRE_COUNT_MAX, demand) F(c, dead_clients, LIST, OPT, RL_WIRE_COUNT_MAX, ID) \
  F(c, stats, MAP, OPT, 0, _) F(c, clients, LIST, OPT, RL_WIRE_COUNT_MAX, ID)
/* dead_since: the last dead-client sequence number a node manager saw; first: it asks
 * for the first time (no past deaths wanted, but the sequence number to ask from) */
#define RL_GCS_GET_NODES_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, pg_version, U64, OPT, 0, _) F(c, dead_since, U64, OPT, 0, _) \
  F(c, first, BOOL, OPT, 0, _)
#define RL_GCS_NODES_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, nodes, ARR, REQ, RL_WIRE_COUNT_MAX, node_info) F(c, pg_version, U64, OPT, 0, _) \
  F(c, groups, ARR, OPT, RL_WIRE_COUNT_MAX, pg_group) F(c, dead_seq, U64, OPT, 0, _) \
  F(c, dead_clients, LIST, OPT, RL_WIRE_COUNT_MAX, ID)
#define RL_GCS_KV_PUT_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, key, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, value, BIN, OPT, RL_WIRE_BIN_MAX, _)
#define RL_GCS_KV_GET_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, key, TEXT, REQ, RL_WIRE_TEXT_MAX, _)
/* [request u64, value bin?, size u64?, error str?]: KV_GET's value (KV_PUT's previous
 * one), or KV_EXISTS' size; error: the request was refused */
#define RL_GCS_KV_REPLY_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, value, BIN, OPT, RL_WIRE_BIN_MAX, _) F(c, size, U64, OPT, 0, _) \
  F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _)
#define RL_GCS_REREGISTER_FIELDS(F, c) F(c, node_id, ID, REQ, 0, _)
#define RL_GCS_PG_CREATE_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, pg_id, ID, REQ, 0, _) F(c, name, TEXT, REQ, 4096, _) \
  F(c, strategy, TEXT, REQ, 64, _) F(c, bundles, LIST, REQ, 1024, RES) F(c, detached, BOOL, REQ, 0, _) \
  F(c, creator, ID, REQ, 0, _)
#define RL_GCS_PG_REMOVE_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, pg_id, ID, REQ, 0, _)
#define RL_GCS_PG_WAIT_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, pg_id, ID, REQ, 0, _)
#define RL_GCS_PG_GET_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, pg_id, ID, OPT, 0, _) F(c, name, TEXT, OPT, 4096, _)
#define RL_GCS_PG_REPLY_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _) F(c, warning, TEXT, OPT, RL_WIRE_TEXT_MAX, _)
#define RL_GCS_PG_READY_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, pg_id, ID, REQ, 0, _) F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _)
#define RL_GCS_PG_INFO_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, groups, ARR, REQ, RL_WIRE_COUNT_MAX, pg_info)
#define RL_GCS_PG_RESERVE_FIELDS(F, c) \
  F(c, pg_id, ID, REQ, 0, _) F(c, index, U64, REQ, 0, _) F(c, attempt, U64, REQ, 0, _) F(c, resources, RES, REQ, 0, _)
#define RL_GCS_PG_RESERVED_FIELDS(F, c) \
  F(c, pg_id, ID, REQ, 0, _) F(c, index, U64, REQ, 0, _) F(c, attempt, U64, REQ, 0, _) F(c, ok, BOOL, REQ, 0, _) \
  F(c, available, RES, REQ, 0, _) F(c, reserved, RES, REQ, 0, _)
#define RL_GCS_PG_RELEASE_FIELDS(F, c) F(c, pg_id, ID, REQ, 0, _) F(c, index, U64, REQ, 0, _)
#define RL_GCS_PG_PLACEMENT_FIELDS(F, c) \
  F(c, pg_id, ID, REQ, 0, _) F(c, version, U64, REQ, 0, _) F(c, bundles, ARR, OPT, 1024, bundle)
#define RL_GCS_CLIENT_GONE_FIELDS(F, c) F(c, worker_id, ID, REQ, 0, _)
#define RL_GCS_KV_EXISTS_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, key, TEXT, REQ, RL_WIRE_TEXT_MAX, _)
#define RL_GCS_JOB_SUBMIT_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, submission_id, TEXT, REQ, 4096, _) \
  F(c, entrypoint, LIST, REQ, 4096, TEXT) F(c, runtime_env, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, working_dir, TEXT, REQ, 4096, _) F(c, env_vars, ARR, REQ, 4096, env_var)
#define RL_GCS_JOB_GET_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, submission_id, TEXT, REQ, 4096, _)
#define RL_GCS_JOB_STOP_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, submission_id, TEXT, REQ, 4096, _)
#define RL_GCS_JOB_LIST_REQUEST_FIELDS(F, c) F(c, request, U64, REQ, 0, _)
#define RL_GCS_JOB_LOGS_REQUEST_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, submission_id, TEXT, REQ, 4096, _) F(c, offset, U64, REQ, 0, _) \
  F(c, max, U64, REQ, 0, _)
#define RL_GCS_JOB_REPLY_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, job, REC, OPT, 0, job) F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _)
#define RL_GCS_JOB_LIST_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, jobs, ARR, REQ, RL_WIRE_COUNT_MAX, job)
/* [request u64, data bin?, offset u64?, size u64?, status str?, error str?]: the log's
 * part, or an error */
#define RL_GCS_JOB_LOGS_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, data, BIN, OPT, RL_WIRE_BIN_MAX, _) F(c, offset, U64, OPT, 0, _) \
  F(c, size, U64, OPT, 0, _) F(c, status, TEXT, OPT, 64, _) F(c, error, TEXT, OPT, RL_WIRE_TEXT_MAX, _)
#define RL_GCS_STATE_REPORT_FIELDS(F, c) \
  F(c, worker_id, ID, REQ, 0, _) F(c, pid, U64, REQ, 0, _) F(c, nodes, LIST, REQ, RL_WIRE_COUNT_MAX, TEXT) \
  F(c, tasks, ARR, REQ, RL_WIRE_COUNT_MAX, task_event) F(c, actors, ARR, REQ, RL_WIRE_COUNT_MAX, actor_event) \
  F(c, dropped, U64, REQ, 0, _) F(c, spans, ARR, OPT, RL_WIRE_COUNT_MAX, span) F(c, spans_dropped, U64, OPT, 0, _)
#define RL_GCS_LIST_STATE_FIELDS(F, c) F(c, request, U64, REQ, 0, _) F(c, what, TEXT, REQ, 64, _)
/* tasks for a LIST_STATE of "tasks", actors for one of "actors" */
#define RL_GCS_STATE_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, tasks, ARR, OPT, RL_WIRE_COUNT_MAX, task_row) F(c, dropped, U64, REQ, 0, _) \
  F(c, evicted, U64, REQ, 0, _) F(c, actors, ARR, OPT, RL_WIRE_COUNT_MAX, actor_row)
#define RL_GCS_ACTOR_REGISTER_FIELDS(F, c) \
  F(c, actor_id, ID, REQ, 0, _) F(c, class_name, TEXT, REQ, RL_WIRE_TEXT_MAX, _) \
  F(c, name_key, TEXT, REQ, RL_WIRE_TEXT_MAX, _) F(c, function_key, BIN, REQ, 4096, _) \
  F(c, function, BIN, REQ, RL_WIRE_BIN_MAX, _) F(c, args, ARR, REQ, RL_WIRE_COUNT_MAX, task_arg) \
  F(c, args_have_refs, BOOL, REQ, 0, _) F(c, resources, RES, REQ, 0, _) F(c, placement, RES, REQ, 0, _) \
  F(c, strategy, REC, REQ, 0, sched) F(c, runtime_env, TEXT, REQ, RL_NM_RUNTIME_ENV_MAX, _) \
  F(c, max_restarts, I64, REQ, 0, _) F(c, owner_id, ID, REQ, 0, _) \
  F(c, owner_endpoint, STR, REQ, RL_ENDPOINT_MAX, _) F(c, owner_node, STR, REQ, RL_ENDPOINT_MAX, _)
#define RL_GCS_ACTOR_UPDATE_FIELDS(F, c) \
  F(c, actor_id, ID, REQ, 0, _) F(c, state, U64, REQ, RL_AS_DEAD, _) F(c, restarts_used, U64, REQ, 0, _) \
  F(c, worker_id, ID, REQ, 0, _) F(c, endpoint, STR, REQ, RL_ENDPOINT_MAX, _) \
  F(c, node_endpoint, STR, REQ, RL_ENDPOINT_MAX, _) F(c, message, TEXT, REQ, RL_WIRE_TEXT_MAX, _)
#define RL_GCS_ACTOR_LOCATE_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, actor_id, ID, REQ, 0, _) F(c, dead_worker, ID, REQ, 0, _)
#define RL_GCS_ACTOR_KILL_FIELDS(F, c) F(c, actor_id, ID, REQ, 0, _) F(c, no_restart, BOOL, REQ, 0, _)
#define RL_GCS_TIMELINE_GET_FIELDS(F, c) F(c, request, U64, REQ, 0, _)
#define RL_GCS_TIMELINE_FIELDS(F, c) \
  F(c, request, U64, REQ, 0, _) F(c, events, ARR, REQ, RL_WIRE_COUNT_MAX, timeline_event) \
  F(c, evicted, U64, REQ, 0, _) F(c, dropped, U64, REQ, 0, _)

/* Every message: M(TYPE, name), TYPE the enum's name without RL_. */
#define RL_WIRE_MESSAGES(M) \
  M(NM_REGISTER, nm_register) M(NM_LEASE, nm_lease) M(NM_RETURN, nm_return) M(NM_BLOCKED, nm_blocked) \
  M(NM_UNBLOCKED, nm_unblocked) M(NM_STORE_CREATE, nm_store_create) M(NM_STORE_SEAL, nm_store_seal) \
  M(NM_STORE_GET, nm_store_get) M(NM_STORE_RELEASE, nm_store_release) M(NM_STORE_DELETE, nm_store_delete) \
  M(NM_RESOURCES, nm_resources) M(NM_GOODBYE, nm_goodbye) M(NM_WELCOME, nm_welcome) \
  M(NM_LEASE_GRANTED, nm_lease_granted) M(NM_LEASE_INFEASIBLE, nm_lease_infeasible) \
  M(NM_WORKER_DIED, nm_worker_died) M(NM_STORE_CREATED, nm_store_created) M(NM_STORE_LOCATION, nm_store_location) \
  M(NM_RESOURCES_REPLY, nm_resources_reply) M(NM_LOG, nm_log) M(NM_PULL, nm_pull) M(NM_PULL_DATA, nm_pull_data) M(NM_PULL_OPEN, nm_pull_open) \
  M(NM_PULL_OPENED, nm_pull_opened) \
  M(NM_LEASE_PG_REMOVED, nm_lease_pg_removed) M(NM_NODE_DIED, nm_node_died) \
  M(NM_LEASE_SPILLBACK, nm_lease_spillback) M(NM_LIST_OBJECTS, nm_list_objects) M(NM_OBJECTS, nm_objects) \
  M(NM_LIST_WORKERS, nm_list_workers) M(NM_WORKERS, nm_workers) M(NM_LOGS, nm_logs) M(NM_LOG_DATA, nm_log_data) \
  M(CW_PUSH_TASK, cw_push_task) M(CW_TASK_DONE, cw_task_done) M(CW_GET_OBJECT, cw_get_object) \
  M(CW_OBJECT, cw_object) M(CW_CANCEL, cw_cancel) M(CW_ADD_BORROWER, cw_add_borrower) \
  M(CW_REMOVE_BORROWER, cw_remove_borrower) M(CW_ACTOR_LOCATE, cw_actor_locate) \
  M(CW_ACTOR_LOCATION, cw_actor_location) M(CW_KILL_ACTOR, cw_kill_actor) M(CW_STEAL_TASKS, cw_steal_tasks) \
  M(CW_STOLEN, cw_stolen) M(CW_STACK, cw_stack) M(CW_STACK_REPLY, cw_stack_reply) \
  M(CW_LIST_OWNED, cw_list_owned) M(CW_OWNED, cw_owned) \
  M(GCS_REGISTER_NODE, gcs_register_node) M(GCS_HEARTBEAT, gcs_heartbeat) M(GCS_GET_NODES, gcs_get_nodes) \
  M(GCS_NODES, gcs_nodes) M(GCS_KV_PUT, gcs_kv_put) M(GCS_KV_GET, gcs_kv_get) M(GCS_KV_REPLY, gcs_kv_reply) \
  M(GCS_REREGISTER, gcs_reregister) M(GCS_PG_CREATE, gcs_pg_create) M(GCS_PG_REMOVE, gcs_pg_remove) \
  M(GCS_PG_WAIT, gcs_pg_wait) M(GCS_PG_GET, gcs_pg_get) M(GCS_PG_REPLY, gcs_pg_reply) \
  M(GCS_PG_READY, gcs_pg_ready) M(GCS_PG_INFO, gcs_pg_info) M(GCS_PG_RESERVE, gcs_pg_reserve) \
  M(GCS_PG_RESERVED, gcs_pg_reserved) M(GCS_PG_RELEASE, gcs_pg_release) M(GCS_PG_PLACEMENT, gcs_pg_placement) \
  M(GCS_CLIENT_GONE, gcs_client_gone) M(GCS_KV_EXISTS, gcs_kv_exists) M(GCS_JOB_SUBMIT, gcs_job_submit) \
  M(GCS_JOB_GET, gcs_job_get) M(GCS_JOB_STOP, gcs_job_stop) M(GCS_JOB_LIST_REQUEST, gcs_job_list_request) \
  M(GCS_JOB_LOGS_REQUEST, gcs_job_logs_request) M(GCS_JOB_REPLY, gcs_job_reply) M(GCS_JOB_LIST, gcs_job_list) \
  M(GCS_JOB_LOGS, gcs_job_logs) M(GCS_STATE_REPORT, gcs_state_report) M(GCS_LIST_STATE, gcs_list_state) \
  M(GCS_STATE, gcs_state) M(GCS_ACTOR_REGISTER, gcs_actor_register) M(GCS_ACTOR_UPDATE, gcs_actor_update) \
  M(GCS_ACTOR_LOCATE, gcs_actor_locate) M(GCS_ACTOR_KILL, gcs_actor_kill) M(GCS_TIMELINE_GET, gcs_timeline_get) \
  M(GCS_TIMELINE, gcs_timeline)

#endif
