/* zap.h: the ZAP handler of a ZeroMQ context: the thread that tells CURVE servers of the
 * context whom to admit (used by secure.c). */
#ifndef RL_NET_ZAP_H
#define RL_NET_ZAP_H

/* Starts ctx's handler (once per context; later calls return 0). It admits a client
 * only if it presents the held cluster key's public half, logs refusals with the peer's
 * address, and logs the failed handshakes of server (a socket of ctx, not yet bound)
 * that never reach ZAP (no key, another key). Logs are rate-limited. Returns 0, or -1
 * with zmq_errno/errno set. */
int rl_net_zap_start(void *ctx, void *server);

/* Shuts ctx down (zmq_ctx_shutdown) and joins its handler, if it has one. */
void rl_net_zap_stop(void *ctx);

#endif
