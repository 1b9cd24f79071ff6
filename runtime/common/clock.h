/* clock.h: monotonic time in the units the runtime uses. */
#ifndef RL_CLOCK_H
#define RL_CLOCK_H
#include <stdint.h>

/* Monotonic microseconds since an arbitrary start. Can't fail. */
int64_t rl_now_us(void);
/* Monotonic milliseconds. Can't fail. */
int64_t rl_now_ms(void);
/* Wall-clock microseconds since the epoch (comparable across processes, for timelines).
 * Can't fail. */
int64_t rl_wall_us(void);

#endif
