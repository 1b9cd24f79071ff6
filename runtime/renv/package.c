/* package.c: packing a working directory into one blob (magic, then a msgpack array of
 * [path, mode, data] entries, data nil for a folder), its BLAKE2b hash, and unpacking
 * it safely into a node's session folder. */
#include "common/selftest.h"
#include "renv/package.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/id.h"
#include "common/xalloc.h"
#include "wire/msg.h"

static const char s_magic[6] = {'R', 'L', 'P', 'K', 'G', '1'};

#define S_MAX_ENTRIES 100000 /* files and folders in one package */

typedef struct {
  char *path; /* relative to the packed folder */
  mode_t mode;
  bool dir;
  size_t size;
} s_entry_t;

typedef struct {
  s_entry_t *v;
  size_t n, cap;
  size_t bytes; /* file contents so far */
} s_list_t;

static void s_list_free(s_list_t *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i].path);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static void s_push(s_list_t *l, const char *path, mode_t mode, bool dir, size_t size) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    l->v = rl_xrealloc(l->v, cap * sizeof *l->v);
    l->cap = cap;
  }
  l->v[l->n++] = (s_entry_t){rl_xstrdup(path), mode & 0777, dir, size};
}

static int s_by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* A size in words: "3.2 MiB". */
static void s_size(size_t n, char *out, size_t len) {
  if (n >= (1u << 20)) snprintf(out, len, "%.1f MiB", (double)n / (1 << 20));
  else snprintf(out, len, "%.1f KiB", (double)n / 1024);
}

/* Lists root/rel (a folder) into l, depth first, names sorted. */
static int s_walk(const char *root, const char *rel, size_t max, s_list_t *l, char *err, size_t errlen) {
  char full[PATH_MAX];
  snprintf(full, sizeof full, "%s%s%s", root, *rel ? "/" : "", rel);
  struct dirent **names;
  int n = scandir(full, &names, NULL, s_by_name);
  if (n < 0) {
    snprintf(err, errlen, "cannot read the folder %s: %s", full, strerror(errno));
    return -1;
  }
  int rc = 0;
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    if (rc || !strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, ".git")) continue;
    char child[PATH_MAX], path[PATH_MAX];
    if (snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", name) >= (int)sizeof child ||
        snprintf(path, sizeof path, "%s/%s", root, child) >= (int)sizeof path) {
      snprintf(err, errlen, "the path %s/%s is too long", full, name);
      rc = -1;
      continue;
    }
    struct stat st, lst;
    if (stat(path, &st) != 0) {
      snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
      rc = -1;
      continue;
    }
    bool link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
    if (l->n >= S_MAX_ENTRIES) {
      snprintf(err, errlen, "working_dir %s holds more than %d files and folders", root, S_MAX_ENTRIES);
      rc = -1;
    } else if (S_ISDIR(st.st_mode)) {
      if (link) continue; /* a link to a folder could loop */
      s_push(l, child, st.st_mode, true, 0);
      if (s_walk(root, child, max, l, err, errlen) != 0) rc = -1;
    } else if (S_ISREG(st.st_mode)) {
      l->bytes += (size_t)st.st_size;
      if (l->bytes > max) {
        char have[32], limit[32];
        s_size(l->bytes, have, sizeof have);
        s_size(max, limit, sizeof limit);
        snprintf(err, errlen,
                 "working_dir %s is too large: more than %s of files (the limit is %s, as rayl keeps working "
                 "dirs in the head's store). Leave large data out of it and read it from shared storage or "
                 "pass it with rayl.put",
                 root, have, limit);
        rc = -1;
      } else {
        s_push(l, child, st.st_mode, false, (size_t)st.st_size);
      }
    } /* sockets, fifos and devices are left out */
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

/* Appends the file's contents (size bytes, as listed) to the packer. */
static int s_pack_file(msgpack_packer *pk, const char *path, size_t size, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  char *buf = size ? malloc(size) : NULL;
  size_t got = 0;
  if (fd >= 0 && (buf || !size)) {
    while (got < size) {
      ssize_t n = read(fd, buf + got, size - got);
      if (n <= 0) break;
      got += (size_t)n;
    }
  }
  int rc = 0;
  if (fd < 0 || got != size) {
    snprintf(err, errlen, "cannot read %s: %s", path, fd < 0 ? strerror(errno) : "it changed while being packed");
    rc = -1;
  } else {
    msgpack_pack_bin(pk, size);
    msgpack_pack_bin_body(pk, buf ? buf : "", size);
  }
  if (fd >= 0) close(fd);
  free(buf);
  return rc;
}

void rl_package_hash(const void *data, size_t len, char out[RL_PACKAGE_HASH_HEX]) {
  unsigned char h[16];
  if (sodium_init() < 0) abort(); /* no usable random source: nothing can work */
  crypto_generichash(h, sizeof h, data, len, NULL, 0);
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int rl_package_pack(const char *dir, size_t max_bytes, rl_package_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  struct stat st;
  if (stat(dir, &st) != 0) {
    snprintf(err, errlen, "working_dir %s does not exist", dir);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "working_dir %s is not a directory", dir);
    return -1;
  }
  s_list_t l = {0};
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  if (s_walk(dir, "", max_bytes, &l, err, errlen) != 0) goto err;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_sbuffer_write(&sb, s_magic, sizeof s_magic);
  msgpack_pack_array(&pk, (uint32_t)l.n);
  for (size_t i = 0; i < l.n; i++) {
    const s_entry_t *e = &l.v[i];
    msgpack_pack_array(&pk, 3);
    rl_pack_str(&pk, e->path);
    msgpack_pack_uint32(&pk, e->mode);
    if (e->dir) {
      msgpack_pack_nil(&pk);
      continue;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, e->path);
    if (s_pack_file(&pk, path, e->size, err, errlen) != 0) goto err;
    out->files++;
  }
  out->len = sb.size;
  out->data = msgpack_sbuffer_release(&sb);
  rl_package_hash(out->data, out->len, out->hash);
  s_list_free(&l);
  return 0;
err:
  msgpack_sbuffer_destroy(&sb);
  s_list_free(&l);
  out->files = 0;
  return -1;
}

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int rl_package_remove_tree(const char *path) { return nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* mkdir -p of path's folders (the last component too if dir_itself). */
static int s_mkdirs(char *path, bool dir_itself) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int rc = mkdir(path, 0755);
    *p = '/';
    if (rc != 0 && errno != EEXIST) return -1;
  }
  return dir_itself && mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* True if rel is a relative path with no empty, "." or ".." part. */
static bool s_safe_path(const char *p, size_t n) {
  if (n == 0 || n >= 1024 || p[0] == '/' || memchr(p, 0, n)) return false;
  const char *end = p + n;
  while (p < end) {
    const char *slash = memchr(p, '/', (size_t)(end - p));
    size_t part = (size_t)((slash ? slash : end) - p);
    if (part == 0 || (part == 1 && p[0] == '.') || (part == 2 && p[0] == '.' && p[1] == '.')) return false;
    p += part + 1;
  }
  return true;
}

/* Writes the entries of the array o under root. */
static int s_write_entries(const msgpack_object *o, const char *root, char *err, size_t errlen) {
  for (uint32_t i = 0; i < o->via.array.size; i++) {
    const msgpack_object *e = &o->via.array.ptr[i];
    const char *rel, *data = NULL;
    size_t rlen, dlen = 0;
    uint64_t mode;
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 || !rl_obj_bytes(&e->via.array.ptr[0], &rel, &rlen) ||
        !rl_obj_u64(&e->via.array.ptr[1], &mode) || mode > 0777 ||
        (e->via.array.ptr[2].type != MSGPACK_OBJECT_NIL && !rl_obj_bytes(&e->via.array.ptr[2], &data, &dlen))) {
      snprintf(err, errlen, "entry %u of the package is malformed", i + 1);
      return -1;
    }
    if (!s_safe_path(rel, rlen)) {
      snprintf(err, errlen, "entry %u of the package has an unsafe path '%.*s'", i + 1, (int)(rlen > 80 ? 80 : rlen),
               rel);
      return -1;
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%.*s", root, (int)rlen, rel) >= (int)sizeof path) {
      snprintf(err, errlen, "entry %u of the package has a path too long for %s", i + 1, root);
      return -1;
    }
    bool dir = e->via.array.ptr[2].type == MSGPACK_OBJECT_NIL;
    if (s_mkdirs(path, dir) != 0) {
      snprintf(err, errlen, "cannot create the folder for %s: %s", path, strerror(errno));
      return -1;
    }
    if (dir) {
      chmod(path, (mode_t)mode | 0700);
      continue;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode | 0600);
    size_t put = 0;
    while (fd >= 0 && put < dlen) {
      ssize_t n = write(fd, data + put, dlen - put);
      if (n <= 0) break;
      put += (size_t)n;
    }
    int saved = errno;
    if (fd >= 0) close(fd);
    if (fd < 0 || put != dlen) {
      snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
      return -1;
    }
  }
  return 0;
}

int rl_package_unpack(const void *data, size_t len, const char *dest, char *err, size_t errlen) {
  struct stat st;
  if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
  if (len < sizeof s_magic || memcmp(data, s_magic, sizeof s_magic) ||
      !rl_msgpack_plausible((const uint8_t *)data + sizeof s_magic, len - sizeof s_magic)) {
    snprintf(err, errlen, "the package for %s is not a rayl working_dir package (or it is damaged)", dest);
    return -1;
  }
  char tmp[PATH_MAX];
  rl_id_t r = rl_id_random();
  char hex[RL_ID_HEX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp-%d-%.8s", dest, (int)getpid(), rl_id_hex(&r, hex)) >= (int)sizeof tmp) {
    snprintf(err, errlen, "the path %s is too long", dest);
    return -1;
  }
  if (s_mkdirs(tmp, true) != 0) {
    snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    return -1;
  }
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = -1;
  if (msgpack_unpack_next(&u, (const char *)data + sizeof s_magic, len - sizeof s_magic, &off) !=
          MSGPACK_UNPACK_SUCCESS ||
      u.data.type != MSGPACK_OBJECT_ARRAY) {
    snprintf(err, errlen, "the package for %s is damaged: not a list of files", dest);
  } else if (s_write_entries(&u.data, tmp, err, errlen) == 0) {
    if (rename(tmp, dest) == 0) rc = 0;
    else if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) rc = 0; /* another process was first */
    else snprintf(err, errlen, "cannot move %s into place: %s", dest, strerror(errno));
  }
  msgpack_unpacked_destroy(&u);
  if (rc == 0 && access(tmp, F_OK) == 0) rl_package_remove_tree(tmp);
  if (rc != 0) rl_package_remove_tree(tmp);
  return rc;
}
