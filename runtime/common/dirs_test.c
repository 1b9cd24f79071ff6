/* dirs_test.c: dirs.c's selftest, built into rl_selftest only (not librayl). */
#include "common/dirs.c" /* the code under test, with its file-local helpers */

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
