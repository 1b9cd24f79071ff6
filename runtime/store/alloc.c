/* alloc.c: first-fit, coalescing allocator of region offsets (a treap of free blocks). */
#include "common/xalloc.h"
#include "store/alloc.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A free block. The treap is a binary search tree on `off` and a heap on `prio`;
 * `max` is the largest `size` in the node's subtree, which guides first fit. */
typedef struct s_node_t {
  struct s_node_t *l, *r;
  size_t off, size, max;
  uint32_t prio;
} s_node_t;

struct rl_alloc_t {
  s_node_t *root;
  s_node_t *pool; /* spare nodes, linked through l */
  size_t npool, ntree, nalloc;
  size_t capacity, free_bytes;
  uint64_t rng;
};

/* Spare nodes kept beyond what frees can need before the pool is trimmed. */
#define S_POOL_SLACK 64

static uint32_t s_rand(rl_alloc_t *a) {
  a->rng ^= a->rng << 13;
  a->rng ^= a->rng >> 7;
  a->rng ^= a->rng << 17;
  return (uint32_t)(a->rng >> 32);
}

static void s_update(s_node_t *t) {
  size_t m = t->size;
  if (t->l && t->l->max > m) m = t->l->max;
  if (t->r && t->r->max > m) m = t->r->max;
  t->max = m;
}

/* Splits t into the blocks with off < key (*a) and off >= key (*b). */
static void s_split(s_node_t *t, size_t key, s_node_t **a, s_node_t **b) {
  if (!t) {
    *a = *b = NULL;
    return;
  }
  if (t->off < key) {
    s_split(t->r, key, &t->r, b);
    *a = t;
  } else {
    s_split(t->l, key, a, &t->l);
    *b = t;
  }
  s_update(t);
}

/* Joins two treaps where every offset in a is below every offset in b. */
static s_node_t *s_merge(s_node_t *a, s_node_t *b) {
  if (!a) return b;
  if (!b) return a;
  if (a->prio > b->prio) {
    a->r = s_merge(a->r, b);
    s_update(a);
    return a;
  }
  b->l = s_merge(a, b->l);
  s_update(b);
  return b;
}

static void s_insert(rl_alloc_t *a, s_node_t *n) {
  s_node_t *lo, *hi;
  n->l = n->r = NULL;
  n->prio = s_rand(a);
  n->max = n->size;
  s_split(a->root, n->off, &lo, &hi);
  a->root = s_merge(s_merge(lo, n), hi);
  a->ntree++;
}

/* Unlinks the block at exactly `off` (offsets are multiples of the alignment, so the
 * block is the only one in [off, off + 1)). */
static s_node_t *s_remove(rl_alloc_t *a, size_t off) {
  s_node_t *lo, *mid, *hi;
  s_split(a->root, off, &lo, &mid);
  s_split(mid, off + 1, &mid, &hi);
  assert(mid && !mid->l && !mid->r && mid->off == off);
  a->root = s_merge(lo, hi);
  a->ntree--;
  return mid;
}

/* Recomputes the max fields on the path to the block at off (after its size changed
 * in place). */
static void s_fix(s_node_t *t, size_t off) {
  if (!t) return;
  if (off < t->off)
    s_fix(t->l, off);
  else if (off > t->off)
    s_fix(t->r, off);
  s_update(t);
}

static s_node_t *s_first_fit(s_node_t *t, size_t n) {
  while (t) {
    if (t->l && t->l->max >= n)
      t = t->l;
    else if (t->size >= n)
      return t;
    else if (t->r && t->r->max >= n)
      t = t->r;
    else
      return NULL;
  }
  return NULL;
}

/* The free block with the largest offset below off, or NULL. */
static s_node_t *s_pred(s_node_t *t, size_t off) {
  s_node_t *best = NULL;
  while (t) {
    if (t->off < off) {
      best = t;
      t = t->r;
    } else {
      t = t->l;
    }
  }
  return best;
}

/* The free block with the smallest offset above off, or NULL. */
static s_node_t *s_succ(s_node_t *t, size_t off) {
  s_node_t *best = NULL;
  while (t) {
    if (t->off > off) {
      best = t;
      t = t->l;
    } else {
      t = t->r;
    }
  }
  return best;
}

static void s_pool_put(rl_alloc_t *a, s_node_t *n) {
  n->l = a->pool;
  a->pool = n;
  a->npool++;
}

static s_node_t *s_pool_get(rl_alloc_t *a) {
  s_node_t *n = a->pool;
  assert(n); /* the reserve invariant guarantees a spare node */
  a->pool = n->l;
  a->npool--;
  return n;
}

static void s_free_tree(s_node_t *t) {
  if (!t) return;
  s_free_tree(t->l);
  s_free_tree(t->r);
  free(t);
}

rl_alloc_t *rl_alloc_new(size_t capacity) {
  capacity &= ~(size_t)(RL_ALLOC_ALIGN - 1);
  if (capacity == 0) return NULL;
  rl_alloc_t *a = rl_xcalloc(1, sizeof *a);
  s_node_t *n = rl_xcalloc(1, sizeof *n);
  a->capacity = a->free_bytes = capacity;
  a->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)a;
  n->off = 0;
  n->size = capacity;
  s_insert(a, n);
  return a;
}

void rl_alloc_destroy(rl_alloc_t **p) {
  if (!p || !*p) return;
  rl_alloc_t *a = *p;
  s_free_tree(a->root);
  while (a->pool) free(s_pool_get(a));
  free(a);
  *p = NULL;
}

size_t rl_alloc_round(size_t size) {
  if (size > SIZE_MAX - RL_ALLOC_ALIGN) return 0;
  if (size == 0) return RL_ALLOC_ALIGN;
  return (size + RL_ALLOC_ALIGN - 1) & ~(size_t)(RL_ALLOC_ALIGN - 1);
}

int rl_alloc_take(rl_alloc_t *a, size_t size, size_t *offset) {
  size_t n = rl_alloc_round(size);
  if (n == 0 || n > a->capacity || !a->root || a->root->max < n) return -1;
  /* Reserve: every allocated block must be able to become a free block later without
   * a heap allocation, so rl_alloc_free can't fail. A take keeps npool + ntree. */
  if (a->npool + a->ntree < a->nalloc + 2) {
    s_pool_put(a, rl_xcalloc(1, sizeof(s_node_t)));
  }
  s_node_t *f = s_first_fit(a->root, n);
  assert(f);
  size_t off = f->off;
  if (f->size > n) {
    /* Shrinking from the front keeps the order: only the max fields need fixing. */
    f->off += n;
    f->size -= n;
    s_fix(a->root, f->off);
  } else {
    s_pool_put(a, s_remove(a, off));
  }
  a->free_bytes -= n;
  a->nalloc++;
  *offset = off;
  return 0;
}

void rl_alloc_free(rl_alloc_t *a, size_t offset, size_t size) {
  size_t n = rl_alloc_round(size);
  assert(n && offset % RL_ALLOC_ALIGN == 0 && offset <= a->capacity && n <= a->capacity - offset);
  assert(a->nalloc > 0);
  s_node_t *p = s_pred(a->root, offset), *s = s_succ(a->root, offset);
  assert(!p || p->off + p->size <= offset); /* not a double free */
  assert(!s || offset + n <= s->off);
  bool join_p = p && p->off + p->size == offset, join_s = s && offset + n == s->off;
  if (join_p && join_s) {
    size_t grow = n + s->size;
    s_pool_put(a, s_remove(a, s->off));
    p->size += grow;
    s_fix(a->root, p->off);
  } else if (join_p) {
    p->size += n;
    s_fix(a->root, p->off);
  } else if (join_s) {
    s->off = offset; /* still after p: the order holds */
    s->size += n;
    s_fix(a->root, s->off);
  } else {
    s_node_t *node = s_pool_get(a);
    node->off = offset;
    node->size = n;
    s_insert(a, node);
  }
  a->free_bytes += n;
  a->nalloc--;
  while (a->npool > 0 && a->npool + a->ntree > a->nalloc + 1 + S_POOL_SLACK) free(s_pool_get(a));
}

size_t rl_alloc_capacity(const rl_alloc_t *a) { return a->capacity; }
size_t rl_alloc_free_bytes(const rl_alloc_t *a) { return a->free_bytes; }
size_t rl_alloc_largest(const rl_alloc_t *a) { return a->root ? a->root->max : 0; }
size_t rl_alloc_blocks(const rl_alloc_t *a) { return a->ntree; }

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
