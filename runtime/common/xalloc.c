/* xalloc.c: allocation of rayl's own structures; running out of memory ends the
 * process with one clear line. */
#include "common/xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/selftest.h"

_Noreturn void rl_xalloc_fail(const char *what, const char *func) {
  char line[256];
  int n = snprintf(line, sizeof line, "rayl: out of memory allocating %s bytes in %s\n", what, func);
  if (n < 0 || (size_t)n >= sizeof line) n = (int)strlen(line);
  /* write(2): no stdio buffer to allocate; the log line may not make it, stderr will. */
  ssize_t w = write(STDERR_FILENO, line, (size_t)n);
  (void)w;
  rl_log(RL_LOG_ERROR, "out of memory allocating %s bytes in %s", what, func);
  abort();
}

static _Noreturn void s_fail(size_t n, const char *func) {
  char what[32];
  snprintf(what, sizeof what, "%zu", n);
  rl_xalloc_fail(what, func);
}

void *rl_xmalloc_at(size_t n, const char *func) {
  void *p = malloc(n ? n : 1);
  if (!p) s_fail(n, func);
  return p;
}

void *rl_xcalloc_at(size_t n, size_t size, const char *func) {
  if (size && n > SIZE_MAX / size) {
    char what[64];
    snprintf(what, sizeof what, "%zu x %zu", n, size);
    rl_xalloc_fail(what, func);
  }
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) s_fail(n * size, func);
  return p;
}

void *rl_xrealloc_at(void *p, size_t n, const char *func) {
  void *q = realloc(p, n ? n : 1);
  if (!q) s_fail(n, func);
  return q;
}

char *rl_xstrdup_at(const char *s, const char *func) {
  size_t n = strlen(s) + 1;
  char *d = rl_xmalloc_at(n, func);
  memcpy(d, s, n);
  return d;
}

char *rl_xstrndup_at(const char *s, size_t n, const char *func) {
  size_t len = strnlen(s, n);
  char *d = rl_xmalloc_at(len + 1, func);
  memcpy(d, s, len);
  d[len] = 0;
  return d;
}
