/* driver_lib.h: opening the CUDA driver library with dlopen and resolving the functions a
 * caller names, shared by detect.c (counting GPUs) and driver.c (running kernels). */
#ifndef RL_GPU_DRIVER_LIB_H
#define RL_GPU_DRIVER_LIB_H
#include <stddef.h>

/* The driver's library as NVIDIA's installer names it (never linked: a binary linked to
 * the toolkit's stub cannot start where there is no driver). */
#define RL_CU_LIB "libcuda.so.1"

/* One function to resolve: its symbol and where its address goes in the caller's table
 * of function pointers (RL_CU_SYM(table_type, field, "cuSymbol")). */
typedef struct {
  const char *sym;
  size_t off;
} rl_cu_sym_t;
#define RL_CU_SYM(type, field, sym) {sym, offsetof(type, field)}

/* Opens the library at path (RTLD_NOW | RTLD_LOCAL) and stores the address of each of
 * the n syms at its offset in table. Calls no driver function: what the caller then
 * calls (cuInit or more) is all the CUDA state the process gets. Returns the handle, to
 * keep or give to rl_cu_lib_close, or NULL with err: "no CUDA driver: <path> not found",
 * "no CUDA driver: <path> cannot be loaded (<dlerror>)" or "no CUDA driver: <path> has
 * no <sym>: it is too old for rayl (update the NVIDIA driver)". */
void *rl_cu_lib_open(const char *path, const rl_cu_sym_t *syms, size_t n, void *table, char *err, size_t errlen);

/* Unloads a library rl_cu_lib_open returned and nulls *h; safe on NULL and twice. */
void rl_cu_lib_close(void **h);

#endif
