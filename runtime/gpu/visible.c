/* visible.c: a worker's GPU devices in its environment (CUDA_VISIBLE_DEVICES for CUDA,
 * RAYL_GPU_IDS for rayl.get_gpu_ids). */
#include "gpu/visible.h"

#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"

void rl_gpu_env_set(const char *ids) {
  setenv("CUDA_VISIBLE_DEVICES", ids, 1);
  if (*ids) setenv("RAYL_GPU_IDS", ids, 1);
  else unsetenv("RAYL_GPU_IDS");
}
