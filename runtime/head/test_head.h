/* test_head.h: for the head's selftests: rl_gcs_serve in a thread over inproc://. */
#ifndef RL_GCS_TEST_HEAD_H
#define RL_GCS_TEST_HEAD_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <zmq.h>

#include "common/clock.h"
#include "head/gcs_server.h"
#include "wire/msg.h"

typedef struct {
  void *router;
  rl_gcs_opts_t opts;
  atomic_int stop;
  int rc;
  pthread_t thread;
  bool running;
} rl_test_head_t;

static void *rl_test_head_main(void *p) {
  rl_test_head_t *h = p;
  h->rc = rl_gcs_serve(h->router, &h->opts, &h->stop);
  return NULL;
}

/* Binds a ROUTER of ctx at ep (no linger, unlimited receive queue, so junk never pushes
 * valid requests out) and serves it with opts in a thread. Returns 0, or -1. */
static inline int rl_test_head_start(rl_test_head_t *h, void *ctx, const char *ep, rl_gcs_opts_t opts) {
  int zero = 0;
  h->opts = opts;
  h->rc = -1;
  h->running = false;
  atomic_init(&h->stop, 0);
  h->router = zmq_socket(ctx, ZMQ_ROUTER);
  if (!h->router) return -1;
  zmq_setsockopt(h->router, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(h->router, ZMQ_RCVHWM, &zero, sizeof zero);
  if (zmq_bind(h->router, ep) != 0 || pthread_create(&h->thread, NULL, rl_test_head_main, h) != 0) return -1;
  h->running = true;
  return 0;
}

/* Stops the thread (if it runs) and closes the router. Returns rl_gcs_serve's result
 * (0: it ended cleanly). Safe twice. */
static inline int rl_test_head_stop(rl_test_head_t *h) {
  if (h->running) {
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    h->running = false;
  }
  if (h->router) zmq_close(h->router);
  h->router = NULL;
  return h->rc;
}

/* Waits up to 5 s for a message of this type on the socket, dropping others. Returns
 * 1 with *m filled (close it), else 0. */
static inline int rl_test_head_next(void *sock, int type, rl_msg_t *m) {
  zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
  for (int64_t end = rl_now_ms() + 5000; rl_now_ms() < end;) {
    if (zmq_poll(&it, 1, 50) <= 0) continue;
    while (rl_msg_recv(sock, false, m) == 1) {
      if (m->type == type) return 1;
      rl_msg_close(m);
    }
  }
  return 0;
}

#endif
