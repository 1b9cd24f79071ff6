/* actor_table.h: the head's table of the actors it owns or stands ready to own
 * (detached ones): each one's creation spec (class, __init arguments, options), its
 * lifecycle state (Ray's PENDING_CREATION, ALIVE, RESTARTING, DEAD), the restarts it
 * used and where it runs; a record encodes to one blob, kept in SQLite (gcs_db.h). */
#ifndef RL_ACTOR_TABLE_H
#define RL_ACTOR_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "sched/resources.h"
#include "wire/proto.h"
#include "wire/wire.h"


/* One actor. Strings are NUL-terminated; the blobs (fn_key, fn, args) are the record's. */
typedef struct rl_gcs_actor {
  rl_id_t id;
  int state; /* RL_AS_* (wire/proto.h) */
  char class_name[64];
  char *name_key; /* its name's KV key, "" if unnamed */
  char *fn_key, *fn; /* the class table: its content key and encoding */
  size_t fn_key_len, fn_len;
  char *args; /* the __init arguments: a msgpack array [[kind, data, size]...] */
  size_t args_len;
  bool args_have_refs; /* an argument was an object ref: the head can't create it again */
  rl_resources_t resources, placement;
  rl_wire_sched_t sched; /* its leases' scheduling strategy */
  char *runtime_env;
  int64_t max_restarts; /* -1: forever */
  uint64_t restarts_used;
  rl_id_t owner_id;
  char owner_endpoint[RL_ENDPOINT_MAX];
  char owner_node[RL_ENDPOINT_MAX]; /* the node manager of the owner */
  bool owner_alive; /* false: the head owns it (restarts it) */
  rl_id_t worker_id; /* its worker, while alive (zero otherwise) */
  char worker_endpoint[RL_ENDPOINT_MAX];
  char node_endpoint[RL_ENDPOINT_MAX]; /* the node manager it runs on */
  char message[300]; /* DEAD: why */
} rl_gcs_actor_t;

typedef struct rl_actor_table_t rl_actor_table_t;

/* A new empty table. Can't fail. */
rl_actor_table_t *rl_actor_table_new(void);
/* Frees the table and its records; nulls *p; safe on NULL and twice. */
void rl_actor_table_destroy(rl_actor_table_t **p);
/* Adds *a (taking it, *a nulled), replacing a record with the same id. Can't fail. */
void rl_actor_table_put(rl_actor_table_t *t, rl_gcs_actor_t **a);
/* The record of id, or NULL. */
rl_gcs_actor_t *rl_actor_table_get(const rl_actor_table_t *t, const rl_id_t *id);
/* Iteration: *cursor starts at 0; NULL at the end (the table must not change meanwhile). */
rl_gcs_actor_t *rl_actor_table_next(const rl_actor_table_t *t, size_t *cursor);
size_t rl_actor_table_size(const rl_actor_table_t *t);

/* A new zeroed record with empty strings, or NULL if out of memory. */
rl_gcs_actor_t *rl_gcs_actor_new(void);
/* Frees a record and nulls *p; safe on NULL and twice. */
void rl_gcs_actor_destroy(rl_gcs_actor_t **p);
/* Sets *dst to a copy of n bytes (NUL-terminated too); returns 0, or -1 if out of memory. */
int rl_gcs_actor_set(char **dst, size_t *dst_len, const void *src, size_t n);
/* Encodes the record (all but its id) as a msgpack blob, the caller's to free (*len its
 * size). Returns NULL if out of memory. */
char *rl_gcs_actor_encode(const rl_gcs_actor_t *a, size_t *len);
/* Decodes a blob of rl_gcs_actor_encode into a new record with that id. Returns NULL
 * with why if the blob is not a valid record. */
rl_gcs_actor_t *rl_gcs_actor_decode(const rl_id_t *id, const void *blob, size_t len, char *why, size_t whylen);
/* True if restarts are left: max_restarts is -1 or more than restarts_used. */
bool rl_gcs_actor_can_restart(const rl_gcs_actor_t *a);

#endif
