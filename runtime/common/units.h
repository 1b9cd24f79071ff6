/* units.h: numbers as people read them: bytes as 16.48GiB, durations as 2m05s. */
#ifndef RL_UNITS_H
#define RL_UNITS_H
#include <stddef.h>

/* Writes bytes as Ray shows them: "512B", "1.50KiB", "16.48GiB" (powers of 1024, two
 * decimals above bytes) into buf (n > 0; truncated, always terminated). Returns buf. */
char *rl_units_bytes(double bytes, char *buf, size_t n);

/* Writes a duration in seconds (>= 0) as "850ms", "12.3s", "4m05s", "2h03m" or "3d04h"
 * into buf (n > 0; truncated, always terminated). Returns buf. */
char *rl_units_duration(double seconds, char *buf, size_t n);

#endif
