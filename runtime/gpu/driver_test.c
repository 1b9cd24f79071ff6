/* driver_test.c: driver.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/driver.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)

/* No library, or the toolkit's stub in its place: "no CUDA driver" with the way to the
 * simulator, never a crash. On a machine with a driver, device 0's facts are sane. */
int rl_cuda_driver_selftest(void) {
  s_state_t st;
  s_try("libcuda-none.so.1", &st);
  S_CHECK(!st.ok && strstr(st.err, "no CUDA driver: libcuda-none.so.1 not found") && strstr(st.err, "RAYL_CUDA=sim"));
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (access(stub, R_OK) == 0) {
    s_try(stub, &st);
    S_CHECK(!st.ok && strstr(st.err, "stub library") && strstr(st.err, "RAYL_CUDA=sim"));
  } else {
    fprintf(stderr, "driver selftest: no toolkit stub at %s, its check skipped\n", stub);
  }
  char err[1024];
  char buf[200];
  const rl_cu_api_t *api = rl_cu_load(err, sizeof err);
  if (!api) {
    fprintf(stderr, "driver selftest: %s\n", err);
    S_CHECK(strstr(err, "no CUDA driver") || strstr(err, "did not start"));
    S_CHECK(rl_cu_context(err, sizeof err) == -1);
    rl_cu_device_info_t info;
    S_CHECK(rl_cu_device_info(&info, err, sizeof err) == -1);
    S_CHECK(strstr(rl_cu_strerror(700, "cuLaunchKernel", buf, sizeof buf), "CUDA error 700"));
    return 0;
  }
  rl_cu_device_info_t info;
  S_CHECK(rl_cu_device_info(&info, err, sizeof err) == 0);
  S_CHECK(info.count >= 1 && info.cc >= 30 && info.max_threads >= 512 && info.max_block[0] >= 512);
  S_CHECK(info.max_grid[0] >= 65535 && info.max_shared >= 16384 && info.driver > 0);
  S_CHECK(rl_cu_context(err, sizeof err) == 0 && rl_cu_context(err, sizeof err) == 0);
  S_CHECK(strstr(rl_cu_strerror(2, "cuMemAlloc", buf, sizeof buf), "CUDA_ERROR_OUT_OF_MEMORY"));
  return 0;
}
