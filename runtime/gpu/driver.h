/* driver.h: the CUDA driver API, loaded with dlopen("libcuda.so.1") at run time (never
 * linked: a binary linked to the toolkit's stub cannot start where there is no driver).
 * Only the types and functions rayl uses are declared, cuda.h is not needed. */
#ifndef RL_GPU_DRIVER_H
#define RL_GPU_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/* cuda.h's types under rayl's names (same sizes and meanings). */
typedef int rl_cu_result_t;        /* CUresult: 0 CUDA_SUCCESS */
typedef int rl_cu_device_t;        /* CUdevice */
typedef uint64_t rl_cu_deviceptr_t; /* CUdeviceptr (64-bit) */
typedef struct rl_cu_ctx *rl_cu_context_t;
typedef struct rl_cu_mod *rl_cu_module_t;
typedef struct rl_cu_func *rl_cu_function_t;
typedef struct rl_cu_stream *rl_cu_stream_t;

/* The CUresult values rayl tells apart. */
enum {
  RL_CU_SUCCESS = 0,
  RL_CU_ERROR_NOT_INITIALIZED = 3,
  RL_CU_ERROR_STUB_LIBRARY = 34,
  RL_CU_ERROR_INSUFFICIENT_DRIVER = 35,
  RL_CU_ERROR_NO_DEVICE = 100,
  RL_CU_ERROR_NO_BINARY_FOR_GPU = 209,
  RL_CU_ERROR_INVALID_PTX = 218,
  RL_CU_ERROR_UNSUPPORTED_PTX_VERSION = 222,
  RL_CU_ERROR_NOT_FOUND = 500,
};

/* CUdevice_attribute, CUfunction_attribute and CUjit_option values rayl asks for. */
enum {
  RL_CU_DEV_MAX_THREADS_PER_BLOCK = 1,
  RL_CU_DEV_MAX_BLOCK_DIM_X = 2,
  RL_CU_DEV_MAX_GRID_DIM_X = 5,
  RL_CU_DEV_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  RL_CU_DEV_COMPUTE_CAPABILITY_MAJOR = 75,
  RL_CU_DEV_COMPUTE_CAPABILITY_MINOR = 76,
  RL_CU_DEV_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
  RL_CU_FUNC_MAX_THREADS_PER_BLOCK = 0,
  RL_CU_FUNC_SHARED_SIZE_BYTES = 1,
  RL_CU_FUNC_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
  RL_CU_JIT_ERROR_LOG_BUFFER = 5,
  RL_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
};

/* The driver functions rayl binds; the _v2 symbols where cuda.h's names are macros. */
typedef struct {
  rl_cu_result_t (*Init)(unsigned flags);
  rl_cu_result_t (*DriverGetVersion)(int *version);
  rl_cu_result_t (*GetErrorName)(rl_cu_result_t r, const char **s);
  rl_cu_result_t (*GetErrorString)(rl_cu_result_t r, const char **s);
  rl_cu_result_t (*DeviceGetCount)(int *count);
  rl_cu_result_t (*DeviceGet)(rl_cu_device_t *dev, int ordinal);
  rl_cu_result_t (*DeviceGetName)(char *name, int len, rl_cu_device_t dev);
  rl_cu_result_t (*DeviceGetAttribute)(int *value, int attr, rl_cu_device_t dev);
  rl_cu_result_t (*DevicePrimaryCtxRetain)(rl_cu_context_t *ctx, rl_cu_device_t dev);
  rl_cu_result_t (*DevicePrimaryCtxRelease)(rl_cu_device_t dev); /* _v2 */
  rl_cu_result_t (*CtxSetCurrent)(rl_cu_context_t ctx);
  rl_cu_result_t (*CtxSynchronize)(void);
  rl_cu_result_t (*MemAlloc)(rl_cu_deviceptr_t *p, size_t bytes);                    /* _v2 */
  rl_cu_result_t (*MemFree)(rl_cu_deviceptr_t p);                                    /* _v2 */
  rl_cu_result_t (*MemcpyHtoD)(rl_cu_deviceptr_t dst, const void *src, size_t bytes); /* _v2 */
  rl_cu_result_t (*MemcpyDtoH)(void *dst, rl_cu_deviceptr_t src, size_t bytes);       /* _v2 */
  rl_cu_result_t (*MemsetD8)(rl_cu_deviceptr_t dst, unsigned char v, size_t n);       /* _v2 */
  rl_cu_result_t (*ModuleLoadDataEx)(rl_cu_module_t *m, const void *image, unsigned nopts, int *opts, void **vals);
  rl_cu_result_t (*ModuleUnload)(rl_cu_module_t m);
  rl_cu_result_t (*ModuleGetFunction)(rl_cu_function_t *f, rl_cu_module_t m, const char *name);
  rl_cu_result_t (*FuncGetAttribute)(int *value, int attr, rl_cu_function_t f);
  rl_cu_result_t (*FuncSetAttribute)(rl_cu_function_t f, int attr, int value);
  rl_cu_result_t (*LaunchKernel)(rl_cu_function_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                 unsigned bz, unsigned shared, rl_cu_stream_t stream, void **params, void **extra);
} rl_cu_api_t;

/* What rayl knows of the device it uses (ordinal 0 of the devices CUDA_VISIBLE_DEVICES
 * leaves). */
typedef struct {
  int count;         /* devices the driver sees */
  int cc;            /* compute capability of device 0, major*10+minor (90 for sm_90) */
  int driver;        /* cuDriverGetVersion (13000 for 13.0) */
  int max_threads;   /* per block */
  int max_block[3];  /* per dimension */
  int max_grid[3];
  int max_shared;    /* bytes of shared memory per block (static + dynamic, no opt-in) */
  int max_shared_optin;
  char name[128];
} rl_cu_device_info_t;

/* Loads the driver and runs cuInit once per process ($RAYL_CUDA_DRIVER names another
 * library to load). Returns the functions, or NULL with err: "no CUDA driver: ..." when
 * libcuda.so.1 is missing or is the toolkit's stub (cuInit 34) or there is no GPU
 * (cuInit 100), else what failed. The driver cannot be used in a process forked after
 * it was set up: that is an error too. */
const rl_cu_api_t *rl_cu_load(char *err, size_t errlen);

/* Device 0's limits and name (after rl_cu_load succeeded). Returns 0, or -1 with err. */
int rl_cu_device_info(rl_cu_device_info_t *out, char *err, size_t errlen);

/* Makes device 0's primary context current on this thread (retained once per process).
 * Returns 0, or -1 with err. */
int rl_cu_context(char *err, size_t errlen);

/* Writes "what: CUDA_ERROR_NAME (description)" for r into buf; returns buf. */
char *rl_cu_strerror(rl_cu_result_t r, const char *what, char *buf, size_t n);

#endif
