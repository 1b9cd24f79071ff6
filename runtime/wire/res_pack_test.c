/* res_pack_test.c: res_pack.c's selftest, built into rl_selftest only (not librayl). */
#include "wire/res_pack.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)

/* Packs m, then unpacks the bytes into *out. Returns rl_res_unpack's result. */
static int s_roundtrip(const rl_resources_t *m, rl_resources_t *out) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  rl_res_pack(&pk, m);
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  int rc = -1;
  if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS) rc = rl_res_unpack(&up.data, out);
  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

/* Unpacks raw msgpack bytes into *out. Returns rl_res_unpack's result, -2 if the bytes
 * are not msgpack at all. */
static int s_unpack_bytes(const char *p, size_t n, rl_resources_t *out) {
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  int rc = -2;
  if (msgpack_unpack_next(&up, p, n, NULL) == MSGPACK_UNPACK_SUCCESS) rc = rl_res_unpack(&up.data, out);
  msgpack_unpacked_destroy(&up);
  return rc;
}

int rl_res_pack_selftest(void) {
  /* Pack / unpack round trip, exact. */
  rl_resources_t a, b, c;
  char buf[64];
  rl_res_clear(&a);
  S_CHECK(rl_res_set(&a, "CPU", 2, NULL, 0) == 0 && rl_res_set(&a, "GPU", 0.5, NULL, 0) == 0);
  S_CHECK(rl_res_set(&a, "sim", 4, NULL, 0) == 0 && rl_res_set(&a, "x", 1.0001, NULL, 0) == 0);
  S_CHECK(rl_res_set(&a, "big", 1e12, NULL, 0) == 0);
  S_CHECK(s_roundtrip(&a, &b) == 0 && rl_res_equal(&a, &b));
  rl_res_clear(&a);
  S_CHECK(s_roundtrip(&a, &b) == 0 && b.n == 0);
  for (int i = 0; i < RL_RES_MAX; i++) {
    snprintf(buf, sizeof buf, "res_%d", i);
    S_CHECK(rl_res_set(&a, buf, 0.0001 * (i + 1) + i, NULL, 0) == 0);
  }
  S_CHECK(s_roundtrip(&a, &b) == 0 && rl_res_equal(&a, &b));

  /* Unpack accepts integer values and zero (dropped) and rejects malformed maps,
   * leaving the output untouched. */
  c = b;
  S_CHECK(s_unpack_bytes("\x82\xa3" "CPU\x04\xa3" "GPU\x00", 11, &a) == 0);
  S_CHECK(a.n == 1 && rl_res_get(&a, "CPU") == 4);
  S_CHECK(s_unpack_bytes("\x81\xa3" "CPU\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00", 14, &b) == 0 &&
          rl_res_get(&b, "CPU") == 0.5);
  b = c;
  const struct {
    const char *p;
    size_t n;
  } bad[] = {
      {"\x93\x01\x02\x03", 4},                                /* an array */
      {"\xc0", 1},                                            /* nil */
      {"\x05", 1},                                            /* an integer */
      {"\x81\x01\x02", 3},                                    /* integer key */
      {"\x81\xc4\x03" "CPU\x01", 7},                          /* bin key */
      {"\x81\xa3" "CPU\xff", 6},                              /* negative value */
      {"\x81\xa3" "CPU\xa1x", 7},                             /* string value */
      {"\x81\xa3" "CPU\xc0", 6},                              /* nil value */
      {"\x81\xa3" "CPU\x91\x01", 7},                          /* array value */
      {"\x81\xa3" "CPU\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 14}, /* NaN */
      {"\x81\xa3" "CPU\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", 14}, /* +inf */
      {"\x81\xa3" "CPU\xcb\xbf\xf0\x00\x00\x00\x00\x00\x00", 14}, /* -1.0 */
      {"\x81\xa3" "CPU\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 14}, /* 2^64-1: over the limit */
      {"\x81\xa0\x01", 3},                                    /* empty name */
      {"\x81\xa3" "C U\x01", 6},                              /* space in name */
      {"\x81\xa3" "C\x00U\x01", 6},                           /* NUL in name */
      {"\x82\xa3" "CPU\x01\xa3" "CPU\x02", 11},               /* duplicate key */
      {"\x82\xa3" "CPU\x01\xa3" "CPU\x00", 11},               /* duplicate key, second zero */
      {"\x81\xd9\x20" "abcdefghijabcdefghijabcdefghijab\x01", 36}, /* 32-char name */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = s_unpack_bytes(bad[i].p, bad[i].n, &b);
    if (rc != -1) fprintf(stderr, "resources selftest: bad map %zu gave %d\n", i, rc);
    S_CHECK(rc == -1);
    S_CHECK(memcmp(&b, &c, sizeof b) == 0);
  }
  /* 17 entries: more names than a map holds. */
  {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, RL_RES_MAX + 1);
    for (int i = 0; i <= RL_RES_MAX; i++) {
      snprintf(buf, sizeof buf, "k%d", i);
      msgpack_pack_str(&pk, strlen(buf));
      msgpack_pack_str_body(&pk, buf, strlen(buf));
      msgpack_pack_double(&pk, 1);
    }
    int rc = s_unpack_bytes(sb.data, sb.size, &b);
    msgpack_sbuffer_destroy(&sb);
    S_CHECK(rc == -1);
  }
  S_CHECK(rl_res_unpack(NULL, &b) == -1);
  return 0;
}
