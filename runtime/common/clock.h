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
/* Milliseconds from now until deadline (an rl_now_ms time), 0 if it has passed: a poll
 * timeout that is never negative (zmq_poll waits forever on -1). */
static inline long rl_ms_left(int64_t deadline) {
  int64_t left = deadline - rl_now_ms();
  return left > 0 ? (long)left : 0;
}

#endif
