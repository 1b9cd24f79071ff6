/* kernel_cache.h: compiled kernel images kept in memory, then on disk (one file per key,
 * written with an atomic rename so parallel workers never read half a file), keyed by a
 * hash of source, name, options, compiler and target: a hit runs no compiler. The image
 * is opaque bytes, so it serves the GPU backend and the simulator alike. */
#ifndef RL_GPU_KERNEL_CACHE_H
#define RL_GPU_KERNEL_CACHE_H
#include <stddef.h>

#include "gpu/backend.h"

#define RL_KCACHE_KEY 65 /* 64 hex characters and a NUL */

typedef struct rl_kcache rl_kcache_t;

/* Where an image came from. */
typedef enum { RL_KCACHE_MEMORY = 1, RL_KCACHE_DISK, RL_KCACHE_COMPILED } rl_kcache_from_t;

/* The folder the cache uses when none is given: $RAYL_CUDA_CACHE, else
 * $XDG_CACHE_HOME/rayl/kernels, else $HOME/.cache/rayl/kernels. Returns 0, or -1 when
 * none of them is set (or the path is too long). */
int rl_kcache_default_dir(char *out, size_t n);

/* A new cache on folder dir (NULL: rl_kcache_default_dir), created on first use as a
 * private folder (mode 0700, this user's, not a symlink: the simulator's images are code
 * it loads). When the folder cannot be used the cache keeps images in memory only and
 * says why once in the log. Returns NULL only when memory runs out. */
rl_kcache_t *rl_kcache_new(const char *dir);
void rl_kcache_destroy(rl_kcache_t **p);
/* The folder (borrowed), "" if there is none. */
const char *rl_kcache_dir(const rl_kcache_t *c);

/* The key of a compile: a BLAKE2b hash of every field, each length-prefixed (so no two
 * different inputs collide by concatenation). */
void rl_kcache_key(const char *source, const char *name, const char *const *options, size_t noptions,
                   const char *compiler, const char *target, char key[RL_KCACHE_KEY]);

/* The key rl_kcache_get uses for this compile by b: the compiler is NVRTC's version for
 * the GPU backend (b->mode otherwise), the target b->arch(). Returns 0, or -1 with err
 * when b cannot compile here (b->available's reason). */
int rl_kcache_key_for(const rl_gpu_backend_t *b, const char *source, const char *name, const char *const *options,
                      size_t noptions, char key[RL_KCACHE_KEY], char *err, size_t errlen);

/* How many gets each source served, since the cache was made. */
typedef struct {
  unsigned long memory, disk, compiled;
} rl_kcache_stats_t;
rl_kcache_stats_t rl_kcache_stats(const rl_kcache_t *c);

/* The image of kernel `name` compiled by b: from memory, else from disk (kept in memory
 * then), else compiled by b->compile and stored in both (key: rl_kcache_key_for). *image is borrowed (valid
 * until the cache is destroyed). Returns 0 with *from saying where it came from; or -1
 * with err and, for a compile error, *log (the caller's, free it). A disk write that
 * fails is logged, not an error. */
int rl_kcache_get(rl_kcache_t *c, const rl_gpu_backend_t *b, const char *source, const char *name,
                  const char *const *options, size_t noptions, const char **image, size_t *image_len,
                  rl_kcache_from_t *from, char **log, char *err, size_t errlen);

#endif
