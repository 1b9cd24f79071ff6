/* signature.h: a kernel's parameter list read from its CUDA C source
 * (extern "C" __global__ void name(params)), so launches check their arguments. */
#ifndef RL_GPU_SIGNATURE_H
#define RL_GPU_SIGNATURE_H
#include <stdbool.h>
#include <stddef.h>

#define RL_SIG_MAXPARAMS 64

/* A parameter's value type (a pointer's pointee type for RL_SIG_PTR). */
typedef enum {
  RL_SIG_UNKNOWN = 0, /* a type rayl cannot pass by value (struct, float2, __half...) */
  RL_SIG_BOOL,
  RL_SIG_I8,
  RL_SIG_U8,
  RL_SIG_I16,
  RL_SIG_U16,
  RL_SIG_I32,
  RL_SIG_U32,
  RL_SIG_I64,
  RL_SIG_U64,
  RL_SIG_F32,
  RL_SIG_F64,
  RL_SIG_VOID, /* only as a pointee (void *) */
  RL_SIG_PTR,
} rl_sig_kind_t;

typedef struct {
  rl_sig_kind_t kind;    /* a scalar kind, RL_SIG_PTR or RL_SIG_UNKNOWN */
  rl_sig_kind_t pointee; /* for RL_SIG_PTR: the element kind (UNKNOWN for T **, structs) */
  bool is_const;         /* for RL_SIG_PTR: the kernel only reads through it */
  char type[64];         /* the type as written, normalized ("const float *") */
  char name[64];         /* the parameter's name, "" if unnamed */
} rl_sig_param_t;

typedef struct {
  int nparams;
  bool extern_c; /* declared extern "C" (else its symbol name is mangled) */
  rl_sig_param_t params[RL_SIG_MAXPARAMS];
} rl_sig_t;

/* Finds the __global__ function `name` in source and reads its parameters into out.
 * Simple aliases in the source (typedef T name; using name = T; #define name T) are
 * resolved. Returns 0, or -1 with err saying why the list could not be read (not
 * found, a macro, too many parameters); out is then undefined. Never reads past source's
 * NUL. */
int rl_sig_parse(const char *source, const char *name, rl_sig_t *out, char *err, size_t errlen);

/* Bytes a value of kind k takes as a kernel argument (pointers: 8), 0 for UNKNOWN/VOID. */
size_t rl_sig_kind_size(rl_sig_kind_t k);
/* The C name of kind k ("float", "unsigned int", ...). */
const char *rl_sig_kind_name(rl_sig_kind_t k);

#endif
