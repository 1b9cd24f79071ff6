/* key_test.c: key.c's selftest, built into rl_selftest only (not librayl). */
#include "net/key.c" /* the code under test, with its file-local helpers */

/* ---- selftest: make, save, load; files that are refused ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

static int s_write_file(const char *path, const char *text, mode_t mode) {
  unlink(path);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  fchmod(fd, mode);
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

int rl_net_key_selftest(void) {
  char dir[] = "/tmp/rl-key-XXXXXX", path[PATH_MAX], err[600] = "", secret[RL_NET_KEY_Z85 + 1], pub[RL_NET_KEY_Z85 + 1];
  S_CHECK(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/cluster.key", dir);
  rl_net_key_forget();
  S_CHECK(!rl_net_key_held() && !rl_net_key_public() && rl_net_key_save(path, err, sizeof err) == -1);

  /* A new key, saved private, loads back as the same key. */
  S_CHECK(rl_net_key_generate(err, sizeof err) == 0 && rl_net_key_held());
  snprintf(secret, sizeof secret, "%s", rl_net_key_secret());
  snprintf(pub, sizeof pub, "%s", rl_net_key_public());
  S_CHECK(strlen(pub) == RL_NET_KEY_Z85 && strcmp(pub, secret) != 0);
  S_CHECK(rl_net_key_save(path, err, sizeof err) == 0);
  struct stat st;
  S_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == RL_NET_KEY_Z85 + 1);
  rl_net_key_forget();
  S_CHECK(rl_net_key_load(path, err, sizeof err) == 0);
  S_CHECK(!strcmp(rl_net_key_secret(), secret) && !strcmp(rl_net_key_public(), pub));
  S_CHECK(!strcmp(rl_net_key_origin(), path));
  S_CHECK(rl_net_key_save(path, err, sizeof err) == 0); /* over an existing file */

  /* Refused: readable by others, malformed, missing; the held key stays as it was. */
  S_CHECK(chmod(path, 0644) == 0);
  S_CHECK(rl_net_key_load(path, err, sizeof err) == -1 && strstr(err, "chmod 600") && strstr(err, "0644"));
  S_CHECK(s_write_file(path, "not a key\n", 0600) == 0);
  S_CHECK(rl_net_key_load(path, err, sizeof err) == -1 && strstr(err, "is not a rayl cluster key"));
  char bad[RL_NET_KEY_Z85 + 2];
  snprintf(bad, sizeof bad, "%s", secret);
  bad[7] = '"'; /* outside the Z85 alphabet */
  S_CHECK(rl_net_key_set(bad, "RAYL_CLUSTER_KEY", err, sizeof err) == -1 && strstr(err, "RAYL_CLUSTER_KEY"));
  S_CHECK(rl_net_key_set("", "RAYL_CLUSTER_KEY", err, sizeof err) == -1);
  unlink(path);
  S_CHECK(rl_net_key_load(path, err, sizeof err) == -1 && strstr(err, "No such file"));
  S_CHECK(mkdir(path, 0700) == 0);
  S_CHECK(rl_net_key_load(path, err, sizeof err) == -1 && strstr(err, "not a regular file"));
  rmdir(path);
  S_CHECK(!strcmp(rl_net_key_secret(), secret));

  /* The text form (as RAYL_CLUSTER_KEY holds it) gives the same pair. */
  rl_net_key_forget();
  S_CHECK(rl_net_key_set(secret, "RAYL_CLUSTER_KEY", err, sizeof err) == 0 && !strcmp(rl_net_key_public(), pub));
  rl_net_key_forget();
  rmdir(dir);
  return 0;
fail:
  fprintf(stderr, "last error: %s\n", err);
  rl_net_key_forget();
  return 1;
}
