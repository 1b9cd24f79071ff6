/* gpus.c: GPU instances: which share of each device is free, and which devices a
 * request gets (fractions packed onto one device, whole numbers on distinct devices). */
#include "sched/gpus.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"

int rl_gpus_parse_count(const char *text, int *n, char *err, size_t errlen) {
  char *end;
  long v = strtol(text, &end, 10);
  if (end == text || *end || v < 0 || v > RL_GPU_MAX) {
    if (err && errlen)
      snprintf(err, errlen, "--num-gpus must be a whole number of devices from 0 to %d, got '%s'", RL_GPU_MAX, text);
    return -1;
  }
  *n = (int)v;
  return 0;
}

void rl_gpus_init(rl_gpus_t *g, int n, const int *ids) {
  assert(n >= 0 && n <= RL_GPU_MAX);
  memset(g, 0, sizeof *g);
  g->n = n;
  for (int i = 0; i < n; i++) {
    g->id[i] = ids ? ids[i] : i;
    g->cap[i] = g->free[i] = RL_RES_UNIT;
  }
}

int rl_gpus_ask(int64_t amount, rl_gpu_ask_t *ask, char *err, size_t errlen) {
  assert(amount >= 0);
  ask->count = 0;
  ask->share = 0;
  if (amount == 0) return 0;
  if (amount < RL_RES_UNIT) {
    ask->count = 1;
    ask->share = amount;
    return 0;
  }
  if (amount % RL_RES_UNIT) {
    if (err && errlen)
      snprintf(err, errlen, "num_gpus %" PRId64 ".%04" PRId64 " is over 1 and not whole: ask for a fraction of one "
               "GPU (0.5) or whole GPUs (2)", amount / RL_RES_UNIT, amount % RL_RES_UNIT);
    return -1;
  }
  int64_t whole = amount / RL_RES_UNIT;
  ask->count = whole > RL_GPU_MAX + 1 ? RL_GPU_MAX + 1 : (int)whole; /* more than any node: never fits */
  ask->share = RL_RES_UNIT;
  return 0;
}

static int s_index(const rl_gpus_t *g, int id) {
  for (int i = 0; i < g->n; i++)
    if (g->id[i] == id) return i;
  return -1;
}

int rl_gpus_pick(const rl_gpus_t *g, const rl_gpu_ask_t *ask, rl_gpu_set_t *out) {
  assert(ask->count > 0 && ask->share > 0);
  if (ask->count > g->n) return -1;
  if (ask->count == 1 && ask->share < RL_RES_UNIT) {
    int best = -1;
    for (int i = 0; i < g->n; i++)
      if (g->free[i] >= ask->share && (best < 0 || g->free[i] < g->free[best])) best = i;
    if (best < 0) return -1;
    out->n = 1;
    out->id[0] = g->id[best];
    return 0;
  }
  int got = 0;
  for (int i = 0; i < g->n && got < ask->count; i++)
    if (g->free[i] >= ask->share) out->id[got++] = g->id[i];
  if (got < ask->count) return -1;
  out->n = got;
  return 0;
}

bool rl_gpus_fits(const rl_gpus_t *g, const rl_gpu_ask_t *ask, const rl_gpu_set_t *on) {
  if (ask->count <= 0 || on->n != ask->count) return false;
  for (int k = 0; k < on->n; k++) {
    int i = s_index(g, on->id[k]);
    if (i < 0 || g->free[i] < ask->share) return false;
  }
  return true;
}

int64_t rl_gpus_least_free(const rl_gpus_t *g, const rl_gpu_set_t *on) {
  int64_t least = INT64_MAX;
  for (int k = 0; k < on->n; k++) {
    int i = s_index(g, on->id[k]);
    if (i < 0) return 0;
    if (g->free[i] < least) least = g->free[i];
  }
  return on->n ? least : 0;
}

void rl_gpus_take(rl_gpus_t *g, const rl_gpu_set_t *on, int64_t share) {
  for (int k = 0; k < on->n; k++) {
    int i = s_index(g, on->id[k]);
    assert(i >= 0 && g->free[i] >= share);
    g->free[i] -= share;
  }
}

void rl_gpus_give(rl_gpus_t *g, const rl_gpu_set_t *on, int64_t share) {
  for (int k = 0; k < on->n; k++) {
    int i = s_index(g, on->id[k]);
    assert(i >= 0 && g->free[i] + share <= g->cap[i]);
    g->free[i] += share;
  }
}

int rl_gpus_reserve(rl_gpus_t *node, const rl_gpu_ask_t *ask, rl_gpus_t *bundle) {
  rl_gpu_set_t on = {.n = 0};
  if (ask->count > 0 && rl_gpus_pick(node, ask, &on) != 0) return -1;
  rl_gpus_take(node, &on, ask->share);
  memset(bundle, 0, sizeof *bundle);
  bundle->n = on.n;
  for (int k = 0; k < on.n; k++) {
    bundle->id[k] = on.id[k];
    bundle->cap[k] = bundle->free[k] = ask->share;
  }
  return 0;
}

void rl_gpus_unreserve(rl_gpus_t *node, const rl_gpus_t *bundle) {
  for (int k = 0; k < bundle->n; k++) {
    rl_gpu_set_t one = {.n = 1, .id = {bundle->id[k]}};
    rl_gpus_give(node, &one, bundle->cap[k]);
  }
}

int64_t rl_gpus_free_total(const rl_gpus_t *g) {
  int64_t sum = 0;
  for (int i = 0; i < g->n; i++) sum += g->free[i];
  return sum;
}

bool rl_gpu_set_equal(const rl_gpu_set_t *a, const rl_gpu_set_t *b) {
  if (a->n != b->n) return false;
  for (int k = 0; k < a->n; k++)
    if (a->id[k] != b->id[k]) return false;
  return true;
}

void rl_gpu_set_format(const rl_gpu_set_t *s, char *buf, size_t n) {
  assert(n > 0);
  size_t used = 0;
  buf[0] = 0;
  for (int k = 0; k < s->n && used < n; k++)
    used += (size_t)snprintf(buf + used, n - used, "%s%d", k ? "," : "", s->id[k]);
}

int rl_gpu_ids_parse(const char *text, int *ids, int max) {
  int n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    if (*p < '0' || *p > '9') return -1;
    long v = strtol(p, &end, 10);
    if (v > 1000000 || (*end && *end != ',') || n >= max) return -1;
    ids[n++] = (int)v;
    p = *end ? end + 1 : end;
    if (*end == ',' && !*p) return -1; /* "0," */
  }
  return n;
}

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)
#define S_HALF (RL_RES_UNIT / 2)

static rl_gpu_ask_t s_ask(double gpus) {
  rl_gpu_ask_t a;
  int rc = rl_gpus_ask((int64_t)(gpus * RL_RES_UNIT + 0.5), &a, NULL, 0);
  assert(rc == 0);
  (void)rc;
  return a;
}

/* Asks and the text forms. */
static int s_test_forms(void) {
  rl_gpu_ask_t a;
  char err[200], buf[64];
  S_CHECK(rl_gpus_ask(0, &a, err, sizeof err) == 0 && a.count == 0);
  S_CHECK(rl_gpus_ask(2500, &a, err, sizeof err) == 0 && a.count == 1 && a.share == 2500);
  S_CHECK(rl_gpus_ask(RL_RES_UNIT, &a, err, sizeof err) == 0 && a.count == 1 && a.share == RL_RES_UNIT);
  S_CHECK(rl_gpus_ask(3 * RL_RES_UNIT, &a, err, sizeof err) == 0 && a.count == 3 && a.share == RL_RES_UNIT);
  S_CHECK(rl_gpus_ask(15000, &a, err, sizeof err) == -1 && strstr(err, "num_gpus 1.5000 is over 1 and not whole"));
  S_CHECK(rl_gpus_ask((int64_t)1e12 * RL_RES_UNIT, &a, err, sizeof err) == 0 && a.count == RL_GPU_MAX + 1);
  rl_gpu_set_t s = {.n = 3, .id = {0, 3, 12}};
  rl_gpu_set_format(&s, buf, sizeof buf);
  S_CHECK(!strcmp(buf, "0,3,12"));
  s.n = 0;
  rl_gpu_set_format(&s, buf, sizeof buf);
  S_CHECK(!strcmp(buf, ""));
  int ids[4], n = -1;
  S_CHECK(rl_gpus_parse_count("2", &n, err, sizeof err) == 0 && n == 2);
  S_CHECK(rl_gpus_parse_count("0", &n, err, sizeof err) == 0 && n == 0);
  S_CHECK(rl_gpus_parse_count("1.5", &n, err, sizeof err) == -1 && strstr(err, "whole number") && strstr(err, "'1.5'"));
  S_CHECK(rl_gpus_parse_count("-1", &n, err, sizeof err) == -1 && rl_gpus_parse_count("", &n, err, sizeof err) == -1);
  S_CHECK(rl_gpus_parse_count("65", &n, err, sizeof err) == -1);
  S_CHECK(rl_gpus_parse_count("two", &n, err, sizeof err) == -1);
  S_CHECK(rl_gpu_ids_parse("3,5", ids, 4) == 2 && ids[0] == 3 && ids[1] == 5);
  S_CHECK(rl_gpu_ids_parse("", ids, 4) == 0);
  S_CHECK(rl_gpu_ids_parse("GPU-5e1a", ids, 4) == -1 && rl_gpu_ids_parse("0,", ids, 4) == -1);
  S_CHECK(rl_gpu_ids_parse("0, 1", ids, 4) == -1 && rl_gpu_ids_parse("0,1,2,3,4", ids, 4) == -1);
  return 0;
}

/* Whole GPUs go to distinct free devices; a third waits; a freed one is reused. */
static int s_test_whole(void) {
  rl_gpus_t g;
  rl_gpus_init(&g, 2, NULL);
  rl_gpu_ask_t one = s_ask(1), two = s_ask(2), three = s_ask(3);
  rl_gpu_set_t a, b, c;
  S_CHECK(rl_gpus_pick(&g, &three, &c) == -1);
  S_CHECK(rl_gpus_pick(&g, &two, &c) == 0 && c.n == 2 && c.id[0] == 0 && c.id[1] == 1);
  S_CHECK(rl_gpus_pick(&g, &one, &a) == 0 && a.n == 1 && a.id[0] == 0);
  rl_gpus_take(&g, &a, one.share);
  S_CHECK(rl_gpus_pick(&g, &one, &b) == 0 && b.n == 1 && b.id[0] == 1);
  S_CHECK(rl_gpus_pick(&g, &two, &c) == -1);
  rl_gpus_take(&g, &b, one.share);
  S_CHECK(rl_gpus_pick(&g, &one, &c) == -1 && rl_gpus_free_total(&g) == 0);
  S_CHECK(!rl_gpus_fits(&g, &one, &a));
  rl_gpus_give(&g, &a, one.share);
  S_CHECK(rl_gpus_fits(&g, &one, &a) && !rl_gpus_fits(&g, &one, &b));
  S_CHECK(!rl_gpus_fits(&g, &two, &a)); /* bound to one device: not for two */
  S_CHECK(rl_gpus_pick(&g, &one, &c) == 0 && c.id[0] == 0);
  return 0;
}

/* Fractions pack: four halves fill two devices, two per device; a whole one waits
 * while every device is partly used. */
static int s_test_fractions(void) {
  rl_gpus_t g;
  rl_gpus_init(&g, 2, NULL);
  rl_gpu_ask_t half = s_ask(0.5), one = s_ask(1), quarter = s_ask(0.25);
  int uses[2] = {0, 0};
  rl_gpu_set_t s[4];
  for (int i = 0; i < 4; i++) {
    S_CHECK(rl_gpus_pick(&g, &half, &s[i]) == 0 && s[i].n == 1);
    rl_gpus_take(&g, &s[i], half.share);
    uses[s[i].id[0]]++;
  }
  S_CHECK(uses[0] == 2 && uses[1] == 2 && rl_gpus_free_total(&g) == 0);
  S_CHECK(rl_gpus_pick(&g, &quarter, &s[0]) == -1);
  /* One half of each device freed: 1 GPU free in all, but no whole device. */
  rl_gpu_set_t d0 = {.n = 1, .id = {0}}, d1 = {.n = 1, .id = {1}};
  rl_gpus_give(&g, &d0, half.share);
  rl_gpus_give(&g, &d1, half.share);
  rl_gpu_set_t c;
  S_CHECK(rl_gpus_free_total(&g) == RL_RES_UNIT && rl_gpus_pick(&g, &one, &c) == -1);
  /* A quarter goes to the fuller device: device 1 after device 0 took one. */
  rl_gpus_take(&g, &d0, quarter.share);
  S_CHECK(rl_gpus_pick(&g, &quarter, &c) == 0 && c.id[0] == 0);
  S_CHECK(rl_gpus_least_free(&g, &d0) == quarter.share && rl_gpus_least_free(&g, &d1) == S_HALF);
  return 0;
}

/* Bundles reserve devices out of the node, hand out only those, and give back their
 * caps; ids from CUDA_VISIBLE_DEVICES are kept. */
static int s_test_bundles(void) {
  rl_gpus_t node, b1, b2, b3;
  int ids[3] = {3, 5, 7};
  rl_gpus_init(&node, 3, ids);
  rl_gpu_ask_t one = s_ask(1), half = s_ask(0.5), two = s_ask(2);
  S_CHECK(rl_gpus_reserve(&node, &half, &b1) == 0 && b1.n == 1 && b1.id[0] == 3 && b1.cap[0] == S_HALF);
  S_CHECK(rl_gpus_reserve(&node, &two, &b2) == 0 && b2.n == 2 && b2.id[0] == 5 && b2.id[1] == 7);
  S_CHECK(rl_gpus_reserve(&node, &one, &b3) == -1 && rl_gpus_free_total(&node) == S_HALF);
  rl_gpu_set_t c;
  S_CHECK(rl_gpus_pick(&b1, &one, &c) == -1 && rl_gpus_pick(&b1, &half, &c) == 0 && c.id[0] == 3);
  rl_gpus_take(&b1, &c, half.share);
  S_CHECK(rl_gpus_pick(&b2, &one, &c) == 0 && c.id[0] == 5);
  rl_gpus_take(&b2, &c, one.share);
  rl_gpus_unreserve(&node, &b1); /* while its worker still holds its share */
  rl_gpus_unreserve(&node, &b2);
  S_CHECK(rl_gpus_free_total(&node) == 3 * RL_RES_UNIT);
  rl_gpu_ask_t none = s_ask(0);
  S_CHECK(rl_gpus_reserve(&node, &none, &b3) == 0 && b3.n == 0 && rl_gpus_free_total(&node) == 3 * RL_RES_UNIT);
  return 0;
}

int rl_gpus_selftest(void) {
  return s_test_forms() || s_test_whole() || s_test_fractions() || s_test_bundles();
}
