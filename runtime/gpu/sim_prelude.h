/* sim_prelude.h: the headers the CPU simulator compiles a kernel against. */
#ifndef RL_GPU_SIM_PRELUDE_H
#define RL_GPU_SIM_PRELUDE_H

/* The prelude's file name: the compiler includes it before the kernel's source. */
#define RL_SIM_PRELUDE_NAME "rl_sim_prelude.h"

typedef struct {
  const char *name; /* a file name (no folder) */
  const char *text;
} rl_sim_header_t;

/* The files written beside a kernel's source, ending in {NULL, NULL}: the prelude (CUDA's
 * built-ins for the host compiler), assert.h (a failed assert ends the launch with a
 * message, not the process), and stand-ins for CUDA's headers: empty where the prelude
 * declares their contents, an #error naming the feature where the simulator lacks it. */
extern const rl_sim_header_t rl_sim_headers[];

#endif
