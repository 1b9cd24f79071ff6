/* kernel_cache.c: compiled kernel images in memory, then on disk (<dir>/<key>.<mode>: a
 * header with the image's length and hash, then the image), written with rl_file_replace
 * (O_EXCL temporary, fsync, rename), checked when read: a damaged file is a miss. */
#include "gpu/kernel_cache.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/log.h"
#include "common/selftest.h"
#include "common/xalloc.h"
#include "gpu/nvrtc.h"

#define S_MAGIC "RLKCACH1"
#define S_HASH 32
#define S_HDR (8 + 8 + S_HASH)
#define S_MAX_IMAGE ((size_t)1 << 30) /* a bigger file is not one of ours */

typedef struct {
  char key[RL_KCACHE_KEY];
  char *image;
  size_t len;
} s_entry_t;

struct rl_kcache {
  char dir[PATH_MAX];
  int dir_state; /* 0 not made yet, 1 usable, -1 unusable (memory only) */
  s_entry_t *e;
  size_t n, cap;
  rl_kcache_stats_t stats;
};

int rl_kcache_default_dir(char *out, size_t n) {
  const char *env = getenv("RAYL_CUDA_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  int len;
  if (env && *env) len = snprintf(out, n, "%s", env);
  else if (xdg && *xdg) len = snprintf(out, n, "%s/rayl/kernels", xdg);
  else if (home && *home) len = snprintf(out, n, "%s/.cache/rayl/kernels", home);
  else return -1;
  return len < 0 || (size_t)len >= n ? -1 : 0;
}

rl_kcache_t *rl_kcache_new(const char *dir) {
  rl_kcache_t *c = rl_xcalloc(1, sizeof *c);
  if (dir) snprintf(c->dir, sizeof c->dir, "%s", dir);
  else if (rl_kcache_default_dir(c->dir, sizeof c->dir) != 0) c->dir[0] = 0;
  if (!c->dir[0]) c->dir_state = -1;
  return c;
}

void rl_kcache_destroy(rl_kcache_t **p) {
  if (!p || !*p) return;
  rl_kcache_t *c = *p;
  for (size_t i = 0; i < c->n; i++) free(c->e[i].image);
  free(c->e);
  free(c);
  *p = NULL;
}

const char *rl_kcache_dir(const rl_kcache_t *c) { return c->dir_state >= 0 ? c->dir : ""; }

/* ---- keys ---- */

static void s_field(crypto_generichash_state *h, const char *s) {
  uint64_t n = s ? strlen(s) : UINT64_MAX; /* NULL and "" differ */
  crypto_generichash_update(h, (const unsigned char *)&n, sizeof n);
  if (s) crypto_generichash_update(h, (const unsigned char *)s, (unsigned long long)strlen(s));
}

void rl_kcache_key(const char *source, const char *name, const char *const *options, size_t noptions,
                   const char *compiler, const char *target, char key[RL_KCACHE_KEY]) {
  unsigned char out[32];
  crypto_generichash_state h;
  uint64_t no = noptions;
  crypto_generichash_init(&h, NULL, 0, sizeof out);
  s_field(&h, "rayl kernel 1");
  s_field(&h, source);
  s_field(&h, name);
  crypto_generichash_update(&h, (const unsigned char *)&no, sizeof no);
  for (size_t i = 0; i < noptions; i++) s_field(&h, options[i]);
  s_field(&h, compiler);
  s_field(&h, target);
  crypto_generichash_final(&h, out, sizeof out);
  sodium_bin2hex(key, RL_KCACHE_KEY, out, sizeof out);
}

/* ---- memory ---- */

static s_entry_t *s_find(rl_kcache_t *c, const char *key) {
  for (size_t i = 0; i < c->n; i++)
    if (memcmp(c->e[i].key, key, RL_KCACHE_KEY) == 0) return &c->e[i];
  return NULL;
}

/* Keeps image (taking it) under key; NULL if memory runs out (image freed). */
static s_entry_t *s_keep(rl_kcache_t *c, const char *key, char *image, size_t len) {
  if (c->n == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 16;
    s_entry_t *ne = realloc(c->e, ncap * sizeof *ne);
    if (!ne) {
      free(image);
      return NULL;
    }
    c->e = ne;
    c->cap = ncap;
  }
  s_entry_t *e = &c->e[c->n++];
  memcpy(e->key, key, RL_KCACHE_KEY);
  e->image = image;
  e->len = len;
  return e;
}

/* ---- disk ---- */

/* Makes the folder once; on failure the cache stays in memory and says why once. */
static bool s_dir_ok(rl_kcache_t *c) {
  if (c->dir_state == 0) {
    char err[PATH_MAX + 200];
    if (rl_dir_private(c->dir, err, sizeof err) == 0) {
      c->dir_state = 1;
    } else {
      c->dir_state = -1;
      rl_log(RL_LOG_WARN, "rayl.cuda: compiled kernels are kept in memory only: %s (set RAYL_CUDA_CACHE to a folder of yours)",
             err);
    }
  }
  return c->dir_state == 1;
}

static int s_path(const rl_kcache_t *c, const char *key, const char *mode, char *out, size_t n) {
  int len = snprintf(out, n, "%s/%s.%s", c->dir, key, mode);
  return len < 0 || (size_t)len >= n ? -1 : 0;
}

static unsigned s_damaged; /* files read that did not check out (the selftest's witness) */

/* Reads and checks the file at path: the image (malloc) or NULL (absent or damaged). */
static char *s_read(const char *path, size_t *len) {
  FILE *f = rl_file_open_read(path);
  char *data = NULL, *image = NULL;
  struct stat st;
  if (!f) return NULL;
  if (fstat(fileno(f), &st) != 0 || st.st_size < S_HDR || (size_t)st.st_size > S_MAX_IMAGE + S_HDR) goto done;
  size_t n = (size_t)st.st_size;
  if (!(data = malloc(n)) || fread(data, 1, n, f) != n) goto done;
  uint64_t ilen;
  s_damaged++; /* until it checks out */
  memcpy(&ilen, data + 8, 8);
  unsigned char h[S_HASH];
  if (memcmp(data, S_MAGIC, 8) != 0 || ilen != n - S_HDR) goto done;
  crypto_generichash(h, sizeof h, (unsigned char *)data + S_HDR, ilen, NULL, 0);
  if (memcmp(h, data + 16, S_HASH) != 0) goto done;
  if (!(image = malloc(ilen ? ilen : 1))) goto done;
  memcpy(image, data + S_HDR, ilen);
  *len = ilen;
  s_damaged--;
done:
  if (!image && data) rl_log(RL_LOG_WARN, "rayl.cuda: ignoring the damaged kernel cache file %s", path);
  free(data);
  fclose(f);
  return image;
}

static void s_write(const char *path, const char *image, size_t len) {
  char *data = malloc(S_HDR + len), err[PATH_MAX + 200];
  if (!data) return;
  uint64_t ilen = len;
  memcpy(data, S_MAGIC, 8);
  memcpy(data + 8, &ilen, 8);
  crypto_generichash((unsigned char *)data + 16, S_HASH, (const unsigned char *)image, len, NULL, 0);
  memcpy(data + S_HDR, image, len);
  if (rl_file_replace(path, data, S_HDR + len, err, sizeof err) != 0)
    rl_log(RL_LOG_WARN, "rayl.cuda: cannot keep a compiled kernel on disk: %s", err);
  free(data);
}

int rl_kcache_key_for(const rl_gpu_backend_t *b, const char *source, const char *name, const char *const *options,
                      size_t noptions, char key[RL_KCACHE_KEY], char *err, size_t errlen) {
  const char *target = b->arch();
  const char *compiler = strcmp(b->mode, "gpu") == 0 ? rl_nvrtc_version() : b->mode;
  if (!target || !compiler) {
    if (b->available(err, errlen)) snprintf(err, errlen, "the %s backend names no target", b->mode);
    return -1;
  }
  rl_kcache_key(source, name, options, noptions, compiler, target, key);
  return 0;
}

rl_kcache_stats_t rl_kcache_stats(const rl_kcache_t *c) { return c->stats; }

int rl_kcache_get(rl_kcache_t *c, const rl_gpu_backend_t *b, const char *source, const char *name,
                  const char *const *options, size_t noptions, const char **image, size_t *image_len,
                  rl_kcache_from_t *from, char **log, char *err, size_t errlen) {
  char key[RL_KCACHE_KEY], path[PATH_MAX];
  *log = NULL;
  if (rl_kcache_key_for(b, source, name, options, noptions, key, err, errlen) != 0) return -1;
  s_entry_t *e = s_find(c, key);
  rl_kcache_from_t got = RL_KCACHE_MEMORY;
  bool disk = !e && s_dir_ok(c) && s_path(c, key, b->mode, path, sizeof path) == 0;
  if (disk) {
    size_t len;
    char *img = s_read(path, &len);
    if (img && !(e = s_keep(c, key, img, len))) goto oom;
    got = RL_KCACHE_DISK;
  }
  if (!e) {
    char *img;
    size_t len;
    if (b->compile(source, name, options, noptions, &img, &len, log, err, errlen) != 0) return -1;
    if (disk) s_write(path, img, len);
    if (!(e = s_keep(c, key, img, len))) goto oom;
    got = RL_KCACHE_COMPILED;
  }
  *image = e->image;
  *image_len = e->len;
  *from = got;
  if (got == RL_KCACHE_MEMORY) c->stats.memory++;
  else if (got == RL_KCACHE_DISK) c->stats.disk++;
  else c->stats.compiled++;
  return 0;
oom:
  snprintf(err, errlen, "out of memory keeping a compiled kernel");
  return -1;
}
