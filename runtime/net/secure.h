/* secure.h: sockets secured with the cluster key. Every tcp:// bind is a CURVE server
 * and every tcp:// connect a CURVE client while this process holds a key (net/key.h);
 * ipc:// and inproc:// stay plain (they are private to this machine: 0700 folders). */
#ifndef RL_NET_SECURE_H
#define RL_NET_SECURE_H
#include <stdbool.h>

/* zmq_bind(sock, endpoint), secured for tcp when a key is held: the socket becomes a
 * CURVE server with the cluster key, and ctx (sock's context) gets a ZAP handler that
 * admits only peers holding the same key and logs refusals (rate-limited). Returns
 * zmq_bind's result (-1 with zmq_errno set on failure). */
int rl_net_bind(void *ctx, void *sock, const char *endpoint);

/* zmq_connect(sock, endpoint), as a CURVE client with the cluster key for tcp when a
 * key is held. Returns zmq_connect's result. */
int rl_net_connect(void *sock, const char *endpoint);

/* Stops ctx's ZAP handler, if it has one, and terminates ctx (zmq_ctx_term). Close
 * every socket of ctx first. Nulls *ctx; safe on NULL. */
void rl_net_ctx_term(void **ctx);

/* Watches one client socket's handshakes, to tell "no one answers" from "the peer
 * refuses us" (no key, or another cluster's key). */
typedef struct rl_net_watch_t rl_net_watch_t;

/* Starts watching sock (before connecting it). Returns NULL on failure (then nothing is
 * watched and callers carry on without the diagnosis). */
rl_net_watch_t *rl_net_watch_new(void *ctx, void *sock);

/* The socket to poll for ZMQ_POLLIN: readable when there is news for rl_net_watch_refused. */
void *rl_net_watch_socket(rl_net_watch_t *w);

/* Reads the news; true once the peer refused our handshake (twice, with no handshake
 * ever succeeding). */
bool rl_net_watch_refused(rl_net_watch_t *w);

/* Stops watching; nulls *w; safe twice. */
void rl_net_watch_destroy(rl_net_watch_t **w);

#endif
