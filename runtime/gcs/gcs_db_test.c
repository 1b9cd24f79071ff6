/* gcs_db_test.c: gcs_db.c's selftest, built into rl_selftest only (not librayl). */
#include "gcs/gcs_db.c" /* the code under test, with its file-local helpers */

/* ---- selftest: write, close, reopen, read back ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)


/* The permission bits of path+suffix, or -1. */
static int s_mode(const char *path, const char *suffix) {
  char file[PATH_MAX];
  struct stat st;
  snprintf(file, sizeof file, "%s%s", path, suffix);
  return lstat(file, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

/* Appends each job record and a comma to the string arg. */
static void s_collect_job(void *arg, const void *record, size_t len) {
  char *out = arg;
  size_t n = strlen(out);
  if (n + len + 2 > 32) return;
  memcpy(out + n, record, len);
  out[n + len] = ',';
  out[n + len + 1] = 0;
}

/* Counts loaded actors, checking the one record the selftest keeps. */
static void s_collect_actor(void *arg, const rl_id_t *id, const void *record, size_t len) {
  (void)id;
  int *n = arg;
  *n += len == 3 && !memcmp(record, "rec", 3) ? 1 : 100;
}

int rl_gcs_db_selftest(void) {
  int prev_level = rl_log_level;
  rl_log_level = RL_LOG_ERROR; /* the bad rows below are expected to be skipped */
  char path[] = "/tmp/rl-gcs-db-XXXXXX", err[300];
  rl_gcs_db_t *db = NULL, *other = NULL;
  rl_node_table_t *nodes = rl_node_table_new(1000);
  rl_kv_t *kv = rl_kv_new(1 << 20);
  rl_pg_hooks_t no_hooks = {0}; /* loading calls none */
  rl_pg_table_t *pgs = rl_pg_table_new(nodes, &no_hooks);
  rl_id_t a = rl_id_random(), b = rl_id_random(), c = rl_id_random();
  rl_id_t g1 = rl_id_random(), g2 = rl_id_random(), g3 = rl_id_random();
  rl_resources_t total;
  size_t vlen;
  const char *v;
  int fd = mkstemp(path);
  S_CHECK(fd >= 0 && nodes && kv && pgs);
  S_CHECK(fchmod(fd, 0644) == 0); /* a database left readable by others is narrowed */
  close(fd); /* an empty file is an empty database */
  rl_res_clear(&total);
  S_CHECK(rl_res_set(&total, "CPU", 4, NULL, 0) == 0 && rl_res_set(&total, "sim", 0.5, NULL, 0) == 0);

  /* Write: three nodes (one forgotten again), KV entries (one replaced, one deleted,
   * binary and empty ones). */
  db = rl_gcs_db_open(path, err, sizeof err);
  S_CHECK(db);
  rl_node_t n = {.id = a, .endpoint = "tcp://10.0.0.1:7000", .pid = 11, .alive = true, .total = total};
  S_CHECK(rl_gcs_db_node(db, &n, false, err, sizeof err) == 0);
  n = (rl_node_t){.id = b, .endpoint = "tcp://10.0.0.2:7000", .pid = 12, .alive = true};
  S_CHECK(rl_gcs_db_node(db, &n, false, err, sizeof err) == 0);
  n.alive = false; /* b died: an update keeps its place */
  S_CHECK(rl_gcs_db_node(db, &n, false, err, sizeof err) == 0);
  n = (rl_node_t){.id = c, .endpoint = "tcp://10.0.0.3:7000", .pid = 13, .alive = true};
  S_CHECK(rl_gcs_db_node(db, &n, false, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_node(db, &n, true, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_kv(db, "k1", 2, "one", 3, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_kv(db, "k1", 2, "uno", 3, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_kv(db, "k\0b", 3, "\0\1\2", 3, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_kv(db, "empty", 5, "", 0, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_kv(db, "gone", 4, "x", 1, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_kv(db, "gone", 4, NULL, 0, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_kv(db, "never", 5, NULL, 0, err, sizeof err) == 0);
  /* Placement groups: one created on a (its bundles' nodes kept), one pending, one
   * removed again. */
  rl_pg_bundle_t pb[2] = {{.resources = total, .state = RL_BUNDLE_RESERVED, .node = a},
                          {.resources = total, .state = RL_BUNDLE_RESERVING, .node = a}};
  rl_pg_t pg = {.id = g1, .name = "named", .strategy = RL_PG_STRICT_PACK, .detached = true, .creator = c,
                .n = 2, .bundles = pb};
  S_CHECK(rl_gcs_db_pg(db, &pg, false, err, sizeof err) == 0);
  pb[1].state = RL_BUNDLE_RESERVED;
  S_CHECK(rl_gcs_db_pg(db, &pg, false, err, sizeof err) == 0); /* now created */
  pg = (rl_pg_t){.id = g2, .strategy = RL_PG_SPREAD, .creator = c, .n = 1, .bundles = &pb[1]};
  pb[1].state = RL_BUNDLE_UNPLACED;
  S_CHECK(rl_gcs_db_pg(db, &pg, false, err, sizeof err) == 0);
  pg.id = g3;
  S_CHECK(rl_gcs_db_pg(db, &pg, false, err, sizeof err) == 0 && rl_gcs_db_pg(db, &pg, true, err, sizeof err) == 0);
  /* Actors: one kept (saved twice, the second replacing the first), one deleted. */
  S_CHECK(rl_gcs_db_actor(db, &a, "old", 3, err, sizeof err) == 0 && rl_gcs_db_actor(db, &a, "rec", 3, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_actor(db, &b, "x", 1, err, sizeof err) == 0 && rl_gcs_db_actor(db, &b, NULL, 0, err, sizeof err) == 0);
  S_CHECK(sqlite3_exec(db->sql, "INSERT INTO pgs VALUES (x'00112233445566778899aabbccddeeff', x'93');", NULL, NULL,
                       NULL) == SQLITE_OK);
  /* Rows a reader must skip: a short id, a resource blob that is not a map. */
  S_CHECK(sqlite3_exec(db->sql,
                       "INSERT INTO nodes VALUES (x'0102', 'tcp://x:1', 1, x'80', 1);"
                       "INSERT INTO nodes VALUES (x'00112233445566778899aabbccddeeff', 'tcp://y:1', 1, x'c1', 1);",
                       NULL, NULL, NULL) == SQLITE_OK);
  S_CHECK(rl_gcs_db_job(db, "j1", "first", 5, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_job(db, "j2", "second", 6, err, sizeof err) == 0);
  S_CHECK(rl_gcs_db_job(db, "j1", "FIRST", 5, err, sizeof err) == 0); /* updated in place */
  /* The tables (jobs' environments, uploaded code) are this user's alone: the file and
   * its write-ahead log are mode 0600. */
  S_CHECK(s_mode(path, "") == 0600 && s_mode(path, "-wal") == 0600);
  /* One head per file. */
  other = rl_gcs_db_open(path, err, sizeof err);
  S_CHECK(!other && strstr(err, "in use"));
  rl_gcs_db_destroy(&db);
  rl_gcs_db_destroy(&db);
  S_CHECK(db == NULL);

  /* Reopen and read back: a, pending; b, dead; c forgotten; the KV entries. */
  db = rl_gcs_db_open(path, err, sizeof err);
  S_CHECK(db);
  S_CHECK(rl_gcs_db_load(db, nodes, kv, 5000, err, sizeof err) == 0);
  S_CHECK(rl_node_table_size(nodes) == 2);
  size_t cur = 0;
  const rl_node_t *p = rl_node_table_next(nodes, &cur);
  S_CHECK(p && rl_id_eq(&p->id, &a) && !strcmp(p->endpoint, "tcp://10.0.0.1:7000") && p->pid == 11);
  S_CHECK(!p->alive && p->pending && p->last_seen_ms == 5000 && rl_res_equal(&p->total, &total));
  p = rl_node_table_next(nodes, &cur);
  S_CHECK(p && rl_id_eq(&p->id, &b) && !p->alive && !p->pending && p->total.n == 0);
  S_CHECK(rl_node_table_get(nodes, &c) == NULL);
  S_CHECK(rl_kv_count(kv) == 3);
  v = rl_kv_get(kv, "k1", 2, &vlen);
  S_CHECK(v && vlen == 3 && !memcmp(v, "uno", 3));
  v = rl_kv_get(kv, "k\0b", 3, &vlen);
  S_CHECK(v && vlen == 3 && !memcmp(v, "\0\1\2", 3));
  v = rl_kv_get(kv, "empty", 5, &vlen);
  S_CHECK(v && vlen == 0);
  S_CHECK(rl_kv_get(kv, "gone", 4, &vlen) == NULL);
  char jobs[32] = "";
  S_CHECK(rl_gcs_db_load_jobs(db, s_collect_job, jobs, err, sizeof err) == 0);
  S_CHECK(!strcmp(jobs, "FIRST,second,"));
  S_CHECK(rl_gcs_db_load_pgs(db, pgs, err, sizeof err) == 0 && rl_pg_table_size(pgs) == 2);
  rl_pg_t *l1 = rl_pg_table_get(pgs, &g1), *l2 = rl_pg_table_get(pgs, &g2);
  S_CHECK(l1 && l1->state == RL_PG_CREATED && !strcmp(l1->name, "named") && l1->strategy == RL_PG_STRICT_PACK);
  S_CHECK(l1->detached && rl_id_eq(&l1->creator, &c) && l1->n == 2 && rl_id_eq(&l1->bundles[1].node, &a));
  S_CHECK(rl_res_equal(&l1->bundles[0].resources, &total));
  S_CHECK(l2 && l2->state == RL_PG_PENDING && !l2->detached && l2->strategy == RL_PG_SPREAD && l2->n == 1);
  S_CHECK(rl_pg_table_get(pgs, &g3) == NULL);
  int actors = 0;
  S_CHECK(rl_gcs_db_load_actors(db, s_collect_actor, &actors, err, sizeof err) == 0 && actors == 1);
  rl_gcs_db_destroy(&db);

  /* A file that is not a database is refused with a message. */
  rl_gcs_db_remove(path);
  FILE *f = fopen(path, "w");
  S_CHECK(f);
  for (int i = 0; i < 64; i++) fputs("this is not a SQLite database. ", f);
  fclose(f);
  db = rl_gcs_db_open(path, err, sizeof err);
  S_CHECK(!db && strstr(err, path));

  rl_gcs_db_remove(path);
  rl_pg_table_destroy(&pgs);
  rl_node_table_destroy(&nodes);
  rl_kv_destroy(&kv);
  rl_log_level = prev_level;
  return 0;
fail:
  rl_gcs_db_destroy(&db);
  rl_gcs_db_destroy(&other);
  rl_gcs_db_remove(path);
  rl_pg_table_destroy(&pgs);
  rl_node_table_destroy(&nodes);
  rl_kv_destroy(&kv);
  rl_log_level = prev_level;
  return 1;
}
