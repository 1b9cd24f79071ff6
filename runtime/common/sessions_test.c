/* sessions_test.c: sessions.c's selftest, built into rl_selftest only (not librayl). */
#include "common/sessions.c" /* the code under test, with its file-local helpers */

/* ---- selftest: rotation keeps the newest and the held ones ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* How many session_* folders base holds. */
static int s_count(const char *base) {
  DIR *d = opendir(base);
  int n = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));)
    n += !strncmp(e->d_name, "session_", 8) && strcmp(e->d_name, "session_latest");
  closedir(d);
  return n;
}

int rl_sessions_selftest(void) {
  char base[] = "/tmp/rl-sessions-XXXXXX", first[PATH_MAX], s[PATH_MAX], old[PATH_MAX], link[PATH_MAX],
       err[PATH_MAX + 200] = "";
  int held = -1, rc = 1;
  const char *saved = getenv("RAYL_SESSIONS_KEPT");
  char *keep = saved ? strdup(saved) : NULL;
  S_CHECK(mkdtemp(base));
  snprintf(old, sizeof old, "%s/session_0000_made_by_an_older_rayl", base);
  S_CHECK(mkdir(old, 0700) == 0); /* no lock file: left alone */
  setenv("RAYL_SESSIONS_KEPT", "3", 1);
  S_CHECK(rl_sessions_kept(err, sizeof err) == 3);
  held = rl_session_new(base, first, sizeof first, err, sizeof err);
  S_CHECK(held >= 0);
  for (int i = 0; i < 6; i++) {
    int fd = rl_session_new(base, s, sizeof s, err, sizeof err);
    S_CHECK(fd >= 0);
    close(fd); /* released: free to go once older than the newest 3 */
    struct stat st;
    S_CHECK(lstat(s, &st) == 0 && (st.st_mode & 0777) == 0700);
  }
  /* the newest 3, the held first one, the older rayl's */
  S_CHECK(s_count(base) == 5);
  S_CHECK(access(first, F_OK) == 0 && access(old, F_OK) == 0);
  snprintf(link, sizeof link, "%s/session_latest", base);
  char target[PATH_MAX];
  ssize_t len = readlink(link, target, sizeof target - 1);
  S_CHECK(len > 0);
  target[len] = 0;
  S_CHECK(!strcmp(target, strrchr(s, '/') + 1));
  close(held);
  held = -1;
  int fd = rl_session_new(base, s, sizeof s, err, sizeof err);
  S_CHECK(fd >= 0 && access(first, F_OK) != 0 && s_count(base) == 4);
  close(fd);
  setenv("RAYL_SESSIONS_KEPT", "zero", 1);
  S_CHECK(rl_session_new(base, s, sizeof s, err, sizeof err) == -1 && strstr(err, "RAYL_SESSIONS_KEPT='zero'"));
  setenv("RAYL_SESSIONS_KEPT", "0", 1);
  S_CHECK(rl_sessions_kept(err, sizeof err) == -1);
  rc = 0;
fail:
  if (rc) fprintf(stderr, "last error: %s\n", err);
  if (held >= 0) close(held);
  if (keep) setenv("RAYL_SESSIONS_KEPT", keep, 1);
  else unsetenv("RAYL_SESSIONS_KEPT");
  free(keep);
  nftw(base, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return rc;
}
