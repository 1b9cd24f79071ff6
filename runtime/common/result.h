/* result.h: rl_result_t, the one result type of rayl functions that can fail. */
#ifndef RL_RESULT_H
#define RL_RESULT_H

/* The contract: a function returning rl_result_t returns RL_OK (0) on success. On a
 * failure it returns a negative code, and when it takes an error buffer (`char *err,
 * size_t errlen`) fills it with a message the caller can show as is (what was wrong,
 * and the value). Callers test `!= RL_OK`, never a particular negative value unless
 * they act on it:
 *   RL_ERR    any failure the message explains (bad input, I/O, a peer's answer);
 *   RL_ENOMEM an allocation whose size came from the user or the network failed: the
 *             caller reports an OutOfMemoryError naming the size, and goes on.
 * Internal allocations never fail (common/xalloc.h). Older functions return int with
 * the same 0 / -1 meaning, so the two mix. */
typedef enum {
  RL_OK = 0,
  RL_ERR = -1,
  RL_ENOMEM = -2,
} rl_result_t;

#endif
