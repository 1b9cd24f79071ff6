/* secure_test.c: secure.c's selftest, built into rl_selftest only (not librayl). */
#include "net/secure.c" /* the code under test, with its file-local helpers */

/* ---- selftest: members talk; strangers (no key, another key, an impostor who knows
 * only the public key) are refused and never reach the server ---- */

#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/selftest.h"

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* A DEALER of ctx with the given CURVE keys (server public, own public, own secret;
 * all NULL: plain), watched, then connected to endpoint. */
static void *s_client(void *ctx, const char *endpoint, const char *server, const char *pub, const char *secret,
                      rl_net_watch_t **watch) {
  void *s = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0, ivl = 10;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  if (server) {
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, RL_NET_KEY_Z85);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, RL_NET_KEY_Z85);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret, RL_NET_KEY_Z85);
  }
  if (watch) *watch = rl_net_watch_new(ctx, s);
  zmq_connect(s, endpoint);
  return s;
}

/* Waits up to ms for w to report a refusal. */
static bool s_refused_within(rl_net_watch_t *w, int ms) {
  int64_t deadline = rl_now_ms() + ms;
  while (w && !rl_net_watch_refused(w) && rl_now_ms() < deadline) usleep(10000);
  return w && rl_net_watch_refused(w);
}

/* True if router receives "hello" (sent by the client) within ms. */
static bool s_arrives(void *router, int ms) {
  zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&it, 1, ms) != 1) return false;
  char id[64], body[16];
  int n = zmq_recv(router, id, sizeof id, 0);
  int m = n >= 0 ? zmq_recv(router, body, sizeof body, 0) : -1;
  return m == 5 && !memcmp(body, "hello", 5);
}

int rl_net_secure_selftest(void) {
  char err[300] = "", endpoint[128], pub2[41], secret2[41];
  void *sctx = NULL, *cctx = NULL, *router = NULL, *member = NULL, *plain = NULL, *other = NULL, *impostor = NULL;
  rl_net_watch_t *w_plain = NULL, *w_other = NULL, *w_impostor = NULL, *w_member = NULL;
  int level = rl_log_level;
  rl_log_level = RL_LOG_ERROR; /* the refusals below are expected */
  rl_net_key_forget();
  S_CHECK(rl_net_key_generate(err, sizeof err) == 0 && zmq_curve_keypair(pub2, secret2) == 0);

  sctx = zmq_ctx_new();
  cctx = zmq_ctx_new();
  router = zmq_socket(sctx, ZMQ_ROUTER);
  int zero = 0;
  zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
  S_CHECK(rl_net_bind(sctx, router, "tcp://127.0.0.1:*") == 0);
  size_t len = sizeof endpoint;
  S_CHECK(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0);

  /* Strangers first: without a key, with another cluster's key, and with the right
   * server key but a keypair of its own (ZAP refuses it). */
  plain = s_client(cctx, endpoint, NULL, NULL, NULL, &w_plain);
  other = s_client(cctx, endpoint, pub2, pub2, secret2, &w_other);
  impostor = s_client(cctx, endpoint, rl_net_key_public(), pub2, secret2, &w_impostor);
  for (int i = 0; i < 3; i++) {
    zmq_send(plain, "hello", 5, ZMQ_DONTWAIT);
    zmq_send(other, "hello", 5, ZMQ_DONTWAIT);
    zmq_send(impostor, "hello", 5, ZMQ_DONTWAIT);
  }
  S_CHECK(s_refused_within(w_plain, 3000));
  S_CHECK(s_refused_within(w_other, 3000));
  S_CHECK(s_refused_within(w_impostor, 3000));
  S_CHECK(!s_arrives(router, 300));

  /* A member (holding the key) is admitted; its watch sees no refusal. */
  member = zmq_socket(cctx, ZMQ_DEALER);
  zmq_setsockopt(member, ZMQ_LINGER, &zero, sizeof zero);
  w_member = rl_net_watch_new(cctx, member);
  S_CHECK(w_member && rl_net_connect(member, endpoint) == 0);
  S_CHECK(zmq_send(member, "hello", 5, 0) == 5);
  S_CHECK(s_arrives(router, 3000));
  S_CHECK(!rl_net_watch_refused(w_member));
  S_CHECK(!s_arrives(router, 200)); /* still nothing from the strangers */

  /* ipc stays plain even with a key held. */
  void *ipc = zmq_socket(sctx, ZMQ_ROUTER);
  zmq_setsockopt(ipc, ZMQ_LINGER, &zero, sizeof zero);
  char ipc_ep[64];
  snprintf(ipc_ep, sizeof ipc_ep, "ipc:///tmp/rl-net-selftest-%d", (int)getpid());
  S_CHECK(rl_net_bind(sctx, ipc, ipc_ep) == 0);
  void *ipc_client = s_client(cctx, ipc_ep, NULL, NULL, NULL, NULL);
  zmq_send(ipc_client, "hello", 5, 0);
  bool ipc_ok = s_arrives(ipc, 3000);
  zmq_close(ipc_client);
  zmq_close(ipc);
  unlink(ipc_ep + 6);
  S_CHECK(ipc_ok);

  rl_net_watch_destroy(&w_plain);
  rl_net_watch_destroy(&w_plain); /* safe twice */
  rl_net_watch_destroy(&w_other);
  rl_net_watch_destroy(&w_impostor);
  rl_net_watch_destroy(&w_member);
  zmq_close(plain);
  zmq_close(other);
  zmq_close(impostor);
  zmq_close(member);
  zmq_close(router);
  rl_net_ctx_term(&cctx);
  rl_net_ctx_term(&sctx); /* joins the ZAP handler */
  S_CHECK(!sctx);
  rl_net_ctx_term(&sctx);
  rl_net_key_forget();
  rl_log_level = level;
  return 0;
fail:
  fprintf(stderr, "last error: %s\n", err);
  rl_net_watch_destroy(&w_plain);
  rl_net_watch_destroy(&w_other);
  rl_net_watch_destroy(&w_impostor);
  rl_net_watch_destroy(&w_member);
  rl_log_level = level;
  rl_net_key_forget();
  return 1;
}
