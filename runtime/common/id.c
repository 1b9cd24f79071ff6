/* id.c: id generation, formatting and hashing. */
#include "common/id.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

rl_id_t rl_id_random(void) {
  rl_id_t id;
  ssize_t n = getrandom(id.b, sizeof id.b, 0);
  assert(n == (ssize_t)sizeof id.b);
  (void)n;
  return id;
}

static void s_put32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

rl_id_t rl_id_for_task(rl_id_t worker, uint32_t seq) {
  rl_id_t id;
  memcpy(id.b, worker.b, 8);
  s_put32(id.b + 8, seq);
  s_put32(id.b + 12, 0);
  return id;
}

rl_id_t rl_id_for_object(rl_id_t task, uint32_t index) {
  s_put32(task.b + 12, index);
  return task;
}

uint32_t rl_id_index(rl_id_t id) {
  return (uint32_t)id.b[12] << 24 | (uint32_t)id.b[13] << 16 | (uint32_t)id.b[14] << 8 | id.b[15];
}

rl_id_t rl_id_task_of(rl_id_t object) { return rl_id_for_object(object, 0); }

bool rl_id_eq(const rl_id_t *a, const rl_id_t *b) { return memcmp(a->b, b->b, RL_ID_SIZE) == 0; }

bool rl_id_is_nil(const rl_id_t *a) {
  static const rl_id_t nil;
  return rl_id_eq(a, &nil);
}

char *rl_id_hex(const rl_id_t *id, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < RL_ID_SIZE; i++) {
    out[2 * i] = digits[id->b[i] >> 4];
    out[2 * i + 1] = digits[id->b[i] & 15];
  }
  out[2 * RL_ID_SIZE] = 0;
  return out;
}

static int s_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int rl_id_parse(const char *hex, rl_id_t *out) {
  if (!hex || strlen(hex) != 2 * RL_ID_SIZE) return -1;
  for (int i = 0; i < RL_ID_SIZE; i++) {
    int hi = s_nibble(hex[2 * i]), lo = s_nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out->b[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

uint64_t rl_id_hash(const rl_id_t *id) {
  uint64_t a, b;
  memcpy(&a, id->b, 8);
  memcpy(&b, id->b + 8, 8);
  uint64_t h = a ^ (b * 0x9e3779b97f4a7c15ull);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}
