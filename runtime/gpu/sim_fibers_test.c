/* sim_fibers_test.c: sim_fibers.c's selftest, built into rl_selftest only (not librayl). */
#include "gpu/sim_fibers.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */
#include "common/selftest.h"

typedef struct {
  rl_sim_fibers_t *f;
  int log[64], nlog;
  int resumed, passes, stop_at;
  double sum;
} s_test_t;

static void s_test_body(void *arg, unsigned i) {
  s_test_t *t = arg;
  for (int phase = 0; phase < 3; phase++) {
    t->log[t->nlog++] = (int)i * 10 + phase;
    if ((int)i == t->stop_at && phase == 1) rl_sim_fibers_stop(t->f);
    rl_sim_fibers_yield(t->f);
  }
}

static void s_test_resume(void *arg, unsigned i) {
  (void)i;
  ((s_test_t *)arg)->resumed++;
}

static void s_test_pass(void *arg) { ((s_test_t *)arg)->passes++; }

/* Uses 36 KiB of its stack, the floating point unit and a call chain, then yields. */
static double s_deep(rl_sim_fibers_t *f, int depth) {
  volatile char buf[4096];
  memset((char *)buf, depth, sizeof buf);
  double v = depth > 0 ? s_deep(f, depth - 1) : 0.5;
  if (depth == 4) rl_sim_fibers_yield(f);
  return v + buf[100] * 0.25;
}

static void s_test_deep(void *arg, unsigned i) {
  s_test_t *t = arg;
  double v = s_deep(t->f, 8);
  t->sum += v + i;
}

int rl_sim_fibers_selftest(void) {
  char err[256] = "";
  s_test_t t;
  memset(&t, 0, sizeof t);
  t.f = rl_sim_fibers_new(64 * 1024);
  RL_CHECK_RETURN(t.f != NULL);
  t.stop_at = -1;
  rl_sim_fiber_job_t job = {s_test_body, s_test_resume, s_test_pass, &t};
  /* Three fibers, three phases each, a yield after each phase: a pass runs every fiber
   * to its next yield, so phase p of all fibers comes before phase p+1 of any. */
  RL_CHECK_GOTO(rl_sim_fibers_run(t.f, 3, &job, err, sizeof err) == 0);
  static const int want[] = {0, 10, 20, 1, 11, 21, 2, 12, 22};
  RL_CHECK_GOTO(t.nlog == 9 && memcmp(t.log, want, sizeof want) == 0);
  RL_CHECK_GOTO(t.passes == 4 && t.resumed == 12);
  /* A fiber that stops ends the run; the pool then runs a larger set. */
  memset(t.log, 0, sizeof t.log);
  t.nlog = 0;
  t.stop_at = 1;
  RL_CHECK_GOTO(rl_sim_fibers_run(t.f, 3, &job, err, sizeof err) == 1);
  RL_CHECK_GOTO(t.nlog == 5 && t.log[3] == 1 && t.log[4] == 11);
  t.nlog = 0;
  t.stop_at = -1;
  RL_CHECK_GOTO(rl_sim_fibers_run(t.f, 20, &job, err, sizeof err) == 0);
  RL_CHECK_GOTO(t.nlog == 60 && t.log[19] == 190 && t.log[20] == 1 && t.log[59] == 192);
  /* Deep call chains with locals survive switches (values as computed without fibers). */
  rl_sim_fiber_job_t deep = {s_test_deep, NULL, NULL, &t};
  RL_CHECK_GOTO(rl_sim_fibers_run(t.f, 8, &deep, err, sizeof err) == 0);
  double want_sum = 0;
  for (int i = 0; i < 8; i++) {
    double v = 0.5;
    for (int d = 0; d <= 8; d++) v += d * 0.25;
    want_sum += v + i;
  }
  RL_CHECK_GOTO(t.sum == want_sum);
  rl_sim_fibers_destroy(&t.f);
  rl_sim_fibers_destroy(&t.f);
  RL_CHECK_RETURN(t.f == NULL);
  return 0;
fail:
  fprintf(stderr, "sim_fibers: %s\n", err);
  rl_sim_fibers_destroy(&t.f);
  return 1;
}
