/* copy_test.c: copy.c's selftest, built into rl_selftest only (not librayl). */
#include "common/copy.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */
#include <stdlib.h>

#include "common/selftest.h"

/* Small and large blocks, at odd offsets, arrive whole and touch nothing around them. */
int rl_copy_selftest(void) {
  size_t big = RL_COPY_PARALLEL + 4099;
  unsigned char *src = malloc(big + 64), *dst = malloc(big + 64);
  RL_CHECK_GOTO(src && dst);
  for (size_t i = 0; i < big + 64; i++) src[i] = (unsigned char)(i * 131 + 7);
  size_t sizes[] = {0, 1, 63, 4096, RL_COPY_PARALLEL - 1, RL_COPY_PARALLEL, big};
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    size_t n = sizes[k];
    memset(dst, 0xee, big + 64);
    rl_copy(dst + 3, src + 5, n);
    RL_CHECK_GOTO(dst[0] == 0xee && dst[1] == 0xee && dst[2] == 0xee && dst[3 + n] == 0xee);
    RL_CHECK_GOTO(n == 0 || !memcmp(dst + 3, src + 5, n));
  }
  free(src);
  free(dst);
  return 0;
fail:
  free(src);
  free(dst);
  return 1;
}
