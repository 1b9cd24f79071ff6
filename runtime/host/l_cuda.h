/* l_cuda.h: rayl.cuda's userdata, a device buffer and a compiled kernel, shared by the
 * bindings (l_cuda.c) and their launch argument checks (cuda_args.c). */
#ifndef RL_HOST_L_CUDA_H
#define RL_HOST_L_CUDA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu/backend.h"
#include "gpu/signature.h"

#define RL_CUDA_BUF_MT "rayl.cuda.Buffer"
#define RL_CUDA_FN_MT "rayl.cuda.Function"
#define RL_CUDA_ERR 1024 /* room for one error message */

/* A device buffer: n elements of dtype at ptr on backend b (ptr 0 when n is 0). */
typedef struct {
  const rl_gpu_backend_t *b;
  rl_gpu_ptr_t ptr;
  size_t n;
  uint8_t dtype;
} rl_cuda_buf_t;

/* A compiled kernel: its image (borrowed from the kernel cache, which lives as long as
 * the process), loaded on its first launch. */
typedef struct {
  const rl_gpu_backend_t *b;
  const char *image;
  size_t image_len;
  rl_gpu_kernel_t *k;
  bool has_sig;
  char why_nosig[160]; /* why the signature could not be read */
  char name[128];
  rl_sig_t sig;
} rl_cuda_fn_t;

#endif
