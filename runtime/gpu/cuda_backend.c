/* cuda_backend.c: backend.h on a real GPU: NVRTC compiles (a cubin for the device's arch
 * plus its PTX, packed in one image), the CUDA driver loads, launches and moves memory. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"
#include "common/xalloc.h"
#include "gpu/backend.h"
#include "gpu/driver.h"
#include "gpu/nvrtc.h"

/* An image: magic, cubin length, PTX length (both uint64, host order), cubin, PTX. */
#define S_MAGIC "RLCUBIN1"
#define S_HDR (8 + 16)

struct rl_gpu_kernel {
  rl_cu_module_t mod;
  rl_cu_function_t fn;
  int max_threads;   /* per block, for this kernel (registers can lower it) */
  int static_shared; /* bytes of __shared__ it declares */
  int dyn_shared;    /* dynamic shared memory it was opened up to (cuFuncSetAttribute) */
  char name[];
};

static struct {
  pthread_once_t once;
  bool ok;
  char why[1600];
  rl_cu_device_info_t dev;
  char arch[32]; /* the NVRTC target: sm_XY, or compute_XY (PTX for the driver to compile) */
  const rl_cu_api_t *cu;
} s_st = {.once = PTHREAD_ONCE_INIT};

static void s_init_once(void) {
  char err[512];
  s_st.cu = rl_cu_load(s_st.why, sizeof s_st.why);
  if (!s_st.cu) return;
  if (rl_cu_device_info(&s_st.dev, s_st.why, sizeof s_st.why) != 0) return;
  if (rl_nvrtc_load(err, sizeof err) != 0) {
    snprintf(s_st.why, sizeof s_st.why, "a GPU is there (%s) but %s", s_st.dev.name, err);
    return;
  }
  if (rl_nvrtc_target(s_st.dev.cc, s_st.arch, sizeof s_st.arch, err, sizeof err) != 0) {
    snprintf(s_st.why, sizeof s_st.why, "%s: %s", s_st.dev.name, err);
    return;
  }
  s_st.ok = true;
}

/* Whether the driver, a device and NVRTC are there; why not in err. */
static bool s_ok(char *err, size_t errlen) {
  pthread_once(&s_st.once, s_init_once);
  if (s_st.ok) return true;
  snprintf(err, errlen, "%s", s_st.why);
  return false;
}

/* s_ok, and device 0's context current on this thread. */
static bool s_ready(char *err, size_t errlen) { return s_ok(err, errlen) && rl_cu_context(err, errlen) == 0; }

static bool s_available(char *why, size_t whylen) { return s_ok(why, whylen); }

static bool s_ok_quiet(void) {
  pthread_once(&s_st.once, s_init_once);
  return s_st.ok;
}

static int s_device_count(void) { return s_ok_quiet() ? s_st.dev.count : 0; }

static const char *s_arch(void) { return s_ok_quiet() ? s_st.arch : NULL; }

/* ---- images ---- */

static int s_pack(const rl_nvrtc_out_t *o, char **image, size_t *len) {
  uint64_t lens[2] = {o->cubin_len, o->ptx_len};
  size_t n = S_HDR + o->cubin_len + o->ptx_len;
  char *p = malloc(n);
  if (!p) return -1;
  memcpy(p, S_MAGIC, 8);
  memcpy(p + 8, lens, 16);
  if (o->cubin_len) memcpy(p + S_HDR, o->cubin, o->cubin_len);
  if (o->ptx_len) memcpy(p + S_HDR + o->cubin_len, o->ptx, o->ptx_len);
  *image = p;
  *len = n;
  return 0;
}

/* Finds the cubin and PTX in an image; -1 if it is not one this file made. */
static int s_unpack(const char *image, size_t len, const char **cubin, size_t *cubin_len, const char **ptx,
                    size_t *ptx_len) {
  uint64_t lens[2];
  if (len < S_HDR || memcmp(image, S_MAGIC, 8) != 0) return -1;
  memcpy(lens, image + 8, 16);
  if (lens[0] > len - S_HDR || lens[1] > len - S_HDR - lens[0] || S_HDR + lens[0] + lens[1] != len) return -1;
  if (lens[1] && image[S_HDR + lens[0] + lens[1] - 1] != 0) return -1; /* PTX is NUL-terminated */
  *cubin = lens[0] ? image + S_HDR : NULL;
  *cubin_len = (size_t)lens[0];
  *ptx = lens[1] ? image + S_HDR + lens[0] : NULL;
  *ptx_len = (size_t)lens[1];
  return 0;
}

static int s_compile(const char *source, const char *name, const char *const *options, size_t noptions, char **image,
                     size_t *image_len, char **log, char *err, size_t errlen) {
  rl_nvrtc_out_t o;
  *image = NULL;
  *log = NULL;
  if (!s_ok(err, errlen)) return -1;
  if (rl_nvrtc_compile(source, name, options, noptions, s_st.arch, &o, log, err, errlen) != 0) return -1;
  int rc = s_pack(&o, image, image_len);
  rl_nvrtc_out_free(&o);
  if (rc) snprintf(err, errlen, "out of memory packing the compiled kernel");
  return rc;
}

/* Loads the PTX, keeping the JIT's error log for the message. */
static rl_cu_result_t s_load_ptx(rl_cu_module_t *mod, const char *ptx, char *log, size_t loglen) {
  int opts[2] = {RL_CU_JIT_ERROR_LOG_BUFFER, RL_CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[2] = {log, (void *)(uintptr_t)loglen};
  log[0] = 0;
  return s_st.cu->ModuleLoadDataEx(mod, ptx, 2, opts, vals);
}

static rl_gpu_kernel_t *s_load(const char *image, size_t image_len, const char *name, char *err, size_t errlen) {
  const char *cubin, *ptx;
  size_t cubin_len, ptx_len;
  char log[1024], what[300];
  rl_cu_module_t mod = NULL;
  rl_cu_result_t r = RL_CU_ERROR_INVALID_PTX;
  if (!s_ready(err, errlen)) return NULL;
  if (s_unpack(image, image_len, &cubin, &cubin_len, &ptx, &ptx_len) != 0) {
    snprintf(err, errlen, "the image of kernel '%s' is not one rayl's GPU backend compiled (a damaged cache file?)",
             name);
    return NULL;
  }
  if (cubin) r = s_st.cu->ModuleLoadDataEx(&mod, cubin, 0, NULL, NULL);
  if (r != RL_CU_SUCCESS && ptx) {
    rl_cu_result_t rp = s_load_ptx(&mod, ptx, log, sizeof log);
    if (rp != RL_CU_SUCCESS) {
      snprintf(what, sizeof what, "cannot load kernel '%s' on %s%s%s", name, s_st.dev.name, log[0] ? ": " : "", log);
      rl_cu_strerror(rp, what, err, errlen);
      if (rp == RL_CU_ERROR_UNSUPPORTED_PTX_VERSION) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, "; the NVIDIA driver (CUDA %d.%d) is older than %s: update the driver",
                 s_st.dev.driver / 1000, s_st.dev.driver % 1000 / 10, rl_nvrtc_version());
      }
      return NULL;
    }
    r = rp;
  }
  if (r != RL_CU_SUCCESS) {
    snprintf(what, sizeof what, "cannot load kernel '%s' on %s", name, s_st.dev.name);
    rl_cu_strerror(r, what, err, errlen);
    return NULL;
  }
  size_t nlen = strlen(name);
  rl_gpu_kernel_t *k = rl_xcalloc(1, sizeof *k + nlen + 1);
  memcpy(k->name, name, nlen + 1);
  k->mod = mod;
  r = s_st.cu->ModuleGetFunction(&k->fn, mod, name);
  if (r != RL_CU_SUCCESS) {
    if (r == RL_CU_ERROR_NOT_FOUND)
      snprintf(err, errlen,
               "the compiled source has no kernel named '%s': check the name, and declare it extern \"C\" "
               "__global__ so its name is not mangled",
               name);
    else rl_cu_strerror(r, "cuModuleGetFunction", err, errlen);
    s_st.cu->ModuleUnload(mod);
    free(k);
    return NULL;
  }
  if (s_st.cu->FuncGetAttribute(&k->max_threads, RL_CU_FUNC_MAX_THREADS_PER_BLOCK, k->fn) != RL_CU_SUCCESS)
    k->max_threads = s_st.dev.max_threads;
  if (s_st.cu->FuncGetAttribute(&k->static_shared, RL_CU_FUNC_SHARED_SIZE_BYTES, k->fn) != RL_CU_SUCCESS)
    k->static_shared = 0;
  return k;
}

static void s_unload(rl_gpu_kernel_t *k) {
  if (!k) return;
  if (s_st.cu) s_st.cu->ModuleUnload(k->mod);
  free(k);
}

/* ---- launches ---- */

/* The launch's shape against the device's and this kernel's limits. */
static int s_check_shape(const rl_gpu_kernel_t *k, const rl_gpu_launch_t *l, char *err, size_t errlen) {
  static const char xyz[] = "xyz";
  unsigned long long threads = 1;
  for (int i = 0; i < 3; i++) {
    if (l->block[i] < 1 || l->block[i] > (unsigned)s_st.dev.max_block[i]) {
      snprintf(err, errlen, "block.%c = %u is out of range for %s: 1 to %d", xyz[i], l->block[i], s_st.dev.name,
               s_st.dev.max_block[i]);
      return -1;
    }
    if (l->grid[i] < 1 || l->grid[i] > (unsigned)s_st.dev.max_grid[i]) {
      snprintf(err, errlen, "grid.%c = %u is out of range for %s: 1 to %d", xyz[i], l->grid[i], s_st.dev.name,
               s_st.dev.max_grid[i]);
      return -1;
    }
    threads *= l->block[i];
  }
  if (threads > (unsigned long long)k->max_threads) {
    snprintf(err, errlen, "a block of %llu threads is too big: kernel '%s' allows at most %d per block on %s", threads,
             k->name, k->max_threads, s_st.dev.name);
    return -1;
  }
  if (l->shared_mem > (size_t)s_st.dev.max_shared_optin - (size_t)k->static_shared) {
    snprintf(err, errlen,
             "shared_mem = %zu bytes is too much: kernel '%s' declares %d bytes of __shared__ and %s has %d per block",
             l->shared_mem, k->name, k->static_shared, s_st.dev.name, s_st.dev.max_shared_optin);
    return -1;
  }
  return 0;
}

static int s_launch(rl_gpu_kernel_t *k, const rl_gpu_launch_t *l, char *err, size_t errlen) {
  if (!s_ready(err, errlen) || s_check_shape(k, l, err, errlen) != 0) return -1;
  rl_cu_result_t r;
  /* More than the default 48 KB of dynamic shared memory must be asked for first. */
  if (l->shared_mem > (size_t)k->dyn_shared && l->shared_mem + (size_t)k->static_shared > (size_t)s_st.dev.max_shared) {
    r = s_st.cu->FuncSetAttribute(k->fn, RL_CU_FUNC_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)l->shared_mem);
    if (r != RL_CU_SUCCESS) {
      rl_cu_strerror(r, "cannot give the kernel that much shared memory (cuFuncSetAttribute)", err, errlen);
      return -1;
    }
    k->dyn_shared = (int)l->shared_mem;
  }
  r = s_st.cu->LaunchKernel(k->fn, l->grid[0], l->grid[1], l->grid[2], l->block[0], l->block[1], l->block[2],
                            (unsigned)l->shared_mem, (rl_cu_stream_t)l->stream, l->args, NULL);
  if (r == RL_CU_SUCCESS) return 0;
  char what[200];
  snprintf(what, sizeof what, "launching kernel '%s' failed", k->name);
  rl_cu_strerror(r, what, err, errlen);
  return -1;
}

/* ---- memory ---- */

static int s_fail(rl_cu_result_t r, const char *what, char *err, size_t errlen) {
  if (r == RL_CU_SUCCESS) return 0;
  rl_cu_strerror(r, what, err, errlen);
  return -1;
}

static int s_alloc(size_t bytes, rl_gpu_ptr_t *out, char *err, size_t errlen) {
  if (!s_ready(err, errlen)) return -1;
  rl_cu_deviceptr_t p = 0;
  char what[100];
  snprintf(what, sizeof what, "cannot allocate %zu bytes on the GPU", bytes);
  if (s_fail(s_st.cu->MemAlloc(&p, bytes ? bytes : 1), what, err, errlen)) return -1;
  *out = p;
  return 0;
}

static void s_free(rl_gpu_ptr_t p) {
  if (p && s_st.ok) s_st.cu->MemFree(p);
}

static int s_copy_in(rl_gpu_ptr_t dst, const void *src, size_t bytes, char *err, size_t errlen) {
  if (!s_ready(err, errlen)) return -1;
  return bytes ? s_fail(s_st.cu->MemcpyHtoD(dst, src, bytes), "copying to the GPU", err, errlen) : 0;
}

static int s_copy_out(void *dst, rl_gpu_ptr_t src, size_t bytes, char *err, size_t errlen) {
  if (!s_ready(err, errlen)) return -1;
  return bytes ? s_fail(s_st.cu->MemcpyDtoH(dst, src, bytes), "copying from the GPU", err, errlen) : 0;
}

static int s_fill(rl_gpu_ptr_t dst, uint8_t byte, size_t bytes, char *err, size_t errlen) {
  if (!s_ready(err, errlen)) return -1;
  return bytes ? s_fail(s_st.cu->MemsetD8(dst, byte, bytes), "filling GPU memory", err, errlen) : 0;
}

static int s_synchronize(char *err, size_t errlen) {
  if (!s_ready(err, errlen)) return -1;
  return s_fail(s_st.cu->CtxSynchronize(), "a kernel failed on the GPU (found at synchronize)", err, errlen);
}

static const rl_gpu_backend_t s_backend = {
    .mode = "gpu",
    .available = s_available,
    .device_count = s_device_count,
    .arch = s_arch,
    .compile = s_compile,
    .load = s_load,
    .unload = s_unload,
    .launch = s_launch,
    .alloc = s_alloc,
    .free = s_free,
    .copy_in = s_copy_in,
    .copy_out = s_copy_out,
    .fill = s_fill,
    .synchronize = s_synchronize,
};

const rl_gpu_backend_t *rl_gpu_cuda_backend(void) { return &s_backend; }
