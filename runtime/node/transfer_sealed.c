/* transfer_sealed.c: the serving side of sealed transfers (secured clusters): keys and
 * tokens handed out over CURVE (RL_NM_PULL_OPEN), and the plain data socket that answers
 * pulls naming a token with chunks sealed under that transfer's key (net/seal.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "net/seal.h"
#include "node/transfer.h"
#include "store/objects.h"
#include "store/region.h"
#include "wire/proto.h"

#define S_CHUNK RL_TRANSFER_CHUNK
#define S_SELF_CLIENT RL_TRANSFER_SELF
#define S_TOKEN RL_TRANSFER_TOKEN
#define S_SESSION_IDLE_MS 10000 /* a transfer's key is forgotten this long unused */
#define S_INLINE ((size_t)1 << 20) /* objects up to this size go whole over CURVE at once */

/* The serving side of a sealed transfer: what a token on the data socket stands for. */
typedef struct s_session {
  uint8_t token[S_TOKEN];
  rl_id_t id;
  rl_seal_key_t key;
  int64_t used_ms;
  struct s_session *next;
} s_session_t;

static s_session_t *s_sessions;
static char s_data_endpoint[RL_ENDPOINT_MAX]; /* where nm->data_router is bound */

/* What a sealed chunk's tag also covers: which object, where in it, and its size. */
void rl_transfer_chunk_ad(uint8_t ad[RL_ID_SIZE + 16], const rl_id_t *id, uint64_t offset, uint64_t total) {
  memcpy(ad, id->b, RL_ID_SIZE);
  for (int i = 0; i < 8; i++) {
    ad[RL_ID_SIZE + i] = (uint8_t)(offset >> (8 * i));
    ad[RL_ID_SIZE + 8 + i] = (uint8_t)(total >> (8 * i));
  }
}

/* Binds nm->data_router on the host of nm's endpoint, a free port, once. Returns it or NULL. */
static void *s_data_router(rl_nm_t *nm) {
  if (nm->data_router) return nm->data_router;
  char bind[RL_ENDPOINT_MAX];
  snprintf(bind, sizeof bind, "%s", nm->endpoint);
  char *colon = strrchr(bind, ':');
  if (!colon || colon - bind < 7 || (size_t)(colon - bind) + 3 > sizeof bind) return NULL;
  strcpy(colon, ":*");
  void *s = zmq_socket(nm->zctx, ZMQ_ROUTER);
  int zero = 0, queue = 1000;
  int64_t most = 4096; /* requests are small: a stranger cannot make us hold big ones */
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_RCVHWM, &queue, sizeof queue);
  zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &most, sizeof most);
  /* Plain: it answers only requests naming a token handed out over CURVE, with chunks
   * sealed under that transfer's key. */
  if (zmq_bind(s, bind) != 0) {
    rl_log(RL_LOG_ERROR, "cannot bind the transfer data socket on %s: %s", bind, zmq_strerror(zmq_errno()));
    zmq_close(s);
    return NULL;
  }
  size_t len = sizeof s_data_endpoint;
  zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, s_data_endpoint, &len);
  nm->data_router = s;
  return s;
}

void rl_transfer_open(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m) {
  rl_nm_pull_open_msg_t open;
  if (!rl_nm_pull_open_msg_read(m, &open)) return;
  rl_id_t id = open.object_id;
  static int64_t swept;
  int64_t now = rl_now_ms();
  if (now - swept >= 1000) { /* forget finished transfers' keys, once a second at most */
    swept = now;
    for (s_session_t **pp = &s_sessions; *pp;) {
      s_session_t *x = *pp;
      if (now - x->used_ms > S_SESSION_IDLE_MS) {
        *pp = x->next;
        free(x);
      } else {
        pp = &x->next;
      }
    }
  }
  rl_objects_t *objects = rl_store_service_objects(nm->store);
  size_t at = 0, size = 0;
  char err[300];
  bool found = rl_objects_get(objects, &id, S_SELF_CLIENT, &at, &size, err, sizeof err) == 0;
  if (found && size <= S_INLINE) {
    /* Small: the whole object at once, as a plain PULL_DATA on this CURVE channel (a
     * key and a second round trip would cost more than CURVE does here). */
    rl_nm_pull_data_msg_t d = {.request = open.request, .object_id = id, .has_total = true, .total = size,
                               .has_offset = true, .offset = 0, .has_data = true,
                               .data = rl_wire_bytes((char *)rl_store_service_base(nm->store) + at, size)};
    rl_nm_send_to(nm, client, RL_NM_PULL_DATA, &d); /* packed (copied) before the release */
    rl_objects_release(objects, &id, S_SELF_CLIENT, err, sizeof err);
    return;
  }
  rl_nm_pull_opened_msg_t o = {.request = open.request};
  s_session_t *x = rl_xcalloc(1, sizeof *x);
  if (!found) {
    free(x);
  } else {
    rl_objects_release(objects, &id, S_SELF_CLIENT, err, sizeof err);
    if (!s_data_router(nm)) {
      snprintf(err, sizeof err, "the serving node has no data socket (see its node.log)");
      free(x);
    } else if (rl_seal_key_new(&x->key) != 0 || rl_seal_random(x->token, S_TOKEN) != 0) {
      snprintf(err, sizeof err, "the serving node could not make a key (OpenSSL's random generator failed)");
      free(x);
    } else {
      x->id = id;
      x->used_ms = now;
      x->next = s_sessions;
      s_sessions = x;
      o.has_total = o.has_data_endpoint = o.has_key = o.has_nonce = o.has_token = true;
      o.total = size;
      snprintf(o.data_endpoint, sizeof o.data_endpoint, "%s", s_data_endpoint);
      o.key = rl_wire_bytes(x->key.key, RL_SEAL_KEY);
      o.nonce = rl_wire_bytes(x->key.nonce, RL_SEAL_NONCE);
      o.token = rl_wire_bytes(x->token, S_TOKEN);
      rl_nm_send_to(nm, client, RL_NM_PULL_OPENED, &o);
      return;
    }
  }
  o.has_error = true;
  o.error = rl_wire_str(err);
  rl_nm_send_to(nm, client, RL_NM_PULL_OPENED, &o);
}

/* Test hook: RAYL_TEST_TAMPER_CHUNKS=n flips a bit in the first n sealed chunks sent. */
static bool s_tamper(void) {
  static long left = -1;
  if (left < 0) {
    const char *v = getenv("RAYL_TEST_TAMPER_CHUNKS");
    left = v ? strtol(v, NULL, 10) : 0;
    if (left < 0) left = 0;
  }
  return left > 0 && left--;
}

/* A chunk to seal into PULL_DATA's field 'data': n bytes of the object at from. */
typedef struct {
  const rl_seal_key_t *key;
  uint64_t counter; /* the chunk's number */
  uint8_t ad[RL_ID_SIZE + 16];
  rl_store_service_t *store;
  char *from;
  size_t n;
  bool seal_failed;
} s_chunk_t;

/* PULL_DATA's writer: seals the chunk straight from the store into the message (no copy:
 * dst is the frame's own buffer, sent zero-copy). */
static int s_seal_chunk(void *arg, uint32_t k, char *dst, size_t n) {
  s_chunk_t *c = arg;
  (void)k;
  if (n != c->n + RL_SEAL_TAG) return -1;
  rl_store_service_prefault(c->store, c->from, c->n, false);
  if (rl_seal(c->key, c->counter, c->ad, sizeof c->ad, c->from, c->n, dst) != 0) {
    c->seal_failed = true;
    return -1;
  }
  if (s_tamper()) dst[c->n / 2] ^= 0x10;
  return 0;
}

/* Answers a PULL on the data socket: the chunk at offset (whole chunks only: each one
 * is sealed under its own counter), sealed under the key its token stands for. */
static void s_serve_sealed(rl_nm_t *nm, rl_msg_t *m) {
  rl_nm_pull_msg_t pull;
  if (!m->has_identity || !rl_nm_pull_msg_read(m, &pull)) return;
  if (!pull.has_token || pull.token.n != S_TOKEN) {
    rl_log(RL_LOG_WARN, "dropped NM_PULL on the transfer data socket: field 'token' missing or not %d bytes", S_TOKEN);
    return;
  }
  uint64_t request = pull.request, offset = pull.offset;
  rl_id_t id = pull.object_id;
  const char *token = pull.token.p;
  s_session_t **pp = &s_sessions;
  while (*pp && memcmp((*pp)->token, token, S_TOKEN)) pp = &(*pp)->next;
  s_session_t *x = *pp;
  if (x && x != s_sessions) { /* to the front: the transfers in progress are found first */
    *pp = x->next;
    x->next = s_sessions;
    s_sessions = x;
  }
  rl_objects_t *objects = rl_store_service_objects(nm->store);
  size_t at = 0, size = 0;
  char err[300];
  bool ok = false;
  if (!x || !rl_id_eq(&x->id, &id))
    snprintf(err, sizeof err, "no transfer of that object has this token (forgotten after %d s unused?)",
             S_SESSION_IDLE_MS / 1000);
  else if (offset % S_CHUNK)
    snprintf(err, sizeof err, "offset %llu is not a chunk's", (unsigned long long)offset);
  else
    ok = rl_objects_get(objects, &id, S_SELF_CLIENT, &at, &size, err, sizeof err) == 0;
  if (ok) {
    size_t n = offset >= size ? 0 : size - offset < S_CHUNK ? size - offset : S_CHUNK;
    x->used_ms = rl_now_ms();
    s_chunk_t chunk = {.key = &x->key, .counter = offset / S_CHUNK,
                       .store = nm->store, .from = (char *)rl_store_service_base(nm->store) + at + offset, .n = n};
    rl_transfer_chunk_ad(chunk.ad, &id, offset, size);
    rl_nm_pull_data_msg_t d = {.request = request, .object_id = id, .has_total = true, .total = size,
                               .has_offset = true, .offset = offset, .has_data = true,
                               .data = rl_wire_reserve(n + RL_SEAL_TAG)};
    rl_msgbuf_t b;
    char why[200];
    ok = rl_nm_pull_data_msg_pack_with(&d, &b, s_seal_chunk, &chunk, why, sizeof why) == 0;
    rl_objects_release(objects, &id, S_SELF_CLIENT, err, sizeof err);
    if (ok) {
      rl_msg_send(nm->data_router, &m->identity, &b);
      return;
    }
    if (chunk.seal_failed)
      snprintf(err, sizeof err, "the serving node could not seal a chunk (OpenSSL failed)");
    else
      snprintf(err, sizeof err, "the serving node could not pack a chunk: %s", why);
  }
  rl_nm_pull_data_msg_t d = {.request = request, .object_id = id, .has_error = true, .error = rl_wire_str(err)};
  rl_nm_pull_data_msg_send(nm->data_router, &m->identity, &d);
}

void rl_transfer_data_requests(rl_nm_t *nm) {
  rl_msg_t m;
  for (int k = 0; k < 64; k++) {
    int got = rl_msg_recv(nm->data_router, true, &m);
    if (got == 0) break;
    if (got < 0) continue;
    if (m.type == RL_NM_PULL) s_serve_sealed(nm, &m);
    else rl_log(RL_LOG_WARN, "dropped message type %d on the transfer data socket", m.type);
    rl_msg_close(&m);
  }
}

void rl_transfer_sealed_destroy(rl_nm_t *nm) {
  while (s_sessions) {
    s_session_t *x = s_sessions;
    s_sessions = x->next;
    free(x);
  }
  if (nm->data_router) zmq_close(nm->data_router);
  nm->data_router = NULL;
}
