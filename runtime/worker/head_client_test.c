/* head_client_test.c: head_client.c's selftest, built into rl_selftest only (not librayl). */
#include "worker/head_client.c" /* the code under test, with its file-local helpers */

/* ---- selftest: a process without the cluster key is told the head refused it, even
 * when the head ended the connection before the request could leave ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/selftest.h"

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* A peer that answers every connection with a ZeroMQ greeting for CURVE, as a secured
 * head does, and then keeps it open: a client without a key sees the mechanisms differ
 * and ZeroMQ drops the connection for good (no reconnect, nothing more can be sent). */
typedef struct {
  int listener;
  int open[8];
  int nopen;
  volatile int stop;
} s_curve_peer_t;

static void *s_curve_peer(void *arg) {
  s_curve_peer_t *p = arg;
  uint8_t greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E'};
  greeting[32] = 1; /* as-server */
  while (!p->stop) {
    struct pollfd pfd = {p->listener, POLLIN, 0};
    if (poll(&pfd, 1, 20) != 1) continue;
    int fd = accept(p->listener, NULL, NULL);
    if (fd < 0) continue;
    if (write(fd, greeting, sizeof greeting) != (ssize_t)sizeof greeting || p->nopen == 8) close(fd);
    else p->open[p->nopen++] = fd;
  }
  return NULL;
}

int rl_head_client_selftest(void) {
  int rc = 1;
  s_curve_peer_t peer = {.listener = socket(AF_INET, SOCK_STREAM, 0)};
  pthread_t thread;
  bool started = false;
  rl_head_t h = {0};
  char endpoint[64], err[600] = "";
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  rl_gcs_nodes_msg_t nodes;
  rl_msg_t reply;
  int64_t deadline, asked;
  int events = ZMQ_POLLOUT;
  size_t len = sizeof events;
  S_CHECK(peer.listener >= 0 && bind(peer.listener, (struct sockaddr *)&a, sizeof a) == 0 &&
          listen(peer.listener, 8) == 0 && getsockname(peer.listener, (struct sockaddr *)&a, &alen) == 0);
  S_CHECK(pthread_create(&thread, NULL, s_curve_peer, &peer) == 0);
  started = true;
  snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", ntohs(a.sin_port));

  rl_net_key_forget();
  S_CHECK(rl_head_connect(&h, endpoint, err, sizeof err) == 0);
  /* Wait until the connection is gone for good: the socket no longer takes a message
   * (what a busy machine makes happen before a slow client sends its request). Now and
   * then ZeroMQ keeps the socket's end of the dropped connection's pipe instead (seen
   * once in 15 runs): the request then leaves into it, and the wait for the reply names
   * the refusal from the watch, the path a quick client takes. */
  deadline = rl_now_ms() + 2000;
  while ((events & ZMQ_POLLOUT) && rl_now_ms() < deadline) {
    usleep(5000);
    zmq_getsockopt(h.sock, ZMQ_EVENTS, &events, &len);
  }

  asked = rl_now_ms();
  S_CHECK(rl_head_nodes(&h, &nodes, &reply, 3000, err, sizeof err) == -1);
  S_CHECK(strstr(err, "refused this process") && strstr(err, endpoint + 6));
  S_CHECK(rl_now_ms() - asked < 2000); /* told at once, not after the whole timeout */
  rc = 0;
fail:
  if (rc) fprintf(stderr, "head_client selftest: last error: %s\n", err);
  rl_head_close(&h);
  if (started) {
    peer.stop = 1;
    pthread_join(thread, NULL);
  }
  for (int i = 0; i < peer.nopen; i++) close(peer.open[i]);
  if (peer.listener >= 0) close(peer.listener);
  return rc;
}
