/* xalloc.h: allocation of rayl's own structures; running out of memory there ends the
 * process with one clear line (Redis's zmalloc rule). */
#ifndef RL_XALLOC_H
#define RL_XALLOC_H
#include <stddef.h>

/* The rule: an allocation whose size rayl chooses (a struct, a table that grows by
 * doubling, a copy of a name or an endpoint) uses rl_x*: they never return NULL. If the
 * system has no memory left they write "rayl: out of memory allocating N bytes in
 * <function>" to stderr and the log, and abort: no caller has a sane way on, and a
 * half-built structure is worse than a clear end (the node manager reports a dead
 * worker; a supervisor restarts a daemon). An allocation whose size comes from the user
 * or the network (an object, an array, a string from a user value, a value in the KV
 * store) uses plain malloc and returns a typed error the user sees instead
 * (OutOfMemoryError or ValueError naming the size; RL_ENOMEM, common/result.h). */

/* malloc(n) (n = 0 allocates 1 byte); never NULL. */
#define rl_xmalloc(n) rl_xmalloc_at((n), __func__)
/* calloc(n, size); never NULL. n * size overflowing is out of memory too. */
#define rl_xcalloc(n, size) rl_xcalloc_at((n), (size), __func__)
/* realloc(p, n) (n = 0 keeps 1 byte); never NULL, so `p = rl_xrealloc(p, n)` is safe. */
#define rl_xrealloc(p, n) rl_xrealloc_at((p), (n), __func__)
/* strdup(s); never NULL. */
#define rl_xstrdup(s) rl_xstrdup_at((s), __func__)
/* strndup(s, n): at most n bytes of s, NUL-terminated; never NULL. */
#define rl_xstrndup(s, n) rl_xstrndup_at((s), (n), __func__)

void *rl_xmalloc_at(size_t n, const char *func);
void *rl_xcalloc_at(size_t n, size_t size, const char *func);
void *rl_xrealloc_at(void *p, size_t n, const char *func);
char *rl_xstrdup_at(const char *s, const char *func);
char *rl_xstrndup_at(const char *s, size_t n, const char *func);

/* Writes "rayl: out of memory allocating <what> bytes in <func>" to stderr (and the log
 * if one is open) and aborts. For callers with their own allocator. */
_Noreturn void rl_xalloc_fail(const char *what, const char *func);

#endif
