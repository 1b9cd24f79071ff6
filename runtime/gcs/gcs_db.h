/* gcs_db.h: the head's tables kept in a SQLite file so they survive a restart of the
 * head: the node table (id, endpoint, pid, total resources, alive), the KV store and
 * the placement groups (their bundles and where each is reserved), the jobs (records
 * encoded by gcs/jobs.c), the actors the head owns (records of gcs/actor_table.c).
 * Written through on every change; read back once at start. */
#ifndef RL_GCS_DB_H
#define RL_GCS_DB_H
#include <stddef.h>
#include <stdint.h>

#include "gcs/kv.h"
#include "gcs/node_table.h"
#include "gcs/pg_table.h"

typedef struct rl_gcs_db_t rl_gcs_db_t;

/* Opens the database at path, creating the file and its tables if needed (WAL mode,
 * synchronous=NORMAL). The file is locked for this head only: a second head opening it
 * fails. Returns NULL with a message in err if it can't be opened, is in use, or is not
 * a head database of this version. */
rl_gcs_db_t *rl_gcs_db_open(const char *path, char *err, size_t errlen);
/* Closes the database and nulls *p; safe on NULL and twice. */
void rl_gcs_db_destroy(rl_gcs_db_t **p);
/* Deletes the database file at path and SQLite's files beside it (-wal, -shm,
 * -journal); for cleaning up after tests. */
void rl_gcs_db_remove(const char *path);
/* Reads every node into nodes (a node alive when saved is pending: alive again once it
 * heartbeats, dead heartbeat-timeout after now_ms) and every KV entry into kv. Bad rows
 * are logged and skipped. Returns 0, or -1 with err if the database can't be read. */
int rl_gcs_db_load(rl_gcs_db_t *db, rl_node_table_t *nodes, rl_kv_t *kv, int64_t now_ms, char *err, size_t errlen);
/* Saves the node (insert or update), or deletes it if forgotten. Returns 0, or -1 with
 * err. Its signature matches rl_node_hook_fn but for the result and err. */
int rl_gcs_db_node(rl_gcs_db_t *db, const rl_node_t *node, bool forgotten, char *err, size_t errlen);
/* Saves key = value (vlen bytes), or deletes key if value is NULL. Returns 0, or -1
 * with err. */
int rl_gcs_db_kv(rl_gcs_db_t *db, const char *key, size_t klen, const void *value, size_t vlen, char *err,
                 size_t errlen);

/* Saves a job's record (len bytes) under its submission id, replacing the previous one.
 * Returns 0, or -1 with err. */
int rl_gcs_db_job(rl_gcs_db_t *db, const char *id, const void *record, size_t len, char *err, size_t errlen);
/* Calls fn(arg, record, len) for every saved job, oldest first. Returns 0, or -1 with
 * err if the database can't be read. */
typedef void (*rl_gcs_db_job_fn)(void *arg, const void *record, size_t len);
int rl_gcs_db_load_jobs(rl_gcs_db_t *db, rl_gcs_db_job_fn fn, void *arg, char *err, size_t errlen);
/* Starts a transaction (several changes, one commit) / commits it. Each returns 0, or
 * -1 with err. */
int rl_gcs_db_begin(rl_gcs_db_t *db, char *err, size_t errlen);
int rl_gcs_db_commit(rl_gcs_db_t *db, char *err, size_t errlen);
/* Saves the placement group (insert or update; a bundle's node is saved once it is
 * reserved), or deletes it if removed. Returns 0, or -1 with err. */
int rl_gcs_db_pg(rl_gcs_db_t *db, const rl_pg_t *pg, bool removed, char *err, size_t errlen);
/* Reads every placement group into pgs (rl_pg_table_load). Bad rows are logged and
 * skipped. Returns 0, or -1 with err if the database can't be read. */
int rl_gcs_db_load_pgs(rl_gcs_db_t *db, rl_pg_table_t *pgs, char *err, size_t errlen);
/* Saves an actor's record (len bytes) under its id, replacing the previous one, or
 * deletes it if record is NULL. Returns 0, or -1 with err. */
int rl_gcs_db_actor(rl_gcs_db_t *db, const rl_id_t *id, const void *record, size_t len, char *err, size_t errlen);
/* Calls fn(arg, id, record, len) for every saved actor, oldest first (rows whose id is
 * not 16 bytes are logged and skipped). Returns 0, or -1 with err if the database can't
 * be read. */
typedef void (*rl_gcs_db_actor_fn)(void *arg, const rl_id_t *id, const void *record, size_t len);
int rl_gcs_db_load_actors(rl_gcs_db_t *db, rl_gcs_db_actor_fn fn, void *arg, char *err, size_t errlen);

#endif
