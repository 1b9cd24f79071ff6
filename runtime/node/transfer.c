/* transfer.c: objects moving between nodes. The node that needs an object pulls it
 * from the node holding it in chunks, a few in flight at once, into its own store;
 * the serving side answers each chunk from its store between its other messages.
 * In a secured cluster the chunks do not ride the CURVE channel (its encryption is
 * slow for bulk data): the puller opens the transfer over it (RL_NM_PULL_OPEN) and
 * gets a fresh AES-256-OCB key and a token; the chunks then travel sealed (net/seal.h)
 * on a plain data socket, and one that fails authentication is asked for again. */
#include "node/transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "net/key.h"
#include "net/seal.h"
#include "net/secure.h"
#include "store/objects.h"
#include "store/region.h"
#include "wire/proto.h"

#define S_CHUNK RL_TRANSFER_CHUNK
#define S_WINDOW 4                         /* chunks in flight per transfer */
#define S_SELF_CLIENT RL_TRANSFER_SELF     /* the node manager's own key in the object table */
#define S_TOKEN RL_TRANSFER_TOKEN
#define S_REJECTS 3 /* chunks failing authentication before a pull fails */

/* A client waiting for an object being pulled. */
typedef struct s_waiter {
  rl_id_t client;
  uint64_t key;
  uint64_t request;
  struct s_waiter *next;
} s_waiter_t;

typedef struct s_transfer {
  rl_id_t id;
  rl_nm_peer_t *from;
  bool sized;        /* the first chunk told the size and room was made */
  size_t total;
  size_t offset;     /* where it lives in our store */
  size_t requested;  /* bytes asked for so far */
  size_t received;
  uint8_t *got;      /* per chunk: arrived (a repeat, e.g. after a retry, counts once) */
  int inflight;
  uint64_t request;
  bool sealed;       /* chunks come sealed on the peer's data socket */
  rl_seal_key_t key;
  uint8_t token[S_TOKEN];
  int rejected;      /* chunks that failed authentication */
  int reason;        /* RL_LOC_* told to the waiters if it fails */
  s_waiter_t *waiters;
  struct s_transfer *next;
} s_transfer_t;

static s_transfer_t *s_transfers;

/* Pulls from endpoint are sealed: this node holds the cluster key and the peer is on tcp. */
static bool s_sealed(const char *endpoint) { return rl_net_key_held() && !strncmp(endpoint, "tcp://", 6); }

static rl_nm_peer_t *s_peer(rl_nm_t *nm, const char *endpoint) {
  for (rl_nm_peer_t *p = nm->node_peers; p; p = p->next)
    if (!strcmp(p->endpoint, endpoint)) return p;
  rl_nm_peer_t *p = rl_xcalloc(1, sizeof *p);
  snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
  p->sock = zmq_socket(nm->zctx, ZMQ_DEALER);
  int zero = 0, ivl = 10;
  zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(p->sock, ZMQ_SNDHWM, &zero, sizeof zero);
  zmq_setsockopt(p->sock, ZMQ_RCVHWM, &zero, sizeof zero);
  zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  zmq_setsockopt(p->sock, ZMQ_ROUTING_ID, nm->node_id.b, RL_ID_SIZE);
  if (rl_net_connect(p->sock, endpoint) != 0) {
    zmq_close(p->sock);
    free(p);
    return NULL;
  }
  /* Register as a remote client, so the other node answers our pulls. */
  rl_nm_register_msg_t reg = {.kind = RL_CLIENT_REMOTE, .worker_id = nm->node_id};
  snprintf(reg.endpoint, sizeof reg.endpoint, "%s", nm->endpoint);
  rl_nm_register_msg_send(p->sock, NULL, &reg);
  p->next = nm->node_peers;
  nm->node_peers = p;
  return p;
}

static void s_send_pull(s_transfer_t *t, size_t offset, size_t length) {
  rl_nm_pull_msg_t pull = {.request = t->request, .object_id = t->id, .offset = offset, .length = length,
                           .has_token = t->sealed, .token = rl_wire_bytes(t->token, S_TOKEN)};
  rl_nm_pull_msg_send(t->sealed ? t->from->data : t->from->sock, NULL, &pull);
  t->inflight++;
}

/* Asks for chunks until S_WINDOW are in flight or all are asked for. */
static void s_fill_window(s_transfer_t *t) {
  while (t->inflight < S_WINDOW && t->requested < t->total) {
    s_send_pull(t, t->requested, S_CHUNK);
    t->requested += S_CHUNK;
  }
}

/* Answers a waiting client: the object's location (pinned for it) or an error and its
 * RL_LOC_* reason. */
static void s_answer(rl_nm_t *nm, s_waiter_t *w, const rl_id_t *id, const char *error, int reason) {
  rl_objects_t *objects = rl_store_service_objects(nm->store);
  size_t offset = 0, size = 0;
  char err[300];
  rl_nm_store_location_msg_t r = {.request = w->request};
  if (!error && rl_objects_get(objects, id, w->key, &offset, &size, err, sizeof err) == 0) {
    r.has_offset = r.has_size = true;
    r.offset = offset;
    r.size = size;
  } else {
    r.has_error = r.has_reason = true;
    r.error = rl_wire_str(error ? error : err);
    r.reason = (uint64_t)(error ? reason : RL_LOC_GONE);
  }
  rl_nm_send_to(nm, &w->client, RL_NM_STORE_LOCATION, &r);
}

static void s_finish(rl_nm_t *nm, s_transfer_t *t, const char *error) {
  for (s_transfer_t **pp = &s_transfers; *pp; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  rl_objects_t *objects = rl_store_service_objects(nm->store);
  char err[300];
  if (!error && t->sized && rl_objects_seal(objects, &t->id, S_SELF_CLIENT, err, sizeof err) != 0) error = err;
  if (error && t->sized) { /* deleted, and unpinned as its seal would have: freed now */
    rl_objects_delete(objects, &t->id, err, sizeof err);
    rl_objects_release(objects, &t->id, S_SELF_CLIENT, err, sizeof err);
  }
  for (s_waiter_t *w = t->waiters, *next; w; w = next) {
    next = w->next;
    s_answer(nm, w, &t->id, error, t->reason);
    free(w);
  }
  free(t->got);
  free(t);
}

bool rl_transfer_get(rl_nm_t *nm, rl_msg_t *m, const rl_id_t *client, uint64_t key) {
  rl_nm_store_get_msg_t g;
  char err[256];
  /* A malformed request is the store's to drop (and log). */
  if (rl_nm_store_get_msg_unpack(m, &g, err, sizeof err) != 0 || !g.has_location || !strcmp(g.location, nm->endpoint))
    return false;
  uint64_t request = g.request;
  rl_id_t id = g.object_id;
  const char *location = g.location;
  if (rl_objects_pins(rl_store_service_objects(nm->store), &id) >= 0) return false; /* here already */
  s_waiter_t *w = rl_xcalloc(1, sizeof *w);
  w->client = *client;
  w->key = key;
  w->request = request;
  for (int i = 0; i < nm->ndead; i++)
    if (!strcmp(nm->dead[i], location)) {
      char msg[300];
      snprintf(msg, sizeof msg, "the node %s holding the object died", location);
      s_answer(nm, w, &id, msg, RL_LOC_NODE_DIED);
      free(w);
      return true;
    }
  for (s_transfer_t *t = s_transfers; t; t = t->next)
    if (rl_id_eq(&t->id, &id)) {
      w->next = t->waiters;
      t->waiters = w;
      return true;
    }
  rl_nm_peer_t *from = s_peer(nm, location);
  if (!from) {
    char msg[300];
    snprintf(msg, sizeof msg, "cannot reach the node %s holding the object", location);
    s_answer(nm, w, &id, msg, RL_LOC_GONE);
    free(w);
    return true;
  }
  s_transfer_t *t = rl_xcalloc(1, sizeof *t);
  t->id = id;
  t->from = from;
  t->request = ++nm->next_pull;
  t->waiters = w;
  t->next = s_transfers;
  s_transfers = t;
  if (s_sealed(from->endpoint)) { /* the key first, over the CURVE channel */
    rl_nm_pull_open_msg_t open = {.request = t->request, .object_id = t->id};
    rl_nm_pull_open_msg_send(from->sock, NULL, &open);
    return true;
  }
  s_send_pull(t, 0, S_CHUNK);
  t->requested = S_CHUNK;
  return true;
}

void rl_transfer_delete_elsewhere(rl_nm_t *nm, rl_msg_t *m) {
  rl_nm_store_delete_msg_t del;
  if (!rl_nm_store_delete_msg_read(m, &del) || !del.has_location || !strcmp(del.location, nm->endpoint)) return;
  for (int i = 0; i < nm->ndead; i++)
    if (!strcmp(nm->dead[i], del.location)) return; /* its copies died with it */
  rl_nm_peer_t *p = s_peer(nm, del.location);
  if (!p) {
    rl_log(RL_LOG_WARN, "cannot reach the node %s to delete an object there", del.location);
    return;
  }
  rl_nm_store_delete_msg_t fwd = {.object_id = del.object_id};
  rl_nm_store_delete_msg_send(p->sock, NULL, &fwd);
}

void rl_transfer_node_died(rl_nm_t *nm, const char *endpoint) {
  char msg[300];
  snprintf(msg, sizeof msg, "the node %s holding the object died", endpoint);
  for (s_transfer_t *t = s_transfers, *next; t; t = next) {
    next = t->next;
    if (!strcmp(t->from->endpoint, endpoint)) {
      t->reason = RL_LOC_NODE_DIED;
      s_finish(nm, t, msg);
    }
  }
}

void rl_transfer_serve(rl_nm_t *nm, const rl_id_t *client, rl_msg_t *m) {
  rl_nm_pull_msg_t pull;
  if (!rl_nm_pull_msg_read(m, &pull)) return;
  if (pull.length > 4 * S_CHUNK) {
    rl_log(RL_LOG_WARN, "dropped NM_PULL: field 'length' %llu over %llu", (unsigned long long)pull.length,
           (unsigned long long)(4 * S_CHUNK));
    return;
  }
  uint64_t offset = pull.offset, length = pull.length;
  rl_id_t id = pull.object_id;
  rl_objects_t *objects = rl_store_service_objects(nm->store);
  size_t at, size;
  char err[300];
  rl_nm_pull_data_msg_t r = {.request = pull.request, .object_id = id};
  bool pinned = rl_objects_get(objects, &id, S_SELF_CLIENT, &at, &size, err, sizeof err) == 0;
  if (!pinned) {
    r.has_error = true;
    r.error = rl_wire_str(err);
  } else {
    size_t n = offset >= size ? 0 : size - offset < length ? size - offset : length;
    char *from = (char *)rl_store_service_base(nm->store) + at + (offset < size ? offset : 0);
    rl_store_service_prefault(nm->store, from, n, false);
    r.has_total = r.has_offset = r.has_data = true;
    r.total = size;
    r.offset = offset;
    r.data = rl_wire_bytes(from, n);
  }
  rl_nm_send_to(nm, client, RL_NM_PULL_DATA, &r); /* packed (copied) before the release */
  if (pinned) rl_objects_release(objects, &id, S_SELF_CLIENT, err, sizeof err);
}

/* Makes room here for t's object of total bytes (the pulled copy belongs to this node,
 * and is the first to go when room is needed: it can be pulled again). Returns 0, or
 * -1 after finishing t with the error. */
static int s_make_room(rl_nm_t *nm, s_transfer_t *t, uint64_t total) {
  rl_objects_t *objects = rl_store_service_objects(nm->store);
  char err[300];
  if (rl_objects_create(objects, &t->id, total, S_SELF_CLIENT, S_SELF_CLIENT, &t->offset, err, sizeof err) != 0) {
    s_finish(nm, t, err);
    return -1;
  }
  rl_objects_set_pulled(objects, &t->id);
  t->sized = true;
  t->total = total;
  t->got = rl_xcalloc(total / S_CHUNK + 1, 1);
  return 0;
}

static s_transfer_t *s_find(uint64_t request) {
  s_transfer_t *t = s_transfers;
  while (t && t->request != request) t = t->next;
  return t;
}

/* Fails t with what the serving node said (error), or that its answer was malformed. */
static void s_fail_from(rl_nm_t *nm, s_transfer_t *t, bool has_error, rl_wire_bytes_t error) {
  char err[300], msg[600];
  if (!has_error || !rl_wire_strcpy(err, sizeof err, error)) snprintf(err, sizeof err, "a malformed chunk arrived");
  snprintf(msg, sizeof msg, "could not pull the object from %s: %s", t->from->endpoint, err);
  s_finish(nm, t, msg);
}

/* A chunk failed authentication: dropped (the store keeps nothing of it) and asked for
 * again, or the pull fails once S_REJECTS did. */
static void s_rejected(rl_nm_t *nm, s_transfer_t *t, uint64_t offset) {
  char hex[RL_ID_HEX], msg[600];
  rl_log(RL_LOG_WARN, "dropped the chunk at %llu of object %s from %s: it failed authentication (altered on the way?)",
         (unsigned long long)offset, rl_id_hex(&t->id, hex), t->from->endpoint);
  if (++t->rejected > S_REJECTS) {
    snprintf(msg, sizeof msg,
             "could not pull the object from %s: %d of its chunks failed authentication (altered on the way?)",
             t->from->endpoint, t->rejected);
    s_finish(nm, t, msg);
    return;
  }
  s_send_pull(t, offset, S_CHUNK);
}

/* A PULL_DATA: a chunk of t (sealed: from the data socket, else from the CURVE or ipc
 * channel), or the serving node's error. */
static void s_data(rl_nm_t *nm, rl_msg_t *m, bool sealed) {
  rl_nm_pull_data_msg_t d;
  if (!rl_nm_pull_data_msg_read(m, &d)) return;
  s_transfer_t *t = s_find(d.request);
  if (!t || t->sealed != sealed || !rl_id_eq(&d.object_id, &t->id)) return;
  t->inflight--;
  if (!d.has_total || !d.has_offset || !d.has_data) {
    s_fail_from(nm, t, d.has_error, d.error);
    return;
  }
  uint64_t total = d.total, offset = d.offset;
  const char *data = d.data.p;
  size_t n = d.data.n;
  if (!t->sized && s_make_room(nm, t, total) != 0) return;
  if (sealed && n < RL_SEAL_TAG) {
    s_rejected(nm, t, offset);
    return;
  }
  size_t plain = sealed ? n - RL_SEAL_TAG : n;
  if (offset + plain > total || total != t->total || offset % S_CHUNK) {
    s_finish(nm, t, "the object changed size while it was pulled");
    return;
  }
  if (t->got[offset / S_CHUNK]) { /* here already */
    s_fill_window(t);
    return;
  }
  char *at = (char *)rl_store_service_base(nm->store) + t->offset + offset;
  rl_store_service_prefault(nm->store, at, plain, true);
  if (sealed) {
    uint8_t ad[RL_ID_SIZE + 16];
    rl_transfer_chunk_ad(ad, &t->id, offset, total);
    if (rl_seal_open(&t->key, offset / S_CHUNK, ad, sizeof ad, data, n, at) != 0) {
      s_rejected(nm, t, offset);
      return;
    }
  } else {
    memcpy(at, data, n);
  }
  t->got[offset / S_CHUNK] = 1;
  t->received += plain;
  if (t->received >= total) {
    s_finish(nm, t, NULL);
    return;
  }
  s_fill_window(t);
}

/* The serving node's PULL_OPENED: the sealed transfer's key, token and data socket. */
static void s_opened(rl_nm_t *nm, rl_msg_t *m) {
  rl_nm_pull_opened_msg_t o;
  if (!rl_nm_pull_opened_msg_read(m, &o)) return;
  s_transfer_t *t = s_find(o.request);
  if (!t || t->sized) return;
  if (!o.has_total) {
    s_fail_from(nm, t, o.has_error, o.error);
    return;
  }
  uint64_t total = o.total;
  const char *endpoint = o.data_endpoint, *key = o.key.p, *nonce = o.nonce.p, *token = o.token.p;
  if (!o.has_data_endpoint || strncmp(endpoint, "tcp://", 6) || !o.has_key || o.key.n != RL_SEAL_KEY ||
      !o.has_nonce || o.nonce.n != RL_SEAL_NONCE || !o.has_token || o.token.n != S_TOKEN) {
    s_finish(nm, t, "could not pull the object: the serving node's key message is malformed");
    return;
  }
  rl_nm_peer_t *p = t->from;
  if (p->data && strcmp(p->data_endpoint, endpoint)) { /* it restarted its data socket */
    zmq_close(p->data);
    p->data = NULL;
  }
  if (!p->data) {
    p->data = zmq_socket(nm->zctx, ZMQ_DEALER);
    int zero = 0, ivl = 10;
    int64_t most = (int64_t)S_CHUNK + 4096; /* a sealed chunk and its header */
    zmq_setsockopt(p->data, ZMQ_MAXMSGSIZE, &most, sizeof most);
    zmq_setsockopt(p->data, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(p->data, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(p->data, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(p->data, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    /* Plain: only sealed chunks and requests naming a token travel on it. */
    if (zmq_connect(p->data, endpoint) != 0) {
      zmq_close(p->data);
      p->data = NULL;
      char msg[RL_ENDPOINT_MAX + 64];
      snprintf(msg, sizeof msg, "could not pull the object: cannot connect to %s", endpoint);
      s_finish(nm, t, msg);
      return;
    }
    snprintf(p->data_endpoint, sizeof p->data_endpoint, "%s", endpoint);
  }
  t->sealed = true;
  memcpy(t->key.key, key, RL_SEAL_KEY);
  memcpy(t->key.nonce, nonce, RL_SEAL_NONCE);
  memcpy(t->token, token, S_TOKEN);
  if (s_make_room(nm, t, total) != 0) return;
  if (total == 0) {
    s_finish(nm, t, NULL);
    return;
  }
  s_fill_window(t);
}

void rl_transfer_peer_messages(rl_nm_t *nm, rl_nm_peer_t *p) {
  rl_msg_t m;
  while (rl_msg_recv(p->sock, false, &m) == 1) {
    if (m.type == RL_NM_PULL_DATA) s_data(nm, &m, false);
    if (m.type == RL_NM_PULL_OPENED) s_opened(nm, &m);
    rl_msg_close(&m);
  }
  while (p->data && rl_msg_recv(p->data, false, &m) == 1) {
    if (m.type == RL_NM_PULL_DATA) s_data(nm, &m, true);
    rl_msg_close(&m);
  }
}

void rl_transfer_destroy_all(rl_nm_t *nm) {
  while (s_transfers) s_finish(nm, s_transfers, "the node manager is stopping");
  for (rl_nm_peer_t *p = nm->node_peers, *next; p; p = next) {
    next = p->next;
    zmq_close(p->sock);
    if (p->data) zmq_close(p->data);
    free(p);
  }
  nm->node_peers = NULL;
  rl_transfer_sealed_destroy(nm);
}
