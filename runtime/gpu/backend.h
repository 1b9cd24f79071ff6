/* backend.h: what rayl.cuda asks of a device (memory, kernels compiled from CUDA C source,
 * launches), implemented twice: by the CUDA driver with NVRTC (cuda_backend.c) and by the
 * CPU simulator (sim_backend.c). Plain C; the Lua binding sits on top of it. */
#ifndef RL_GPU_BACKEND_H
#define RL_GPU_BACKEND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A device address: a CUdeviceptr on a GPU, a host pointer in the simulator. */
typedef uint64_t rl_gpu_ptr_t;

/* One __global__ function of a loaded module (opaque to callers). */
typedef struct rl_gpu_kernel rl_gpu_kernel_t;

/* A launch, as cuLaunchKernel takes it. */
typedef struct {
  unsigned grid[3], block[3]; /* each >= 1 */
  size_t shared_mem;          /* bytes of dynamic shared memory (extern __shared__) */
  void *stream;               /* NULL: the default stream */
  void **args;                /* args[i] points at the value of the kernel's i-th parameter */
  size_t nargs;
} rl_gpu_launch_t;

/* Every function that can fail returns 0, or -1 with a one-line message in err (what
 * happened and what to do) and nothing changed. */
typedef struct {
  const char *mode; /* "gpu" or "sim" */
  /* Whether this backend can run kernels in this process; if not, why (what is missing
   * and how to get it, e.g. how to use the simulator). */
  bool (*available)(char *why, size_t whylen);
  int (*device_count)(void);
  /* The target the images are built for ("sm_90"; the simulator names its host compiler
   * and machine): part of the kernel cache's key. NULL if not available. */
  const char *(*arch)(void);
  /* Compiles CUDA C source for kernel `name` into an image (cubin or PTX; a shared object
   * for the simulator) in *image (malloc, *image_len bytes). On failure also *log: the
   * compiler's output (malloc, NUL-terminated; NULL if none), which callers show. */
  int (*compile)(const char *source, const char *name, const char *const *options, size_t noptions, char **image,
                 size_t *image_len, char **log, char *err, size_t errlen);
  /* Loads kernel `name` from an image compile made (in this process or an earlier one). */
  rl_gpu_kernel_t *(*load)(const char *image, size_t image_len, const char *name, char *err, size_t errlen);
  void (*unload)(rl_gpu_kernel_t *k);
  /* Launches k (asynchronously on a GPU: errors may show at synchronize). */
  int (*launch)(rl_gpu_kernel_t *k, const rl_gpu_launch_t *l, char *err, size_t errlen);
  int (*alloc)(size_t bytes, rl_gpu_ptr_t *out, char *err, size_t errlen);
  void (*free)(rl_gpu_ptr_t p);
  int (*copy_in)(rl_gpu_ptr_t dst, const void *src, size_t bytes, char *err, size_t errlen);
  int (*copy_out)(void *dst, rl_gpu_ptr_t src, size_t bytes, char *err, size_t errlen);
  /* Sets bytes bytes at dst to byte. */
  int (*fill)(rl_gpu_ptr_t dst, uint8_t byte, size_t bytes, char *err, size_t errlen);
  /* Waits for every launch and copy issued so far; reports a failed launch's error. */
  int (*synchronize)(char *err, size_t errlen);
} rl_gpu_backend_t;

/* The CUDA driver (dlopen of libcuda.so.1) with NVRTC (dlopen of libnvrtc): always
 * returned; its available() says whether a GPU can be used. */
const rl_gpu_backend_t *rl_gpu_cuda_backend(void);
/* The CPU simulator: the host's C++ compiler against a prelude defining CUDA's built-ins,
 * each block's threads run as cooperative fibers. */
const rl_gpu_backend_t *rl_gpu_sim_backend(void);

#endif
