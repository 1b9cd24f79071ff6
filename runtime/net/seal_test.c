/* seal_test.c: seal.c's selftest, built into rl_selftest only (not librayl). */
#include "net/seal.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

int rl_net_seal_selftest(void) {
  int rc = 1;
  size_t n = (1 << 20) + 3;
  uint8_t *plain = malloc(n), *sealed = malloc(n + RL_SEAL_TAG), *back = malloc(n);
  rl_seal_key_t k, other;
  const char ad[] = "object 7, chunk 3";
  RL_CHECK_GOTO(plain && sealed && back);
  for (size_t i = 0; i < n; i++) plain[i] = (uint8_t)(i * 131 + 7);
  RL_CHECK_GOTO(rl_seal_key_new(&k) == 0 && rl_seal_key_new(&other) == 0);
  RL_CHECK_GOTO(memcmp(k.key, other.key, RL_SEAL_KEY) != 0); /* fresh each time */
  RL_CHECK_GOTO(rl_seal(&k, 3, ad, sizeof ad, plain, n, sealed) == 0);
  RL_CHECK_GOTO(memcmp(sealed, plain, 64) != 0); /* not in clear */
  RL_CHECK_GOTO(rl_seal_open(&k, 3, ad, sizeof ad, sealed, n + RL_SEAL_TAG, back) == 0);
  RL_CHECK_GOTO(memcmp(back, plain, n) == 0);
  /* Anything changed fails: a bit of the data, of the tag, the counter, the ad, the key. */
  sealed[n / 2] ^= 1;
  RL_CHECK_GOTO(rl_seal_open(&k, 3, ad, sizeof ad, sealed, n + RL_SEAL_TAG, back) != 0);
  sealed[n / 2] ^= 1;
  sealed[n + 5] ^= 0x80;
  RL_CHECK_GOTO(rl_seal_open(&k, 3, ad, sizeof ad, sealed, n + RL_SEAL_TAG, back) != 0);
  sealed[n + 5] ^= 0x80;
  RL_CHECK_GOTO(rl_seal_open(&k, 4, ad, sizeof ad, sealed, n + RL_SEAL_TAG, back) != 0);
  RL_CHECK_GOTO(rl_seal_open(&k, 3, ad, sizeof ad - 2, sealed, n + RL_SEAL_TAG, back) != 0);
  RL_CHECK_GOTO(rl_seal_open(&other, 3, ad, sizeof ad, sealed, n + RL_SEAL_TAG, back) != 0);
  RL_CHECK_GOTO(rl_seal_open(&k, 3, ad, sizeof ad, sealed, RL_SEAL_TAG - 1, back) != 0);
  /* In place, and empty. */
  memcpy(back, plain, n);
  RL_CHECK_GOTO(rl_seal(&k, 9, NULL, 0, back, n, sealed) == 0 && rl_seal_open(&k, 9, NULL, 0, sealed, n + 16, sealed) == 0);
  RL_CHECK_GOTO(memcmp(sealed, plain, n) == 0);
  RL_CHECK_GOTO(rl_seal(&k, 10, ad, sizeof ad, plain, 0, sealed) == 0);
  RL_CHECK_GOTO(rl_seal_open(&k, 10, ad, sizeof ad, sealed, RL_SEAL_TAG, back) == 0);
  rc = 0;
fail:
  free(plain);
  free(sealed);
  free(back);
  return rc;
}
