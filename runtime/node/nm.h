/* nm.h: the node manager's state, shared by its files (node_main.c: arguments, sockets
 * and the event loop; worker_pool.c: worker processes and their output; leases.c:
 * resources and the lease queue; bundles.c: placement group bundles), and the hooks
 * through which the parts reach node_main.c. */
#ifndef RL_NM_H
#define RL_NM_H
#include <stdbool.h>
#include <sys/types.h>

#include "common/id.h"
#include "common/idmap.h"
#include "node/store_service.h"
#include "sched/gpus.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/wire.h"
#include <zmq.h>

#define RL_NM_MAX_ACTORS 4096

typedef enum { RL_W_STARTING, RL_W_IDLE, RL_W_LEASED } rl_wstate_t;

/* How a client went: it said goodbye; it died here (its pid is gone, or it was one of
 * our workers); or it died on another node (the head said so). */
typedef enum { RL_GONE_GOODBYE, RL_GONE_DIED, RL_GONE_DIED_ELSEWHERE } rl_gone_t;

/* What the node manager's parts (worker_pool.c, leases.c, bundles.c, transfer.c) call
 * back into. node_main.c sets them before its loop, a selftest sets fakes: the parts
 * never call node_main.c, so each can be driven alone. */
typedef struct {
  void *ctx; /* given back to each hook */
  /* Sends msg, the struct of message `type` (wire/wire.h), to the client with this
   * worker id (its routing id). Returns 0, or -1 if the message was dropped (the client
   * is gone or its queue is full, or a field broke its limits: logged). */
  int (*send_to)(void *ctx, const rl_id_t *client, int type, const void *msg);
  /* The client is gone: its registration, store pins and objects, queued lease
   * requests and leases go (rl_leases_client_gone). One that died here is reported to
   * the head with the next heartbeat. */
  void (*client_gone)(void *ctx, const rl_id_t *id, rl_gone_t how);
} rl_nm_hooks_t;

/* A registered client (driver or worker), addressed by its worker id. */
typedef struct rl_client {
  rl_id_t id;
  uint64_t key; /* for the store's pin tracking */
  int kind;     /* RL_CLIENT_* */
  pid_t pid;
  char endpoint[RL_ENDPOINT_MAX];
  struct rl_client *next;
} rl_client_t;

/* A worker process this node manager started. */
typedef struct rl_worker {
  pid_t pid;
  rl_wstate_t state;
  bool registered;
  rl_id_t id;
  char endpoint[RL_ENDPOINT_MAX];
  int out_fd, err_fd;      /* its stdout and stderr pipes, or -1 */
  char *partial[2];        /* an unfinished last line per stream */
  size_t partial_len[2];
  rl_id_t lessee;          /* who leases it */
  rl_resources_t held;     /* what the lease holds */
  rl_gpu_set_t gpus;       /* the devices it was started for (CUDA_VISIBLE_DEVICES): it
                            * serves only leases on exactly these, for life; none: only
                            * leases without GPUs */
  int64_t gpu_share;       /* what its lease holds of each of them (0: nothing) */
  bool released;           /* held was given back while it was blocked */
  bool dedicated;          /* an actor's: killed, never reused, when its lease ends */
  bool detached;           /* an actor's that outlives its lessee */
  char *runtime_env;       /* what it was set up with ("": none); serves only that */
  bool killed;             /* being killed (its bundle was released): never reused */
  bool in_bundle;          /* held comes from bundle (bundle_pg, bundle_index) */
  rl_id_t bundle_pg;
  int bundle_index;
  struct rl_worker *next;
} rl_worker_t;

/* A lease request waiting for resources or a worker. */
typedef struct rl_lease_req {
  rl_id_t client;
  uint64_t request;
  rl_resources_t resources;
  rl_resources_t placement; /* must be free, not held */
  rl_gpu_ask_t gpu;          /* the devices its GPU amount takes */
  bool gpu_bad;              /* that amount is over 1 and not whole: never served */
  bool dedicated;
  bool spilled; /* sent here by another node: stays */
  bool warned;  /* the client was told no node can take it */
  rl_wire_sched_t sched; /* how to place it (kind RL_SCHED_*) */
  bool elsewhere; /* hard affinity to another node: never served here */
  bool detached;
  char *runtime_env; /* "" for none */
  bool in_pg;     /* sched kind PG: served from bundle `bundle` of pg (-1: any) */
  rl_id_t pg;
  int bundle;
  int64_t since_ms; /* when it was queued here */
  struct rl_lease_req *next;
} rl_lease_req_t;

/* A placement group bundle reserved on this node (out of available). */
typedef struct rl_bundle {
  rl_id_t pg;
  int index;
  rl_resources_t total, available;
  rl_gpus_t gpus;   /* the devices (or share of one) it reserved, and what is free */
  bool committed;   /* the head listed it here: leases may use it */
  int64_t since_ms; /* when it was reserved */
  struct rl_bundle *next;
} rl_bundle_t;

/* Where a placement group's bundles are, as the head last said. */
typedef struct {
  int n;
  struct rl_route_bundle {
    bool placed;
    rl_id_t node;
    rl_resources_t resources;
  } b[];
} rl_pg_route_t;

/* A connection to another node's manager (for pulling objects). */
typedef struct rl_nm_peer {
  char endpoint[RL_ENDPOINT_MAX];
  void *sock; /* DEALER */
  void *data; /* DEALER to its transfer data socket (sealed chunks), or NULL */
  char data_endpoint[RL_ENDPOINT_MAX];
  struct rl_nm_peer *next;
} rl_nm_peer_t;

typedef struct {
  rl_nm_hooks_t hooks;
  void *zctx;
  void *router;
  void *data_router; /* sealed object chunks for other nodes (node/transfer.c), or NULL */
  void *gcs;
  char endpoint[RL_ENDPOINT_MAX];
  char gcs_endpoint[RL_ENDPOINT_MAX];
  char session_dir[256];
  char self_exe[512];
  char key_path[512]; /* the cluster key file its workers load too, or "" (no security) */
  rl_id_t node_id;
  rl_resources_t total, available;
  rl_gpus_t gpus;        /* the node's devices, less what bundles reserved and leases hold */
  char gpu_note[300];    /* how the GPUs were found, for rayl status (RL_NODE_GPUS_MAX) */
  rl_store_service_t *store;
  rl_client_t *clients;
  uint64_t next_client_key;
  rl_worker_t *workers;
  int min_workers, max_workers;
  int failed_starts; /* workers that died before registering, in a row */
  rl_lease_req_t *queue;
  int sigchld_fd;
  pid_t parent_pid;
  int zygote_fd;     /* requests to the worker zygote, or -1: start workers by exec */
  pid_t zygote_pid;
  /* The cluster as the head last described it (refreshed every second). */
  struct rl_peer_node {
    rl_id_t id;
    char endpoint[RL_ENDPOINT_MAX];
    rl_resources_t total, available;
  } peers[64];
  int npeers;
  rl_nm_peer_t *node_peers;
  char dead[64][RL_ENDPOINT_MAX]; /* nodes whose death our clients were told of */
  unsigned spread_next;                /* round robin of SPREAD leases */
  int ndead;
  uint64_t next_pull;
  rl_bundle_t *bundles;  /* placement group bundles held here */
  rl_idmap_t *pg_routes; /* pg id -> rl_pg_route_t: created groups' placements */
  uint64_t pg_version;   /* of pg_routes (the head's table version) */
  rl_id_t pg_removed[256]; /* groups removed lately (leases for them fail at once) */
  unsigned pg_removed_next;
  /* Clients that died here, for the next heartbeat (the head tells every node). */
  rl_id_t *died;
  size_t ndied, capdied;
  /* A driver or worker registered since the last heartbeat: the next one goes at once,
   * so the head knows this node's clients should the node die whole soon after. */
  bool clients_changed;
  uint64_t dead_seq; /* the last death the head told us of ... */
  bool dead_seq_known; /* ... once it has answered */
  /* The kernel's out-of-memory kill count (rl_mem_oom_kills) at the last two heartbeats,
   * or -1 where unknown: a worker killed by SIGKILL while it rose was killed for memory. */
  int64_t oom_kills_prev, oom_kills_last;
} rl_nm_t;

/* How the parts call the hooks: rl_nm_send_to(nm, ...) is nm->hooks.send_to(ctx, ...). */
static inline int rl_nm_send_to(rl_nm_t *nm, const rl_id_t *client, int type, const void *msg) {
  return nm->hooks.send_to(nm->hooks.ctx, client, type, msg);
}
static inline void rl_nm_client_gone(rl_nm_t *nm, const rl_id_t *id, rl_gone_t how) {
  nm->hooks.client_gone(nm->hooks.ctx, id, how);
}

/* worker_pool.c */
/* Starts the zygote that forks pre-loaded workers (falls back to exec without it). */
void rl_pool_start_zygote(rl_nm_t *nm);
/* Starts one worker process set up for runtime_env ("" for none) and bound to the
 * devices gpus (CUDA_VISIBLE_DEVICES and RAYL_GPU_IDS in its environment; none: both
 * empty), in a process group of its own. Returns it, or NULL (logged). */
rl_worker_t *rl_pool_spawn(rl_nm_t *nm, const char *runtime_env, const rl_gpu_set_t *gpus);
/* Reaps dead children: tells lessees, frees resources, starts replacements. A dead
 * worker's process group is killed: what its tasks started ends with it (as in Ray). */
void rl_pool_reap(rl_nm_t *nm);
/* Reads the kernel's out-of-memory kill count, for rl_pool_reap to tell a worker the
 * kernel killed for memory (called with each heartbeat). */
void rl_pool_sample_oom_kills(rl_nm_t *nm);
/* Reads what is waiting on worker output pipes and forwards complete lines. */
void rl_pool_read_output(rl_nm_t *nm, int fd);
/* Reads every pipe until empty (before a driver leaves). */
void rl_pool_flush_output(rl_nm_t *nm);
rl_worker_t *rl_pool_by_id(rl_nm_t *nm, const rl_id_t *id);
rl_worker_t *rl_pool_by_pid(rl_nm_t *nm, pid_t pid);
/* Kills every worker and its process group and waits for the workers (at exit). */
void rl_pool_stop_all(rl_nm_t *nm);
/* Keeps at least min_workers without a runtime_env or GPUs alive or starting. */
void rl_pool_top_up(rl_nm_t *nm);

/* leases.c */
void rl_leases_request(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m);
void rl_leases_return(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m);
void rl_leases_blocked(rl_nm_t *nm, const rl_id_t *client, bool blocked);
/* Grants what can be granted now; starts workers when resources are free but no
 * worker is idle. */
void rl_leases_serve(rl_nm_t *nm);
/* The worker is gone or free: give back what its lease held. */
void rl_leases_release_worker(rl_nm_t *nm, rl_worker_t *w);
/* The view of the other nodes changed: send waiting requests where they now fit. */
void rl_leases_respill(rl_nm_t *nm);
/* A client left: drop its queued requests and take back its leased workers; actors'
 * workers it owned (not detached) are killed, and so are the others if it died (they
 * may be running its tasks, whose results nobody waits for). Returns how many leases
 * it held. */
int rl_leases_client_gone(rl_nm_t *nm, const rl_id_t *client, bool died);
/* Most demand groups one RL_GCS_HEARTBEAT carries. */
#define RL_NM_DEMANDS_MAX 64
/* The queued requests as RL_GCS_HEARTBEAT's demands (wire/proto.h), into out (room
 * for max): grouped by the resources they ask for, each group marked infeasible if no
 * node has that much (shapes past max are left out). Returns how many groups. */
int rl_leases_demands(rl_nm_t *nm, rl_wire_demand_t *out, int max);
/* The placement group is removed: requests queued for it are refused
 * (RL_NM_LEASE_PG_REMOVED). */
void rl_leases_pg_removed(rl_nm_t *nm, const rl_id_t *pg);

/* bundles.c */
/* Handles the head's RL_GCS_PG_RESERVE, RL_GCS_PG_RELEASE and RL_GCS_PG_PLACEMENT. */
void rl_bundles_handle(rl_nm_t *nm, rl_msg_t *m);
/* Takes the placement table from a RL_GCS_NODES reply (its pg_version and groups), if it has one. */
void rl_bundles_view(rl_nm_t *nm, const rl_gcs_nodes_msg_t *nodes);
/* True if the group was removed lately (as far as this node heard). */
bool rl_bundles_removed(const rl_nm_t *nm, const rl_id_t *pg);
/* Gives back reservations the head never confirmed (it restarted, or lost them). */
void rl_bundles_tick(rl_nm_t *nm);
/* What the bundles held here hold in total (for the heartbeat). */
void rl_bundles_reserved(const rl_nm_t *nm, rl_resources_t *out);
/* The bundle (pg, index) held here, or NULL. */
rl_bundle_t *rl_bundles_find(rl_nm_t *nm, const rl_id_t *pg, int index);
/* A committed bundle of pg here (index, or any if -1) with res and placement free in it
 * now, or NULL. */
rl_bundle_t *rl_bundles_pick(rl_nm_t *nm, const rl_id_t *pg, int index, const rl_resources_t *res,
                             const rl_resources_t *placement);
/* True if a committed bundle here (index, or any) could ever hold res and placement. */
bool rl_bundles_could_hold(rl_nm_t *nm, const rl_id_t *pg, int index, const rl_resources_t *res,
                           const rl_resources_t *placement);
/* Where a lease for (pg, index) goes when no bundle here could take it: the endpoint
 * of another node holding one whose size fits (round robin for index -1), or NULL
 * (not known yet). */
const char *rl_bundles_route(rl_nm_t *nm, const rl_id_t *pg, int index, const rl_resources_t *res,
                             const rl_resources_t *placement);
/* If the group's placement is known and none of its bundles (index, or any) could
 * ever hold the request, writes why into reason and returns true. */
bool rl_bundles_too_big(rl_nm_t *nm, const rl_id_t *pg, int index, const rl_resources_t *res,
                        const rl_resources_t *placement, char *reason, size_t len);
/* Frees every bundle and route (at exit). */
void rl_bundles_destroy_all(rl_nm_t *nm);

#endif
