/* copy.c: copying large values (into the object store) on two cores. */
#include "common/copy.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define S_STACK (64 * 1024) /* the helper runs memcpy only */

typedef struct {
  char *dst;
  const char *src;
  size_t n;
} s_part_t;

static void *s_copy_part(void *arg) {
  s_part_t *p = arg;
  memcpy(p->dst, p->src, p->n);
  return NULL;
}

/* Whether this machine has a second CPU to copy on (asked once). */
static bool s_several_cpus(void) {
  static atomic_int known; /* 0: not asked yet, 1: no, 2: yes */
  int k = atomic_load_explicit(&known, memory_order_relaxed);
  if (!k) {
    k = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    atomic_store_explicit(&known, k, memory_order_relaxed);
  }
  return k == 2;
}

/* Starts a helper copying p (every signal blocked in it: they stay the caller's).
 * Returns 0, or -1 if no thread could be started. */
static int s_start_helper(pthread_t *t, s_part_t *p) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return -1;
  pthread_attr_setstacksize(&attr, S_STACK);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(t, &attr, s_copy_part, p);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return rc == 0 ? 0 : -1;
}

void rl_copy(void *dst, const void *src, size_t n) {
  pthread_t helper;
  size_t half = n / 2 & ~(size_t)63; /* the helper's part starts on a cache line */
  s_part_t second = {(char *)dst + half, (const char *)src + half, n - half};
  if (n < RL_COPY_PARALLEL || !s_several_cpus() || s_start_helper(&helper, &second) != 0) {
    memcpy(dst, src, n);
    return;
  }
  memcpy(dst, src, half);
  pthread_join(helper, NULL);
}
