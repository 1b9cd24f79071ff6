/* seal.c: AES-256-GCM sealing of bulk data with OpenSSL's EVP interface. */
#include "net/seal.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"

int rl_seal_random(void *p, size_t n) { return n <= INT_MAX && RAND_bytes(p, (int)n) == 1 ? 0 : -1; }

int rl_seal_key_new(rl_seal_key_t *k) {
  return rl_seal_random(k->key, sizeof k->key) == 0 && rl_seal_random(k->nonce, sizeof k->nonce) == 0 ? 0 : -1;
}

static void s_nonce(const rl_seal_key_t *k, uint64_t counter, uint8_t nonce[RL_SEAL_NONCE]) {
  memcpy(nonce, k->nonce, RL_SEAL_NONCE);
  for (int i = 0; i < 8; i++) nonce[RL_SEAL_NONCE - 1 - i] ^= (uint8_t)(counter >> (8 * i));
}

/* Runs GCM over in (n bytes) into out: seals (enc) or opens (tag checked against tag). */
static int s_gcm(const rl_seal_key_t *k, uint64_t counter, const void *ad, size_t adlen, const uint8_t *in, size_t n,
                 uint8_t *out, uint8_t tag[RL_SEAL_TAG], int enc) {
  if (n > INT_MAX || adlen > INT_MAX) return -1;
  uint8_t nonce[RL_SEAL_NONCE];
  s_nonce(k, counter, nonce);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int len = 0, ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, RL_SEAL_NONCE, NULL) == 1 &&
                    EVP_CipherInit_ex(c, NULL, NULL, k->key, nonce, enc) == 1 &&
                    (adlen == 0 || EVP_CipherUpdate(c, NULL, &len, ad, (int)adlen) == 1) &&
                    (n == 0 || EVP_CipherUpdate(c, out, &len, in, (int)n) == 1);
  if (ok && !enc) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, RL_SEAL_TAG, tag) == 1;
  ok = ok && EVP_CipherFinal_ex(c, out + (n ? len : 0), &len) == 1;
  if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, RL_SEAL_TAG, tag) == 1;
  EVP_CIPHER_CTX_free(c);
  return ok ? 0 : -1;
}

int rl_seal(const rl_seal_key_t *k, uint64_t counter, const void *ad, size_t adlen, const void *in, size_t n,
            void *out) {
  return s_gcm(k, counter, ad, adlen, in, n, out, (uint8_t *)out + n, 1);
}

int rl_seal_open(const rl_seal_key_t *k, uint64_t counter, const void *ad, size_t adlen, const void *in, size_t n,
                 void *out) {
  if (n < RL_SEAL_TAG) return -1;
  uint8_t tag[RL_SEAL_TAG];
  memcpy(tag, (const uint8_t *)in + n - RL_SEAL_TAG, RL_SEAL_TAG);
  return s_gcm(k, counter, ad, adlen, in, n - RL_SEAL_TAG, out, tag, 0);
}

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
