/* torch_selftest.c: runs librayl_torch's own checks through its C header (ctest torch_shim). */
#include <stdio.h>

#include "torch/rtorch.h"

int main(void) {
  if (rl_torch_selftest() != 0) {
    fprintf(stderr, "librayl_torch selftest failed: %s\n", rl_torch_last_error());
    return 1;
  }
  printf("librayl_torch %s: selftest passed\n", rl_torch_version());
  return 0;
}
