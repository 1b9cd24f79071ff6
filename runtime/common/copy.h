/* copy.h: copying large values (into the object store) on two cores. */
#ifndef RL_COPY_H
#define RL_COPY_H
#include <stddef.h>

/* Blocks from this size on are copied by two threads. */
#define RL_COPY_PARALLEL ((size_t)16 << 20)

/* memcpy(dst, src, n) (the blocks must not overlap). From RL_COPY_PARALLEL bytes on,
 * when the machine has more than one CPU, a short-lived helper thread copies the second
 * half while the caller copies the first: one core does not reach the memory bandwidth
 * (about 10 GB/s here on one, up to 17 on two); Ray's put copies with several threads
 * for the same reason. If no thread can be started, the caller copies it all. Can't
 * fail. */
void rl_copy(void *dst, const void *src, size_t n);

#endif
