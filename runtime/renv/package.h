/* package.h: a working directory as one content-addressed blob (runtime_env
 * working_dir): packed by the client, kept in the head's KV store, unpacked once per
 * node into the session folder. */
#ifndef RL_PACKAGE_H
#define RL_PACKAGE_H
#include <stddef.h>

/* Largest packed working dir: one value of the head's KV store (gcs/kv.h) less room
 * for the message around it. */
#define RL_PACKAGE_MAX (((size_t)16 << 20) - 4096)
#define RL_PACKAGE_HASH_HEX 33 /* 32 hex digits and a NUL */
#define RL_PACKAGE_KEY_PREFIX "rayl_pkg_"

typedef struct {
  char *data;   /* the packed bytes (free with free()) */
  size_t len;
  char hash[RL_PACKAGE_HASH_HEX]; /* BLAKE2b-128 of data, hex */
  size_t files; /* regular files packed */
} rl_package_t;

/* Packs every file and directory under dir (sorted, so the same tree packs to the same
 * bytes; `.git` folders skipped; symbolic links followed, except to directories) into
 * *out. Returns 0, or -1 with a message in err naming the problem: dir missing or not a
 * directory, a file unreadable, or more than max_bytes in total. */
int rl_package_pack(const char *dir, size_t max_bytes, rl_package_t *out, char *err, size_t errlen);

/* The hash of a packed blob (hex, as rl_package_t.hash). */
void rl_package_hash(const void *data, size_t len, char out[RL_PACKAGE_HASH_HEX]);

/* Unpacks a blob into the directory dest, unless dest exists already (then nothing is
 * read). Safe when several processes unpack the same blob at once: each writes a
 * private folder and renames it into place; the first rename wins. The blob comes from
 * the network: paths that would leave dest, bad modes and malformed input are refused.
 * Returns 0, or -1 with a message in err (nothing is left behind). */
int rl_package_unpack(const void *data, size_t len, const char *dest, char *err, size_t errlen);

/* Removes path and everything under it. Returns 0, or -1 (errno set). */
int rl_package_remove_tree(const char *path);

#endif
