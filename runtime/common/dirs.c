/* dirs.c: private folders: what rayl keeps there (sockets, the cluster key, logs, the
 * head's database) is for this user alone; and files that never follow a symlink. */
#include "common/dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/selftest.h"

int rl_dir_private(const char *path, char *err, size_t errlen) {
  char buf[PATH_MAX];
  if (!*path || snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    snprintf(err, errlen, "'%s' is not a usable folder path", path);
    return -1;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(buf, 0755); /* errors show at the last step */
    *p = '/';
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create the folder %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (lstat(path, &st) != 0) {
    snprintf(err, errlen, "cannot use the folder %s: %s", path, strerror(errno));
    return -1;
  }
  if (S_ISLNK(st.st_mode)) {
    snprintf(err, errlen, "%s is a symlink, not a folder (it must be this user's private folder)", path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s is not a folder (it must be this user's private folder)", path);
    return -1;
  }
  if (st.st_uid != geteuid()) {
    snprintf(err, errlen, "the folder %s belongs to another user (uid %d), not to this one (uid %d)", path,
             (int)st.st_uid, (int)geteuid());
    return -1;
  }
  if ((st.st_mode & 0777) != 0700 && chmod(path, 0700) != 0) {
    snprintf(err, errlen, "cannot make the folder %s private (chmod 700): %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

int rl_base_dir(char *out, size_t n, char *err, size_t errlen) {
  const char *env = getenv("RAYL_TMPDIR");
  char why[PATH_MAX + 200];
  int len = env && *env ? snprintf(out, n, "%s", env) : snprintf(out, n, "/tmp/rayl-%d", (int)geteuid());
  if (len < 0 || (size_t)len >= n) {
    snprintf(err, errlen, "the folder RAYL_TMPDIR names is too long (at most %zu characters)", n - 1);
    return -1;
  }
  if (rl_dir_private(out, why, sizeof why) == 0) return 0;
  snprintf(err, errlen, "%s. rayl keeps this user's clusters there (%s); set RAYL_TMPDIR to a folder of your own",
           why, env && *env ? "RAYL_TMPDIR names it" : "the default when RAYL_TMPDIR is not set");
  return -1;
}

int rl_file_replace(const char *path, const char *data, size_t len, char *err, size_t errlen) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) {
    snprintf(err, errlen, "the path %s is too long", path);
    return -1;
  }
  unlink(tmp); /* one left by a process of this pid that died (the folder is ours alone) */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  size_t put = 0;
  while (put < len) {
    ssize_t w = write(fd, data + put, len - put);
    if (w <= 0) break;
    put += (size_t)w;
  }
  bool ok = put == len && fchmod(fd, 0600) == 0 && fsync(fd) == 0; /* whole on disk before the rename */
  int e = errno;
  if (close(fd) != 0 && ok) ok = false, e = errno;
  if (ok && rename(tmp, path) != 0) ok = false, e = errno;
  if (!ok) {
    unlink(tmp);
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
    return -1;
  }
  return 0;
}

FILE *rl_file_open_read(const char *path) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  if (fd < 0) return NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return NULL;
  }
  FILE *f = fdopen(fd, "r");
  if (!f) close(fd);
  return f;
}
