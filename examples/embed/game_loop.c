/* game_loop.c: a 60 Hz game loop that hands A* pathfinding (pathfind.lua) to rayl
 * workers every frame and moves its agents along the paths as they arrive, never
 * waiting on a job. It runs the loop without jobs first, then with them, and reports
 * the frame times of both.
 *
 *   cc game_loop.c $(pkg-config --cflags --libs rayl) -lm -o game_loop
 *   ./game_loop [--seconds S] [--jobs-per-frame N] [--cpus N] [--work N] [--nice N] [--lua-dir DIR]
 *
 * --seconds: length of each phase (default 3); --jobs-per-frame: new path requests a
 * frame may make (default 4); --cpus: worker CPUs (default 1, leaving a core to this
 * loop); --work: iterations of simulated frame work (default 300000); --nice: the
 * workers' nice value (default 10: the loop comes first); --lua-dir: the folder of
 * pathfind.lua (default: this file's folder). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rayl.h"

enum { W = 96, H = 96, AGENTS = 64 };
#define FRAME_MS (1000.0 / 60)

typedef struct {
  int x, y;
  int path[W * H]; /* cells (y * W + x) to walk */
  int len, at;
  int waiting;     /* a job is finding its next path */
  double asked_ms;
} agent_t;

typedef struct {
  double *v;
  size_t n, cap;
} samples_t;

static struct {
  unsigned char grid[W * H]; /* 0: free, 1: wall */
  agent_t agents[AGENTS];
  rayl_handle grid_handle;   /* the grid, stored once, passed to every job */
  int in_flight, submitted, done, failed;
  samples_t latency;         /* ms from request to path */
  unsigned rng;
  double sink;               /* keeps the simulated work from being optimised away */
  double api_ms;             /* CPU time this frame spent in rayl calls (submits, update) */
} world;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of this thread: what the rayl calls themselves cost a frame, whatever else
 * the machine runs. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static unsigned rnd(void) {
  world.rng = world.rng * 1103515245u + 12345u;
  return (world.rng >> 16) & 0x7fff;
}

static void add_sample(samples_t *s, double v) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 1024;
    double *grown = realloc(s->v, cap * sizeof *grown);
    if (!grown) return;
    s->v = grown;
    s->cap = cap;
  }
  s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of the samples, or 0 if there are none. */
static double quantile(samples_t *s, double q) {
  if (s->n == 0) return 0;
  qsort(s->v, s->n, sizeof *s->v, cmp_double);
  size_t i = (size_t)ceil(q * (double)s->n);
  return s->v[i ? i - 1 : 0];
}

static void random_free_cell(int *x, int *y) {
  do {
    *x = (int)(rnd() % W);
    *y = (int)(rnd() % H);
  } while (world.grid[*y * W + *x]);
}

static void make_world(void) {
  world.rng = 12345;
  for (int i = 0; i < W * H; i++) world.grid[i] = rnd() % 100 < 22;
  for (int k = 0; k < 12; k++) { /* a few long walls with gaps, so paths wind */
    int x = (int)(rnd() % W), y = (int)(rnd() % H), horizontal = k % 2;
    for (int i = 0; i < W / 2; i++) {
      int cx = horizontal ? (x + i) % W : x, cy = horizontal ? y : (y + i) % H;
      if (i % 9 != 4) world.grid[cy * W + cx] = 1;
    }
  }
  for (int i = 0; i < AGENTS; i++) random_free_cell(&world.agents[i].x, &world.agents[i].y);
}

/* A path arrived (inside rayl_update, on this thread). */
static void on_path(rayl_ctx *ctx, rayl_handle h, const rayl_result *r, void *user) {
  agent_t *a = user;
  (void)ctx;
  (void)h;
  world.in_flight--;
  a->waiting = 0;
  a->len = a->at = 0;
  add_sample(&world.latency, now_ms() - a->asked_ms);
  if (r->code != RAYL_OK) {
    if (world.failed++ == 0) fprintf(stderr, "game_loop: a path job failed: %s\n", r->error);
    return;
  }
  world.done++;
  rayl_reader rd;
  uint32_t n;
  rayl_reader_init(&rd, r->data, r->len);
  if (rayl_read_array(&rd, &n) != RAYL_OK) return; /* false: unreachable, ask again */
  for (uint32_t i = 0; i < n && i < W * H; i++) {
    int64_t cell;
    if (rayl_read_int(&rd, &cell) != RAYL_OK) break;
    a->path[a->len++] = (int)cell;
  }
  a->at = 1; /* path[0] is where it stands */
}

/* Asks a worker for a path from the agent to a new random goal. */
static void request_path(rayl_ctx *ctx, agent_t *a, rayl_buf *args) {
  int gx, gy;
  random_free_cell(&gx, &gy);
  rayl_buf_reset(args);
  rayl_pack_array(args, 7);
  rayl_pack_handle(args, world.grid_handle);
  rayl_pack_int(args, W);
  rayl_pack_int(args, H);
  rayl_pack_int(args, a->x);
  rayl_pack_int(args, a->y);
  rayl_pack_int(args, gx);
  rayl_pack_int(args, gy);
  if (rayl_submit_call(ctx, "pathfind", "astar", args->data, args->len, on_path, a, NULL) != RAYL_OK) {
    fprintf(stderr, "game_loop: cannot submit: %s\n", rayl_last_error());
    return;
  }
  a->waiting = 1;
  a->asked_ms = now_ms();
  world.in_flight++;
  world.submitted++;
}

/* One frame: new path requests, agents move, the frame's own work, then completions. */
static void frame(rayl_ctx *ctx, int jobs, long work, rayl_buf *args) {
  static int next_agent;
  double t_api = cpu_ms();
  for (int k = 0, asked = 0; k < AGENTS && asked < jobs; k++) {
    agent_t *a = &world.agents[(next_agent + k) % AGENTS];
    if (a->waiting || a->at < a->len) continue;
    request_path(ctx, a, args);
    asked++;
    next_agent = (next_agent + k + 1) % AGENTS;
  }
  world.api_ms = cpu_ms() - t_api;
  for (int i = 0; i < AGENTS; i++) {
    agent_t *a = &world.agents[i];
    if (a->at < a->len) {
      a->x = a->path[a->at] % W;
      a->y = a->path[a->at] / W;
      a->at++;
    }
  }
  double x = world.sink;
  for (long i = 0; i < work; i++) x = x * 0.999999 + (double)(i & 7); /* physics, rendering... */
  world.sink = x;
  t_api = cpu_ms();
  rayl_update(ctx, 1000); /* at most 1 ms of callbacks per frame */
  world.api_ms += cpu_ms() - t_api;
}

typedef struct {
  samples_t frame_ms, api_ms;
  int late, max_in_flight;
} phase_t;

/* Runs frames at 60 Hz for `seconds`, each making up to `jobs` path requests; p: where
 * to record frame times (NULL: not measured). */
static void run(rayl_ctx *ctx, double seconds, int jobs, long work, rayl_buf *args, phase_t *p) {
  double end = now_ms() + seconds * 1000, next = now_ms();
  while (now_ms() < end) {
    double t0 = now_ms();
    frame(ctx, jobs, work, args);
    if (p) {
      add_sample(&p->frame_ms, now_ms() - t0);
      add_sample(&p->api_ms, world.api_ms);
      if (world.in_flight > p->max_in_flight) p->max_in_flight = world.in_flight;
    }
    next += FRAME_MS;
    if (next < now_ms()) { /* behind: skip ahead rather than run frames back to back */
      if (p) p->late++;
      next = now_ms();
    }
    struct timespec ts = {(time_t)(next / 1000), (long)(fmod(next, 1000) * 1e6)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
  }
}

/* Keeps the loop running, without new requests, until the jobs in flight have landed
 * (up to 10 s). Nothing waits on a job: frames go on. */
static void drain(rayl_ctx *ctx, long work, rayl_buf *args) {
  double end = now_ms() + 10000;
  while (world.in_flight > 0 && now_ms() < end) run(ctx, 0.1, 0, work, args, NULL);
}

static void report(const char *name, phase_t *p, int jobs_done) {
  double max = quantile(&p->frame_ms, 1);
  printf("%s: frames=%zu frame_p50_ms=%.3f frame_p99_ms=%.3f frame_max_ms=%.3f api_cpu_p50_ms=%.3f api_cpu_p99_ms=%.3f "
         "late_frames=%d jobs_done=%d max_in_flight=%d",
         name, p->frame_ms.n, quantile(&p->frame_ms, 0.5), quantile(&p->frame_ms, 0.99), max,
         quantile(&p->api_ms, 0.5), quantile(&p->api_ms, 0.99), p->late, jobs_done, p->max_in_flight);
}

int main(int argc, char **argv) {
  double seconds = 3, cpus = 1;
  int jobs = 4, nice = 10;
  long work = 300000;
  char here[1024];
  snprintf(here, sizeof here, "%s", __FILE__);
  const char *lua_dir = dirname(here);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) goto usage;
    if (!strcmp(a, "--seconds")) seconds = atof(v);
    else if (!strcmp(a, "--jobs-per-frame")) jobs = atoi(v);
    else if (!strcmp(a, "--cpus")) cpus = atof(v);
    else if (!strcmp(a, "--work")) work = atol(v);
    else if (!strcmp(a, "--nice")) nice = atoi(v);
    else if (!strcmp(a, "--lua-dir")) lua_dir = v;
    else goto usage;
    i++;
  }
  char module_path[1100];
  snprintf(module_path, sizeof module_path, "%s/?.lua", lua_dir);
  rayl_config config;
  rayl_config_init(&config);
  config.num_cpus = cpus;
  config.module_path = module_path;
  config.nice = nice; /* the loop comes first; paths use the CPU time it leaves */
  rayl_ctx *ctx;
  if (rayl_open(&config, &ctx) != RAYL_OK) {
    fprintf(stderr, "game_loop: %s\n", rayl_last_error());
    return 1;
  }
  make_world();
  if (rayl_put(ctx, world.grid, sizeof world.grid, &world.grid_handle) != RAYL_OK) {
    fprintf(stderr, "game_loop: %s\n", rayl_last_error());
    return 1;
  }
  printf("game_loop: 60 Hz, %d agents on a %dx%d grid, %.1f s per phase, frame work %ld iterations, "
         "up to %d path jobs per frame on %g worker CPU(s) at nice %d\n",
         AGENTS, W, H, seconds, work, jobs, cpus, nice);
  fflush(stdout);
  rayl_buf args;
  rayl_buf_init(&args);
  /* Warm up: the workers start and load pathfind.lua (not measured). */
  run(ctx, 1.0, jobs, work, &args, NULL);
  drain(ctx, work, &args);
  world.submitted = world.done = 0; /* failures during the warm-up still count */
  world.latency.n = 0;
  phase_t idle, busy;
  memset(&idle, 0, sizeof idle);
  memset(&busy, 0, sizeof busy);
  run(ctx, seconds, 0, work, &args, &idle);
  int before = world.done;
  run(ctx, seconds, jobs, work, &args, &busy);
  int during = world.done - before;
  drain(ctx, work, &args);

  report("idle", &idle, 0);
  printf("\n");
  report("jobs", &busy, during);
  printf(" job_latency_p50_ms=%.1f job_latency_p99_ms=%.1f\n", quantile(&world.latency, 0.5),
         quantile(&world.latency, 0.99));
  printf("total: jobs_submitted=%d jobs_done=%d jobs_failed=%d in_flight=%d\n", world.submitted, world.done,
         world.failed, world.in_flight);
  printf("frame_p99 with jobs - idle: %+.3f ms\n", quantile(&busy.frame_ms, 0.99) - quantile(&idle.frame_ms, 0.99));
  rayl_buf_free(&args);
  rayl_release(ctx, world.grid_handle);
  rayl_close(ctx);
  free(idle.frame_ms.v);
  free(idle.api_ms.v);
  free(busy.frame_ms.v);
  free(busy.api_ms.v);
  free(world.latency.v);
  return world.failed ? 1 : 0;
usage:
  fprintf(stderr, "usage: game_loop [--seconds S] [--jobs-per-frame N] [--cpus N] [--work N] [--nice N] "
                  "[--lua-dir DIR]\n");
  return 2;
}
