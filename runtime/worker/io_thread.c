/* io_thread.c: the I/O thread and the lock it shares with a core worker's owner thread.
 *
 * Design (see io_thread.h). Ray splits its core worker between an io_service thread that
 * owns every socket and the task thread, with queues between them; each synchronous
 * round trip then costs two thread hand-offs, which on a small machine is most of a
 * task's cost. Here the right to the state moves instead of the messages: the owner
 * thread, in a call, holds it and polls the sockets itself, exactly as a single-threaded
 * core worker would, so rayl.get and actor calls pay a plain store and load of owner_in
 * (no locked instruction, see below) and no mutex while the I/O thread is not serving. The
 * I/O thread only steps in when the owner has been away for S_GRACE_MS without polling
 * (a driver in a compiled loop, a worker running a long task), and steps out as soon as
 * the owner comes back. Its states:
 *  - parked: the owner was inside a call at the last look; it sleeps on the eventfd
 *    until the owner leaves (the first leave that finds the thread parked unparks it and
 *    writes the eventfd, so at most once per grace period), or S_PARK_MS at most;
 *  - watching: the owner is outside; it sleeps S_GRACE_MS and looks again;
 *  - serving: the owner stayed outside and did not poll: it takes the lock (trylock:
 *    never waits on a busy owner) and serves rounds until the owner wants it back.
 * owner_in/serving is a Dekker pair: of the two threads, at least one sees the other's
 * flag. The thread's side fences with membarrier(PRIVATE_EXPEDITED), which also fences
 * the owner thread, so the owner's side is a plain store and load with no locked
 * instruction (a full fence only where the kernel lacks membarrier). So the owner, having
 * raised owner_in, may go on at once when it sees serving down (the thread then sees
 * owner_in up and does not serve); only when it sees serving up does it wake the thread
 * and wait on the mutex the thread holds while it serves. The owner never waits on a
 * thread that does not know it is wanted. There is one owner thread per core worker. */
#include "worker/io_thread.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/membarrier.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/selftest.h"
#include "common/xalloc.h"

#define S_SERVE_MS 100         /* one serving round at most (timers run between rounds) */
#define S_STACK (256 * 1024)   /* the thread's stack (it runs plain C handlers) */
/* A parked thread looks again after this long even if no leave woke it: the owner's
 * leave reads `parked` without a fence, so in a rare race it misses the thread that has
 * just parked; that costs at most this much delay before the thread serves. */
#define S_PARK_MS 100

struct rl_io {
  pthread_mutex_t mu;
  int wake_fd;
  pthread_t thread;
  bool started;
  rl_io_serve_fn serve;
  void *ctx;
  int grace_ms;
  atomic_int owner_in; /* the owner is in a call (holds the state or waits for it) */
  atomic_int serving;  /* the I/O thread holds the lock */
  atomic_int parked;   /* the I/O thread sleeps until the owner leaves */
  atomic_int stop;
  bool asym;           /* membarrier: the owner's side of the Dekker pair needs no fence */
  atomic_ulong polls;  /* the owner's polls so far (written by the owner alone) */
  atomic_ulong rounds; /* rounds served by the I/O thread */
  atomic_ulong parks;  /* times the I/O thread parked */
  atomic_ulong kicks;  /* times a leave woke it (written by the owner alone) */
};

/* The lock this thread holds, if any (a nested enter is a no-op). */
static _Thread_local rl_io_t *s_held;
/* Set on an I/O thread. */
static _Thread_local rl_io_t *s_io_thread;

/* Registers this process for expedited membarrier: the I/O thread's barrier then runs a
 * full fence on the owner thread too, so the owner's side of the Dekker pair below is a
 * plain store and load (an exchange costs tens of cycles on each of several calls per
 * operation). false where the kernel lacks it: the owner fences itself. */
static bool s_membarrier_register(void) {
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
  return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* The owner's fence between raising owner_in and reading serving. */
static inline void s_owner_fence(const rl_io_t *io) {
  if (io->asym) atomic_signal_fence(memory_order_seq_cst); /* the thread's membarrier fences us */
  else atomic_thread_fence(memory_order_seq_cst);
}

/* The I/O thread's fence between raising serving and reading owner_in. */
static void s_thread_fence(const rl_io_t *io) {
  if (!io->asym || syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
    atomic_thread_fence(memory_order_seq_cst);
}

static void s_kick(rl_io_t *io) {
  uint64_t one = 1;
  ssize_t n = write(io->wake_fd, &one, sizeof one);
  (void)n; /* EAGAIN: the counter is full, so it is readable anyway */
}

static void s_drain(rl_io_t *io) {
  uint64_t v;
  ssize_t n = read(io->wake_fd, &v, sizeof v);
  (void)n;
}

/* Sleeps until the eventfd is written or timeout_ms (-1: no limit) passes. */
static void s_sleep(rl_io_t *io, int timeout_ms) {
  struct pollfd p = {io->wake_fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) > 0) s_drain(io);
}

rl_io_t *rl_io_new(void) {
  rl_io_t *io = rl_xcalloc(1, sizeof *io);
  io->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (io->wake_fd < 0 || pthread_mutex_init(&io->mu, NULL) != 0) {
    if (io->wake_fd >= 0) close(io->wake_fd);
    free(io);
    return NULL;
  }
  return io;
}

/* Serves rounds, lock held, until the owner wants the lock back or the thread stops. */
static void s_serve(rl_io_t *io) {
  s_held = io;
  while (!atomic_load(&io->owner_in) && !atomic_load(&io->stop)) {
    io->serve(io->ctx, io->wake_fd, S_SERVE_MS);
    atomic_fetch_add_explicit(&io->rounds, 1, memory_order_relaxed);
    s_drain(io);
  }
  s_held = NULL;
}

static void *s_main(void *arg) {
  rl_io_t *io = arg;
  s_io_thread = io;
  while (!atomic_load(&io->stop)) {
    if (atomic_load(&io->owner_in)) {
      /* Woken by the owner's next leave; then a whole grace period passes before the
       * next look, so a busy owner kicks this thread at most once per period. */
      atomic_fetch_add_explicit(&io->parks, 1, memory_order_relaxed);
      atomic_store(&io->parked, 1);
      if (atomic_load(&io->owner_in) && !atomic_load(&io->stop)) s_sleep(io, S_PARK_MS);
      atomic_store(&io->parked, 0);
    }
    unsigned long seen = atomic_load(&io->polls);
    s_sleep(io, io->grace_ms);
    if (atomic_load(&io->owner_in) || atomic_load(&io->polls) != seen || atomic_load(&io->stop)) continue;
    if (pthread_mutex_trylock(&io->mu) != 0) continue;
    atomic_store(&io->serving, 1);
    s_thread_fence(io);
    if (!atomic_load(&io->owner_in)) s_serve(io);
    atomic_store(&io->serving, 0);
    pthread_mutex_unlock(&io->mu);
  }
  return NULL;
}

int rl_io_start(rl_io_t *io, rl_io_serve_fn serve, void *ctx, int grace_ms) {
  if (io->started) return 0;
  io->serve = serve;
  io->ctx = ctx;
  io->grace_ms = grace_ms > 0 ? grace_ms : 1;
  io->asym = s_membarrier_register();
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return -1;
  pthread_attr_setstacksize(&attr, S_STACK);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&io->thread, &attr, s_main, io);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  io->started = true;
  return 0;
}

void rl_io_destroy(rl_io_t **p) {
  if (!p || !*p) return;
  rl_io_t *io = *p;
  if (io->started) {
    atomic_store(&io->stop, 1);
    s_kick(io);
    pthread_join(io->thread, NULL);
  }
  pthread_mutex_destroy(&io->mu);
  close(io->wake_fd);
  free(io);
  *p = NULL;
}

rl_io_hold_t rl_io_enter(rl_io_t *io) {
  rl_io_hold_t h = {io, false};
  if (!io || s_held == io) return h;
  atomic_store_explicit(&io->owner_in, 1, memory_order_relaxed);
  s_owner_fence(io);
  if (atomic_load_explicit(&io->serving, memory_order_acquire)) {
    /* The thread serves: wake it out of its poll and wait until its round ends (it
     * holds the mutex while serving and, seeing owner_in, does not serve again). */
    s_kick(io);
    pthread_mutex_lock(&io->mu);
    pthread_mutex_unlock(&io->mu);
  }
  s_held = io;
  h.taken = true;
  return h;
}

void rl_io_leave(rl_io_hold_t *h) {
  if (!h->taken) return;
  rl_io_t *io = h->io;
  h->taken = false;
  s_held = NULL;
  atomic_store_explicit(&io->owner_in, 0, memory_order_release);
  /* One kick per park: the thread may take a while to be scheduled, and every leave
   * until then would write the eventfd again. No fence: a kick missed in a race is
   * made up by the park's timeout (S_PARK_MS). */
  if (!atomic_load_explicit(&io->parked, memory_order_relaxed) || !atomic_exchange(&io->parked, 0)) return;
  atomic_store_explicit(&io->kicks, atomic_load_explicit(&io->kicks, memory_order_relaxed) + 1, memory_order_relaxed);
  s_kick(io);
}

bool rl_io_on_io_thread(const rl_io_t *io) { return io && s_io_thread == io; }

void rl_io_polled(rl_io_t *io) {
  if (!io || s_io_thread == io) return;
  /* One writer: a plain increment (no locked instruction); the thread only compares. */
  atomic_store_explicit(&io->polls, atomic_load_explicit(&io->polls, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

unsigned long rl_io_rounds(const rl_io_t *io) { return atomic_load((atomic_ulong *)&io->rounds); }
