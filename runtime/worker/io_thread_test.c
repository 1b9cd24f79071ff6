/* io_thread_test.c: io_thread.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/io_thread.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#include "common/clock.h"

typedef struct {
  rl_io_t *io;
  long state;   /* plain: only touched with the lock held */
  bool broken;  /* a thread saw the other's half-done update */
  long served;
} s_test_t;

/* A serving round: an update the owner must never see half-done, then a poll. */
static void s_test_serve(void *ctx, int wake_fd, int timeout_ms) {
  s_test_t *t = ctx;
  if (t->state != 0) t->broken = true;
  t->state = 1;
  t->served++;
  t->state = 0;
  struct pollfd p = {wake_fd, POLLIN, 0};
  poll(&p, 1, timeout_ms > 5 ? 5 : timeout_ms);
}

static void s_spin_ms(int ms) {
  int64_t until = rl_now_ms() + ms;
  while (rl_now_ms() < until) {
  }
}

/* A parked thread that has not run yet (a busy machine) is woken by one leave, not by
 * each; owner calls in a tight loop never wait on the thread; a busy owner is served within
 * a few grace periods; coming back takes the lock within milliseconds; nesting holds. */
int rl_io_thread_selftest(void) {
  s_test_t t = {0};
  t.io = rl_io_new();
  RL_CHECK_GOTO(t.io);
  atomic_store(&t.io->parked, 1); /* as if parked (no thread yet: it never runs) */
  for (int i = 0; i < 1000; i++) {
    rl_io_hold_t h = rl_io_enter(t.io);
    rl_io_leave(&h);
  }
  uint64_t written = 0;
  RL_CHECK_GOTO(read(t.io->wake_fd, &written, sizeof written) == sizeof written && written == 1);
  RL_CHECK_GOTO(atomic_load(&t.io->kicks) == 1 && !atomic_load(&t.io->parked));
  atomic_store(&t.io->kicks, 0);
  RL_CHECK_GOTO(rl_io_start(t.io, s_test_serve, &t, 2) == 0);
  for (int i = 0; i < 200000; i++) { /* busy owner calls: the thread stays out... */
    rl_io_hold_t h = rl_io_enter(t.io);
    if (t.state != 0) t.broken = true;
    t.state = 2;
    rl_io_polled(t.io);
    t.state = 0;
    rl_io_leave(&h);
  }
  /* ... and is woken at most once per park, however long it takes to be scheduled */
  RL_CHECK_GOTO(atomic_load(&t.io->kicks) <= atomic_load(&t.io->parks));
  s_spin_ms(100); /* away from the core worker: the thread serves */
  RL_CHECK_GOTO(rl_io_rounds(t.io) > 0);
  int64_t t0 = rl_now_us();
  rl_io_hold_t outer = rl_io_enter(t.io);
  int64_t waited = rl_now_us() - t0;
  long served = t.served;
  rl_io_hold_t inner = rl_io_enter(t.io);
  RL_CHECK_GOTO(!inner.taken && outer.taken);
  rl_io_leave(&inner);
  s_spin_ms(20); /* still held: the thread must not serve */
  RL_CHECK_GOTO(t.served == served);
  rl_io_leave(&outer);
  RL_CHECK_GOTO(waited < 50000);
  RL_CHECK_GOTO(!t.broken);
  RL_CHECK_GOTO(!rl_io_on_io_thread(t.io));
  rl_io_destroy(&t.io);
  rl_io_destroy(&t.io);
  return 0;
fail:
  rl_io_destroy(&t.io);
  return 1;
}
