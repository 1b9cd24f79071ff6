/* objects_test.c: objects.c's selftest, built into rl_selftest only (not librayl). */
#include "store/objects.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

static void s_fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed * 31 + i * 7);
}

static bool s_same(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed * 31 + i * 7)) return false;
  return true;
}

static bool s_spill_file_exists(const char *dir, const rl_id_t *id) {
  char path[512], hex[RL_ID_HEX];
  snprintf(path, sizeof path, "%s/%s", dir, rl_id_hex(id, hex));
  return access(path, F_OK) == 0;
}

#define S_CHECK(c) RL_CHECK_GOTO(c)

typedef struct {
  const rl_id_t *c, *d, *who;
  int n;
  bool c_ok, d_ok;
} s_listing_t;

static void s_list_one(void *ctx, const rl_object_info_t *info) {
  s_listing_t *l = ctx;
  l->n++;
  if (rl_id_eq(&info->id, l->c))
    l->c_ok = info->size == 20000 && info->state == S_SEALED && info->pins == 1 && rl_id_eq(&info->owner_id, l->who);
  if (rl_id_eq(&info->id, l->d)) l->d_ok = info->state == S_SPILLED && info->pins == 0 && rl_id_is_nil(&info->owner_id);
}

int rl_objects_selftest(void) {
  enum { CAP = 65536 };
  char top[128], dir[160], err[512];
  snprintf(top, sizeof top, "/tmp/rayl-objects-test-%d", (int)getpid());
  snprintf(dir, sizeof dir, "%s/spill", top);
  unsigned char *base = malloc(CAP);
  rl_objects_t *o = NULL;
  rl_id_t a = rl_id_random(), b = rl_id_random(), c = rl_id_random(), d = rl_id_random(), e = rl_id_random();
  rl_id_t f = rl_id_random(), g = rl_id_random(), h = rl_id_random();
  size_t off, size, used, nobj, nspill;
  S_CHECK(base);
  S_CHECK(rl_objects_new(base, 10, dir, err, sizeof err) == NULL && strstr(err, "too small"));
  o = rl_objects_new(base, CAP, dir, err, sizeof err);
  S_CHECK(o && access(dir, F_OK) == 0);

  /* create / seal / get / release */
  S_CHECK(rl_objects_create(o, &a, 10000, 1, 0, &off, err, sizeof err) == 0 && off == 0);
  s_fill(base + off, 10000, 1);
  S_CHECK(rl_objects_pins(o, &a) == 1);
  S_CHECK(rl_objects_get(o, &a, 2, &off, &size, err, sizeof err) == -1 && strstr(err, "not sealed yet"));
  S_CHECK(rl_objects_get(o, &b, 2, &off, &size, err, sizeof err) == -1 && strstr(err, "not in this node"));
  S_CHECK(rl_objects_seal(o, &a, 2, err, sizeof err) == -1 && strstr(err, "another client"));
  S_CHECK(rl_objects_seal(o, &a, 1, err, sizeof err) == 0 && rl_objects_pins(o, &a) == 0);
  S_CHECK(rl_objects_seal(o, &a, 1, err, sizeof err) == -1 && strstr(err, "sealed already"));
  S_CHECK(rl_objects_get(o, &a, 2, &off, &size, err, sizeof err) == 0 && off == 0 && size == 10000);
  S_CHECK(rl_objects_get(o, &a, 2, &off, &size, err, sizeof err) == 0 && rl_objects_pins(o, &a) == 2);
  S_CHECK(rl_objects_release(o, &a, 3, err, sizeof err) == -1 && rl_objects_pins(o, &a) == 2);
  S_CHECK(rl_objects_release(o, &a, 2, err, sizeof err) == 0 && rl_objects_release(o, &a, 2, err, sizeof err) == 0);
  S_CHECK(rl_objects_release(o, &a, 2, err, sizeof err) == -1 && rl_objects_pins(o, &a) == 0);
  S_CHECK(rl_objects_create(o, &a, 64, 1, 0, &off, err, sizeof err) == -1 && strstr(err, "already exists"));
  S_CHECK(rl_objects_create(o, &e, CAP + 1, 1, 0, &off, err, sizeof err) == -1 &&
          !strcmp(err, "object of 65537 bytes is larger than the object store (65536 bytes); raise "
                       "object_store_memory"));

  /* spill: B and C sealed and unpinned, A pinned; D needs both B's and C's room */
  S_CHECK(rl_objects_create(o, &b, 20000, 1, 0, &off, err, sizeof err) == 0 && off == 10048);
  s_fill(base + off, 20000, 2);
  S_CHECK(rl_objects_create(o, &c, 20000, 1, 0, &off, err, sizeof err) == 0 && off == 30080);
  s_fill(base + off, 20000, 3);
  S_CHECK(rl_objects_seal(o, &b, 1, err, sizeof err) == 0 && rl_objects_seal(o, &c, 1, err, sizeof err) == 0);
  S_CHECK(rl_objects_get(o, &a, 3, &off, &size, err, sizeof err) == 0);
  S_CHECK(rl_objects_create(o, &d, 30000, 1, 0, &off, err, sizeof err) == 0 && off == 10048);
  rl_objects_stats(o, &used, &nobj, &nspill);
  S_CHECK(nspill == 2 && nobj == 4 && used == 10048 + 30016);
  S_CHECK(s_spill_file_exists(dir, &b) && s_spill_file_exists(dir, &c));
  s_fill(base + off, 30000, 4);
  S_CHECK(rl_objects_seal(o, &d, 1, err, sizeof err) == 0);

  /* restore: B fits without spilling; C needs D spilled */
  S_CHECK(rl_objects_get(o, &b, 3, &off, &size, err, sizeof err) == 0 && size == 20000 && off == 40064);
  S_CHECK(s_same(base + off, size, 2) && !s_spill_file_exists(dir, &b));
  S_CHECK(rl_objects_get(o, &c, 3, &off, &size, err, sizeof err) == 0 && off == 10048);
  S_CHECK(s_same(base + off, size, 3) && s_spill_file_exists(dir, &d));
  rl_objects_stats(o, &used, &nobj, &nspill);
  S_CHECK(nspill == 1 && nobj == 4);

  /* listing: every object with its size, state, pins and owner */
  rl_id_t who = rl_id_random();
  S_CHECK(rl_objects_set_owner_id(o, &c, &who) == 0 && rl_objects_set_owner_id(o, &e, &who) == -1);
  s_listing_t seen = {.c = &c, .d = &d, .who = &who};
  rl_objects_each(o, s_list_one, &seen);
  S_CHECK(seen.n == 4 && seen.c_ok && seen.d_ok);

  /* full: A, B, C pinned; D's spill file does not help */
  S_CHECK(rl_objects_create(o, &e, 40000, 1, 0, &off, err, sizeof err) == -1);
  S_CHECK(!strcmp(err, "object store is full: need 40000 bytes, 15424 free of 65536 (pinned objects: 3); raise "
                       "object_store_memory or release references"));
  rl_objects_stats(o, &used, &nobj, &nspill);
  S_CHECK(nobj == 4 && nspill == 1);

  /* delete while pinned: gone for new readers, freed at the last release */
  S_CHECK(rl_objects_delete(o, &b, err, sizeof err) == 0 && rl_objects_pins(o, &b) == 1);
  S_CHECK(rl_objects_delete(o, &b, err, sizeof err) == -1);
  S_CHECK(rl_objects_get(o, &b, 4, &off, &size, err, sizeof err) == -1 && strstr(err, "deleted"));
  S_CHECK(rl_objects_release(o, &b, 3, err, sizeof err) == 0 && rl_objects_pins(o, &b) == -1);
  /* delete a spilled object: its file goes */
  S_CHECK(rl_objects_delete(o, &d, err, sizeof err) == 0 && !s_spill_file_exists(dir, &d));
  rl_objects_stats(o, &used, &nobj, &nspill);
  S_CHECK(nobj == 2 && nspill == 0 && used == 10048 + 20032);

  /* client_gone: the writer of F dies (aborted), G is owned by 5, H by 6 */
  S_CHECK(rl_objects_create(o, &f, 100, 5, 6, &off, err, sizeof err) == 0);
  S_CHECK(rl_objects_create(o, &g, 100, 5, 0, &off, err, sizeof err) == 0);
  S_CHECK(rl_objects_create(o, &h, 100, 5, 6, &off, err, sizeof err) == 0);
  S_CHECK(rl_objects_seal(o, &g, 5, err, sizeof err) == 0 && rl_objects_seal(o, &h, 5, err, sizeof err) == 0);
  S_CHECK(rl_objects_get(o, &h, 7, &off, &size, err, sizeof err) == 0);
  rl_objects_client_gone(o, 5);
  S_CHECK(rl_objects_pins(o, &f) == -1 && rl_objects_pins(o, &g) == -1 && rl_objects_pins(o, &h) == 1);
  rl_objects_client_gone(o, 6); /* H deleted, but 7 still reads it */
  S_CHECK(rl_objects_pins(o, &h) == 1 && rl_objects_get(o, &h, 8, &off, &size, err, sizeof err) == -1);
  rl_objects_client_gone(o, 7);
  S_CHECK(rl_objects_pins(o, &h) == -1);
  rl_objects_client_gone(o, 3); /* A and C stay (owned by 1), unpinned */
  S_CHECK(rl_objects_pins(o, &a) == 0 && rl_objects_pins(o, &c) == 0);
  rl_objects_stats(o, &used, &nobj, &nspill);
  S_CHECK(nobj == 2 && used == 10048 + 20032);

  /* Pulled copies go first, least recently used first, and are dropped, not spilled:
   * P (pulled) and Q (pulled, used last) beside A and C (primary, unpinned). */
  rl_id_t p = rl_id_random(), q = rl_id_random(), r = rl_id_random();
  S_CHECK(rl_objects_set_pulled(o, &p) == -1);
  S_CHECK(rl_objects_create(o, &q, 10000, 9, 9, &off, err, sizeof err) == 0 && rl_objects_set_pulled(o, &q) == 0);
  S_CHECK(rl_objects_create(o, &p, 10000, 9, 9, &off, err, sizeof err) == 0 && rl_objects_set_pulled(o, &p) == 0);
  S_CHECK(rl_objects_seal(o, &p, 9, err, sizeof err) == 0 && rl_objects_seal(o, &q, 9, err, sizeof err) == 0);
  S_CHECK(rl_objects_get(o, &q, 9, &off, &size, err, sizeof err) == 0);
  S_CHECK(rl_objects_release(o, &q, 9, err, sizeof err) == 0);
  /* 15360 bytes free after P: dropping P (not Q, used since) makes room for R */
  S_CHECK(rl_objects_create(o, &r, 20000, 1, 0, &off, err, sizeof err) == 0);
  rl_objects_stats(o, &used, &nobj, &nspill);
  S_CHECK(rl_objects_pins(o, &p) == -1 && rl_objects_pins(o, &q) == 0 && rl_objects_evicted(o) == 1);
  S_CHECK(nspill == 0 && !s_spill_file_exists(dir, &p) && rl_objects_pins(o, &a) == 0);
  /* a pinned pulled copy stays: R (pinned, being written) and Q pinned; A and C spill */
  S_CHECK(rl_objects_get(o, &q, 9, &off, &size, err, sizeof err) == 0);
  S_CHECK(rl_objects_create(o, &p, 30000, 1, 0, &off, err, sizeof err) == 0);
  rl_objects_stats(o, &used, &nobj, &nspill);
  S_CHECK(nspill == 2 && rl_objects_pins(o, &q) == 1 && rl_objects_evicted(o) == 1);
  rl_objects_client_gone(o, 9);
  S_CHECK(rl_objects_delete(o, &p, err, sizeof err) == 0 && rl_objects_delete(o, &r, err, sizeof err) == 0);
  S_CHECK(rl_objects_seal(o, &p, 1, err, sizeof err) == 0 && rl_objects_seal(o, &r, 1, err, sizeof err) == 0);
  rl_objects_stats(o, &used, &nobj, &nspill);
  S_CHECK(nobj == 2 && nspill == 2 && used == 0);

  /* Memory reuse: a big create now spills A and C, and destroy removes their files. */
  S_CHECK(rl_objects_create(o, &e, CAP, 1, 0, &off, err, sizeof err) == 0 && off == 0);
  S_CHECK(s_spill_file_exists(dir, &a) && s_spill_file_exists(dir, &c));
  rl_objects_destroy(&o);
  rl_objects_destroy(&o);
  S_CHECK(o == NULL && access(dir, F_OK) != 0);
  rmdir(top);
  free(base);
  return 0;
fail:
  rl_objects_destroy(&o);
  rmdir(top);
  free(base);
  return 1;
}
