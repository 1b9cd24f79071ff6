/* idmap_test.c: idmap.c's selftest, built into rl_selftest only (not librayl). */
#include "common/idmap.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_idmap_selftest(void) {
  rl_idmap_t *m = rl_idmap_new();
  enum { N = 5000 };
  static rl_id_t ids[N];
  static int vals[N];
  for (int i = 0; i < N; i++) {
    ids[i] = rl_id_random();
    vals[i] = i;
    rl_idmap_put(m, &ids[i], &vals[i]);
  }
  assert(rl_idmap_size(m) == N);
  for (int i = 0; i < N; i++) assert(rl_idmap_get(m, &ids[i]) == &vals[i]);
  for (int i = 0; i < N; i += 2) assert(rl_idmap_remove(m, &ids[i]) == &vals[i]);
  assert(rl_idmap_size(m) == N / 2);
  for (int i = 0; i < N; i++) assert(rl_idmap_get(m, &ids[i]) == (i % 2 ? &vals[i] : NULL));
  size_t cur = 0, seen = 0;
  while (rl_idmap_next(m, &cur, NULL)) seen++;
  assert(seen == N / 2);
  rl_idmap_destroy(&m);
  rl_idmap_destroy(&m);
  assert(m == NULL);
  return 0;
}
