/* cuda_args.h: checking and converting a kernel launch's Lua arguments for rayl.cuda
 * (l_cuda.c): launch dimensions, shared memory, stream, and each argument against the
 * kernel's parameter list, with rayl.arrays passed through temporary device buffers. */
#ifndef RL_HOST_CUDA_ARGS_H
#define RL_HOST_CUDA_ARGS_H
#include <lua.h>

#include "host/array.h"
#include "host/l_cuda.h"

/* One argument's value, as the kernel reads it. */
typedef union {
  int8_t i8;
  uint8_t u8;
  int16_t i16;
  uint16_t u16;
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  uint64_t u64;
  float f32;
  double f64;
  bool b;
  rl_gpu_ptr_t p;
} rl_cuda_val_t;

/* A rayl.array passed for a pointer: copied into a temporary device buffer, and back
 * after the launch unless the kernel only reads it. */
typedef struct {
  int arg;
  rl_array_t *a;
  rl_gpu_ptr_t ptr;
  size_t bytes;
  bool back;
} rl_cuda_tmp_t;

/* One launch's converted arguments: args[i] points at vals[i] (what the driver reads). */
typedef struct {
  rl_cuda_fn_t *fn;
  rl_cuda_val_t vals[RL_SIG_MAXPARAMS];
  void *args[RL_SIG_MAXPARAMS];
  rl_cuda_tmp_t tmps[RL_SIG_MAXPARAMS];
  int ntmps;
  char err[RL_CUDA_ERR];
} rl_cuda_launch_t;

/* Reads the grid (a number or a table of 1 to 3 numbers) at idx into grid; raises a
 * ValueError naming fn's kernel when it is not one or is beyond CUDA's limits. */
void rl_cuda_check_grid(lua_State *L, const rl_cuda_fn_t *fn, int idx, unsigned grid[3]);

/* The same for the block, which also may not have more than 1024 threads in all. */
void rl_cuda_check_block(lua_State *L, const rl_cuda_fn_t *fn, int idx, unsigned block[3]);

/* The bytes of dynamic shared memory at idx (nil: 0); raises a ValueError for anything
 * but a whole number from 0 to 2^31-1. */
size_t rl_cuda_check_shared_mem(lua_State *L, const rl_cuda_fn_t *fn, int idx);

/* The stream at idx: nil (the default stream, NULL), a CUstream as a light userdata or a
 * number; raises a ValueError for anything else. */
void *rl_cuda_check_stream(lua_State *L, const rl_cuda_fn_t *fn, int idx);

/* Checks the n arguments from stack index first against ls->fn's parameters (by their
 * Lua types where the parameter list is unknown) and converts them into ls->vals and
 * ls->args; each rayl.array passed for a pointer is noted in ls->tmps. Raises nothing:
 * returns 0, or -1 with ls->err naming the kernel and the argument. */
int rl_cuda_args(lua_State *L, rl_cuda_launch_t *ls, int first, int n);

/* Makes the temporary device buffers and copies the rayl.arrays in. Returns 0, or -1
 * with ls->err (all temporaries freed). */
int rl_cuda_tmps_in(rl_cuda_launch_t *ls);

/* Copies the arrays the kernel may have written back and frees the temporaries. Returns
 * 0, or -1 with ls->err (freed all the same). */
int rl_cuda_tmps_out(rl_cuda_launch_t *ls);

/* Frees the temporaries without copying anything back (after a failed launch). */
void rl_cuda_tmps_free(rl_cuda_launch_t *ls);

#endif
