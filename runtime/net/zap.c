/* zap.c: one thread per ZeroMQ context answering ZAP requests (RFC 27): a CURVE client
 * is admitted only if it presents the cluster's public key, which it can do only if it
 * holds the secret half too. The thread also logs handshakes that fail before ZAP. */
#include "net/zap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "net/key.h"

#define S_MAX 8                  /* contexts with a handler in one process */
#define S_LOG_EVERY_MS 10000     /* at most one refusal line per this */
#define S_FRAMES 7               /* a ZAP request's frames (RFC 27) */

typedef struct {
  void *ctx;       /* NULL: a free slot */
  pthread_t thread;
  void *rep;       /* inproc://zeromq.zap.01 */
  void *monitor;   /* the server's handshake failures, or NULL */
  uint8_t key[32]; /* the public key to admit */
  /* Refusals by ZAP [0] and failed handshakes [1], each logged on its own schedule. */
  uint64_t refused[2];
  int64_t next_log_ms[2];
} s_zap_t;

enum { S_BY_ZAP, S_BY_HANDSHAKE };

static s_zap_t s_zaps[S_MAX];
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

/* One log line per S_LOG_EVERY_MS at most of each kind, counting those left out. */
static void s_refused(s_zap_t *z, int kind, const char *fmt, const char *a, const char *b) {
  z->refused[kind]++;
  int64_t now = rl_now_ms();
  if (now < z->next_log_ms[kind]) return;
  z->next_log_ms[kind] = now + S_LOG_EVERY_MS;
  char what[300];
  snprintf(what, sizeof what, fmt, a, b);
  rl_log(RL_LOG_WARN, "%s (%llu such so far; at most one such line every %d s)", what,
         (unsigned long long)z->refused[kind], S_LOG_EVERY_MS / 1000);
}

static void s_send(void *sock, const void *data, size_t n, bool more) {
  zmq_send(sock, data, n, more ? ZMQ_SNDMORE : 0);
}

/* Receives and answers one request. Returns -1 once the context is shut down. */
static int s_answer(s_zap_t *z) {
  zmq_msg_t f[S_FRAMES];
  int n = 0, more = 1;
  while (more) {
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, z->rep, 0) < 0) {
      zmq_msg_close(&part);
      for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
      return zmq_errno() == ETERM ? -1 : 0;
    }
    more = zmq_msg_more(&part);
    if (n < S_FRAMES) f[n++] = part;
    else zmq_msg_close(&part); /* extra frames (other mechanisms' credentials) */
  }
  /* version, request id, domain, address, routing id, mechanism, credentials */
  bool ok = n == S_FRAMES && zmq_msg_size(&f[0]) == 3 && !memcmp(zmq_msg_data(&f[0]), "1.0", 3) &&
            zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5) && zmq_msg_size(&f[6]) == 32 &&
            !memcmp(zmq_msg_data(&f[6]), z->key, 32);
  if (!ok) {
    char address[64] = "an unknown address";
    if (n > 3 && zmq_msg_size(&f[3]) > 0 && zmq_msg_size(&f[3]) < sizeof address)
      snprintf(address, sizeof address, "%.*s", (int)zmq_msg_size(&f[3]), (const char *)zmq_msg_data(&f[3]));
    s_refused(z, S_BY_ZAP, "refused a connection from %s%s: it does not hold this cluster's key", address, "");
  }
  s_send(z->rep, "1.0", 3, true);
  if (n > 1) s_send(z->rep, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), true);
  else s_send(z->rep, "", 0, true);
  s_send(z->rep, ok ? "200" : "400", 3, true);
  s_send(z->rep, ok ? "OK" : "not a member of this cluster", ok ? 2 : 28, true);
  s_send(z->rep, "", 0, true); /* user id */
  s_send(z->rep, "", 0, false); /* metadata */
  for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
  return 0;
}

/* Logs one monitor event: a handshake on the server that failed before ZAP. */
static int s_event(s_zap_t *z) {
  zmq_msg_t head, where;
  zmq_msg_init(&head);
  zmq_msg_init(&where);
  if (zmq_msg_recv(&head, z->monitor, 0) < 0) {
    zmq_msg_close(&head);
    zmq_msg_close(&where);
    return zmq_errno() == ETERM ? -1 : 0;
  }
  if (zmq_msg_more(&head) && zmq_msg_recv(&where, z->monitor, 0) >= 0 && zmq_msg_size(&head) >= 6) {
    uint16_t event;
    uint32_t value;
    memcpy(&event, zmq_msg_data(&head), 2);
    memcpy(&value, (const char *)zmq_msg_data(&head) + 2, 4);
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "%.*s", (int)zmq_msg_size(&where), (const char *)zmq_msg_data(&where));
    const char *why = NULL;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
      why = "it has no cluster key (it spoke without CURVE security)";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
      why = "it holds another key than this cluster's";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
      why = "it broke the ZeroMQ protocol";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
      why = "it hung up during the handshake (as peers without the cluster key do)";
    if (why) s_refused(z, S_BY_HANDSHAKE, "a peer failed the handshake on %s: %s", endpoint, why);
  }
  zmq_msg_close(&head);
  zmq_msg_close(&where);
  return 0;
}

static void *s_serve(void *arg) {
  s_zap_t *z = arg;
  zmq_pollitem_t items[2] = {{z->rep, 0, ZMQ_POLLIN, 0}, {z->monitor, 0, ZMQ_POLLIN, 0}};
  int n = z->monitor ? 2 : 1;
  for (;;) {
    if (zmq_poll(items, n, -1) < 0) {
      if (zmq_errno() == EINTR) continue;
      break; /* ETERM: the context is shutting down */
    }
    if ((items[0].revents & ZMQ_POLLIN) && s_answer(z) < 0) break;
    if (n > 1 && (items[1].revents & ZMQ_POLLIN) && s_event(z) < 0) break;
  }
  zmq_close(z->rep);
  if (z->monitor) zmq_close(z->monitor);
  return NULL;
}

/* Monitors server's failed handshakes into a PAIR socket; NULL if that cannot be done. */
static void *s_monitor(void *ctx, void *server) {
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "inproc://rl-net-handshakes-%p", server);
  int events = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
  if (zmq_socket_monitor(server, endpoint, events) != 0) return NULL;
  void *pair = zmq_socket(ctx, ZMQ_PAIR);
  int zero = 0;
  if (pair) zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof zero);
  if (pair && zmq_connect(pair, endpoint) == 0) return pair;
  if (pair) zmq_close(pair);
  zmq_socket_monitor(server, NULL, 0);
  return NULL;
}

int rl_net_zap_start(void *ctx, void *server) {
  const char *pub = rl_net_key_public();
  if (!pub) {
    errno = EINVAL;
    return -1;
  }
  pthread_mutex_lock(&s_lock);
  s_zap_t *z = NULL;
  for (int i = 0; i < S_MAX; i++) {
    if (s_zaps[i].ctx == ctx) {
      pthread_mutex_unlock(&s_lock);
      return 0;
    }
    if (!s_zaps[i].ctx && !z) z = &s_zaps[i];
  }
  int rc = -1, zero = 0;
  if (!z) {
    errno = EMFILE;
    goto done;
  }
  memset(z, 0, sizeof *z);
  zmq_z85_decode(z->key, pub);
  /* Bound here, before the server binds, so no handshake can find no handler; the
   * sockets then belong to the thread (pthread_create is the memory barrier ZeroMQ asks
   * for when a socket changes threads). */
  z->rep = zmq_socket(ctx, ZMQ_REP);
  if (!z->rep) goto done;
  zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof zero);
  if (zmq_bind(z->rep, "inproc://zeromq.zap.01") != 0) {
    zmq_close(z->rep);
    goto done;
  }
  z->monitor = s_monitor(ctx, server);
  /* The handler takes no signals: they belong to the process's main thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&z->thread, NULL, s_serve, z);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) {
    zmq_close(z->rep);
    if (z->monitor) zmq_close(z->monitor);
    errno = e;
    goto done;
  }
  z->ctx = ctx;
  rc = 0;
done:
  pthread_mutex_unlock(&s_lock);
  return rc;
}

void rl_net_zap_stop(void *ctx) {
  pthread_mutex_lock(&s_lock);
  s_zap_t *z = NULL;
  for (int i = 0; i < S_MAX && !z; i++)
    if (ctx && s_zaps[i].ctx == ctx) z = &s_zaps[i];
  pthread_mutex_unlock(&s_lock);
  if (!z) return;
  zmq_ctx_shutdown(ctx); /* the handler's poll returns ETERM; it closes its sockets */
  pthread_join(z->thread, NULL);
  pthread_mutex_lock(&s_lock);
  z->ctx = NULL;
  pthread_mutex_unlock(&s_lock);
}
