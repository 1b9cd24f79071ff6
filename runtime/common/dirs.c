/* dirs.c: private folders: what rayl keeps there (sockets, the cluster key, logs) is
 * for this user alone. */
#include "common/dirs.h"

#include <errno.h>
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
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s is not a folder (it must be this user's private folder)", path);
    return -1;
  }
  if (st.st_uid != geteuid()) {
    snprintf(err, errlen, "the folder %s belongs to another user (uid %d); choose another with RAYL_TMPDIR", path,
             (int)st.st_uid);
    return -1;
  }
  if ((st.st_mode & 0777) != 0700 && chmod(path, 0700) != 0) {
    snprintf(err, errlen, "cannot make the folder %s private (chmod 700): %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

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
  S_CHECK(rl_dir_private(file, err, sizeof err) == -1 && strstr(err, "is not a folder"));
  unlink(file);
  S_CHECK(rl_dir_private("", err, sizeof err) == -1);
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
