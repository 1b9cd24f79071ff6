/* transfer.c: objects moving between nodes. The node that needs an object pulls it
 * from the node holding it in chunks, a few in flight at once, into its own store;
 * the serving side answers each chunk from its store between its other messages. */
#include "node/transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "net/secure.h"
#include "store/objects.h"
#include "wire/proto.h"

#define S_CHUNK ((size_t)4 << 20) /* bytes per message */
#define S_WINDOW 4                /* chunks in flight per transfer */
#define S_SELF_CLIENT UINT64_MAX  /* the node manager's own key in the object table */

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
  int inflight;
  uint64_t request;
  s_waiter_t *waiters;
  struct s_transfer *next;
} s_transfer_t;

static s_transfer_t *s_transfers;

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
  rl_nm_pull_msg_t pull = {.request = t->request, .object_id = t->id, .offset = offset, .length = length};
  rl_nm_pull_msg_send(t->from->sock, NULL, &pull);
  t->inflight++;
}

/* Answers a waiting client: the object's location (pinned for it) or an error. */
static void s_answer(rl_nm_t *nm, s_waiter_t *w, const rl_id_t *id, const char *error) {
  rl_objects_t *objects = rl_store_service_objects(nm->store);
  size_t offset = 0, size = 0;
  char err[300];
  rl_nm_store_location_msg_t r = {.request = w->request};
  if (!error && rl_objects_get(objects, id, w->key, &offset, &size, err, sizeof err) == 0) {
    r.has_offset = r.has_size = true;
    r.offset = offset;
    r.size = size;
  } else {
    r.has_error = true;
    r.error = rl_wire_str(error ? error : err);
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
    s_answer(nm, w, &t->id, error);
    free(w);
  }
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
      s_answer(nm, w, &id, msg);
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
    s_answer(nm, w, &id, msg);
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
  s_send_pull(t, 0, S_CHUNK);
  t->requested = S_CHUNK;
  return true;
}

void rl_transfer_node_died(rl_nm_t *nm, const char *endpoint) {
  char msg[300];
  snprintf(msg, sizeof msg, "the node %s holding the object died", endpoint);
  for (s_transfer_t *t = s_transfers, *next; t; t = next) {
    next = t->next;
    if (!strcmp(t->from->endpoint, endpoint)) s_finish(nm, t, msg);
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
    r.has_total = r.has_offset = r.has_data = true;
    r.total = size;
    r.offset = offset;
    r.data = rl_wire_bytes((char *)rl_store_service_base(nm->store) + at + (offset < size ? offset : 0), n);
  }
  rl_nm_send_to(nm, client, RL_NM_PULL_DATA, &r); /* packed (copied) before the release */
  if (pinned) rl_objects_release(objects, &id, S_SELF_CLIENT, err, sizeof err);
}

void rl_transfer_data(rl_nm_t *nm, rl_msg_t *m) {
  rl_nm_pull_data_msg_t d;
  if (!rl_nm_pull_data_msg_read(m, &d)) return;
  rl_id_t id = d.object_id;
  s_transfer_t *t = s_transfers;
  while (t && t->request != d.request) t = t->next;
  if (!t) return;
  t->inflight--;
  char err[300];
  uint64_t total = d.total, offset = d.offset;
  const char *data = d.data.p;
  size_t n = d.data.n;
  if (!d.has_total || !d.has_offset || !d.has_data) {
    if (!d.has_error || !rl_wire_strcpy(err, sizeof err, d.error)) snprintf(err, sizeof err, "a malformed chunk arrived");
    char msg[600];
    snprintf(msg, sizeof msg, "could not pull the object from %s: %s", t->from->endpoint, err);
    s_finish(nm, t, msg);
    return;
  }
  rl_objects_t *objects = rl_store_service_objects(nm->store);
  if (!t->sized) {
    /* First chunk: make room here (the pulled copy belongs to this node, and is the
     * first to go when room is needed: it can be pulled again). */
    if (rl_objects_create(objects, &id, total, S_SELF_CLIENT, S_SELF_CLIENT, &t->offset, err, sizeof err) != 0) {
      s_finish(nm, t, err);
      return;
    }
    rl_objects_set_pulled(objects, &id);
    t->sized = true;
    t->total = total;
  }
  if (offset + n > total || total != t->total) {
    s_finish(nm, t, "the object changed size while it was pulled");
    return;
  }
  memcpy((char *)rl_store_service_base(nm->store) + t->offset + offset, data, n);
  t->received += n;
  while (t->inflight < S_WINDOW && t->requested < total) {
    s_send_pull(t, t->requested, S_CHUNK);
    t->requested += S_CHUNK;
  }
  if (t->received >= total) s_finish(nm, t, NULL);
}

void rl_transfer_peer_messages(rl_nm_t *nm, rl_nm_peer_t *p) {
  rl_msg_t m;
  while (rl_msg_recv(p->sock, false, &m) == 1) {
    if (m.type == RL_NM_PULL_DATA) rl_transfer_data(nm, &m);
    rl_msg_close(&m);
  }
}

void rl_transfer_destroy_all(rl_nm_t *nm) {
  while (s_transfers) s_finish(nm, s_transfers, "the node manager is stopping");
  for (rl_nm_peer_t *p = nm->node_peers, *next; p; p = next) {
    next = p->next;
    zmq_close(p->sock);
    free(p);
  }
  nm->node_peers = NULL;
}
