/* embed_bench.c: the C API's figures for `rayl microbenchmark`: the round trip from
 * rayl_submit_call to its callback in rayl_update, and submissions per second.
 *   rayl_embed_bench [--seconds S]   prints one JSON object per line:
 *   {"name": "c_api_roundtrip_p50_us", "value": 123.4, "spread": 0, "unit": "us"} */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rayl.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int done_count;
static void on_done(rayl_ctx *ctx, rayl_handle h, const rayl_result *r, void *user) {
  (void)ctx;
  (void)h;
  (void)user;
  if (r->code != RAYL_OK) {
    fprintf(stderr, "rayl_embed_bench: a job failed: %s\n", r->error);
    exit(1);
  }
  done_count++;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One job: math.abs(-1) on a worker, by module and function name. */
static void submit(rayl_ctx *ctx, const unsigned char *args, size_t len) {
  if (rayl_submit_call(ctx, "math", "abs", args, len, on_done, NULL, NULL) != RAYL_OK) {
    fprintf(stderr, "rayl_embed_bench: %s\n", rayl_last_error());
    exit(1);
  }
}

/* Updates (spinning, as a busy frame loop would) until `target` callbacks have run. */
static void pump(rayl_ctx *ctx, int target) {
  while (done_count < target) rayl_update(ctx, 1000);
}

static void emit(const char *name, double value, double spread, const char *unit) {
  printf("{\"name\": \"%s\", \"value\": %.4f, \"spread\": %.4f, \"unit\": \"%s\"}\n", name, value, spread, unit);
}

int main(int argc, char **argv) {
  double seconds = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: rayl_embed_bench [--seconds S]\n");
      return 2;
    }
  }
  rayl_config config;
  rayl_config_init(&config);
  rayl_ctx *ctx;
  if (rayl_open(&config, &ctx) != RAYL_OK) {
    fprintf(stderr, "rayl_embed_bench: %s\n", rayl_last_error());
    return 1;
  }
  const unsigned char args[] = {0x91, 0xff}; /* [-1] */

  /* Warm-up: workers leased, the trampoline loaded. */
  for (int i = 0; i < 200; i++) submit(ctx, args, sizeof args);
  pump(ctx, done_count + 200);

  /* Round trips, one job at a time. */
  size_t n = 0, cap = 1 << 16;
  double *lat = malloc(cap * sizeof *lat);
  double end = now_us() + seconds * 1e6 / 2;
  while (now_us() < end && n < cap) {
    double t0 = now_us();
    submit(ctx, args, sizeof args);
    pump(ctx, done_count + 1);
    lat[n++] = now_us() - t0;
  }
  qsort(lat, n, sizeof *lat, cmp);
  emit("c_api_roundtrip_p50_us", lat[n / 2], 0, "us");
  emit("c_api_roundtrip_p99_us", lat[(size_t)ceil(0.99 * n) - 1], 0, "us");
  free(lat);

  /* Throughput: batches of 1000 submitted back to back, then drained. */
  double submit_us = 0, total_us = 0;
  long jobs = 0;
  end = now_us() + seconds * 1e6 / 2;
  while (now_us() < end) {
    double t0 = now_us();
    for (int i = 0; i < 1000; i++) submit(ctx, args, sizeof args);
    double t1 = now_us();
    pump(ctx, done_count + 1000);
    submit_us += t1 - t0;
    total_us += now_us() - t0;
    jobs += 1000;
  }
  emit("c_api_submissions_per_s", jobs / (submit_us / 1e6), 0, "per second");
  emit("c_api_jobs_per_s", jobs / (total_us / 1e6), 0, "per second");
  rayl_close(ctx);
  return 0;
}
