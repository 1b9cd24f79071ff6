/* torch_ops.c: the C baseline for tools/bench/torch: an element-wise add through
 * librayl_torch straight from C (handle made and freed per call), so the Lua figure's
 * difference is what LuaJIT, the FFI and the garbage collector add. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "torch/rtorch.h"

static double s_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Microseconds per add of two tensors of n float32 elements, or (scalar) per multiply
 * of one by the number 2 (median of 5 runs). */
static double s_op_us(int64_t n, int iters, int scalar) {
  rl_tensor_t *a = NULL, *b = NULL;
  if (rl_torch_full(&n, 1, 1.0, RL_TORCH_FLOAT32, &a) || rl_torch_full(&n, 1, 2.0, RL_TORCH_FLOAT32, &b)) {
    fprintf(stderr, "torch_ops: %s\n", rl_torch_last_error());
    exit(1);
  }
  double runs[5];
  for (int r = 0; r < 5; r++) {
    double t0 = s_now();
    for (int i = 0; i < iters; i++) {
      rl_tensor_t *c = NULL;
      int rc = scalar ? rl_torch_binary_scalar(RL_TORCH_MUL, a, 2, 0, &c) : rl_torch_binary(RL_TORCH_ADD, a, b, &c);
      if (rc != 0) exit(1);
      rl_torch_free(c);
    }
    runs[r] = (s_now() - t0) / iters * 1e6;
  }
  for (int i = 1; i < 5; i++)
    for (int j = i; j > 0 && runs[j] < runs[j - 1]; j--) {
      double t = runs[j];
      runs[j] = runs[j - 1];
      runs[j - 1] = t;
    }
  rl_torch_free(a);
  rl_torch_free(b);
  return runs[2];
}

int main(void) {
  rl_torch_set_num_threads(1);
  s_op_us(1, 20000, 0); /* warm-up */
  printf("{\"workload\":\"c_add_1\",\"value\":%.3f,\"unit\":\"us/op\"}\n", s_op_us(1, 100000, 0));
  printf("{\"workload\":\"c_add_1024\",\"value\":%.3f,\"unit\":\"us/op\"}\n", s_op_us(1024, 100000, 0));
  printf("{\"workload\":\"c_mul_scalar_1\",\"value\":%.3f,\"unit\":\"us/op\"}\n", s_op_us(1, 100000, 1));
  return 0;
}
