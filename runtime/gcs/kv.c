/* kv.c: the head's key-value store: a chained hash table with a per-process random
 * hash seed (keys come from the network) and a cap on the bytes it holds. */
#include "common/selftest.h"
#include "gcs/kv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/id.h"
#include "common/xalloc.h"

typedef struct s_entry_t {
  struct s_entry_t *next;
  uint64_t hash;
  size_t klen, vlen;
  void *value; /* malloc'd, at least 1 byte so an empty value is not NULL */
  char key[];
} s_entry_t;

struct rl_kv_t {
  s_entry_t **buckets;
  size_t nbuckets; /* power of two */
  size_t count, bytes, max_bytes;
  uint64_t seed;
};

static uint64_t s_hash(const rl_kv_t *kv, const char *key, size_t klen) {
  uint64_t h = 1469598103934665603ULL ^ kv->seed; /* FNV-1a, seeded */
  for (size_t i = 0; i < klen; i++) {
    h ^= (unsigned char)key[i];
    h *= 1099511628211ULL;
  }
  h ^= h >> 33; /* finalise so the low bits (the bucket) depend on every byte */
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

rl_kv_t *rl_kv_new(size_t max_bytes) {
  rl_kv_t *kv = rl_xcalloc(1, sizeof *kv);
  kv->nbuckets = 64;
  kv->buckets = rl_xcalloc(kv->nbuckets, sizeof *kv->buckets);
  kv->max_bytes = max_bytes;
  rl_id_t r = rl_id_random();
  memcpy(&kv->seed, r.b, sizeof kv->seed);
  return kv;
}

void rl_kv_destroy(rl_kv_t **p) {
  if (!p || !*p) return;
  rl_kv_t *kv = *p;
  for (size_t i = 0; i < kv->nbuckets; i++) {
    for (s_entry_t *e = kv->buckets[i], *next; e; e = next) {
      next = e->next;
      free(e->value);
      free(e);
    }
  }
  free(kv->buckets);
  free(kv);
  *p = NULL;
}

/* The link pointing at key's entry (*link is NULL if absent). */
static s_entry_t **s_find(const rl_kv_t *kv, const char *key, size_t klen, uint64_t h) {
  s_entry_t **link = &kv->buckets[h & (kv->nbuckets - 1)];
  while (*link && !((*link)->hash == h && (*link)->klen == klen && memcmp((*link)->key, key, klen) == 0))
    link = &(*link)->next;
  return link;
}

/* Doubles the bucket array; on out of memory keeps the old one (longer chains only). */
static void s_grow(rl_kv_t *kv) {
  size_t n = kv->nbuckets * 2;
  s_entry_t **b = rl_xcalloc(n, sizeof *b);
  for (size_t i = 0; i < kv->nbuckets; i++) {
    for (s_entry_t *e = kv->buckets[i], *next; e; e = next) {
      next = e->next;
      e->next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
    }
  }
  free(kv->buckets);
  kv->buckets = b;
  kv->nbuckets = n;
}

int rl_kv_put(rl_kv_t *kv, const char *key, size_t klen, const void *value, size_t vlen, void **prev,
              size_t *prev_len, char *err, size_t errlen) {
  *prev = NULL;
  *prev_len = 0;
  if (klen == 0 || klen > RL_KV_KEY_MAX) {
    snprintf(err, errlen, klen ? "key is longer than %d bytes" : "key is empty", RL_KV_KEY_MAX);
    return -1;
  }
  if (value && vlen > RL_KV_VALUE_MAX) {
    snprintf(err, errlen, "value of %zu bytes is over the limit of %zu", vlen, RL_KV_VALUE_MAX);
    return -1;
  }
  uint64_t h = s_hash(kv, key, klen);
  s_entry_t **link = s_find(kv, key, klen, h), *e = *link;
  if (!value) { /* delete */
    if (!e) return 0;
    *link = e->next;
    *prev = e->value;
    *prev_len = e->vlen;
    kv->bytes -= e->klen + e->vlen;
    kv->count--;
    free(e);
    return 0;
  }
  size_t old = e ? e->klen + e->vlen : 0;
  if (kv->bytes - old + klen + vlen > kv->max_bytes) {
    snprintf(err, errlen, "the KV store is full (%zu of %zu bytes used)", kv->bytes, kv->max_bytes);
    return -1;
  }
  void *copy = malloc(vlen ? vlen : 1);
  if (!copy) goto oom;
  memcpy(copy, value, vlen);
  if (e) {
    *prev = e->value;
    *prev_len = e->vlen;
  } else {
    e = malloc(sizeof *e + klen);
    if (!e) {
      free(copy);
      goto oom;
    }
    e->next = NULL;
    e->hash = h;
    e->klen = klen;
    memcpy(e->key, key, klen);
    *link = e;
    kv->count++;
  }
  e->value = copy;
  e->vlen = vlen;
  kv->bytes = kv->bytes - old + klen + vlen;
  if (kv->count > kv->nbuckets) s_grow(kv);
  return 0;
oom: /* user-sized: the head goes on */
  snprintf(err, errlen, "out of memory: the head has no room for a value of %zu bytes (key of %zu bytes)", vlen, klen);
  return -1;
}

const void *rl_kv_get(const rl_kv_t *kv, const char *key, size_t klen, size_t *vlen) {
  if (klen == 0 || klen > RL_KV_KEY_MAX) return NULL; /* never stored */
  s_entry_t *e = *s_find(kv, key, klen, s_hash(kv, key, klen));
  if (!e) return NULL;
  *vlen = e->vlen;
  return e->value;
}

size_t rl_kv_count(const rl_kv_t *kv) { return kv->count; }

size_t rl_kv_bytes(const rl_kv_t *kv) { return kv->bytes; }
