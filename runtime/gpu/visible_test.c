/* visible_test.c: visible.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/visible.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

int rl_visible_selftest(void) {
  int rc = 1;
  const char *cvd = getenv("CUDA_VISIBLE_DEVICES"), *rgi = getenv("RAYL_GPU_IDS");
  char *saved_cvd = cvd ? strdup(cvd) : NULL, *saved_rgi = rgi ? strdup(rgi) : NULL;
  rl_gpu_env_set("0,1");
  S_CHECK(getenv("CUDA_VISIBLE_DEVICES") && !strcmp(getenv("CUDA_VISIBLE_DEVICES"), "0,1"));
  S_CHECK(getenv("RAYL_GPU_IDS") && !strcmp(getenv("RAYL_GPU_IDS"), "0,1"));
  rl_gpu_env_set("");
  S_CHECK(getenv("CUDA_VISIBLE_DEVICES") && !strcmp(getenv("CUDA_VISIBLE_DEVICES"), ""));
  S_CHECK(getenv("RAYL_GPU_IDS") == NULL);
  rc = 0;
fail:
  if (saved_cvd) setenv("CUDA_VISIBLE_DEVICES", saved_cvd, 1);
  else unsetenv("CUDA_VISIBLE_DEVICES");
  if (saved_rgi) setenv("RAYL_GPU_IDS", saved_rgi, 1);
  else unsetenv("RAYL_GPU_IDS");
  free(saved_cvd);
  free(saved_rgi);
  return rc;
}
