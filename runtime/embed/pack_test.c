/* pack_test.c: pack.c's selftest, built into rl_selftest only (not librayl). */
#include "embed/pack.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_embed_pack_selftest(void) {
  rayl_buf b;
  rayl_buf_init(&b);
  rl_embed_arg_t *a = NULL;
  size_t n;
  char err[200];
  /* Every integer width round-trips, and a reader type error moves nothing. */
  static const int64_t ints[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL, INT64_MAX,
                                 -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
                                 INT64_MIN};
  size_t nints = sizeof ints / sizeof *ints;
  RL_CHECK_GOTO(rayl_pack_array(&b, (uint32_t)nints + 4) == RAYL_OK);
  for (size_t i = 0; i < nints; i++) RL_CHECK_GOTO(rayl_pack_int(&b, ints[i]) == RAYL_OK);
  RL_CHECK_GOTO(rayl_pack_double(&b, 2.5) == RAYL_OK);
  RL_CHECK_GOTO(rayl_pack_double(&b, 3.0) == RAYL_OK);
  char big[70000];
  memset(big, 'x', sizeof big);
  RL_CHECK_GOTO(rayl_pack_lstr(&b, big, sizeof big) == RAYL_OK);
  RL_CHECK_GOTO(rayl_pack_map(&b, 1) == RAYL_OK && rayl_pack_str(&b, "k") == 0 && rayl_pack_nil(&b) == 0);
  rayl_reader r;
  rayl_reader_init(&r, b.data, b.len);
  uint32_t count;
  RL_CHECK_GOTO(rayl_read_array(&r, &count) == RAYL_OK && count == nints + 4);
  for (size_t i = 0; i < nints; i++) {
    int64_t v;
    const char *s;
    size_t sn;
    RL_CHECK_GOTO(rayl_read_str(&r, &s, &sn) == RAYL_E_TYPE);
    RL_CHECK_GOTO(rayl_read_int(&r, &v) == RAYL_OK && v == ints[i]);
  }
  int64_t iv;
  double dv;
  RL_CHECK_GOTO(rayl_read_int(&r, &iv) == RAYL_E_TYPE); /* 2.5 is not an integer */
  RL_CHECK_GOTO(rayl_read_double(&r, &dv) == RAYL_OK && dv == 2.5);
  RL_CHECK_GOTO(rayl_read_int(&r, &iv) == RAYL_OK && iv == 3); /* an integral float is */
  RL_CHECK_GOTO(rayl_read_type(&r) == RAYL_T_STR);
  const char *s;
  size_t sn;
  RL_CHECK_GOTO(rayl_read_str(&r, &s, &sn) == RAYL_OK && sn == sizeof big && s[0] == 'x');
  RL_CHECK_GOTO(rayl_read_skip(&r) == RAYL_OK && rayl_read_type(&r) == RAYL_T_END);
  RL_CHECK_GOTO(rayl_read_nil(&r) == RAYL_E_ARG);
  /* Truncated input is malformed, never read past its end. */
  rayl_reader_init(&r, b.data, 3);
  RL_CHECK_GOTO(rayl_read_skip(&r) == RAYL_E_ARG);
  rayl_reader_init(&r, "\xdb\xff\xff\xff\xff", 5);
  RL_CHECK_GOTO(rayl_read_type(&r) == RAYL_T_BAD && rayl_read_str(&r, &s, &sn) == RAYL_E_ARG);

  /* Argument arrays: plain values and top-level handles split; anything else is refused. */
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 3);
  rayl_pack_str(&b, "a");
  rayl_pack_handle(&b, 0x0001000001000002ull);
  rayl_pack_map(&b, 1);
  rayl_pack_int(&b, 1);
  rayl_pack_array(&b, 0);
  RL_CHECK_GOTO(rl_embed_split_args(b.data, b.len, &a, &n, err, sizeof err) == 0 && n == 3);
  RL_CHECK_GOTO(!a[0].is_handle && a[0].len == 2 && a[1].is_handle && a[1].handle == 0x0001000001000002ull);
  RL_CHECK_GOTO(!a[2].is_handle && a[2].len == 3);
  free(a);
  a = NULL;
  RL_CHECK_GOTO(rl_embed_split_args(b.data, b.len - 1, &a, &n, err, sizeof err) == -1 && strstr(err, "argument 3"));
  RL_CHECK_GOTO(rl_embed_split_args(NULL, 0, &a, &n, err, sizeof err) == 0 && n == 0 && !a);
  RL_CHECK_GOTO(rl_embed_split_args("\x01", 1, &a, &n, err, sizeof err) == -1 && strstr(err, "not an integer"));
  RL_CHECK_GOTO(rl_embed_split_args("\x91\x01\x02", 3, &a, &n, err, sizeof err) == -1 && strstr(err, "bytes after"));
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_array(&b, 1);
  rayl_pack_handle(&b, 5);
  RL_CHECK_GOTO(rl_embed_split_args(b.data, b.len, &a, &n, err, sizeof err) == -1 && strstr(err, "whole argument"));
  RL_CHECK_GOTO(rl_embed_split_args("\x91\xd4\x03\x00", 4, &a, &n, err, sizeof err) == -1 && strstr(err, "ext"));
  /* Nesting: RL_EMBED_MAX_DEPTH levels inside the argument array pass, one more fails. */
  for (int depth = RL_EMBED_MAX_DEPTH; depth <= RL_EMBED_MAX_DEPTH + 1; depth++) {
    rayl_buf_reset(&b);
    for (int i = 0; i < depth; i++) rayl_pack_array(&b, 1);
    rayl_pack_nil(&b);
    int rc = rl_embed_split_args(b.data, b.len, &a, &n, err, sizeof err);
    RL_CHECK_GOTO(rc == (depth == RL_EMBED_MAX_DEPTH ? 0 : -1));
    free(a);
    a = NULL;
  }
  rayl_buf_free(&b);
  return 0;
fail:
  free(a);
  rayl_buf_free(&b);
  return 1;
}
