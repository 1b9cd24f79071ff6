/* detect.c: counting GPUs through the CUDA driver, loaded with dlopen at run time (a
 * binary linked to the toolkit's stub libcuda cannot start where there is no driver). */
#include "gpu/detect.h"

#include <stdio.h>
#include <string.h>

#include "common/selftest.h"
#include "gpu/driver.h"
#include "gpu/driver_lib.h"

/* The two driver functions detection calls: cuInit and cuDeviceGetCount, nothing that
 * makes a context, so a node manager that counts its GPUs holds no CUDA state beyond an
 * initialized driver. */
typedef rl_cu_result_t (*s_cu_init_fn)(unsigned flags);
typedef rl_cu_result_t (*s_cu_count_fn)(int *count);
typedef struct {
  s_cu_init_fn init;
  s_cu_count_fn count;
} s_detect_api_t;

static void s_set(char *why, size_t whylen, const char *text) {
  if (why && whylen) snprintf(why, whylen, "%s", text);
}

/* Asks a loaded driver (lib names it in messages). Returns the count, or 0 with why. */
static int s_count(s_cu_init_fn init, s_cu_count_fn count, const char *lib, char *why, size_t whylen) {
  char text[300];
  int rc = init(0);
  if (rc == RL_CU_ERROR_STUB_LIBRARY) {
    snprintf(text, sizeof text, "no CUDA driver: %s is the CUDA toolkit's stub (cuInit returned 34, "
             "CUDA_ERROR_STUB_LIBRARY)", lib);
  } else if (rc == RL_CU_ERROR_NO_DEVICE) {
    snprintf(text, sizeof text, "no CUDA device: the driver (%s) found none (cuInit returned 100, "
             "CUDA_ERROR_NO_DEVICE; check CUDA_VISIBLE_DEVICES)", lib);
  } else if (rc == RL_CU_ERROR_INSUFFICIENT_DRIVER) {
    snprintf(text, sizeof text, "the CUDA driver (%s) is older than its runtime (cuInit returned 35, "
             "CUDA_ERROR_INSUFFICIENT_DRIVER)", lib);
  } else if (rc != RL_CU_SUCCESS) {
    snprintf(text, sizeof text, "the CUDA driver (%s) failed to start: cuInit returned %d", lib, rc);
  } else {
    int n = 0;
    rc = count(&n);
    if (rc == RL_CU_SUCCESS && n > 0) {
      s_set(why, whylen, "");
      return n;
    }
    if (rc == RL_CU_SUCCESS)
      snprintf(text, sizeof text, "no CUDA device: the driver (%s) counts 0", lib);
    else
      snprintf(text, sizeof text, "the CUDA driver (%s) cannot count devices: cuDeviceGetCount returned %d", lib, rc);
  }
  s_set(why, whylen, text);
  return 0;
}

/* rl_gpu_detect with the driver library at path. */
static int s_detect(const char *path, char *why, size_t whylen) {
  static const rl_cu_sym_t syms[] = {
      RL_CU_SYM(s_detect_api_t, init, "cuInit"),
      RL_CU_SYM(s_detect_api_t, count, "cuDeviceGetCount"),
  };
  s_detect_api_t api;
  char text[400];
  void *lib = rl_cu_lib_open(path, syms, sizeof syms / sizeof syms[0], &api, text, sizeof text);
  if (!lib) {
    s_set(why, whylen, text);
    return 0;
  }
  int n = s_count(api.init, api.count, path, why, whylen);
  /* An initialized driver stays loaded (it may have started threads); one that found
   * nothing is let go. */
  if (n == 0) rl_cu_lib_close(&lib);
  return n;
}

int rl_gpu_detect(char *why, size_t whylen) { return s_detect(RL_CU_LIB, why, whylen); }
