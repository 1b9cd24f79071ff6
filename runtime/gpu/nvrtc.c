/* nvrtc.c: NVRTC through dlopen: the functions rayl binds are declared here (no
 * nvrtc.h, so rayl builds where the toolkit is missing), compiles to PTX and cubin. */
#include "gpu/nvrtc.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/selftest.h"
#include "common/xalloc.h"

/* NVRTC's types, as nvrtc.h declares them. */
typedef int s_res_t; /* nvrtcResult: 0 NVRTC_SUCCESS, 6 NVRTC_ERROR_COMPILATION */
typedef struct s_prog *s_prog_t;
#define S_OK 0
#define S_MAXARCHS 64

static struct {
  pthread_once_t once;
  int loaded; /* 1 ok, -1 failed (why in err) */
  char err[1024];
  char version[32];
  char include[PATH_MAX + 32]; /* "-I<toolkit include>", "" if not found */
  int archs[S_MAXARCHS], narchs;
  unsigned long compiles;
  const char *(*GetErrorString)(s_res_t);
  s_res_t (*Version)(int *, int *);
  s_res_t (*CreateProgram)(s_prog_t *, const char *, const char *, int, const char *const *, const char *const *);
  s_res_t (*DestroyProgram)(s_prog_t *);
  s_res_t (*CompileProgram)(s_prog_t, int, const char *const *);
  s_res_t (*GetPTXSize)(s_prog_t, size_t *);
  s_res_t (*GetPTX)(s_prog_t, char *);
  s_res_t (*GetCUBINSize)(s_prog_t, size_t *);
  s_res_t (*GetCUBIN)(s_prog_t, char *);
  s_res_t (*GetProgramLogSize)(s_prog_t, size_t *);
  s_res_t (*GetProgramLog)(s_prog_t, char *);
  s_res_t (*GetNumSupportedArchs)(int *);
  s_res_t (*GetSupportedArchs)(int *);
} s_nv = {.once = PTHREAD_ONCE_INIT};

/* Opens the first NVRTC library found; lists what was tried in tried. */
static void *s_open(char *tried, size_t n) {
  static const char *const names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", NULL};
  const char *env = getenv("RAYL_NVRTC"), *home = getenv("CUDA_HOME");
  char path[PATH_MAX];
  tried[0] = 0;
  if (env && *env) {
    void *h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    if (!h) snprintf(tried, n, "%s (RAYL_NVRTC): %s", env, dlerror());
    return h;
  }
  const char *dirs[] = {"", home && *home ? home : NULL, "/usr/local/cuda"};
  for (int i = 0; names[i]; i++)
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
      if (!dirs[d]) continue;
      snprintf(path, sizeof path, "%s%s%s", dirs[d], *dirs[d] ? "/lib64/" : "", names[i]);
      void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
      if (h) return h;
      size_t len = strlen(tried), pl = strlen(path);
      if (i != 0 || len + pl + 3 > n) continue;
      if (len) memcpy(tried + len, ", ", 2), len += 2;
      memcpy(tried + len, path, pl + 1);
    }
  return NULL;
}

/* The toolkit's include folder beside the library (for <cuda_fp16.h> and friends). */
static void s_find_include(void) {
  Dl_info info;
  char lib[PATH_MAX], dir[PATH_MAX + 16];
  const char *home = getenv("CUDA_HOME");
  s_nv.include[0] = 0;
  if (dladdr((void *)s_nv.Version, &info) && info.dli_fname && realpath(info.dli_fname, lib)) {
    snprintf(dir, sizeof dir, "%s/../include/cuda_fp16.h", dirname(lib));
    if (access(dir, R_OK) == 0) {
      dir[strlen(dir) - strlen("/cuda_fp16.h")] = 0;
      snprintf(s_nv.include, sizeof s_nv.include, "-I%s", dir);
      return;
    }
  }
  const char *dirs[] = {home && *home ? home : NULL, "/usr/local/cuda"};
  for (size_t d = 0; d < 2; d++) {
    if (!dirs[d]) continue;
    snprintf(dir, sizeof dir, "%s/include/cuda_fp16.h", dirs[d]);
    if (access(dir, R_OK) != 0) continue;
    snprintf(s_nv.include, sizeof s_nv.include, "-I%s/include", dirs[d]);
    return;
  }
}

#define S_BIND(field, sym, required)                                       \
  do {                                                                     \
    *(void **)&s_nv.field = dlsym(h, sym);                                 \
    if (!s_nv.field && (required)) {                                       \
      snprintf(s_nv.err, sizeof s_nv.err, "NVRTC has no %s: too old", sym); \
      return;                                                              \
    }                                                                      \
  } while (0)

static void s_load_once(void) {
  char tried[768];
  s_nv.loaded = -1;
  void *h = s_open(tried, sizeof tried);
  if (!h) {
    snprintf(s_nv.err, sizeof s_nv.err,
             "NVRTC, the CUDA toolkit's compiler, is not installed (tried %s); install the CUDA toolkit "
             "(or set RAYL_NVRTC to libnvrtc's path)",
             tried);
    return;
  }
  S_BIND(GetErrorString, "nvrtcGetErrorString", 1);
  S_BIND(Version, "nvrtcVersion", 1);
  S_BIND(CreateProgram, "nvrtcCreateProgram", 1);
  S_BIND(DestroyProgram, "nvrtcDestroyProgram", 1);
  S_BIND(CompileProgram, "nvrtcCompileProgram", 1);
  S_BIND(GetPTXSize, "nvrtcGetPTXSize", 1);
  S_BIND(GetPTX, "nvrtcGetPTX", 1);
  S_BIND(GetProgramLogSize, "nvrtcGetProgramLogSize", 1);
  S_BIND(GetProgramLog, "nvrtcGetProgramLog", 1);
  S_BIND(GetCUBINSize, "nvrtcGetCUBINSize", 0);
  S_BIND(GetCUBIN, "nvrtcGetCUBIN", 0);
  S_BIND(GetNumSupportedArchs, "nvrtcGetNumSupportedArchs", 0);
  S_BIND(GetSupportedArchs, "nvrtcGetSupportedArchs", 0);
  int major = 0, minor = 0;
  if (s_nv.Version(&major, &minor) != S_OK) {
    snprintf(s_nv.err, sizeof s_nv.err, "nvrtcVersion failed: NVRTC is broken");
    return;
  }
  snprintf(s_nv.version, sizeof s_nv.version, "nvrtc %d.%d", major, minor);
  bool listed = s_nv.GetNumSupportedArchs && s_nv.GetSupportedArchs &&
                s_nv.GetNumSupportedArchs(&s_nv.narchs) == S_OK && s_nv.narchs > 0 && s_nv.narchs <= S_MAXARCHS &&
                s_nv.GetSupportedArchs(s_nv.archs) == S_OK;
  if (!listed) s_nv.narchs = 0;
  s_find_include();
  s_nv.loaded = 1;
}

int rl_nvrtc_load(char *err, size_t errlen) {
  pthread_once(&s_nv.once, s_load_once);
  if (s_nv.loaded == 1) return 0;
  snprintf(err, errlen, "%s", s_nv.err);
  return -1;
}

const char *rl_nvrtc_version(void) { return s_nv.loaded == 1 ? s_nv.version : NULL; }

unsigned long rl_nvrtc_compiles(void) { return s_nv.compiles; }

int rl_nvrtc_target(int cc, char *arch, size_t archlen, char *err, size_t errlen) {
  if (s_nv.loaded != 1) {
    snprintf(err, errlen, "NVRTC is not loaded");
    return -1;
  }
  if (s_nv.narchs == 0 || !s_nv.GetCUBIN) { /* an old NVRTC: no list, PTX for the device's arch */
    snprintf(arch, archlen, "compute_%d", cc);
    return 0;
  }
  int best = -1;
  for (int i = 0; i < s_nv.narchs; i++) {
    if (s_nv.archs[i] == cc) {
      snprintf(arch, archlen, "sm_%d", cc);
      return 0;
    }
    if (s_nv.archs[i] < cc && s_nv.archs[i] > best) best = s_nv.archs[i];
  }
  if (best < 0) {
    snprintf(err, errlen, "%s cannot compile for this GPU (compute capability %d.%d); it supports %d.%d and newer",
             s_nv.version, cc / 10, cc % 10, s_nv.archs[0] / 10, s_nv.archs[0] % 10);
    return -1;
  }
  snprintf(arch, archlen, "compute_%d", best);
  return 0;
}

/* Copies the program's log into *log (NULL if empty). */
static void s_log(s_prog_t prog, char **log) {
  size_t n = 0;
  *log = NULL;
  if (s_nv.GetProgramLogSize(prog, &n) != S_OK || n <= 1) return;
  char *l = rl_xmalloc(n + 1);
  if (s_nv.GetProgramLog(prog, l) != S_OK) {
    free(l);
    return;
  }
  l[n] = 0;
  *log = l;
}

/* Reads one output (PTX or cubin) of a compiled program into *data (malloc). */
static int s_output(s_prog_t prog, s_res_t (*size)(s_prog_t, size_t *), s_res_t (*get)(s_prog_t, char *), char **data,
                    size_t *len) {
  size_t n = 0;
  *data = NULL;
  *len = 0;
  if (size(prog, &n) != S_OK) return -1;
  if (n == 0) return 0;
  char *d = rl_xmalloc(n);
  if (get(prog, d) != S_OK) {
    free(d);
    return -1;
  }
  *data = d;
  *len = n;
  return 0;
}

static bool s_has_arch(const char *const *options, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strncmp(options[i], "-arch", 5) == 0 || strncmp(options[i], "--gpu-architecture", 18) == 0) return true;
  return false;
}

int rl_nvrtc_compile(const char *source, const char *name, const char *const *options, size_t noptions,
                     const char *arch, rl_nvrtc_out_t *out, char **log, char *err, size_t errlen) {
  char progname[300], archopt[64];
  const char **opts = NULL;
  s_prog_t prog = NULL;
  int rc = -1;
  s_res_t r;
  memset(out, 0, sizeof *out);
  *log = NULL;
  if (s_nv.loaded != 1) {
    snprintf(err, errlen, "NVRTC is not loaded");
    return -1;
  }
  snprintf(progname, sizeof progname, "%s.cu", name);
  snprintf(archopt, sizeof archopt, "--gpu-architecture=%s", arch);
  if (noptions > 1000) {
    snprintf(err, errlen, "too many compiler options (%zu)", noptions);
    return -1;
  }
  opts = rl_xcalloc(noptions + 2, sizeof *opts);
  size_t n = 0;
  for (size_t i = 0; i < noptions; i++) opts[n++] = options[i];
  if (!s_has_arch(options, noptions)) opts[n++] = archopt;
  if (s_nv.include[0]) opts[n++] = s_nv.include;
  if ((r = s_nv.CreateProgram(&prog, source, progname, 0, NULL, NULL)) != S_OK) {
    snprintf(err, errlen, "nvrtcCreateProgram failed: %s", s_nv.GetErrorString(r));
    goto done;
  }
  __atomic_add_fetch(&s_nv.compiles, 1, __ATOMIC_RELAXED);
  if ((r = s_nv.CompileProgram(prog, (int)n, opts)) != S_OK) {
    s_log(prog, log);
    snprintf(err, errlen, "%s could not compile %s: %s", s_nv.version, progname, s_nv.GetErrorString(r));
    goto done;
  }
  if (s_output(prog, s_nv.GetPTXSize, s_nv.GetPTX, &out->ptx, &out->ptx_len) != 0 ||
      (strncmp(arch, "sm_", 3) == 0 && s_nv.GetCUBIN &&
       s_output(prog, s_nv.GetCUBINSize, s_nv.GetCUBIN, &out->cubin, &out->cubin_len) != 0)) {
    snprintf(err, errlen, "out of memory reading what NVRTC compiled");
    goto done;
  }
  if (!out->ptx && !out->cubin) {
    snprintf(err, errlen, "%s compiled %s to nothing (options: an -arch NVRTC cannot emit?)", s_nv.version, progname);
    goto done;
  }
  rc = 0;
done:
  if (rc) rl_nvrtc_out_free(out);
  if (prog) s_nv.DestroyProgram(&prog);
  free(opts);
  return rc;
}

void rl_nvrtc_out_free(rl_nvrtc_out_t *o) {
  free(o->ptx);
  free(o->cubin);
  memset(o, 0, sizeof *o);
}
