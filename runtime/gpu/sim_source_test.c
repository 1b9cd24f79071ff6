/* sim_source_test.c: sim_source.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/sim_source.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */
#include "common/selftest.h"

static unsigned s_count(const char *s, char c) {
  unsigned n = 0;
  for (; *s; s++) n += *s == c;
  return n;
}

int rl_sim_source_selftest(void) {
  char err[300] = "";
  unsigned flags = 99;
  int failed = 0;
  const char *saxpy =
      "extern \"C\" __global__ void saxpy(int n, float a, const float *x, float *y) {\n"
      "  int i = blockIdx.x * blockDim.x + threadIdx.x; // __syncthreads() not here\n"
      "  if (i < n) y[i] = a * x[i] + y[i]; /* nor assert(i) */ const char *q = \"<<<asm\";\n}\n";
  char *out = rl_sim_source_rewrite(saxpy, &flags, err, sizeof err);
  RL_CHECK_COUNT(out && strcmp(out, saxpy) == 0 && flags == 0, failed);
  free(out);

  const char *red =
      "__global__ void r(float *o) {\n  extern __shared__ __align__(16) unsigned char smem[];\n"
      "  extern __shared__\n    float s[ ]; // two lines\n  static __shared__ int t[4];\n"
      "  __syncthreads(); assert(o);\n  float v = 1.5e+3f + 0x1fu + 1'000;\n}\n";
  out = rl_sim_source_rewrite(red, &flags, err, sizeof err);
  RL_CHECK_COUNT(out != NULL, failed);
  if (out) {
    RL_CHECK_COUNT(
        strstr(out, "unsigned char (*const smem) = reinterpret_cast<unsigned char (*)>(::rl_sim::dyn_smem);"), failed);
    RL_CHECK_COUNT(strstr(out, "float (*const s) = reinterpret_cast<float (*)>(::rl_sim::dyn_smem);\n // two"), failed);
    RL_CHECK_COUNT(strstr(out, "         __shared__ int t[4];"), failed);
    RL_CHECK_COUNT(s_count(out, '\n') == s_count(red, '\n'), failed);
    RL_CHECK_COUNT(flags == (RL_SIM_USES_SYNC | RL_SIM_USES_TRAP), failed);
  }
  free(out);

  out = rl_sim_source_rewrite(
      "template <int N> __global__ void k(float (*p)[N]) {\n"
      "  extern __shared__ float m[][32];\n  auto r = R\"x(<<<)x\";\n}\n",
      &flags, err, sizeof err);
  RL_CHECK_COUNT(out && strstr(out, "float (*const m)[32] = reinterpret_cast<float (*)[32]>(::rl_sim::dyn_smem);"),
                 failed);
  RL_CHECK_COUNT(flags == 0, failed);
  free(out);

  /* What the simulator cannot run is named, with its line. */
  out = rl_sim_source_rewrite("__global__ void c() {}\n__global__ void p() {\n  c<<<1, 1>>>();\n}\n", &flags, err,
                              sizeof err);
  RL_CHECK_COUNT(!out && strstr(err, "line 3:") && strstr(err, "dynamic parallelism"), failed);
  out = rl_sim_source_rewrite("__global__ void p(int *x) {\n  asm volatile(\"membar.gl;\");\n}\n", &flags, err,
                              sizeof err);
  RL_CHECK_COUNT(!out && strstr(err, "line 2:") && strstr(err, "inline assembly (asm)"), failed);
  out = rl_sim_source_rewrite("__global__ void p() { extern __shared__ float a[], b[]; }\n", &flags, err, sizeof err);
  RL_CHECK_COUNT(!out && strstr(err, "one variable per extern __shared__"), failed);
  out = rl_sim_source_rewrite("__global__ void p() { extern __shared__ float a; }\n", &flags, err, sizeof err);
  RL_CHECK_COUNT(!out && strstr(err, "extern __shared__ T name[];"), failed);
  if (failed) fprintf(stderr, "sim_source: %d checks failed (last error: %s)\n", failed, err);
  return failed ? 1 : 0;
}
