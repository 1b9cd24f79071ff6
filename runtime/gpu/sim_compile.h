/* sim_compile.h: the CPU simulator's compiler: CUDA C source built into a shared object
 * by the host's C++ compiler, against the prelude. */
#ifndef RL_GPU_SIM_COMPILE_H
#define RL_GPU_SIM_COMPILE_H
#include <stdbool.h>
#include <stddef.h>

/* Whether a host C++ compiler is there ($CXX, else c++, g++ or clang++ on PATH, looked
 * up once per process): true, or false with why saying what to install. */
bool rl_sim_cxx_available(char *why, size_t whylen);

/* The target images are built for: "sim-<machine>-<compiler>-<hash>", the hash covering
 * the compiler's file, the prelude and the flags. Borrowed; NULL without a compiler. */
const char *rl_sim_cxx_arch(void);

/* backend.h's compile for the simulator: source (with the kernel `name`'s trampoline
 * appended) compiled into a shared object, whose bytes go to *image (malloc'd,
 * *image_len). Options as NVRTC takes them: -D/-U/-I/-include/-std (and their long
 * forms) are passed on, NVRTC's code generation options are ignored, others refused.
 * Returns 0, or -1 with err (one line) and *log (malloc'd; the compiler's output, or what
 * the simulator found in the source; NULL if none). */
int rl_sim_compile(const char *source, const char *name, const char *const *options, size_t noptions, char **image,
                   size_t *image_len, char **log, char *err, size_t errlen);

#endif
