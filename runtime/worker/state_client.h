/* state_client.h: what the state API (`rayl list`, rayl.util.state) asks from outside a
 * core worker: one request to the head, or one to each node manager at once, each on a
 * socket of its own. */
#ifndef RL_STATE_CLIENT_H
#define RL_STATE_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/msg.h"

/* Sends b (consumed) to the process at endpoint and waits up to timeout_ms for the reply
 * whose first field is request. Returns 0 with *reply filled (close it), or -1 with a
 * message in err. */
int rl_state_request(const char *endpoint, rl_msgbuf_t *b, uint64_t request, rl_msg_t *reply, int timeout_ms,
                     char *err, size_t errlen);

/* Asks each of the n node managers at endpoints for the objects in its store
 * (RL_NM_LIST_OBJECTS), all at once, waiting up to timeout_ms in all. got[i] tells
 * whether replies[i] holds the answer of endpoints[i] (close those). Returns how many
 * answered. */
int rl_state_objects(const char *const *endpoints, int n, rl_msg_t *replies, bool *got, int timeout_ms);

/* The same for any request of one field [request u64] (type) answered by reply_type
 * (rayl stack, rayl memory ask every core worker at once). */
int rl_state_ask_all(const char *const *endpoints, int n, int type, int reply_type, rl_msg_t *replies, bool *got,
                     int timeout_ms);

#endif
