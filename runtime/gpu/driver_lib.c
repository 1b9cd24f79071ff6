/* driver_lib.c: the CUDA driver library through dlopen: open it, resolve the asked-for
 * functions, and say which part is missing when it cannot. */
#include "gpu/driver_lib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

void *rl_cu_lib_open(const char *path, const rl_cu_sym_t *syms, size_t n, void *table, char *err, size_t errlen) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    if (!e || strstr(e, "No such file")) snprintf(err, errlen, "no CUDA driver: %s not found", path);
    else snprintf(err, errlen, "no CUDA driver: %s cannot be loaded (%s)", path, e);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    void *f = dlsym(h, syms[i].sym);
    if (!f) {
      snprintf(err, errlen, "no CUDA driver: %s has no %s: it is too old for rayl (update the NVIDIA driver)", path,
               syms[i].sym);
      rl_cu_lib_close(&h);
      return NULL;
    }
    /* A function pointer stored through memcpy: ISO C has no cast from void *. */
    memcpy((char *)table + syms[i].off, &f, sizeof f);
  }
  return h;
}

void rl_cu_lib_close(void **h) {
  if (h && *h) {
    dlclose(*h);
    *h = NULL;
  }
}
