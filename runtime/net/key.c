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
