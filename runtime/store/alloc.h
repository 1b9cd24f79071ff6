/* alloc.h: the object store's allocator: 64-byte aligned offsets within [0, capacity).
 *
 * Free blocks live in a treap ordered by offset and augmented with the largest block
 * of each subtree, so an allocation takes the lowest-addressed block that fits
 * (first fit, O(log n)): freed memory, whose pages are already faulted in, is reused
 * before untouched memory. Freed blocks coalesce with free neighbours at once. The
 * metadata lives in the caller's heap, never in the shared region. */
#ifndef RL_ALLOC_H
#define RL_ALLOC_H
#include <stddef.h>

#define RL_ALLOC_ALIGN 64

typedef struct rl_alloc_t rl_alloc_t;

/* An allocator for [0, capacity) with capacity rounded down to RL_ALLOC_ALIGN.
 * Returns NULL if out of memory or if the rounded capacity is 0. */
rl_alloc_t *rl_alloc_new(size_t capacity);
/* Frees the allocator and nulls *p; safe on NULL and twice. */
void rl_alloc_destroy(rl_alloc_t **p);
/* The bytes an allocation of `size` really takes (at least RL_ALLOC_ALIGN, so every
 * allocation has its own offset); 0 if size is too large to round. Can't fail. */
size_t rl_alloc_round(size_t size);
/* Allocates rl_alloc_round(size) bytes at the lowest offset where they fit. Returns 0
 * with *offset set, or -1 if no free block is large enough (or out of heap memory). */
int rl_alloc_take(rl_alloc_t *a, size_t size, size_t *offset);
/* Frees the block [offset, offset + rl_alloc_round(size)) returned by rl_alloc_take
 * with the same size. Can't fail; freeing what is not allocated is API misuse and
 * asserts. */
void rl_alloc_free(rl_alloc_t *a, size_t offset, size_t size);
size_t rl_alloc_capacity(const rl_alloc_t *a);
/* Free bytes in total; the largest free block; the number of free blocks. */
size_t rl_alloc_free_bytes(const rl_alloc_t *a);
size_t rl_alloc_largest(const rl_alloc_t *a);
size_t rl_alloc_blocks(const rl_alloc_t *a);

#endif
