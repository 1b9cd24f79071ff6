/* fuzz_cuda_sig.c: libFuzzer harness for the CUDA kernel signature parser (gpu/signature.c),
 * which reads the user's kernel source: input "name\0source", or all source for kernel k. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *z = memchr(data, 0, size);
  char *name = z ? strndup((const char *)data, (size_t)(z - data)) : strdup("k");
  size_t off = z ? (size_t)(z - data) + 1 : 0;
  char *source = malloc(size - off + 1); /* exact size: ASan sees any read past the NUL */
  memcpy(source, data + off, size - off);
  source[size - off] = 0;
  rl_sig_t sig;
  char err[256];
  err[0] = 0;
  if (rl_sig_parse(source, name, &sig, err, sizeof err) == 0) {
    if (sig.nparams < 0 || sig.nparams > RL_SIG_MAXPARAMS) abort();
    for (int i = 0; i < sig.nparams; i++) {
      const rl_sig_param_t *p = &sig.params[i];
      if (!memchr(p->type, 0, sizeof p->type) || !memchr(p->name, 0, sizeof p->name)) abort();
      (void)rl_sig_kind_size(p->kind);
      (void)strlen(rl_sig_kind_name(p->kind == RL_SIG_PTR ? p->pointee : p->kind));
    }
  } else if (!err[0]) {
    abort(); /* a failure always says why */
  }
  free(source);
  free(name);
  return 0;
}
