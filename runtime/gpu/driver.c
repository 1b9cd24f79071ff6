/* driver.c: the CUDA driver, opened by driver_lib.c: binds the functions rayl uses,
 * runs cuInit, keeps device 0's primary context, and says clearly when there is no driver. */
#include "gpu/driver.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/selftest.h"
#include "gpu/driver_lib.h"

typedef struct {
  rl_cu_api_t api;
  bool ok;
  bool forked; /* this is a child forked after cuInit ran in its parent */
  pid_t pid;   /* the process that ran cuInit */
  char err[768];
} s_state_t;

static s_state_t s_drv;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t s_ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static rl_cu_context_t s_ctx;     /* device 0's primary context, retained once */
static __thread rl_cu_context_t s_current; /* what this thread made current */

#define S_ADVICE "to run kernels on the CPU instead, use the simulator: RAYL_CUDA=sim (or cuda.kernel(src, name, { sim = true }))"

char *rl_cu_strerror(rl_cu_result_t r, const char *what, char *buf, size_t n) {
  const char *name = NULL, *desc = NULL;
  if (!s_drv.ok || s_drv.api.GetErrorName(r, &name) != RL_CU_SUCCESS) name = NULL;
  if (!s_drv.ok || s_drv.api.GetErrorString(r, &desc) != RL_CU_SUCCESS) desc = NULL;
  if (name) snprintf(buf, n, "%s: %s (%s)", what, name, desc ? desc : "no description");
  else snprintf(buf, n, "%s: CUDA error %d", what, r);
  return buf;
}

/* Every function of rl_cu_api_t and its symbol. */
static const rl_cu_sym_t s_syms[] = {
#define S_SYM(field, sym) RL_CU_SYM(rl_cu_api_t, field, sym)
    S_SYM(Init, "cuInit"),
    S_SYM(DriverGetVersion, "cuDriverGetVersion"),
    S_SYM(GetErrorName, "cuGetErrorName"),
    S_SYM(GetErrorString, "cuGetErrorString"),
    S_SYM(DeviceGetCount, "cuDeviceGetCount"),
    S_SYM(DeviceGet, "cuDeviceGet"),
    S_SYM(DeviceGetName, "cuDeviceGetName"),
    S_SYM(DeviceGetAttribute, "cuDeviceGetAttribute"),
    S_SYM(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    S_SYM(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
    S_SYM(CtxSetCurrent, "cuCtxSetCurrent"),
    S_SYM(CtxSynchronize, "cuCtxSynchronize"),
    S_SYM(MemAlloc, "cuMemAlloc_v2"),
    S_SYM(MemFree, "cuMemFree_v2"),
    S_SYM(MemcpyHtoD, "cuMemcpyHtoD_v2"),
    S_SYM(MemcpyDtoH, "cuMemcpyDtoH_v2"),
    S_SYM(MemsetD8, "cuMemsetD8_v2"),
    S_SYM(ModuleLoadDataEx, "cuModuleLoadDataEx"),
    S_SYM(ModuleUnload, "cuModuleUnload"),
    S_SYM(ModuleGetFunction, "cuModuleGetFunction"),
    S_SYM(FuncGetAttribute, "cuFuncGetAttribute"),
    S_SYM(FuncSetAttribute, "cuFuncSetAttribute"),
    S_SYM(LaunchKernel, "cuLaunchKernel"),
#undef S_SYM
};

/* Loads lib (NULL: libcuda.so.1) and runs cuInit into st. */
static void s_try(const char *lib, s_state_t *st) {
  const char *name = lib ? lib : RL_CU_LIB;
  memset(st, 0, sizeof *st);
  char why[600];
  void *h = rl_cu_lib_open(name, s_syms, sizeof s_syms / sizeof s_syms[0], &st->api, why, sizeof why);
  if (!h) {
    snprintf(st->err, sizeof st->err, "%s; " S_ADVICE, why);
    return;
  }
  rl_cu_result_t r = st->api.Init(0);
  if (r == RL_CU_ERROR_STUB_LIBRARY) {
    snprintf(st->err, sizeof st->err,
             "no CUDA driver: %s is the CUDA toolkit's stub library, not an NVIDIA driver; " S_ADVICE, name);
  } else if (r == RL_CU_ERROR_NO_DEVICE) {
    const char *vis = getenv("CUDA_VISIBLE_DEVICES");
    snprintf(st->err, sizeof st->err, "no CUDA driver: the NVIDIA driver finds no GPU%s%s%s; " S_ADVICE,
             vis ? " (CUDA_VISIBLE_DEVICES=\"" : "", vis ? vis : "", vis ? "\")" : "");
  } else if (r == RL_CU_ERROR_INSUFFICIENT_DRIVER) {
    snprintf(st->err, sizeof st->err,
             "the NVIDIA driver behind %s is too old for this CUDA (cuInit returned 35): update the driver; " S_ADVICE,
             name);
  } else if (r != RL_CU_SUCCESS) {
    snprintf(st->err, sizeof st->err, "the CUDA driver did not start: cuInit failed with CUDA error %d; " S_ADVICE, r);
  } else {
    st->ok = true;
    st->pid = getpid();
    return;
  }
  rl_cu_lib_close(&h);
}

/* A child forked after cuInit cannot use the driver (CUDA's rule); say so rather than
 * let it fail with CUDA_ERROR_NOT_INITIALIZED. */
static void s_atfork_child(void) {
  s_drv.forked = true;
  s_current = NULL;
}

static void s_load_once(void) {
  const char *lib = getenv("RAYL_CUDA_DRIVER");
  s_try(lib && *lib ? lib : NULL, &s_drv);
  if (s_drv.ok) pthread_atfork(NULL, NULL, s_atfork_child);
}

const rl_cu_api_t *rl_cu_load(char *err, size_t errlen) {
  pthread_once(&s_once, s_load_once);
  if (!s_drv.ok) {
    snprintf(err, errlen, "%s", s_drv.err);
    return NULL;
  }
  if (s_drv.forked) {
    snprintf(err, errlen,
             "the CUDA driver was set up in process %d, which then forked this one; CUDA cannot be used in a forked "
             "child: use rayl.cuda only in the tasks and actors that run the kernels",
             (int)s_drv.pid);
    return NULL;
  }
  return &s_drv.api;
}

static int s_attr(int attr, int *out, char *err, size_t errlen) {
  rl_cu_device_t dev;
  rl_cu_result_t r = s_drv.api.DeviceGet(&dev, 0);
  if (r == RL_CU_SUCCESS) r = s_drv.api.DeviceGetAttribute(out, attr, dev);
  if (r == RL_CU_SUCCESS) return 0;
  rl_cu_strerror(r, "cuDeviceGetAttribute", err, errlen);
  return -1;
}

int rl_cu_device_info(rl_cu_device_info_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!rl_cu_load(err, errlen)) return -1;
  rl_cu_result_t r = s_drv.api.DeviceGetCount(&out->count);
  if (r != RL_CU_SUCCESS) {
    rl_cu_strerror(r, "cuDeviceGetCount", err, errlen);
    return -1;
  }
  if (out->count < 1) {
    snprintf(err, errlen, "no CUDA driver: the NVIDIA driver finds no GPU; " S_ADVICE);
    return -1;
  }
  int major = 0, minor = 0;
  rl_cu_device_t dev;
  if (s_attr(RL_CU_DEV_COMPUTE_CAPABILITY_MAJOR, &major, err, errlen) ||
      s_attr(RL_CU_DEV_COMPUTE_CAPABILITY_MINOR, &minor, err, errlen) ||
      s_attr(RL_CU_DEV_MAX_THREADS_PER_BLOCK, &out->max_threads, err, errlen) ||
      s_attr(RL_CU_DEV_MAX_SHARED_MEMORY_PER_BLOCK, &out->max_shared, err, errlen))
    return -1;
  for (int i = 0; i < 3; i++)
    if (s_attr(RL_CU_DEV_MAX_BLOCK_DIM_X + i, &out->max_block[i], err, errlen) ||
        s_attr(RL_CU_DEV_MAX_GRID_DIM_X + i, &out->max_grid[i], err, errlen))
      return -1;
  if (s_attr(RL_CU_DEV_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &out->max_shared_optin, err, errlen) != 0)
    out->max_shared_optin = out->max_shared;
  out->cc = major * 10 + minor;
  s_drv.api.DriverGetVersion(&out->driver);
  if (s_drv.api.DeviceGet(&dev, 0) != RL_CU_SUCCESS || s_drv.api.DeviceGetName(out->name, sizeof out->name, dev) != 0)
    snprintf(out->name, sizeof out->name, "GPU 0");
  return 0;
}

int rl_cu_context(char *err, size_t errlen) {
  if (s_current) return 0; /* set on this thread (a fork clears it) */
  if (!rl_cu_load(err, errlen)) return -1;
  rl_cu_result_t r = RL_CU_SUCCESS;
  pthread_mutex_lock(&s_ctx_lock);
  if (!s_ctx) {
    rl_cu_device_t dev;
    r = s_drv.api.DeviceGet(&dev, 0);
    if (r == RL_CU_SUCCESS) r = s_drv.api.DevicePrimaryCtxRetain(&s_ctx, dev);
  }
  pthread_mutex_unlock(&s_ctx_lock);
  if (r != RL_CU_SUCCESS) {
    rl_cu_strerror(r, "cannot open a context on GPU 0 (cuDevicePrimaryCtxRetain)", err, errlen);
    return -1;
  }
  if ((r = s_drv.api.CtxSetCurrent(s_ctx)) != RL_CU_SUCCESS) {
    rl_cu_strerror(r, "cuCtxSetCurrent", err, errlen);
    return -1;
  }
  s_current = s_ctx;
  return 0;
}
