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

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)

static int s_fake_rc, s_fake_n;
static int s_fake_init(unsigned int flags) { return flags ? 1 : s_fake_rc; }
static int s_fake_count(int *n) {
  *n = s_fake_n;
  return 0;
}

/* Every answer the driver may give, from a stand-in driver. */
static int s_test_answers(void) {
  char why[300];
  s_fake_rc = 0, s_fake_n = 2;
  S_CHECK(s_count(s_fake_init, s_fake_count, "libcuda.so.1", why, sizeof why) == 2 && !why[0]);
  s_fake_rc = 34;
  S_CHECK(s_count(s_fake_init, s_fake_count, "libcuda.so.1", why, sizeof why) == 0);
  S_CHECK(strstr(why, "no CUDA driver: libcuda.so.1 is the CUDA toolkit's stub (cuInit returned 34"));
  s_fake_rc = 100;
  S_CHECK(s_count(s_fake_init, s_fake_count, "libcuda.so.1", why, sizeof why) == 0);
  S_CHECK(strstr(why, "no CUDA device") && strstr(why, "100"));
  s_fake_rc = 999;
  S_CHECK(s_count(s_fake_init, s_fake_count, "libcuda.so.1", why, sizeof why) == 0 && strstr(why, "returned 999"));
  s_fake_rc = 0, s_fake_n = 0;
  S_CHECK(s_count(s_fake_init, s_fake_count, "libcuda.so.1", why, sizeof why) == 0 && strstr(why, "counts 0"));
  return 0;
}

int rl_detect_selftest(void) {
  char why[400];
  if (s_test_answers()) return 1;
  S_CHECK(s_detect("/nonexistent/libcuda.so.1", why, sizeof why) == 0);
  S_CHECK(!strcmp(why, "no CUDA driver: /nonexistent/libcuda.so.1 not found"));
  /* The toolkit's stub, where it is installed: loaded, it answers 34 to everything. */
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (access(stub, R_OK) == 0) {
    S_CHECK(s_detect(stub, why, sizeof why) == 0);
    S_CHECK(strstr(why, "stub (cuInit returned 34") != NULL);
  }
  /* This machine, as a node manager sees it: with no driver, 0 and why naming it. */
  int n = rl_gpu_detect(why, sizeof why);
  fprintf(stderr, "rl_gpu_detect here: %d GPU%s%s%s\n", n, n == 1 ? "" : "s", n ? "" : ": ", why);
  S_CHECK(n >= 0 && (n > 0) == (why[0] == 0));
  if (n == 0) S_CHECK(strstr(why, "libcuda.so.1") != NULL);
  return 0;
}
