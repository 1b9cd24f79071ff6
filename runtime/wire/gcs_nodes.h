/* gcs_nodes.h: RL_GCS_GET_NODES and its reply RL_GCS_NODES (wire/proto.h) as C
 * structs: packed by their senders, decoded and checked once by their receivers. */
#ifndef RL_GCS_NODES_H
#define RL_GCS_NODES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/reader.h"

#define RL_GCS_NODES_MAX 4096     /* nodes one NODES reply may list */
#define RL_GCS_DEMANDS_MAX 256    /* demand shapes one node may report */
#define RL_GCS_DEAD_MAX 65536     /* dead clients one message may carry */
#define RL_GCS_ENDPOINT_MAX 256   /* longest node endpoint, with its NUL */
#define RL_GCS_GPUS_MAX 300       /* longest GPU description, with its NUL */

/* GET_NODES [request u64, pg_version u64?, dead_since u64|nil?] */
typedef struct {
  uint64_t request;
  bool with_pgs;        /* pg_version given: the reply carries the groups if it differs */
  uint64_t pg_version;
  bool with_dead;       /* dead_since given (nil or a number): the reply carries dead clients */
  bool dead_since_nil;  /* nil: the asker is new and wants no past deaths */
  uint64_t dead_since;
} rl_gcs_get_nodes_t;

/* Packs m into b (started here). Can't fail. */
void rl_gcs_get_nodes_pack(rl_msgbuf_t *b, const rl_gcs_get_nodes_t *m);
/* Decodes m (a GET_NODES) into *out. Returns false with err naming the bad field. */
bool rl_gcs_get_nodes_unpack(const rl_msg_t *m, rl_gcs_get_nodes_t *out, char *err, size_t errlen);

/* One waiting demand of a node: [shape map, count u64, infeasible bool, waiting u64?]. */
typedef struct {
  rl_resources_t shape;
  uint64_t count;
  bool infeasible;
  uint64_t waiting; /* RL_WAIT_* (RL_WAIT_RESOURCES when not sent) */
} rl_gcs_demand_t;

/* Decodes o, the demands field (1-based `field`) of a message, into *out (allocated,
 * the caller frees; NULL when empty) and *n. False with r's error if malformed. */
bool rl_gcs_demands_unpack(rl_rd_t *r, const msgpack_object *o, uint32_t field, rl_gcs_demand_t **out,
                           uint32_t *n);

/* Packs n demands as the demands field of a heartbeat or a NODES entry. */
void rl_gcs_demands_pack(msgpack_packer *pk, const rl_gcs_demand_t *d, uint32_t n);

/* One node of a NODES reply. */
typedef struct {
  rl_id_t id;
  char endpoint[RL_GCS_ENDPOINT_MAX];
  bool alive;
  rl_resources_t total, available;
  rl_gcs_demand_t *demands; /* its queue's waiting demands (allocated; NULL when none) */
  uint32_t ndemands;
  char gpus[RL_GCS_GPUS_MAX]; /* how it found its GPUs ("" unknown) */
} rl_gcs_node_t;

/* NODES [request u64, nodes [[node_id, endpoint, alive, total, available, demands,
 * gpus]...], pg_version u64?, groups?, dead_seq u64?, dead_clients [id...]?] */
typedef struct {
  uint64_t request;
  rl_gcs_node_t *nodes; /* allocated (rl_gcs_nodes_free) */
  uint32_t n;
  bool has_pg_version;
  uint64_t pg_version;
  const msgpack_object *groups; /* borrowed from the message; NULL when not sent or nil */
  bool has_dead;                /* dead_seq and dead_clients were sent */
  uint64_t dead_seq;
  rl_id_t *dead; /* allocated */
  uint32_t ndead;
} rl_gcs_nodes_t;

/* Decodes m (a NODES) into *out; every field and entry is checked. Returns false with
 * err naming the bad field (then *out holds nothing to free). */
bool rl_gcs_nodes_unpack(const rl_msg_t *m, rl_gcs_nodes_t *out, char *err, size_t errlen);
/* Frees what rl_gcs_nodes_unpack allocated. Safe twice. */
void rl_gcs_nodes_free(rl_gcs_nodes_t *n);

#endif
