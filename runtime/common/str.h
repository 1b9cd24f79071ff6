/* str.h: a bounded string copy for hot paths (snprintf "%s" parses its format and
 * goes through stdio's machinery on every call). */
#ifndef RL_STR_H
#define RL_STR_H
#include <stddef.h>
#include <string.h>

/* Copies src into dst (n > 0 bytes), cut to n - 1 bytes, always NUL-terminated, as
 * snprintf(dst, n, "%s", src) does. Can't fail. */
static inline void rl_str_copy(char *dst, size_t n, const char *src) {
  size_t len = strnlen(src, n - 1);
  memcpy(dst, src, len);
  dst[len] = 0;
}

#endif
