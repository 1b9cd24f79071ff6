/* detect.c: counting GPUs through the CUDA driver, loaded with dlopen at run time (a
 * binary linked to the toolkit's stub libcuda cannot start where there is no driver). */
#include "gpu/detect.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/selftest.h"

#define S_DRIVER "libcuda.so.1"

/* The driver API's entry points we call (cuda.h is not needed: CI may lack it). */
typedef int (*s_cu_init_fn)(unsigned int flags);
typedef int (*s_cu_count_fn)(int *count);

enum { S_CUDA_SUCCESS = 0, S_CUDA_STUB_LIBRARY = 34, S_CUDA_INSUFFICIENT_DRIVER = 35, S_CUDA_NO_DEVICE = 100 };

static void s_set(char *why, size_t whylen, const char *text) {
  if (why && whylen) snprintf(why, whylen, "%s", text);
}

/* Asks a loaded driver (lib names it in messages). Returns the count, or 0 with why. */
static int s_count(s_cu_init_fn init, s_cu_count_fn count, const char *lib, char *why, size_t whylen) {
  char text[300];
  int rc = init(0);
  if (rc == S_CUDA_STUB_LIBRARY) {
    snprintf(text, sizeof text, "no CUDA driver: %s is the CUDA toolkit's stub (cuInit returned 34, "
             "CUDA_ERROR_STUB_LIBRARY)", lib);
  } else if (rc == S_CUDA_NO_DEVICE) {
    snprintf(text, sizeof text, "no CUDA device: the driver (%s) found none (cuInit returned 100, "
             "CUDA_ERROR_NO_DEVICE; check CUDA_VISIBLE_DEVICES)", lib);
  } else if (rc == S_CUDA_INSUFFICIENT_DRIVER) {
    snprintf(text, sizeof text, "the CUDA driver (%s) is older than its runtime (cuInit returned 35, "
             "CUDA_ERROR_INSUFFICIENT_DRIVER)", lib);
  } else if (rc != S_CUDA_SUCCESS) {
    snprintf(text, sizeof text, "the CUDA driver (%s) failed to start: cuInit returned %d", lib, rc);
  } else {
    int n = 0;
    rc = count(&n);
    if (rc == S_CUDA_SUCCESS && n > 0) {
      s_set(why, whylen, "");
      return n;
    }
    if (rc == S_CUDA_SUCCESS)
      snprintf(text, sizeof text, "no CUDA device: the driver (%s) counts 0", lib);
    else
      snprintf(text, sizeof text, "the CUDA driver (%s) cannot count devices: cuDeviceGetCount returned %d", lib, rc);
  }
  s_set(why, whylen, text);
  return 0;
}

/* rl_gpu_detect with the driver library at path. */
static int s_detect(const char *path, char *why, size_t whylen) {
  char text[400];
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    if (!e || strstr(e, "No such file"))
      snprintf(text, sizeof text, "no CUDA driver: %s not found", path);
    else
      snprintf(text, sizeof text, "no CUDA driver: cannot load %s: %s", path, e);
    s_set(why, whylen, text);
    return 0;
  }
  s_cu_init_fn init = (s_cu_init_fn)(uintptr_t)dlsym(lib, "cuInit");
  s_cu_count_fn count = (s_cu_count_fn)(uintptr_t)dlsym(lib, "cuDeviceGetCount");
  if (!init || !count) {
    snprintf(text, sizeof text, "no CUDA driver: %s has no %s", path, init ? "cuDeviceGetCount" : "cuInit");
    s_set(why, whylen, text);
    dlclose(lib);
    return 0;
  }
  int n = s_count(init, count, path, why, whylen);
  /* An initialized driver stays loaded (it may have started threads); one that found
   * nothing is let go. */
  if (n == 0) dlclose(lib);
  return n;
}

int rl_gpu_detect(char *why, size_t whylen) { return s_detect(S_DRIVER, why, whylen); }
