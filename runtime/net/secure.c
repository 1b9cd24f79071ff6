/* secure.c: binds and connects secured with the cluster key (CURVE on tcp://), the
 * context teardown that stops a ZAP handler, and the client-side handshake watch. */
#include "common/xalloc.h"
#include "net/secure.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "net/key.h"
#include "net/zap.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* libzmq 4.3's draft option, in the library but not zmq.h */
#endif

static bool s_tcp(const char *endpoint) { return !strncmp(endpoint, "tcp://", 6); }

int rl_net_bind(void *ctx, void *sock, const char *endpoint) {
  if (s_tcp(endpoint) && rl_net_key_held()) {
    int one = 1;
    if (rl_net_zap_start(ctx, sock) != 0) return -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, rl_net_key_secret(), RL_NET_KEY_Z85) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "rayl", 4) != 0)
      return -1;
    /* No handler, no entry (ZeroMQ's default admits everyone when no handler is bound).
     * Ours is bound before this socket, so a library without the option is safe too. */
    zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one);
  }
  return zmq_bind(sock, endpoint);
}

int rl_net_connect(void *sock, const char *endpoint) {
  if (s_tcp(endpoint) && rl_net_key_held()) {
    /* Every member holds the one cluster keypair: it is the server's key and ours. */
    const char *pub = rl_net_key_public(), *secret = rl_net_key_secret();
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, pub, RL_NET_KEY_Z85) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, RL_NET_KEY_Z85) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, RL_NET_KEY_Z85) != 0)
      return -1;
  }
  return zmq_connect(sock, endpoint);
}

void rl_net_ctx_term(void **ctx) {
  if (!ctx || !*ctx) return;
  rl_net_zap_stop(*ctx);
  zmq_ctx_term(*ctx);
  *ctx = NULL;
}

struct rl_net_watch_t {
  void *pair;
  int failures;  /* handshakes that ended without a reason */
  bool rejected; /* a handshake failed for a reason: mechanism, keys, ZAP */
  bool succeeded;
};

rl_net_watch_t *rl_net_watch_new(void *ctx, void *sock) {
  rl_net_watch_t *w = rl_xcalloc(1, sizeof *w);
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "inproc://rl-net-watch-%p", sock);
  int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
  int zero = 0;
  if (zmq_socket_monitor(sock, endpoint, events) != 0) goto fail;
  w->pair = zmq_socket(ctx, ZMQ_PAIR);
  if (!w->pair) goto fail;
  zmq_setsockopt(w->pair, ZMQ_LINGER, &zero, sizeof zero);
  if (zmq_connect(w->pair, endpoint) != 0) goto fail;
  return w;
fail:
  zmq_socket_monitor(sock, NULL, 0);
  if (w->pair) zmq_close(w->pair);
  free(w);
  return NULL;
}

void *rl_net_watch_socket(rl_net_watch_t *w) { return w->pair; }

bool rl_net_watch_refused(rl_net_watch_t *w) {
  zmq_msg_t part;
  zmq_msg_init(&part);
  while (zmq_msg_recv(&part, w->pair, ZMQ_DONTWAIT) >= 0) {
    /* An event is two frames: 6 bytes (event, value), then the endpoint. */
    if (zmq_msg_size(&part) == 6) {
      uint16_t event;
      memcpy(&event, zmq_msg_data(&part), 2);
      if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) w->succeeded = true;
      else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) w->failures++;
      else w->rejected = true; /* ZeroMQ may not even retry after these */
    }
    int more = zmq_msg_more(&part);
    while (more && zmq_msg_recv(&part, w->pair, ZMQ_DONTWAIT) >= 0) more = zmq_msg_more(&part);
  }
  zmq_msg_close(&part);
  return !w->succeeded && (w->rejected || w->failures >= 2);
}

void rl_net_watch_destroy(rl_net_watch_t **p) {
  if (!p || !*p) return;
  zmq_close((*p)->pair);
  free(*p);
  *p = NULL;
}
