/* key.h: the cluster key: one CURVE keypair that every member of a cluster holds, like
 * a shared secret. A process holds at most one; tcp sockets are secured with it. */
#ifndef RL_NET_KEY_H
#define RL_NET_KEY_H
#include <stdbool.h>
#include <stddef.h>

#define RL_NET_KEY_Z85 40 /* Z85 characters of a 32-byte CURVE key */

/* Makes a new random keypair this process's key. Returns 0, or -1 with err. */
int rl_net_key_generate(char *err, size_t errlen);

/* Makes the key in the file at path this process's key. The file holds the secret key
 * as one line of 40 Z85 characters and must be private: a regular file no one else can
 * read or write (mode 0600 or narrower). Returns 0, or -1 with err saying what is wrong
 * and how to fix it. */
int rl_net_key_load(const char *path, char *err, size_t errlen);

/* Makes secret (40 Z85 characters) this process's key; origin names where it came
 * from for later messages (e.g. "RAYL_CLUSTER_KEY"). Returns 0, or -1 with err. */
int rl_net_key_set(const char *secret, const char *origin, char *err, size_t errlen);

/* Writes this process's key to path atomically (a temporary file renamed into place),
 * mode 0600. Returns 0, or -1 with err (also when no key is held). */
int rl_net_key_save(const char *path, char *err, size_t errlen);

/* True once a key is held. */
bool rl_net_key_held(void);

/* The held key's halves as Z85 text (40 characters), or NULL when none is held. */
const char *rl_net_key_public(void);
const char *rl_net_key_secret(void);

/* Where the held key came from ("FILE" for a file, or the origin given to set), or
 * NULL. Borrowed. */
const char *rl_net_key_origin(void);

/* Drops the held key (later sockets are plain). */
void rl_net_key_forget(void);

#endif
