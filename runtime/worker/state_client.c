/* state_client.c: one-off DEALER sockets to the head and the node managers. */
#include "worker/state_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/id.h"
#include "common/xalloc.h"
#include "net/secure.h"
#include "wire/proto.h"
#include "wire/wire.h"

/* A DEALER connected to endpoint, with a random 16-byte routing id (node managers only
 * answer peers named like clients). NULL if it cannot be opened. */
static void *s_dealer(void *ctx, const char *endpoint) {
  void *sock = zmq_socket(ctx, ZMQ_DEALER);
  if (!sock) return NULL;
  int zero = 0, ivl = 10;
  rl_id_t id = rl_id_random();
  zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  zmq_setsockopt(sock, ZMQ_ROUTING_ID, id.b, RL_ID_SIZE);
  if (rl_net_connect(sock, endpoint) != 0) {
    zmq_close(sock);
    return NULL;
  }
  return sock;
}

int rl_state_request(const char *endpoint, rl_msgbuf_t *b, uint64_t request, rl_msg_t *reply, int timeout_ms,
                     char *err, size_t errlen) {
  void *ctx = zmq_ctx_new(), *sock = ctx ? s_dealer(ctx, endpoint) : NULL;
  int rc = -1;
  if (!sock) {
    rl_msgbuf_reset(b);
    snprintf(err, errlen, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
    goto done;
  }
  rl_msg_send(sock, NULL, b);
  int64_t deadline = rl_now_ms() + timeout_ms;
  zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
  while (rc != 0 && rl_now_ms() < deadline) {
    if (zmq_poll(&it, 1, rl_ms_left(deadline)) <= 0) continue;
    while (rc != 0 && rl_msg_recv(sock, false, reply) == 1) {
      uint64_t got;
      if (rl_wire_request_of(reply, &got) && got == request) rc = 0;
      else rl_msg_close(reply);
    }
  }
  if (rc != 0) snprintf(err, errlen, "%s did not answer within %d ms", endpoint, timeout_ms);
done:
  if (sock) zmq_close(sock);
  if (ctx) zmq_ctx_term(ctx);
  return rc;
}

int rl_state_objects(const char *const *endpoints, int n, rl_msg_t *replies, bool *got, int timeout_ms) {
  return rl_state_ask_all(endpoints, n, RL_NM_LIST_OBJECTS, RL_NM_OBJECTS, replies, got, timeout_ms);
}

int rl_state_ask_all(const char *const *endpoints, int n, int type, int reply_type, rl_msg_t *replies, bool *got,
                     int timeout_ms) {
  void *ctx = zmq_ctx_new();
  void **socks = rl_xcalloc(n > 0 ? (size_t)n : 1, sizeof *socks);
  zmq_pollitem_t *items = rl_xcalloc(n > 0 ? (size_t)n : 1, sizeof *items);
  int answered = 0;
  for (int i = 0; i < n; i++) got[i] = false;
  if (!ctx) goto done;
  for (int i = 0; i < n; i++) {
    socks[i] = s_dealer(ctx, endpoints[i]);
    items[i] = (zmq_pollitem_t){socks[i], 0, socks[i] ? ZMQ_POLLIN : 0, 0};
    if (!socks[i]) continue;
    rl_nm_list_objects_msg_t q = {.request = (uint64_t)i + 1}; /* every request asked here: [request] */
    rl_wire_send(socks[i], NULL, type, &q);
  }
  int64_t deadline = rl_now_ms() + timeout_ms;
  while (answered < n && rl_now_ms() < deadline) {
    if (zmq_poll(items, n, rl_ms_left(deadline)) <= 0) continue;
    for (int i = 0; i < n; i++) {
      if (got[i] || !(items[i].revents & ZMQ_POLLIN)) continue;
      while (!got[i] && rl_msg_recv(socks[i], false, &replies[i]) == 1) {
        uint64_t request;
        if (replies[i].type == reply_type && rl_wire_request_of(&replies[i], &request) && request == (uint64_t)i + 1) {
          got[i] = true;
          answered++;
          items[i].events = 0;
        } else {
          rl_msg_close(&replies[i]);
        }
      }
    }
  }
done:
  for (int i = 0; socks && i < n; i++)
    if (socks[i]) zmq_close(socks[i]);
  free(socks);
  free(items);
  if (ctx) zmq_ctx_term(ctx);
  return answered;
}
