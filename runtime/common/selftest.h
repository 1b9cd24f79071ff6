/* selftest.h: the check macros the C selftests share. */
#ifndef RL_SELFTEST_H
#define RL_SELFTEST_H
#include <stdio.h>

/* Reports a failed check and jumps to the selftest's `fail:` label (which cleans up
 * and returns non-zero). */
#define RL_CHECK_GOTO(c)                                                    \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      goto fail;                                                            \
    }                                                                       \
  } while (0)

/* Reports a failed check, counts it in `counter` and goes on. */
#define RL_CHECK_COUNT(c, counter)                                          \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      (counter)++;                                                          \
    }                                                                       \
  } while (0)

/* Reports a failed check and returns 1 from the selftest. */
#define RL_CHECK_RETURN(c)                                                  \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      return 1;                                                             \
    }                                                                       \
  } while (0)

#endif
