/* sim_abi.h: what a kernel image of the CPU simulator shares with its launcher. The
 * prelude (sim_prelude.c) declares the same struct in C++; an image exports
 * `rl_sim_abi *rl_sim_abi_get(void)`, which fills in the image's half and returns it. */
#ifndef RL_GPU_SIM_ABI_H
#define RL_GPU_SIM_ABI_H
#include <stddef.h>
#include <stdint.h>

#define RL_SIM_ABI_VERSION 1
#define RL_SIM_ABI_SYMBOL "rl_sim_abi_get"

/* What the source uses, found when it is compiled (rl_sim_source_rewrite). */
enum {
  RL_SIM_USES_SYNC = 1, /* barriers (__syncthreads and kin): threads run as fibers */
  RL_SIM_USES_TRAP = 2  /* assert or __trap: threads run as fibers, so one can stop the launch */
};

typedef struct {
  unsigned x, y, z;
} rl_sim_dim_t;

typedef struct {
  /* Filled in by the image. */
  uint32_t version, size; /* RL_SIM_ABI_VERSION, sizeof as the image saw it */
  const char *kernel;     /* the kernel's name */
  uint32_t flags;         /* RL_SIM_USES_* */
  uint32_t nparams;       /* the kernel's parameter count */
  size_t static_smem;     /* bytes of the kernel's static __shared__ variables */
  size_t dyn_smem_cap;    /* bytes of its buffer for extern __shared__ */
  /* Written by the launcher, read by the kernel's code. */
  rl_sim_dim_t thread_idx, block_idx, block_dim, grid_dim;
  void (*barrier)(void *ctx);               /* __syncthreads: returns once the block got there */
  void (*trap)(void *ctx, const char *msg); /* assert/__trap: ends the launch, never returns */
  void *ctx;
  int bar_count, bar_and, bar_or; /* the votes of __syncthreads_count/_and/_or so far */
  int res_count, res_and, res_or; /* the last barrier's results */
  /* The image's entry points: every thread of the grid in order (no barriers), or the one
   * thread at block_idx/thread_idx. args as cuLaunchKernel takes them. */
  void (*run_grid)(void **args);
  void (*run_thread)(void **args);
} rl_sim_abi_t;

#endif
