/* sim_fibers.c: cooperative fibers for the CPU simulator: a small context switch on x86-64
 * (ucontext elsewhere), with the AddressSanitizer annotations stack switches need. */
#include "common/xalloc.h"
#include "gpu/sim_fibers.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The hand-written switch saves only what the ABI says a callee keeps; with control-flow
 * protection (shadow stacks) its first `ret` into a new fiber would fault, so such builds,
 * and other machines, use ucontext (which also switches the signal mask: slower). */
#if defined(__x86_64__) && !defined(__CET__) && !defined(RL_SIM_FIBERS_UCONTEXT)
#define S_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define S_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_ASAN 1
#endif
#endif
#ifdef S_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

typedef struct {
#ifdef S_ASM_SWITCH
  void *sp;
#else
  ucontext_t uc;
#endif
} s_ctx_t;

#ifdef S_ASM_SWITCH
/* rl_sim_ctx_switch(save, to): pushes the callee-saved registers and the SSE/x87 control
 * words, stores the stack pointer in *save, and pops the same from the stack at `to`.
 * rl_sim_ctx_start: where a new fiber's first switch returns to; calls r13(r12). */
void rl_sim_ctx_switch(void **save, void *to);
void rl_sim_ctx_start(void);
__asm__(
    ".pushsection .text\n"
    ".p2align 4\n"
    ".globl rl_sim_ctx_switch\n"
    ".hidden rl_sim_ctx_switch\n"
    ".type rl_sim_ctx_switch,@function\n"
    "rl_sim_ctx_switch:\n"
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  subq $8, %rsp\n"
    "  stmxcsr (%rsp)\n"
    "  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n"
    "  fldcw 4(%rsp)\n"
    "  addq $8, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n"
    ".size rl_sim_ctx_switch,.-rl_sim_ctx_switch\n"
    ".p2align 4\n"
    ".globl rl_sim_ctx_start\n"
    ".hidden rl_sim_ctx_start\n"
    ".type rl_sim_ctx_start,@function\n"
    "rl_sim_ctx_start:\n"
    "  movq %r12, %rdi\n"
    "  callq *%r13\n"
    "  ud2\n"
    ".size rl_sim_ctx_start,.-rl_sim_ctx_start\n"
    ".popsection\n");

/* A new context on [stack, stack+size) whose first switch calls fn(arg): the frame
 * rl_sim_ctx_switch pops, returning into rl_sim_ctx_start with the stack 16-aligned. */
static void s_ctx_make(s_ctx_t *c, char *stack, size_t size, void (*fn)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)(top - 80);
  sp[0] = 0x1F80u | ((uint64_t)0x037Fu << 32); /* MXCSR and x87 control word defaults */
  sp[1] = 0;                                   /* r15 */
  sp[2] = 0;                                   /* r14 */
  sp[3] = (uint64_t)(uintptr_t)fn;             /* r13 */
  sp[4] = (uint64_t)(uintptr_t)arg;            /* r12 */
  sp[5] = 0;                                   /* rbx */
  sp[6] = 0;                                   /* rbp */
  sp[7] = (uint64_t)(uintptr_t)rl_sim_ctx_start;
  sp[8] = sp[9] = 0;
  c->sp = sp;
}

static void s_ctx_switch(s_ctx_t *from, s_ctx_t *to) { rl_sim_ctx_switch(&from->sp, to->sp); }
#else
static void (*s_uc_fn)(void *);

/* makecontext passes ints: the argument travels as two halves. */
static void s_uc_entry(unsigned hi, unsigned lo) { s_uc_fn((void *)(uintptr_t)(((uint64_t)hi << 32) | lo)); }

static void s_ctx_make(s_ctx_t *c, char *stack, size_t size, void (*fn)(void *), void *arg) {
  uint64_t a = (uint64_t)(uintptr_t)arg;
  s_uc_fn = fn;
  int rc = getcontext(&c->uc);
  assert(rc == 0);
  (void)rc;
  c->uc.uc_stack.ss_sp = stack;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = NULL;
  makecontext(&c->uc, (void (*)(void))s_uc_entry, 2, (unsigned)(a >> 32), (unsigned)a);
}

static void s_ctx_switch(s_ctx_t *from, s_ctx_t *to) {
  int rc = swapcontext(&from->uc, &to->uc);
  assert(rc == 0);
  (void)rc;
}
#endif

enum { S_NEW, S_LIVE, S_DONE };

typedef struct {
  s_ctx_t ctx;
  char *stack; /* its lowest usable byte; the guard page is just below */
  int state;
  void *fake; /* ASan's fake stack while switched out */
} s_fiber_t;

struct rl_sim_fibers {
  size_t stack_size, page;
  char *region; /* cap stacks, each a guard page then stack_size bytes */
  size_t region_len;
  unsigned cap;
  s_fiber_t *fib;
  s_ctx_t sched; /* the thread that called rl_sim_fibers_run */
  void *sched_fake;
  const void *sched_lo;
  size_t sched_size;
  const rl_sim_fiber_job_t *job;
  unsigned cur;
  int running, stopped;
  int dirty; /* a run was stopped: its stacks may hold stale sanitizer state */
};

rl_sim_fibers_t *rl_sim_fibers_new(size_t stack_size) {
  rl_sim_fibers_t *f = rl_xcalloc(1, sizeof *f);
  long page = sysconf(_SC_PAGESIZE);
  f->page = page > 0 ? (size_t)page : 4096;
  f->stack_size = (stack_size + f->page - 1) / f->page * f->page;
  return f;
}

void rl_sim_fibers_destroy(rl_sim_fibers_t **p) {
  if (!p || !*p) return;
  rl_sim_fibers_t *f = *p;
  assert(!f->running);
  if (f->region) munmap(f->region, f->region_len);
  free(f->fib);
  free(f);
  *p = NULL;
}

/* Maps n stacks (replacing the smaller set). Returns 0, or -1 with err. */
static int s_grow(rl_sim_fibers_t *f, unsigned n, char *err, size_t errlen) {
  size_t slot = f->stack_size + f->page, len = slot * n;
  char *r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (r == MAP_FAILED) {
    snprintf(err, errlen, "cannot map %u fiber stacks of %zu KiB for the CPU simulator: %s", n, f->stack_size / 1024,
             strerror(errno));
    return -1;
  }
  s_fiber_t *fib = rl_xcalloc(n, sizeof *fib);
  for (unsigned i = 0; i < n; i++) {
    mprotect(r + i * slot, f->page, PROT_NONE); /* an overflow faults instead of corrupting */
    fib[i].stack = r + i * slot + f->page;
  }
  if (f->region) munmap(f->region, f->region_len);
  free(f->fib);
  f->region = r;
  f->region_len = len;
  f->fib = fib;
  f->cap = n;
  return 0;
}

/* From the scheduler into fiber t, until it yields, stops or finishes. */
static void s_enter(rl_sim_fibers_t *f, s_fiber_t *t) {
#ifdef S_ASAN
  __sanitizer_start_switch_fiber(&f->sched_fake, t->stack, f->stack_size);
#endif
  s_ctx_switch(&f->sched, &t->ctx);
#ifdef S_ASAN
  __sanitizer_finish_switch_fiber(f->sched_fake, NULL, NULL);
#endif
}

/* From fiber t back to the scheduler; `final`: t never resumes. */
static void s_leave(rl_sim_fibers_t *f, s_fiber_t *t, int final) {
#ifdef S_ASAN
  __sanitizer_start_switch_fiber(final ? NULL : &t->fake, f->sched_lo, f->sched_size);
#else
  (void) final;
#endif
  s_ctx_switch(&t->ctx, &f->sched);
#ifdef S_ASAN
  __sanitizer_finish_switch_fiber(t->fake, NULL, NULL);
#endif
}

static void s_fiber_main(void *arg) {
  rl_sim_fibers_t *f = arg;
#ifdef S_ASAN
  __sanitizer_finish_switch_fiber(NULL, &f->sched_lo, &f->sched_size);
#endif
  unsigned i = f->cur;
  f->job->body(f->job->arg, i);
  f->fib[i].state = S_DONE;
  s_leave(f, &f->fib[i], 1);
  abort(); /* a finished fiber is never resumed */
}

/* Clears the sanitizer's marks left on the stacks by fibers a stopped run dropped. */
static void s_clean(rl_sim_fibers_t *f) {
#ifdef S_ASAN
  for (unsigned i = 0; i < f->cap; i++) ASAN_UNPOISON_MEMORY_REGION(f->fib[i].stack, f->stack_size);
#endif
  f->dirty = 0;
}

int rl_sim_fibers_run(rl_sim_fibers_t *f, unsigned n, const rl_sim_fiber_job_t *job, char *err, size_t errlen) {
  assert(f && job && job->body && !f->running);
  if (n > f->cap && s_grow(f, n, err, errlen) != 0) return -1;
  if (f->dirty) s_clean(f);
  for (unsigned i = 0; i < n; i++) f->fib[i].state = S_NEW;
  f->job = job;
  f->stopped = 0;
  f->running = 1;
  unsigned live = n;
  while (live > 0) {
    for (unsigned i = 0; i < n; i++) {
      s_fiber_t *t = &f->fib[i];
      if (t->state == S_DONE) continue;
      if (job->resume) job->resume(job->arg, i);
      if (t->state == S_NEW) {
        s_ctx_make(&t->ctx, t->stack, f->stack_size, s_fiber_main, f);
        t->state = S_LIVE;
      }
      f->cur = i;
      s_enter(f, t);
      if (f->stopped) {
        f->running = 0;
        f->dirty = 1;
        return 1;
      }
      if (t->state == S_DONE) live--;
    }
    if (job->pass) job->pass(job->arg);
  }
  f->running = 0;
  return 0;
}

void rl_sim_fibers_yield(rl_sim_fibers_t *f) {
  assert(f->running);
  s_leave(f, &f->fib[f->cur], 0);
}

_Noreturn void rl_sim_fibers_stop(rl_sim_fibers_t *f) {
  assert(f->running);
  f->stopped = 1;
  s_leave(f, &f->fib[f->cur], 1);
  abort(); /* a stopped run never resumes its fibers */
}
