/* alloc_test.c: alloc.c's selftest, built into rl_selftest only (not librayl). */
#include "store/alloc.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

/* Walks the treap checking order, heap, max fields and that no two free blocks touch
 * (coalescing is complete). Marks free granules in `map` (1 = free). Returns the free
 * bytes seen, or SIZE_MAX on a broken invariant. */
static size_t s_check(const s_node_t *t, size_t *prev_end, unsigned char *map) {
  if (!t) return 0;
  size_t left = s_check(t->l, prev_end, map);
  if (left == SIZE_MAX) return SIZE_MAX;
  if (t->size == 0 || t->off % RL_ALLOC_ALIGN || t->size % RL_ALLOC_ALIGN) return SIZE_MAX;
  if (*prev_end != SIZE_MAX && t->off <= *prev_end) return SIZE_MAX; /* overlap or touching */
  if ((t->l && t->l->prio > t->prio) || (t->r && t->r->prio > t->prio)) return SIZE_MAX;
  size_t m = t->size;
  if (t->l && t->l->max > m) m = t->l->max;
  if (t->r && t->r->max > m) m = t->r->max;
  if (m != t->max) return SIZE_MAX;
  for (size_t g = t->off / RL_ALLOC_ALIGN; g < (t->off + t->size) / RL_ALLOC_ALIGN; g++) {
    if (map[g]) return SIZE_MAX;
    map[g] = 1;
  }
  *prev_end = t->off + t->size;
  size_t right = s_check(t->r, prev_end, map);
  if (right == SIZE_MAX) return SIZE_MAX;
  return left + t->size + right;
}

int rl_alloc_selftest(void) {
  enum { CAP = 1 << 20, GRAN = CAP / RL_ALLOC_ALIGN, LIVE = 400, STEPS = 20000 };
  assert(rl_alloc_new(63) == NULL);
  assert(rl_alloc_round(0) == 64 && rl_alloc_round(1) == 64 && rl_alloc_round(64) == 64);
  assert(rl_alloc_round(65) == 128 && rl_alloc_round(SIZE_MAX) == 0);
  rl_alloc_t *a = rl_alloc_new(CAP + 10);
  assert(a && rl_alloc_capacity(a) == CAP && rl_alloc_largest(a) == CAP);
  static unsigned char owner[GRAN]; /* shadow model: 1 = allocated granule */
  static unsigned char freemap[GRAN];
  static struct {
    size_t off, size;
  } live[LIVE];
  size_t nlive = 0, used = 0, off;
  memset(owner, 0, sizeof owner);
  uint64_t r = 88172645463325252ull;
  for (int step = 0; step < STEPS; step++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    bool do_alloc = nlive == 0 || (nlive < LIVE && (r & 3) != 0 && step < STEPS * 3 / 4) ||
                    (nlive < LIVE && (r & 1) && step >= STEPS * 3 / 4 && step < STEPS - 2000);
    if (do_alloc) {
      size_t size = (r >> 8) % ((r >> 40) & 1 ? 40000 : 700);
      size_t n = rl_alloc_round(size);
      size_t largest = rl_alloc_largest(a);
      if (rl_alloc_take(a, size, &off) != 0) {
        if (largest >= n) return 1; /* a fit existed but was refused */
        continue;
      }
      if (off % RL_ALLOC_ALIGN || off + n > CAP) return 1;
      for (size_t g = off / RL_ALLOC_ALIGN; g < (off + n) / RL_ALLOC_ALIGN; g++) {
        if (owner[g]) return 1; /* overlap with a live allocation */
        owner[g] = 1;
      }
      live[nlive].off = off;
      live[nlive].size = size;
      nlive++;
      used += n;
    } else {
      size_t i = (r >> 16) % nlive;
      size_t n = rl_alloc_round(live[i].size);
      rl_alloc_free(a, live[i].off, live[i].size);
      memset(owner + live[i].off / RL_ALLOC_ALIGN, 0, n / RL_ALLOC_ALIGN);
      used -= n;
      live[i] = live[--nlive];
    }
    if (step % 97 == 0 || step > STEPS - 50) {
      memset(freemap, 0, sizeof freemap);
      size_t prev_end = SIZE_MAX;
      size_t seen = s_check(a->root, &prev_end, freemap);
      if (seen == SIZE_MAX || seen != CAP - used || rl_alloc_free_bytes(a) != seen) return 1;
      for (size_t g = 0; g < GRAN; g++)
        if (freemap[g] == owner[g]) return 1; /* every granule is either free or live */
    }
  }
  /* First fit at the lowest address: a hole freed low is reused before higher space. */
  while (nlive > 0) {
    nlive--;
    rl_alloc_free(a, live[nlive].off, live[nlive].size);
  }
  if (rl_alloc_blocks(a) != 1 || rl_alloc_largest(a) != CAP || rl_alloc_free_bytes(a) != CAP) return 1;
  size_t o1, o2, o3, o4;
  if (rl_alloc_take(a, 1000, &o1) || rl_alloc_take(a, 5000, &o2) || rl_alloc_take(a, 100, &o3)) return 1;
  if (o1 != 0 || o2 != 1024 || o3 != 1024 + 5056) return 1;
  rl_alloc_free(a, o2, 5000);
  if (rl_alloc_take(a, 64, &o4) || o4 != o2) return 1;       /* lowest fit, not best fit */
  if (rl_alloc_take(a, 6000, &o2) || o2 <= o3) return 1;     /* the hole is too small now */
  if (rl_alloc_take(a, CAP, &o4) == 0) return 1;             /* can't fit */
  rl_alloc_free(a, o1, 1000);
  rl_alloc_free(a, o3, 100);
  rl_alloc_free(a, o4, 64);
  rl_alloc_free(a, o2, 6000);
  if (rl_alloc_blocks(a) != 1 || rl_alloc_largest(a) != CAP) return 1;
  /* Exhaust with minimum blocks, free every other one, then the rest: back to one. */
  size_t k = 0;
  while (rl_alloc_take(a, 1, &off) == 0) k++;
  if (k != GRAN || rl_alloc_free_bytes(a) != 0 || rl_alloc_largest(a) != 0) return 1;
  for (size_t g = 0; g < GRAN; g += 2) rl_alloc_free(a, g * RL_ALLOC_ALIGN, 1);
  if (rl_alloc_blocks(a) != GRAN / 2 || rl_alloc_take(a, 65, &off) == 0) return 1;
  for (size_t g = 1; g < GRAN; g += 2) rl_alloc_free(a, g * RL_ALLOC_ALIGN, 1);
  if (rl_alloc_blocks(a) != 1 || rl_alloc_largest(a) != CAP || a->npool > 1 + S_POOL_SLACK) return 1;
  rl_alloc_destroy(&a);
  rl_alloc_destroy(&a);
  return a == NULL ? 0 : 1;
}
