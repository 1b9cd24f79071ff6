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
