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
