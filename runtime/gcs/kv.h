/* kv.h: the head's small key-value store: binary-safe keys and values, bounded in
 * size, for cluster-wide settings and coordination (not for task data). */
#ifndef RL_KV_H
#define RL_KV_H
#include <stdbool.h>
#include <stddef.h>

#define RL_KV_KEY_MAX 1024              /* longest key, in bytes */
#define RL_KV_VALUE_MAX ((size_t)16 << 20) /* largest value */

typedef struct rl_kv_t rl_kv_t;

/* A new empty store holding at most max_bytes of keys and values, or NULL if out of
 * memory. */
rl_kv_t *rl_kv_new(size_t max_bytes);
/* Frees the store and its entries and nulls *p; safe on NULL and twice. */
void rl_kv_destroy(rl_kv_t **p);
/* Sets key (klen bytes, 1..RL_KV_KEY_MAX) to value (vlen bytes), or deletes it if
 * value is NULL. The previous value, if any, is handed to the caller in *prev (free it
 * with free()) and *prev_len; *prev is NULL if there was none. Returns 0, or -1 with
 * a message in err (nothing changed, *prev NULL) if the key is empty or too long, the
 * value too large, the store full, or memory short. */
int rl_kv_put(rl_kv_t *kv, const char *key, size_t klen, const void *value, size_t vlen, void **prev,
              size_t *prev_len, char *err, size_t errlen);
/* The value of key (borrowed, valid until the store changes) and its length, or NULL
 * if absent. */
const void *rl_kv_get(const rl_kv_t *kv, const char *key, size_t klen, size_t *vlen);
size_t rl_kv_count(const rl_kv_t *kv);
/* Bytes of keys and values held. */
size_t rl_kv_bytes(const rl_kv_t *kv);

#endif
