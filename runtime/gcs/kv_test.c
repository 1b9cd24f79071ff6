/* kv_test.c: kv.c's selftest, built into rl_selftest only (not librayl). */
#include "gcs/kv.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

int rl_kv_selftest(void) {
  rl_kv_t *kv = rl_kv_new(1 << 20);
  void *prev = NULL;
  size_t plen, vlen;
  char err[128], key[32], val[32];
  S_CHECK(kv);
  /* Put, get, replace (returns the previous value), delete. */
  S_CHECK(rl_kv_put(kv, "a", 1, "one", 3, &prev, &plen, err, sizeof err) == 0 && prev == NULL);
  const char *v = rl_kv_get(kv, "a", 1, &vlen);
  S_CHECK(v && vlen == 3 && !memcmp(v, "one", 3));
  S_CHECK(rl_kv_get(kv, "b", 1, &vlen) == NULL);
  S_CHECK(rl_kv_put(kv, "a", 1, "two!", 4, &prev, &plen, err, sizeof err) == 0);
  S_CHECK(prev && plen == 3 && !memcmp(prev, "one", 3));
  free(prev);
  prev = NULL;
  S_CHECK(rl_kv_count(kv) == 1 && rl_kv_bytes(kv) == 5);
  S_CHECK(rl_kv_put(kv, "a", 1, NULL, 0, &prev, &plen, err, sizeof err) == 0);
  S_CHECK(prev && plen == 4 && !memcmp(prev, "two!", 4));
  free(prev);
  prev = NULL;
  S_CHECK(rl_kv_get(kv, "a", 1, &vlen) == NULL && rl_kv_count(kv) == 0 && rl_kv_bytes(kv) == 0);
  S_CHECK(rl_kv_put(kv, "a", 1, NULL, 0, &prev, &plen, err, sizeof err) == 0 && prev == NULL);
  /* Binary keys and values: NULs inside, and an empty value that still exists. */
  S_CHECK(rl_kv_put(kv, "k\0x", 3, "\0\1", 2, &prev, &plen, err, sizeof err) == 0);
  S_CHECK(rl_kv_get(kv, "k\0y", 3, &vlen) == NULL && rl_kv_get(kv, "k", 1, &vlen) == NULL);
  v = rl_kv_get(kv, "k\0x", 3, &vlen);
  S_CHECK(v && vlen == 2 && v[0] == 0 && v[1] == 1);
  S_CHECK(rl_kv_put(kv, "empty", 5, "", 0, &prev, &plen, err, sizeof err) == 0);
  S_CHECK(rl_kv_get(kv, "empty", 5, &vlen) != NULL && vlen == 0);
  S_CHECK(rl_kv_put(kv, "empty", 5, NULL, 0, &prev, &plen, err, sizeof err) == 0 && prev && plen == 0);
  free(prev);
  prev = NULL;
  /* Bad keys and values. */
  static char big[RL_KV_KEY_MAX + 1];
  S_CHECK(rl_kv_put(kv, "", 0, "x", 1, &prev, &plen, err, sizeof err) == -1 && strstr(err, "empty"));
  S_CHECK(rl_kv_put(kv, big, sizeof big, "x", 1, &prev, &plen, err, sizeof err) == -1 && strstr(err, "longer"));
  S_CHECK(rl_kv_put(kv, "v", 1, big, RL_KV_VALUE_MAX + 1, &prev, &plen, err, sizeof err) == -1 &&
          strstr(err, "limit"));
  /* Many keys: the table grows and every key stays reachable. */
  for (int i = 0; i < 5000; i++) {
    int kn = snprintf(key, sizeof key, "key:%d", i), vn = snprintf(val, sizeof val, "v%d", i * 7);
    S_CHECK(rl_kv_put(kv, key, (size_t)kn, val, (size_t)vn, &prev, &plen, err, sizeof err) == 0 && !prev);
  }
  S_CHECK(rl_kv_count(kv) == 5001);
  for (int i = 0; i < 5000; i++) {
    int kn = snprintf(key, sizeof key, "key:%d", i), vn = snprintf(val, sizeof val, "v%d", i * 7);
    v = rl_kv_get(kv, key, (size_t)kn, &vlen);
    S_CHECK(v && vlen == (size_t)vn && !memcmp(v, val, vlen));
  }
  rl_kv_destroy(&kv);
  /* The byte cap: a put that would pass it fails and changes nothing. */
  kv = rl_kv_new(100);
  S_CHECK(kv);
  S_CHECK(rl_kv_put(kv, "k1", 2, big, 60, &prev, &plen, err, sizeof err) == 0);
  S_CHECK(rl_kv_put(kv, "k2", 2, big, 60, &prev, &plen, err, sizeof err) == -1 && strstr(err, "full"));
  S_CHECK(rl_kv_get(kv, "k2", 2, &vlen) == NULL && rl_kv_bytes(kv) == 62);
  S_CHECK(rl_kv_put(kv, "k1", 2, big, 98, &prev, &plen, err, sizeof err) == 0); /* replacing counts the old */
  free(prev);
  prev = NULL;
  S_CHECK(rl_kv_bytes(kv) == 100);
  rl_kv_destroy(&kv);
  rl_kv_destroy(&kv);
  S_CHECK(kv == NULL);
  return 0;
fail:
  free(prev);
  rl_kv_destroy(&kv);
  return 1;
}
