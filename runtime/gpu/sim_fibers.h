/* sim_fibers.h: cooperative fibers for the CPU simulator: a block's threads each run on
 * their own stack, one at a time, switching only where one yields (a barrier). */
#ifndef RL_GPU_SIM_FIBERS_H
#define RL_GPU_SIM_FIBERS_H
#include <stddef.h>

typedef struct rl_sim_fibers rl_sim_fibers_t;

typedef struct {
  void (*body)(void *arg, unsigned i);   /* fiber i's work */
  void (*resume)(void *arg, unsigned i); /* before fiber i starts or resumes (NULL: none) */
  void (*pass)(void *arg);               /* after each pass over the fibers (NULL: none) */
  void *arg;
} rl_sim_fiber_job_t;

/* A pool of fiber stacks of stack_size bytes each (rounded up to pages, each with a guard
 * page below it), mapped on first use and kept for later runs. NULL if out of memory. */
rl_sim_fibers_t *rl_sim_fibers_new(size_t stack_size);
/* Unmaps the stacks and frees *p (not during a run); sets *p to NULL; safe twice. */
void rl_sim_fibers_destroy(rl_sim_fibers_t **p);

/* Runs fibers 0..n-1 of job on the calling thread, in passes: each pass starts or resumes
 * every unfinished fiber in order, and each runs until it yields or its body returns.
 * Returns 0 once all finished, 1 if one called rl_sim_fibers_stop (the others are
 * dropped where they were), -1 with err if the stacks could not be mapped. One run at a
 * time per pool. */
int rl_sim_fibers_run(rl_sim_fibers_t *f, unsigned n, const rl_sim_fiber_job_t *job, char *err, size_t errlen);
/* Inside a fiber's body: lets the other fibers run; returns in the next pass. */
void rl_sim_fibers_yield(rl_sim_fibers_t *f);
/* Inside a fiber's body: ends the run now (rl_sim_fibers_run returns 1). */
_Noreturn void rl_sim_fibers_stop(rl_sim_fibers_t *f);

#endif
