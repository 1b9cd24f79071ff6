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

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* rl_base_dir with RAYL_TMPDIR set under dir: made private, narrowed, a symlink or
 * another user's folder refused with a message naming it and RAYL_TMPDIR. */
static int s_base_checks(const char *dir, char *err, size_t errlen) {
  char base[PATH_MAX], want[PATH_MAX], link[PATH_MAX];
  const char *saved = getenv("RAYL_TMPDIR");
  char *keep = saved ? strdup(saved) : NULL;
  struct stat st;
  snprintf(want, sizeof want, "%s/base", dir);
  snprintf(link, sizeof link, "%s/planted", dir);
  setenv("RAYL_TMPDIR", want, 1);
  S_CHECK(rl_base_dir(base, sizeof base, err, errlen) == 0 && !strcmp(base, want));
  S_CHECK(lstat(base, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
  S_CHECK(chmod(base, 0777) == 0);
  S_CHECK(rl_base_dir(base, sizeof base, err, errlen) == 0);
  S_CHECK(lstat(base, &st) == 0 && (st.st_mode & 0777) == 0700);
  S_CHECK(symlink(want, link) == 0);
  setenv("RAYL_TMPDIR", link, 1);
  S_CHECK(rl_base_dir(base, sizeof base, err, errlen) == -1 && strstr(err, link) && strstr(err, "symlink") &&
          strstr(err, "set RAYL_TMPDIR"));
  if (geteuid() == 0) { /* a folder another user made first */
    S_CHECK(chown(want, 65534, 65534) == 0);
    setenv("RAYL_TMPDIR", want, 1);
    S_CHECK(rl_base_dir(base, sizeof base, err, errlen) == -1 && strstr(err, "belongs to another user") &&
            strstr(err, "RAYL_TMPDIR"));
  }
  unsetenv("RAYL_TMPDIR");
  S_CHECK(rl_base_dir(base, sizeof base, err, errlen) == 0 || strstr(err, "RAYL_TMPDIR"));
  snprintf(want, sizeof want, "/tmp/rayl-%d", (int)geteuid());
  S_CHECK(!strcmp(base, want));
  int rc = 0;
  goto done;
fail:
  rc = 1;
done:
  if (keep) setenv("RAYL_TMPDIR", keep, 1);
  else unsetenv("RAYL_TMPDIR");
  free(keep);
  unlink(link);
  snprintf(want, sizeof want, "%s/base", dir);
  rmdir(want);
  return rc;
}

/* rl_file_replace replaces (never follows) a planted symlink; rl_file_open_read refuses one. */
static int s_file_checks(const char *dir, char *err, size_t errlen) {
  char path[PATH_MAX], victim[PATH_MAX], line[64] = "";
  struct stat st;
  snprintf(path, sizeof path, "%s/record", dir);
  snprintf(victim, sizeof victim, "%s/victim", dir);
  FILE *f = fopen(victim, "w");
  S_CHECK(f && fputs("precious\n", f) >= 0 && fclose(f) == 0);
  S_CHECK(symlink(victim, path) == 0);
  S_CHECK(!rl_file_open_read(path));
  S_CHECK(rl_file_replace(path, "new\n", 4, err, errlen) == 0);
  S_CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
  S_CHECK((f = rl_file_open_read(victim)) && fgets(line, sizeof line, f) && !strcmp(line, "precious\n"));
  fclose(f);
  S_CHECK((f = rl_file_open_read(path)) && fgets(line, sizeof line, f) && !strcmp(line, "new\n"));
  fclose(f);
  S_CHECK(!rl_file_open_read(dir)); /* a folder is not a record */
  unlink(path);
  unlink(victim);
  return 0;
fail:
  unlink(path);
  unlink(victim);
  return 1;
}

int rl_dirs_selftest(void) {
  char dir[] = "/tmp/rl-dirs-XXXXXX", path[PATH_MAX], file[PATH_MAX], err[300] = "";
  struct stat st;
  S_CHECK(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/a/b/sockets", dir);
  S_CHECK(rl_dir_private(path, err, sizeof err) == 0);
  S_CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
  S_CHECK(chmod(path, 0755) == 0); /* a looser folder left behind is narrowed */
  S_CHECK(rl_dir_private(path, err, sizeof err) == 0);
  S_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
  snprintf(file, sizeof file, "%s/a/file", dir);
  FILE *f = fopen(file, "w");
  S_CHECK(f);
  fclose(f);
  S_CHECK(rl_dir_private(file, err, sizeof err) == -1 && strstr(err, "is not a folder"));
  unlink(file);
  S_CHECK(symlink(path, file) == 0); /* a symlink is refused, not followed */
  S_CHECK(rl_dir_private(file, err, sizeof err) == -1 && strstr(err, "is a symlink"));
  unlink(file);
  S_CHECK(rl_dir_private("", err, sizeof err) == -1);
  S_CHECK(s_base_checks(dir, err, sizeof err) == 0);
  S_CHECK(s_file_checks(dir, err, sizeof err) == 0);
  rmdir(path);
  snprintf(path, sizeof path, "%s/a/b", dir);
  rmdir(path);
  snprintf(path, sizeof path, "%s/a", dir);
  rmdir(path);
  rmdir(dir);
  return 0;
fail:
  fprintf(stderr, "last error: %s\n", err);
  return 1;
}
