/* key.c: the process's cluster key: made, read from and written to a private file. */
#include "net/key.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/dirs.h"
#include "common/selftest.h"

static struct {
  bool held;
  char public_z85[RL_NET_KEY_Z85 + 1];
  char secret_z85[RL_NET_KEY_Z85 + 1];
  char origin[PATH_MAX];
} s_key;

int rl_net_key_set(const char *secret, const char *origin, char *err, size_t errlen) {
  char pub[RL_NET_KEY_Z85 + 1];
  uint8_t raw[32];
  /* zmq_curve_public checks only the length: decode first, which checks the alphabet. */
  if (strlen(secret) != RL_NET_KEY_Z85 || !zmq_z85_decode(raw, secret) || zmq_curve_public(pub, secret) != 0) {
    snprintf(err, errlen, "%s is not a rayl cluster key (expected 40 Z85 characters, as `rayl start --head` writes)",
             origin);
    return -1;
  }
  memcpy(s_key.public_z85, pub, sizeof pub);
  memcpy(s_key.secret_z85, secret, RL_NET_KEY_Z85 + 1);
  snprintf(s_key.origin, sizeof s_key.origin, "%s", origin);
  s_key.held = true;
  return 0;
}

int rl_net_key_generate(char *err, size_t errlen) {
  char pub[RL_NET_KEY_Z85 + 1], secret[RL_NET_KEY_Z85 + 1];
  if (zmq_curve_keypair(pub, secret) != 0) {
    snprintf(err, errlen, "cannot make a CURVE key: %s (is libzmq built with libsodium?)", zmq_strerror(zmq_errno()));
    return -1;
  }
  return rl_net_key_set(secret, "a new key", err, errlen);
}

int rl_net_key_load(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot read the cluster key %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  char text[128];
  ssize_t n = -1;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "the cluster key %s is not a regular file", path);
  } else if (st.st_mode & 077) {
    snprintf(err, errlen, "the cluster key %s can be read or changed by others (mode %04o); make it private: chmod 600 %s",
             path, (unsigned)(st.st_mode & 07777), path);
  } else if ((n = read(fd, text, sizeof text - 1)) < 0) {
    snprintf(err, errlen, "cannot read the cluster key %s: %s", path, strerror(errno));
  }
  close(fd);
  if (n < 0) return -1;
  text[n] = 0;
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) text[--n] = 0;
  char origin[PATH_MAX + 8];
  snprintf(origin, sizeof origin, "%s", path);
  return rl_net_key_set(text, origin, err, errlen);
}

int rl_net_key_save(const char *path, char *err, size_t errlen) {
  if (!s_key.held) {
    snprintf(err, errlen, "no cluster key to write to %s", path);
    return -1;
  }
  char line[RL_NET_KEY_Z85 + 2];
  snprintf(line, sizeof line, "%s\n", s_key.secret_z85);
  return rl_file_replace(path, line, RL_NET_KEY_Z85 + 1, err, errlen);
}

bool rl_net_key_held(void) { return s_key.held; }
const char *rl_net_key_public(void) { return s_key.held ? s_key.public_z85 : NULL; }
const char *rl_net_key_secret(void) { return s_key.held ? s_key.secret_z85 : NULL; }
const char *rl_net_key_origin(void) { return s_key.held ? s_key.origin : NULL; }

void rl_net_key_forget(void) { memset(&s_key, 0, sizeof s_key); }

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
