/* sessions.c: session folders: one per cluster started on this machine (its logs,
 * sockets, key), kept while in use and rotated so that only the newest stay. */
#include "common/sessions.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/selftest.h"
#include "common/xalloc.h"

#define S_LOCK "session.lock"
#define S_MAX_SESSIONS 4096

int rl_sessions_kept(char *err, size_t errlen) {
  const char *v = getenv("RAYL_SESSIONS_KEPT");
  if (!v || !*v) return RL_SESSIONS_KEPT_DEFAULT;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || end == v || n < 1 || n > 1000000) {
    snprintf(err, errlen,
             "RAYL_SESSIONS_KEPT='%s' is not a number of session folders to keep (a whole number >= 1; default %d)",
             v, RL_SESSIONS_KEPT_DEFAULT);
    return -1;
  }
  return (int)n;
}

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes the session folder at path if its lock exists and no process holds it. */
static void s_remove_unused(const char *path) {
  char lock[PATH_MAX + 32];
  snprintf(lock, sizeof lock, "%s/" S_LOCK, path);
  int fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return; /* not made by rl_session_new (or being made): not ours to judge */
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
  close(fd);
}

static int s_by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the newest `keep` session_* folders of base (by name: their time comes first),
 * removing older unused ones. */
static void s_rotate(const char *base, int keep) {
  DIR *d = opendir(base);
  if (!d) return;
  char *names[S_MAX_SESSIONS];
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < S_MAX_SESSIONS;) {
    if (strncmp(e->d_name, "session_", 8) || !strcmp(e->d_name, "session_latest")) continue;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", base, e->d_name);
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) continue;
    names[n++] = rl_xstrdup(e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, s_by_name);
  for (int i = 0; i < n; i++) {
    if (i < n - keep) {
      char path[PATH_MAX];
      snprintf(path, sizeof path, "%s/%s", base, names[i]);
      s_remove_unused(path);
    }
    free(names[i]);
  }
}

/* Points base/session_latest at the folder named name (a relative symlink). */
static void s_point_latest(const char *base, const char *name) {
  char tmp[PATH_MAX], latest[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.session_latest.%d", base, (int)getpid());
  snprintf(latest, sizeof latest, "%s/session_latest", base);
  unlink(tmp);
  if (symlink(name, tmp) != 0 || rename(tmp, latest) != 0) unlink(tmp); /* only a convenience */
}

int rl_session_new(const char *base, char *session, size_t n, char *err, size_t errlen) {
  int keep = rl_sessions_kept(err, errlen);
  if (keep < 0) return -1;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  localtime_r(&now.tv_sec, &tm);
  char stamp[64], path[PATH_MAX];
  strftime(stamp, sizeof stamp, "%Y-%m-%d_%H-%M-%S", &tm);
  /* Milliseconds too: sessions made within one second still sort by age; a new folder,
   * never one that exists (a second session of this process within the millisecond
   * gets a suffix). */
  for (int k = 0;; k++) {
    char suffix[16] = "";
    if (k) snprintf(suffix, sizeof suffix, "_%d", k);
    int len = snprintf(session, n, "%s/session_%s.%03ld_%d%s", base, stamp, now.tv_nsec / 1000000, (int)getpid(),
                       suffix);
    if (len < 0 || (size_t)len >= n || snprintf(path, sizeof path, "%s/logs", session) >= (int)sizeof path) {
      snprintf(err, errlen, "the session folder's path under %s is too long", base);
      return -1;
    }
    if (mkdir(session, 0700) == 0) break;
    if (errno != EEXIST || k == 1000) {
      snprintf(err, errlen, "cannot create the folder %s: %s", session, strerror(errno));
      return -1;
    }
  }
  if (rl_dir_private(session, err, errlen) != 0 || rl_dir_private(path, err, errlen) != 0) return -1;
  snprintf(path, sizeof path, "%s/" S_LOCK, session);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || flock(fd, LOCK_SH) != 0) {
    snprintf(err, errlen, "cannot lock the session folder %s: %s", session, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  s_point_latest(base, strrchr(session, '/') + 1);
  s_rotate(base, keep);
  return fd;
}
