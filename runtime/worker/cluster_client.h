/* cluster_client.h: what a process outside the daemons asks the head: the nodes of a
 * cluster (for drivers joining it and for `rayl status`). */
#ifndef RL_CLUSTER_CLIENT_H
#define RL_CLUSTER_CLIENT_H
#include <stdbool.h>
#include <stddef.h>

#include "common/id.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/wire.h"

typedef struct {
  rl_id_t id;
  char endpoint[RL_ENDPOINT_MAX];
  bool alive;
  rl_resources_t total, available;
  char gpus[300]; /* how the node found its GPUs ("" if the head does not know) */
} rl_node_info_t;

/* Resource demands waiting in the live nodes' queues, by shape: count lease requests
 * (each for at least one task or actor); infeasible: no node has that much. */
typedef struct {
  rl_resources_t shape;
  uint64_t count;
  bool infeasible;
  int waiting; /* feasible: what it waits for (RL_WAIT_*: resources, a worker to start) */
} rl_demand_t;

/* Asks the head at gcs (a ZeroMQ endpoint) for its nodes; fills up to max of them,
 * connecting with this process's cluster key if it holds one. Returns how many, or -1
 * with a message in err if the head refuses the handshake (no key, another key: err
 * says how to supply the right one) or does not answer within timeout_ms. */
int rl_gcs_nodes(const char *gcs, rl_node_info_t *out, int max, int timeout_ms, char *err, size_t errlen);
/* Adds a node's count demands (as its heartbeat reported them) to demands, merged by
 * shape and kind: up to max entries, their number in *n. */
void rl_cluster_add_demands(const rl_wire_demand_t *from, uint32_t count, rl_demand_t *demands, int max, int *n);
/* What a demand waits for, in words ("a worker to start", ...). */
const char *rl_demand_waiting_for(const rl_demand_t *d);
/* Names in buf the resources of d's shape that none of the n nodes' totals has as much
 * of: "GPU" or "GPU, big" ("" when some node has each one, by itself). */
void rl_demand_missing(const rl_demand_t *d, const rl_resources_t *const *totals, int n, char *buf, size_t len);

/* Placement groups by state (the head's table). */
typedef struct {
  int created, pending, rescheduling;
} rl_pg_counts_t;

/* The same, and the demands of all live nodes added up by shape: up to max_demands
 * into demands, their number in *ndemands; and, with pgs, the placement groups by
 * state. */
int rl_gcs_cluster(const char *gcs, rl_node_info_t *out, int max, rl_demand_t *demands, int max_demands,
                   int *ndemands, rl_pg_counts_t *pgs, int timeout_ms, char *err, size_t errlen);

/* Turns a user's address into the head's endpoint: "HOST:PORT" -> tcp://HOST:PORT;
 * "auto" -> the address `rayl start --head` recorded on this machine. Returns 0, or -1
 * with err. */
int rl_cluster_resolve(const char *address, char *gcs, size_t n, char *err, size_t errlen);

/* The node manager of the cluster at address (as for rl_cluster_resolve) that runs on
 * this machine, whose store a driver here can map (taking up that cluster's key first,
 * rl_cluster_use_key). Returns 0 with its endpoint in node, or -1 with err. */
int rl_cluster_local_node(const char *address, char *node, size_t n, char *err, size_t errlen);

/* True if endpoint (ipc://..., or tcp://IPv4:PORT) is served on this machine: an ipc
 * path, or an address one of this machine's interfaces has. */
bool rl_endpoint_is_local(const char *endpoint);

/* Reads the record `rayl start --head` keeps in this user's base folder (rl_base_dir;
 * never through a symlink): the head's address (HOST:PORT) and its cluster key file
 * ("" for a cluster without security). Returns 0, or -1 when there is no record (or
 * the base folder is not this user's). */
int rl_cluster_record(char *address, size_t an, char *key, size_t kn);

/* Makes this process hold the key of the cluster whose head is at gcs (an endpoint
 * from rl_cluster_resolve), from the first of: key_file (a --cluster-key option, or
 * NULL), $RAYL_CLUSTER_KEY (the key's text), $RAYL_CLUSTER_KEY_FILE, and the key file
 * recorded on this machine for a head at that address. Returns 1 when a key is held,
 * 0 when none was found (then none is held: connections are plain, as a cluster
 * started with --no-security expects), -1 with err when the key named is unusable. */
int rl_cluster_use_key(const char *gcs, const char *key_file, char *err, size_t errlen);

#endif
