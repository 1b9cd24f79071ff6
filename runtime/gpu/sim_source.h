/* sim_source.h: CUDA C source made ready for the CPU simulator's host compiler. */
#ifndef RL_GPU_SIM_SOURCE_H
#define RL_GPU_SIM_SOURCE_H
#include <stddef.h>

/* Returns src rewritten for the simulator (malloc'd; line for line, so the compiler's
 * line numbers are the user's): `extern __shared__ T name[];` becomes a pointer to the
 * launch's dynamic shared memory, `static __shared__` drops its `static` (the prelude's
 * __shared__ has one). Sets *flags to the RL_SIM_USES_* (sim_abi.h) the source needs.
 * Returns NULL with err naming the feature and its line when the source uses one the
 * simulator cannot run (inline assembly, kernel launches from device code) or an
 * extern __shared__ declaration it cannot read, or when out of memory. */
char *rl_sim_source_rewrite(const char *src, unsigned *flags, char *err, size_t errlen);

#endif
