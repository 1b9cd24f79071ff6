/* gcs_lists.h: the head's listings (RL_GCS_STATE, RL_GCS_PG_INFO, RL_GCS_TIMELINE,
 * wire/proto.h) and the requests for them, as C structs: decoded and checked once by
 * the clients. Strings are borrowed from the message (valid until rl_msg_close). */
#ifndef RL_GCS_LISTS_H
#define RL_GCS_LISTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/reader.h"

#define RL_GCS_ROWS_MAX (1u << 22) /* rows one listing may carry */
#define RL_GCS_BUNDLES_MAX 1024    /* bundles of one placement group */

/* LIST_STATE [request, what str ("tasks" | "actors")] */
void rl_gcs_list_state_pack(rl_msgbuf_t *b, uint64_t request, const char *what);
/* PG_GET [request, pg_id id?, name str?] (both NULL: every group) */
void rl_gcs_pg_get_pack(rl_msgbuf_t *b, uint64_t request, const rl_id_t *pg_id, const char *name);
/* TIMELINE_GET [request] */
void rl_gcs_timeline_get_pack(rl_msgbuf_t *b, uint64_t request);

/* A STATE row of the task table. */
typedef struct {
  rl_id_t task_id;
  uint64_t state, attempt; /* RL_TS_* */
  rl_wstr_t name;
  uint64_t kind; /* RL_KIND_* */
  bool has_actor_id, has_node_id, has_error_type;
  rl_id_t actor_id, node_id;
  uint64_t worker_pid;
  rl_wstr_t error_type;
  rl_id_t owner_id;
  uint64_t owner_pid;
} rl_gcs_task_row_t;

/* A STATE row of the actor table. */
typedef struct {
  rl_id_t actor_id;
  uint64_t state; /* RL_AS_* */
  rl_wstr_t class_name, name, ns;
  bool detached;
  bool has_node_id, has_death_cause;
  rl_id_t node_id;
  uint64_t pid;
  rl_wstr_t death_cause;
  rl_id_t owner_id;
  uint64_t owner_pid;
} rl_gcs_actor_row_t;

/* STATE [request, rows, dropped u64, evicted u64]: rows are tasks or actors, as asked. */
typedef struct {
  uint64_t request;
  bool actors;              /* which rows: actors, else tasks */
  rl_gcs_task_row_t *tasks; /* allocated (rl_gcs_state_free) */
  rl_gcs_actor_row_t *actor_rows;
  uint32_t n;
  uint64_t dropped, evicted;
} rl_gcs_state_t;

/* Decodes m (a STATE answering a LIST_STATE for actors, or else tasks). Returns false
 * with err naming the bad field. */
bool rl_gcs_state_unpack(const rl_msg_t *m, bool actors, rl_gcs_state_t *out, char *err, size_t errlen);
void rl_gcs_state_free(rl_gcs_state_t *s);

/* A bundle of a placement group: where it is reserved (has_node false: nowhere yet). */
typedef struct {
  bool has_node;
  rl_id_t node_id;
  rl_resources_t resources;
} rl_gcs_bundle_t;

typedef struct {
  rl_id_t pg_id;
  rl_wstr_t name, strategy, state;
  bool detached;
  rl_gcs_bundle_t *bundles; /* allocated */
  uint32_t nbundles;
} rl_gcs_pg_t;

/* PG_INFO [request, groups [[pg_id, name, strategy, state, detached, bundles]...]] */
typedef struct {
  uint64_t request;
  rl_gcs_pg_t *groups; /* allocated (rl_gcs_pg_info_free) */
  uint32_t n;
} rl_gcs_pg_info_t;

bool rl_gcs_pg_info_unpack(const rl_msg_t *m, rl_gcs_pg_info_t *out, char *err, size_t errlen);
void rl_gcs_pg_info_free(rl_gcs_pg_info_t *p);

/* A run of a task on the timeline. */
typedef struct {
  rl_id_t task_id;
  rl_wstr_t name;
  uint64_t kind;
  bool has_actor_id, has_node_id;
  rl_id_t actor_id, node_id;
  uint64_t pid, start_us, end_us;
  bool failed;
  rl_id_t owner_id;
  uint64_t owner_pid;
} rl_gcs_span_t;

/* TIMELINE [request, events, evicted u64, dropped u64] */
typedef struct {
  uint64_t request;
  rl_gcs_span_t *events; /* allocated (rl_gcs_timeline_free) */
  uint32_t n;
  uint64_t evicted, dropped;
} rl_gcs_timeline_t;

bool rl_gcs_timeline_unpack(const rl_msg_t *m, rl_gcs_timeline_t *out, char *err, size_t errlen);
void rl_gcs_timeline_free(rl_gcs_timeline_t *t);

#endif
