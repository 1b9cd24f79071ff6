/* detect_test.c: detect.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/detect.c" /* the code under test, with its file-local helpers */

#include <unistd.h>

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
