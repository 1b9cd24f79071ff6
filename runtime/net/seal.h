/* seal.h: bulk data sealed with AES-256-OCB (OpenSSL, AES-NI) under a fresh key per
 * object transfer, the key agreed over a CURVE-secured channel (node/transfer.c). */
#ifndef RL_NET_SEAL_H
#define RL_NET_SEAL_H
#include <stddef.h>
#include <stdint.h>

#define RL_SEAL_KEY 32   /* bytes of an AES-256 key */
#define RL_SEAL_NONCE 12 /* bytes of an OCB nonce */
#define RL_SEAL_TAG 16   /* bytes a sealed message is longer than its plaintext */

/* A transfer's secret: the key, and the nonce base that each message's counter is
 * mixed into (one key never sees the same counter twice with different data). */
typedef struct {
  uint8_t key[RL_SEAL_KEY];
  uint8_t nonce[RL_SEAL_NONCE];
} rl_seal_key_t;

/* Fills k with fresh random bytes (OpenSSL's CSPRNG). Returns 0, or -1 when the
 * generator fails (then k must not be used). */
int rl_seal_key_new(rl_seal_key_t *k);

/* Fills p with n random bytes (OpenSSL's CSPRNG). Returns 0, or -1 on failure. */
int rl_seal_random(void *p, size_t n);

/* Seals n bytes of in into out (n + RL_SEAL_TAG bytes: the ciphertext, then the tag),
 * authenticating ad (adlen bytes, sent separately) too; the nonce is k's base with
 * counter mixed into its last 8 bytes. Callers never seal two different messages under
 * one key and counter. in and out may be the same buffer. Returns 0, or -1 on an
 * OpenSSL failure. */
int rl_seal(const rl_seal_key_t *k, uint64_t counter, const void *ad, size_t adlen, const void *in, size_t n,
            void *out);

/* Opens what rl_seal made: in is n bytes (n >= RL_SEAL_TAG), out receives the
 * n - RL_SEAL_TAG bytes of plaintext. Returns 0, or -1 when in, ad or counter differ
 * from what was sealed (out's contents are then undefined: discard them). */
int rl_seal_open(const rl_seal_key_t *k, uint64_t counter, const void *ad, size_t adlen, const void *in, size_t n,
                 void *out);

#endif
