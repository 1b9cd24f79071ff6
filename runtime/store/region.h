/* region.h: mapping a node's shared-memory store region into a client process. */
#ifndef RL_REGION_H
#define RL_REGION_H
#include <stddef.h>

/* Maps the region at path (as given by the node manager) read-write, shared.
 * Returns the base address, or NULL with a message in err. */
void *rl_region_map(const char *path, size_t size, char *err, size_t errlen);
/* Unmaps a region mapped by rl_region_map. Safe with NULL. */
void rl_region_unmap(void *base, size_t size);
/* Faults in the pages under [p, p + n) of a mapping at once (one call instead of a
 * fault per page: page faults dominate fresh shared memory), for writing or reading.
 * A hint: nothing happens where the kernel cannot (before Linux 5.14). */
void rl_region_prefault(void *p, size_t n, int write);

#endif
