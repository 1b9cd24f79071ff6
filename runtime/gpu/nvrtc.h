/* nvrtc.h: the CUDA toolkit's run-time compiler (NVRTC), loaded with dlopen (never
 * linked, so rayl builds and runs where the toolkit is missing): CUDA C source to PTX
 * and to a cubin for one GPU architecture. */
#ifndef RL_GPU_NVRTC_H
#define RL_GPU_NVRTC_H
#include <stdbool.h>
#include <stddef.h>

/* What one compile made (each malloc'd, the caller's; free with rl_nvrtc_out_free). */
typedef struct {
  char *ptx; /* NUL-terminated; ptx_len counts the NUL */
  size_t ptx_len;
  char *cubin; /* NULL when the target was a compute_XY (PTX only) */
  size_t cubin_len;
} rl_nvrtc_out_t;

/* Loads NVRTC once per process: $RAYL_NVRTC if set, else libnvrtc.so.13 (then 12, 11.2),
 * also from $CUDA_HOME/lib64 and /usr/local/cuda/lib64. Returns 0, or -1 with err naming
 * what was tried and what to install. */
int rl_nvrtc_load(char *err, size_t errlen);

/* "nvrtc 13.0" once loaded, else NULL (part of the kernel cache's key). */
const char *rl_nvrtc_version(void);

/* The target for a GPU of compute capability cc (major*10+minor, e.g. 90): "sm_90"
 * (cubin and PTX) when NVRTC supports it, else the newest "compute_XY" at or below cc
 * that it supports (PTX only, for the driver to compile). Returns 0, or -1 with err when
 * NVRTC supports nothing at or below cc. Needs rl_nvrtc_load first. */
int rl_nvrtc_target(int cc, char *arch, size_t archlen, char *err, size_t errlen);

/* Compiles source (program name `name`.cu, so the log reads "saxpy.cu(3): error ...")
 * for arch ("sm_90" or "compute_90") with the user's options (an -arch option of theirs
 * wins). Returns 0 with out filled; or -1 with err and, for a compile error, *log
 * (malloc'd NUL-terminated compiler output, the caller's; else NULL). Counts compiles
 * for rl_nvrtc_compiles. Needs rl_nvrtc_load first. */
int rl_nvrtc_compile(const char *source, const char *name, const char *const *options, size_t noptions,
                     const char *arch, rl_nvrtc_out_t *out, char **log, char *err, size_t errlen);
void rl_nvrtc_out_free(rl_nvrtc_out_t *o);

/* How many compiles this process has run (the kernel cache's tests check a hit runs none). */
unsigned long rl_nvrtc_compiles(void);

#endif
