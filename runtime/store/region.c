/* region.c: mapping the node's shared-memory store region into a client process. */
#include "store/region.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
  if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

void *rl_region_map(const char *path, size_t size, char *err, size_t errlen) {
  if (!path || !*path || size == 0) {
    s_err(err, errlen, "cannot map the object store: %s%s", "no path or size given", "");
    return NULL;
  }
  /* The path is /proc/<node manager pid>/fd/<memfd>: opening it gives this process its
   * own descriptor for the same memory; the mapping outlives the descriptor. */
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    s_err(err, errlen, "cannot open the object store %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < 0 || (size_t)st.st_size < size) {
    s_err(err, errlen, "cannot map the object store %s: %s", path,
          "the region is smaller than its announced size");
    close(fd);
    return NULL;
  }
  void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (base == MAP_FAILED) {
    s_err(err, errlen, "cannot map the object store %s: %s", path, strerror(e));
    return NULL;
  }
  return base;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

void rl_region_prefault(void *p, size_t n, int write) {
  if (!n) return;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), start = (uintptr_t)p & ~(page - 1);
  (void)madvise((void *)start, (uintptr_t)p + n - start, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
}

void rl_region_unmap(void *base, size_t size) {
  if (base && size) munmap(base, size);
}
