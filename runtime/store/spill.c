/* spill.c: writing objects to, and reading them back from, their spill files. */
#include "store/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest single read or write: Linux moves at most ~2 GiB per call anyway. */
#define S_CHUNK ((size_t)1 << 30)

static int s_path(const char *dir, const rl_id_t *id, char *out, size_t outlen) {
  char hex[RL_ID_HEX];
  int n = snprintf(out, outlen, "%s/%s", dir, rl_id_hex(id, hex));
  return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int rl_spill_mkdir(const char *dir, bool *created, char *err, size_t errlen) {
  char path[PATH_MAX];
  size_t n = strlen(dir);
  *created = false;
  if (n == 0 || n >= sizeof path) {
    snprintf(err, errlen, "bad spill directory '%s'", dir);
    return -1;
  }
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != 0) continue;
    char c = path[i];
    path[i] = 0;
    if (mkdir(path, 0700) == 0) {
      if (i == n) *created = true;
    } else if (errno != EEXIST) {
      snprintf(err, errlen, "cannot create spill directory %s: %s", path, strerror(errno));
      return -1;
    }
    path[i] = c;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "spill directory %s is not a directory", dir);
    return -1;
  }
  return 0;
}

int rl_spill_write(const char *dir, const rl_id_t *id, const void *p, size_t size, char *err, size_t errlen) {
  char path[PATH_MAX];
  if (s_path(dir, id, path, sizeof path) != 0) {
    snprintf(err, errlen, "spill path too long");
    return -1;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create spill file %s: %s", path, strerror(errno));
    return -1;
  }
  const char *c = p;
  size_t done = 0;
  while (done < size) {
    size_t want = size - done < S_CHUNK ? size - done : S_CHUNK;
    ssize_t w = pwrite(fd, c + done, want, (off_t)done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      snprintf(err, errlen, "cannot write spill file %s: %s", path, w < 0 ? strerror(errno) : "no progress");
      goto err;
    }
    done += (size_t)w;
  }
  if (close(fd) != 0) {
    fd = -1;
    snprintf(err, errlen, "cannot write spill file %s: %s", path, strerror(errno));
    goto err;
  }
  return 0;
err:
  if (fd >= 0) close(fd);
  unlink(path);
  return -1;
}

int rl_spill_read(const char *dir, const rl_id_t *id, void *p, size_t size, char *err, size_t errlen) {
  char path[PATH_MAX];
  if (s_path(dir, id, path, sizeof path) != 0) {
    snprintf(err, errlen, "spill path too long");
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open spill file %s: %s", path, strerror(errno));
    return -1;
  }
  char *c = p;
  size_t done = 0;
  while (done < size) {
    size_t want = size - done < S_CHUNK ? size - done : S_CHUNK;
    ssize_t r = pread(fd, c + done, want, (off_t)done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(err, errlen, "cannot read spill file %s: %s", path, r < 0 ? strerror(errno) : "file is short");
      close(fd);
      return -1;
    }
    done += (size_t)r;
  }
  close(fd);
  return 0;
}

void rl_spill_remove(const char *dir, const rl_id_t *id) {
  char path[PATH_MAX];
  if (s_path(dir, id, path, sizeof path) == 0) unlink(path);
}
