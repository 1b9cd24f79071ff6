/* gcs_db.c: the head's node table, KV store, placement groups and jobs in a SQLite file: prepared statements
 * written through on every change, WAL with synchronous=NORMAL (a commit survives the
 * head being killed; only a power cut may lose the last ones), and an exclusive lock so
 * two heads never share one file. */
#include "common/selftest.h"
#include "gcs/gcs_db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/res_pack.h"

#define S_SCHEMA_VERSION 3 /* 2 added the jobs and placement group tables, 3 the actors; older files gain them */

struct rl_gcs_db_t {
  sqlite3 *sql;
  sqlite3_stmt *node_put, *node_del, *kv_put, *kv_del, *job_put, *pg_put, *pg_del, *actor_put, *actor_del;
};

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS nodes (id BLOB PRIMARY KEY NOT NULL, endpoint TEXT NOT NULL,"
    " pid INTEGER NOT NULL, resources BLOB NOT NULL, alive INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY NOT NULL, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL);"
    /* body: msgpack [name, strategy, detached, creator, [[resources, node id | nil]...]] */
    "CREATE TABLE IF NOT EXISTS pgs (id BLOB PRIMARY KEY NOT NULL, body BLOB NOT NULL);"
    /* record: rl_gcs_actor_encode (gcs/actor_table.c) */
    "CREATE TABLE IF NOT EXISTS actors (id BLOB PRIMARY KEY NOT NULL, record BLOB NOT NULL);"
    "PRAGMA user_version = 3;";

/* Fills err with what and SQLite's message; returns -1. */
static int s_fail(sqlite3 *sql, const char *what, char *err, size_t errlen) {
  snprintf(err, errlen, "%s: %s", what, sql ? sqlite3_errmsg(sql) : "out of memory");
  return -1;
}

static int s_prepare(sqlite3 *sql, const char *text, sqlite3_stmt **st, char *err, size_t errlen) {
  if (sqlite3_prepare_v3(sql, text, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return s_fail(sql, "cannot prepare a statement", err, errlen);
  return 0;
}

/* The single integer a PRAGMA returns, or -1. */
static long long s_pragma_int(sqlite3 *sql, const char *text) {
  sqlite3_stmt *st;
  long long v = -1;
  if (sqlite3_prepare_v2(sql, text, -1, &st, NULL) != SQLITE_OK) return -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Makes path (created if missing: never through a symlink) and the side files SQLite
 * keeps beside it (-wal, -shm, -journal: SQLite gives new ones the database's mode)
 * mode 0600: the tables hold jobs' environments and uploaded code. Returns 0, or -1. */
static int s_private_files(const char *path, char *err, size_t errlen) {
  static const char *sides[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
    char file[PATH_MAX];
    struct stat st;
    snprintf(file, sizeof file, "%s%s", path, sides[i]);
    int fd = open(file, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (i ? 0 : O_CREAT), 0600);
    if (fd < 0 && i && errno == ENOENT) continue;
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              ((st.st_mode & 0777) == 0600 || fchmod(fd, 0600) == 0);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    if (!ok) {
      snprintf(err, errlen, "cannot open %s as this user's private file: %s", file,
               e ? strerror(e) : "not a regular file of this user's");
      return -1;
    }
  }
  return 0;
}

rl_gcs_db_t *rl_gcs_db_open(const char *path, char *err, size_t errlen) {
  rl_gcs_db_t *db = rl_xcalloc(1, sizeof *db);
  char what[400];
  snprintf(what, sizeof what, "cannot open %s", path);
  if (s_private_files(path, err, errlen) != 0) goto err;
  if (sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    s_fail(db->sql, what, err, errlen);
    goto err;
  }
  sqlite3_busy_timeout(db->sql, 200);
  /* Exclusive before WAL: no shared-memory index, and the lock taken by the first
   * write below is held until close (a crash releases it with the process). */
  if (sqlite3_exec(db->sql, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
    s_fail(db->sql, what, err, errlen);
    goto err;
  }
  int rc = sqlite3_exec(db->sql, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db->sql, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    snprintf(err, errlen, "%s: it is in use by another head", path);
    goto err;
  }
  if (rc != SQLITE_OK) {
    s_fail(db->sql, what, err, errlen);
    goto err;
  }
  long long version = s_pragma_int(db->sql, "PRAGMA user_version");
  if (version < 0 || version > S_SCHEMA_VERSION) {
    snprintf(err, errlen, "%s was written by another version of rayl (schema %lld, this one reads %d)", path,
             version, S_SCHEMA_VERSION);
    sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    goto err;
  }
  if (sqlite3_exec(db->sql, s_schema, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    s_fail(db->sql, what, err, errlen);
    sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    goto err;
  }
  if (s_prepare(db->sql,
                "INSERT INTO nodes (id, endpoint, pid, resources, alive) VALUES (?1, ?2, ?3, ?4, ?5)"
                " ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, pid = excluded.pid,"
                " resources = excluded.resources, alive = excluded.alive",
                &db->node_put, err, errlen) ||
      s_prepare(db->sql, "DELETE FROM nodes WHERE id = ?1", &db->node_del, err, errlen) ||
      s_prepare(db->sql,
                "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &db->kv_put, err, errlen) ||
      s_prepare(db->sql, "DELETE FROM kv WHERE key = ?1", &db->kv_del, err, errlen) ||
      s_prepare(db->sql,
                "INSERT INTO jobs (id, record) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                &db->job_put, err, errlen) ||
      s_prepare(db->sql,
                "INSERT INTO pgs (id, body) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                &db->pg_put, err, errlen) ||
      s_prepare(db->sql, "DELETE FROM pgs WHERE id = ?1", &db->pg_del, err, errlen) ||
      s_prepare(db->sql,
                "INSERT INTO actors (id, record) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                &db->actor_put, err, errlen) ||
      s_prepare(db->sql, "DELETE FROM actors WHERE id = ?1", &db->actor_del, err, errlen))
    goto err;
  return db;
err:
  rl_gcs_db_destroy(&db);
  return NULL;
}

void rl_gcs_db_destroy(rl_gcs_db_t **p) {
  if (!p || !*p) return;
  rl_gcs_db_t *db = *p;
  sqlite3_finalize(db->node_put);
  sqlite3_finalize(db->node_del);
  sqlite3_finalize(db->kv_put);
  sqlite3_finalize(db->kv_del);
  sqlite3_finalize(db->job_put);
  sqlite3_finalize(db->pg_put);
  sqlite3_finalize(db->pg_del);
  sqlite3_finalize(db->actor_put);
  sqlite3_finalize(db->actor_del);
  sqlite3_close(db->sql); /* NULL is a no-op */
  free(db);
  *p = NULL;
}

/* Runs a bound statement to completion and resets it. Returns 0, or -1 with err. */
static int s_run(rl_gcs_db_t *db, sqlite3_stmt *st, const char *what, char *err, size_t errlen) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) s_fail(db->sql, what, err, errlen);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

int rl_gcs_db_node(rl_gcs_db_t *db, const rl_node_t *node, bool forgotten, char *err, size_t errlen) {
  if (forgotten) {
    sqlite3_bind_blob(db->node_del, 1, node->id.b, RL_ID_SIZE, SQLITE_STATIC);
    return s_run(db, db->node_del, "cannot delete a node", err, errlen);
  }
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  rl_res_pack(&pk, &node->total);
  sqlite3_bind_blob(db->node_put, 1, node->id.b, RL_ID_SIZE, SQLITE_STATIC);
  sqlite3_bind_text(db->node_put, 2, node->endpoint, -1, SQLITE_STATIC);
  sqlite3_bind_int64(db->node_put, 3, (sqlite3_int64)node->pid);
  sqlite3_bind_blob(db->node_put, 4, sb.data ? sb.data : "", (int)sb.size, SQLITE_STATIC);
  sqlite3_bind_int(db->node_put, 5, node->alive);
  int rc = s_run(db, db->node_put, "cannot save a node", err, errlen);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

int rl_gcs_db_kv(rl_gcs_db_t *db, const char *key, size_t klen, const void *value, size_t vlen, char *err,
                 size_t errlen) {
  sqlite3_stmt *st = value ? db->kv_put : db->kv_del;
  /* A NULL pointer would bind SQL NULL, not an empty blob. */
  sqlite3_bind_blob64(st, 1, klen ? key : "", klen, SQLITE_STATIC);
  if (value) sqlite3_bind_blob64(st, 2, vlen ? value : "", vlen, SQLITE_STATIC);
  return s_run(db, st, value ? "cannot save a KV entry" : "cannot delete a KV entry", err, errlen);
}

int rl_gcs_db_job(rl_gcs_db_t *db, const char *id, const void *record, size_t len, char *err, size_t errlen) {
  sqlite3_bind_text(db->job_put, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_blob64(db->job_put, 2, len ? record : "", len, SQLITE_STATIC);
  return s_run(db, db->job_put, "cannot save a job", err, errlen);
}

int rl_gcs_db_load_jobs(rl_gcs_db_t *db, rl_gcs_db_job_fn fn, void *arg, char *err, size_t errlen) {
  sqlite3_stmt *st;
  int rc;
  if (sqlite3_prepare_v2(db->sql, "SELECT record FROM jobs ORDER BY rowid", -1, &st, NULL) != SQLITE_OK)
    return s_fail(db->sql, "cannot read the jobs", err, errlen);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const void *record = sqlite3_column_blob(st, 0);
    fn(arg, record ? record : "", (size_t)sqlite3_column_bytes(st, 0));
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : s_fail(db->sql, "cannot read the jobs", err, errlen);
}

/* Reads one nodes row. Returns 0, or -1 with why if the row is not a valid node. */
static int s_load_node(sqlite3_stmt *st, rl_node_table_t *nodes, int64_t now_ms, char *why, size_t whylen) {
  rl_id_t id;
  rl_resources_t total;
  const void *idp = sqlite3_column_blob(st, 0), *res = sqlite3_column_blob(st, 3);
  const char *endpoint = (const char *)sqlite3_column_text(st, 1);
  if (!idp || sqlite3_column_bytes(st, 0) != RL_ID_SIZE) {
    snprintf(why, whylen, "its id is not %d bytes", RL_ID_SIZE);
    return -1;
  }
  memcpy(id.b, idp, RL_ID_SIZE);
  if (!endpoint) {
    snprintf(why, whylen, "it has no endpoint");
    return -1;
  }
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int bad = !res || msgpack_unpack_next(&u, res, (size_t)sqlite3_column_bytes(st, 3), &off) != MSGPACK_UNPACK_SUCCESS ||
            rl_res_unpack(&u.data, &total) != 0;
  msgpack_unpacked_destroy(&u);
  if (bad) {
    snprintf(why, whylen, "its resources are not a resource map");
    return -1;
  }
  return rl_node_table_load(nodes, &id, endpoint, &total, (uint64_t)sqlite3_column_int64(st, 2),
                            sqlite3_column_int(st, 4) != 0, now_ms, why, whylen);
}

int rl_gcs_db_load(rl_gcs_db_t *db, rl_node_table_t *nodes, rl_kv_t *kv, int64_t now_ms, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  char why[160];
  int rc;
  if (sqlite3_prepare_v2(db->sql, "SELECT id, endpoint, pid, resources, alive FROM nodes ORDER BY rowid", -1, &st,
                         NULL) != SQLITE_OK)
    return s_fail(db->sql, "cannot read the nodes", err, errlen);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (s_load_node(st, nodes, now_ms, why, sizeof why) != 0)
      rl_log(RL_LOG_WARN, "skipped a node of the head's database: %s", why);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return s_fail(db->sql, "cannot read the nodes", err, errlen);
  if (sqlite3_prepare_v2(db->sql, "SELECT key, value FROM kv ORDER BY rowid", -1, &st, NULL) != SQLITE_OK)
    return s_fail(db->sql, "cannot read the KV store", err, errlen);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = sqlite3_column_blob(st, 0), *value = sqlite3_column_blob(st, 1);
    size_t klen = (size_t)sqlite3_column_bytes(st, 0), vlen = (size_t)sqlite3_column_bytes(st, 1);
    void *prev;
    size_t plen;
    if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
      rl_log(RL_LOG_WARN, "skipped a KV entry of the head's database: its value is NULL");
      continue;
    }
    if (rl_kv_put(kv, key ? key : "", klen, value ? value : "", vlen, &prev, &plen, why, sizeof why) != 0)
      rl_log(RL_LOG_WARN, "skipped a KV entry of the head's database: %s", why);
    free(prev);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return s_fail(db->sql, "cannot read the KV store", err, errlen);
  return 0;
}

int rl_gcs_db_begin(rl_gcs_db_t *db, char *err, size_t errlen) {
  if (sqlite3_exec(db->sql, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return s_fail(db->sql, "cannot start a transaction", err, errlen);
  return 0;
}

int rl_gcs_db_commit(rl_gcs_db_t *db, char *err, size_t errlen) {
  if (sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    s_fail(db->sql, "cannot commit", err, errlen);
    sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

int rl_gcs_db_pg(rl_gcs_db_t *db, const rl_pg_t *pg, bool removed, char *err, size_t errlen) {
  if (removed) {
    sqlite3_bind_blob(db->pg_del, 1, pg->id.b, RL_ID_SIZE, SQLITE_STATIC);
    return s_run(db, db->pg_del, "cannot delete a placement group", err, errlen);
  }
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 5);
  rl_pack_str(&pk, pg->name);
  msgpack_pack_uint64(&pk, (uint64_t)pg->strategy);
  if (pg->detached) msgpack_pack_true(&pk);
  else msgpack_pack_false(&pk);
  rl_pack_id(&pk, &pg->creator);
  msgpack_pack_array(&pk, (uint32_t)pg->n);
  for (int i = 0; i < pg->n; i++) {
    msgpack_pack_array(&pk, 2);
    rl_res_pack(&pk, &pg->bundles[i].resources);
    if (pg->bundles[i].state == RL_BUNDLE_RESERVED) rl_pack_id(&pk, &pg->bundles[i].node);
    else msgpack_pack_nil(&pk);
  }
  sqlite3_bind_blob(db->pg_put, 1, pg->id.b, RL_ID_SIZE, SQLITE_STATIC);
  sqlite3_bind_blob(db->pg_put, 2, sb.data, (int)sb.size, SQLITE_STATIC);
  int rc = s_run(db, db->pg_put, "cannot save a placement group", err, errlen);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

/* Reads one pgs row into pgs. Returns 0, or -1 with why. */
static int s_load_pg(sqlite3_stmt *st, rl_pg_table_t *pgs, char *why, size_t whylen) {
  rl_id_t id, creator;
  const void *idp = sqlite3_column_blob(st, 0), *body = sqlite3_column_blob(st, 1);
  if (!idp || sqlite3_column_bytes(st, 0) != RL_ID_SIZE || !body) {
    snprintf(why, whylen, "its id is not %d bytes or it has no body", RL_ID_SIZE);
    return -1;
  }
  memcpy(id.b, idp, RL_ID_SIZE);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = -1;
  rl_resources_t *bundles = NULL;
  rl_id_t *nodes = NULL;
  char name[RL_PG_NAME_MAX];
  uint64_t strategy;
  const char *p;
  size_t len;
  const msgpack_object *f;
  snprintf(why, whylen, "its body is not a placement group");
  if (msgpack_unpack_next(&u, body, (size_t)sqlite3_column_bytes(st, 1), &off) != MSGPACK_UNPACK_SUCCESS ||
      u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size < 5)
    goto done;
  f = u.data.via.array.ptr;
  if (!rl_obj_bytes(&f[0], &p, &len) || len >= sizeof name || !rl_obj_u64(&f[1], &strategy) || strategy > 3 ||
      f[2].type != MSGPACK_OBJECT_BOOLEAN || !rl_obj_id(&f[3], &creator) || f[4].type != MSGPACK_OBJECT_ARRAY ||
      f[4].via.array.size < 1 || f[4].via.array.size > RL_PG_MAX_BUNDLES)
    goto done;
  if (len) memcpy(name, p, len); /* an empty string may come with a NULL pointer */
  name[len] = 0;
  uint32_t n = f[4].via.array.size;
  bundles = rl_xcalloc(n, sizeof *bundles);
  nodes = rl_xcalloc(n, sizeof *nodes);
  for (uint32_t i = 0; i < n; i++) {
    const msgpack_object *b = &f[4].via.array.ptr[i];
    if (b->type != MSGPACK_OBJECT_ARRAY || b->via.array.size != 2 || rl_res_unpack(&b->via.array.ptr[0], &bundles[i]) ||
        (b->via.array.ptr[1].type != MSGPACK_OBJECT_NIL && !rl_obj_id(&b->via.array.ptr[1], &nodes[i])))
      goto done;
  }
  rc = rl_pg_table_load(pgs, &id, name, (int)strategy, bundles, nodes, (int)n, f[2].via.boolean, &creator, why,
                        whylen)
           ? 0
           : -1;
done:
  free(bundles);
  free(nodes);
  msgpack_unpacked_destroy(&u);
  return rc;
}

int rl_gcs_db_load_pgs(rl_gcs_db_t *db, rl_pg_table_t *pgs, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  char why[200];
  int rc;
  if (sqlite3_prepare_v2(db->sql, "SELECT id, body FROM pgs ORDER BY rowid", -1, &st, NULL) != SQLITE_OK)
    return s_fail(db->sql, "cannot read the placement groups", err, errlen);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (s_load_pg(st, pgs, why, sizeof why) != 0)
      rl_log(RL_LOG_WARN, "skipped a placement group of the head's database: %s", why);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return s_fail(db->sql, "cannot read the placement groups", err, errlen);
  return 0;
}

int rl_gcs_db_actor(rl_gcs_db_t *db, const rl_id_t *id, const void *record, size_t len, char *err, size_t errlen) {
  sqlite3_stmt *st = record ? db->actor_put : db->actor_del;
  sqlite3_bind_blob(st, 1, id->b, RL_ID_SIZE, SQLITE_STATIC);
  if (record) sqlite3_bind_blob(st, 2, record, (int)len, SQLITE_STATIC);
  return s_run(db, st, record ? "cannot save an actor" : "cannot delete an actor", err, errlen);
}

int rl_gcs_db_load_actors(rl_gcs_db_t *db, rl_gcs_db_actor_fn fn, void *arg, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (sqlite3_prepare_v2(db->sql, "SELECT id, record FROM actors ORDER BY rowid", -1, &st, NULL) != SQLITE_OK)
    return s_fail(db->sql, "cannot read the actors", err, errlen);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    rl_id_t id;
    if (sqlite3_column_bytes(st, 0) != RL_ID_SIZE || sqlite3_column_type(st, 1) != SQLITE_BLOB) {
      rl_log(RL_LOG_WARN, "skipped an actor of the head's database: its id or record is malformed");
      continue;
    }
    memcpy(id.b, sqlite3_column_blob(st, 0), RL_ID_SIZE);
    fn(arg, &id, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return s_fail(db->sql, "cannot read the actors", err, errlen);
  return 0;
}

void rl_gcs_db_remove(const char *path) {
  char p[300];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-journal", path);
  unlink(p);
}
