/* objects.c: the core worker's object protocol over its object table (object_table.h):
 * put, get, wait, store pins and writes, fetching from owners, answering borrowers, and
 * what an owner, a borrower or a node dying means for our objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "wire/proto.h"
#include "worker/cw_internal.h"

rl_waiter_t *rl_waiter_new(const zmq_msg_t *identity, uint64_t request) {
  rl_waiter_t *w = rl_xcalloc(1, sizeof *w);
  zmq_msg_init(&w->identity);
  zmq_msg_copy(&w->identity, (zmq_msg_t *)identity);
  w->request = request;
  return w;
}

rl_object_t *rl_obj_new_owned(rl_cw_t *cw, const rl_id_t *id) {
  return rl_objtab_insert(cw->objects, id, true, cw->endpoint);
}

char *rl_cw_encode_error(rl_cw_t *cw, const char *type, const char *message, size_t *len) {
  if (cw->encode_error) return cw->encode_error(cw->encode_error_ctx, type, message, len);
  /* No host: a plain string is still a valid encoded value (msgpack str). */
  size_t n = strlen(type) + 2 + strlen(message);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_str(&pk, n);
  msgpack_pack_str_body(&pk, type, strlen(type));
  msgpack_pack_str_body(&pk, ": ", 2);
  msgpack_pack_str_body(&pk, message, strlen(message));
  *len = sb.size;
  return msgpack_sbuffer_release(&sb);
}

static void s_send_to_owner(rl_cw_t *cw, const char *owner, int type, const rl_id_t *id) {
  rl_peer_t *peer = rl_cw_peer(cw, owner);
  if (!peer) return;
  rl_cw_add_borrower_msg_t msg = {.object_id = *id}; /* ADD_ and REMOVE_BORROWER: the same fields */
  rl_str_copy(msg.borrower_endpoint, sizeof msg.borrower_endpoint, cw->endpoint);
  rl_wire_send(peer->sock, NULL, type, &msg);
}

static void s_reply_object(rl_cw_t *cw, const zmq_msg_t *identity, uint64_t request, rl_object_t *o) {
  rl_cw_object_msg_t r = {.request = request, .object_id = o->id, .kind = (uint64_t)o->kind, .size = o->len,
                         .data = o->kind == RL_RET_STORE ? rl_wire_str(o->location) : rl_wire_bytes(o->data, o->len)};
  rl_cw_object_msg_send(cw->router, identity, &r);
}

static void s_reply_lost(rl_cw_t *cw, const zmq_msg_t *identity, uint64_t request, const rl_id_t *id) {
  rl_object_t lost = {.id = *id, .kind = RL_RET_ERROR};
  char hex[RL_ID_HEX], msg[200];
  snprintf(msg, sizeof msg, "object %s is not held by its owner any more (it was freed or never existed)",
           rl_id_hex(id, hex));
  lost.data = rl_cw_encode_error(cw, "ObjectLostError", msg, &lost.len);
  s_reply_object(cw, identity, request, &lost);
  free(lost.data);
}

static void s_waiter_free(rl_waiter_t *w) {
  zmq_msg_close(&w->identity);
  free(w);
}

/* The table's drop_waiter hook. */
static void s_drop_waiter(void *arg, struct rl_waiter *w) {
  (void)arg;
  s_waiter_free(w);
}

/* The table's freed hook: o is out of the table, nothing holds it. */
static void s_freed(void *arg, rl_object_t *o) {
  rl_cw_t *cw = arg;
  if (o->lineage) rl_sub_lineage_release(cw, o);
  if (o->ties_actor) rl_actor_out_of_scope(cw, &o->actor);
  if (o->owned && o->kind == RL_RET_STORE && o->state != RL_OBJ_PENDING) {
    /* Our node manager deletes its copy, and passes the delete on to the node holding
     * the primary copy when that is another one (else it stayed there, then spilled). */
    rl_nm_store_delete_msg_t del = {.object_id = o->id};
    if (o->location[0] && strcmp(o->location, cw->node_endpoint)) {
      del.has_location = true;
      rl_str_copy(del.location, sizeof del.location, o->location);
    }
    rl_nm_store_delete_msg_send(cw->nm, NULL, &del);
  }
  if (!o->owned && o->borrow_told) s_send_to_owner(cw, o->owner, RL_CW_REMOVE_BORROWER, &o->id);
  size_t n;
  rl_waiter_t **waiters = rl_objtab_waiters_take(o, &n);
  for (size_t i = 0; i < n; i++) {
    s_reply_lost(cw, &waiters[i]->identity, waiters[i]->request, &o->id);
    s_waiter_free(waiters[i]);
  }
  free(waiters);
}

rl_objtab_t *rl_obj_table_new(rl_cw_t *cw) {
  rl_objtab_hooks_t hooks = {.freed = s_freed, .drop_waiter = s_drop_waiter, .arg = cw};
  return rl_objtab_new(&hooks);
}

void rl_obj_maybe_free(rl_cw_t *cw, rl_object_t *o) { rl_objtab_maybe_free(cw->objects, o); }

void rl_cw_ref_add(rl_cw_t *cw, const rl_id_t *id, const char *owner) {
  RL_CW_HOLD(cw);
  rl_object_t *o = rl_obj_find(cw, id);
  if (o) {
    rl_objtab_ref_add(o);
    return;
  }
  bool ours = !strcmp(owner, cw->endpoint);
  o = rl_objtab_insert(cw->objects, id, ours, owner);
  if (!o) return;
  rl_objtab_ref_add(o);
  if (ours) {
    /* A ref to something we owned and already freed came back to us. */
    o->kind = RL_RET_ERROR;
    o->state = RL_OBJ_FAILED;
    char hex[RL_ID_HEX], msg[200];
    snprintf(msg, sizeof msg, "object %s was freed by its owner before this reference arrived", rl_id_hex(id, hex));
    o->data = rl_cw_encode_error(cw, "ObjectLostError", msg, &o->len);
  } else {
    o->borrow_told = true;
    s_send_to_owner(cw, owner, RL_CW_ADD_BORROWER, id);
    rl_incoming_t *in = cw->running;
    if (in && !strcmp(owner, in->owner) && in->nheld < 4096) { /* told again with its result */
      if (in->nheld == in->capheld) {
        size_t cap = in->capheld ? 2 * in->capheld : 4;
        in->held = rl_xrealloc(in->held, cap * sizeof *in->held);
        in->capheld = cap;
      }
      in->held[in->nheld++] = *id;
    }
  }
}

void rl_cw_ref_drop(rl_cw_t *cw, const rl_id_t *id) {
  RL_CW_HOLD(cw);
  rl_objtab_ref_drop(cw->objects, id);
}

void rl_obj_task_ref(rl_cw_t *cw, const rl_id_t *id, int delta) { rl_objtab_task_ref(cw->objects, id, delta); }

size_t rl_cw_object_count(const rl_cw_t *cw) {
  RL_CW_HOLD(cw);
  return rl_objtab_size(cw->objects);
}

void rl_obj_set_value(rl_cw_t *cw, rl_object_t *o, int kind, const char *data, size_t len) {
  free(o->data);
  o->data = NULL;
  o->kind = kind;
  o->len = len;
  if (kind != RL_RET_STORE && len) {
    o->data = rl_xmalloc(len); /* an inline value or an error: under RL_INLINE_MAX */
    memcpy(o->data, data, len);
  }
  o->state = kind == RL_RET_ERROR ? RL_OBJ_FAILED : RL_OBJ_READY;
  o->sealed = true;
  o->fetching = false;
  size_t n;
  rl_waiter_t **waiters = rl_objtab_waiters_take(o, &n);
  for (size_t i = 0; i < n; i++) {
    s_reply_object(cw, &waiters[i]->identity, waiters[i]->request, o);
    s_waiter_free(waiters[i]);
  }
  free(waiters);
  rl_cw_notify_ready(cw, &o->id);
  rl_sub_object_ready(cw, o); /* may free o */
}

void rl_obj_set_stored(rl_cw_t *cw, rl_object_t *o, size_t size, const char *location, size_t loclen) {
  if (!location || !loclen || loclen >= sizeof o->location) {
    rl_str_copy(o->location, sizeof o->location, cw->node_endpoint);
  } else {
    memcpy(o->location, location, loclen);
    o->location[loclen] = 0;
  }
  rl_obj_set_value(cw, o, RL_RET_STORE, NULL, size);
}

void rl_obj_fail(rl_cw_t *cw, rl_object_t *o, const char *type, const char *message) {
  size_t len;
  char *data = rl_cw_encode_error(cw, type, message, &len);
  rl_obj_set_value(cw, o, RL_RET_ERROR, data, len);
  free(data);
}

void rl_obj_add_borrower(rl_cw_t *cw, rl_object_t *o, const char *endpoint) {
  (void)cw;
  rl_objtab_borrower_add(o, endpoint);
}

void rl_obj_borrower_died(rl_cw_t *cw, const char *endpoint) { rl_objtab_borrower_died(cw->objects, endpoint); }

void rl_obj_handle_borrower(rl_cw_t *cw, rl_msg_t *m, bool add) {
  rl_cw_add_borrower_msg_t msg; /* ADD_ and REMOVE_BORROWER: the same fields */
  if (!rl_wire_read(m, m->type, &msg)) return;
  const char *endpoint = msg.borrower_endpoint;
  rl_object_t *o = rl_obj_find(cw, &msg.object_id);
  if (!o || !o->owned) return;
  if (add) rl_objtab_borrower_add(o, endpoint);
  else rl_objtab_borrower_remove(cw->objects, o, endpoint);
}

void rl_obj_handle_get_object(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_get_object_msg_t q;
  if (!rl_cw_get_object_msg_read(m, &q)) return;
  uint64_t request = q.request;
  rl_id_t id = q.object_id;
  rl_object_t *o = rl_obj_find(cw, &id);
  if (!o || !o->owned) {
    s_reply_lost(cw, &m->identity, request, &id);
    return;
  }
  /* The borrower found the copy we name lost with its node, before we heard of that
   * death: the reply waits for the news (the object rebuilt, or failed saying why). */
  bool lost_here = q.has_lost_at && o->state == RL_OBJ_READY && o->kind == RL_RET_STORE &&
                   !strcmp(o->location, q.lost_at);
  if (!lost_here && o->state != RL_OBJ_PENDING && (o->kind != RL_RET_STORE || o->sealed)) {
    s_reply_object(cw, &m->identity, request, o);
    return;
  }
  rl_objtab_waiter_add(o, rl_waiter_new(&m->identity, request));
}

void rl_obj_handle_object(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_object_msg_t r;
  if (!rl_cw_object_msg_read(m, &r)) return;
  uint64_t kind = r.kind, size = r.size;
  const char *data = r.data.p;
  size_t len = r.data.n;
  rl_object_t *o = rl_obj_find(cw, &r.object_id);
  if (!o || o->owned) return;
  if (kind == RL_RET_STORE) rl_obj_set_stored(cw, o, size, data, len);
  else rl_obj_set_value(cw, o, (int)kind, data, len);
}

static void s_fetch(rl_cw_t *cw, rl_object_t *o) {
  if (o->owned || o->fetching || o->state != RL_OBJ_PENDING) return;
  rl_peer_t *peer = rl_cw_peer(cw, o->owner);
  if (!peer) {
    char msg[300];
    snprintf(msg, sizeof msg, "cannot reach the owner of this object at %s", o->owner);
    rl_obj_fail(cw, o, "OwnerDiedError", msg);
    return;
  }
  rl_cw_get_object_msg_t q = {.request = rl_cw_request_id(cw), .object_id = o->id, .has_lost_at = o->location[0] != 0};
  rl_str_copy(q.lost_at, sizeof q.lost_at, o->location);
  rl_cw_get_object_msg_send(peer->sock, NULL, &q);
  o->fetching = true;
}

/* Borrowed o's copy at o->location is lost with its node: o waits again, keeping that
 * location to tell its owner. The caller then asks the owner (s_ask_owner_again) once
 * every lost object is pending. */
static void s_borrowed_copy_lost(rl_object_t *o) {
  o->state = RL_OBJ_PENDING;
  o->kind = RL_RET_INLINE;
  o->len = 0;
  o->fetching = false;
}

/* As Ray does, borrowed o, whose copy was lost, is asked of its owner again: the owner
 * makes it again from lineage, or answers why it cannot (ObjectLostError). If its owner
 * is dead too, o fails with OwnerDiedError. */
static void s_ask_owner_again(rl_cw_t *cw, rl_object_t *o) {
  if (!o->owner_dead) {
    s_fetch(cw, o);
    return;
  }
  char msg[700];
  snprintf(msg, sizeof msg, "the owner of this object (at %s) died, and the copy it made was lost with node %s",
           o->owner, o->location);
  rl_obj_fail(cw, o, "OwnerDiedError", msg);
}

int rl_cw_object_state(rl_cw_t *cw, const rl_id_t *id) {
  RL_CW_HOLD(cw);
  rl_object_t *o = rl_obj_find(cw, id);
  if (!o) return RL_OBJ_FAILED;
  s_fetch(cw, o);
  if (o->state == RL_OBJ_READY && o->kind == RL_RET_STORE && !o->sealed) return RL_OBJ_PENDING;
  return o->state;
}

/* Asks the node manager for len bytes of store for object id; sets *offset. */
static int s_store_create(rl_cw_t *cw, const rl_id_t *id, const rl_id_t *owner, size_t len, uint64_t *offset,
                          char *err, size_t errlen) {
  uint64_t request = rl_cw_request_id(cw);
  rl_nm_store_create_msg_t c = {.request = request, .object_id = *id, .size = len, .has_owner_worker_id = true,
                                 .owner_worker_id = *owner};
  rl_msg_t reply;
  if (rl_cw_nm_call(cw, RL_NM_STORE_CREATE, &c, request, &reply, 60000) != 0) {
    snprintf(err, errlen, "the node manager did not answer a store request");
    return -1;
  }
  int rc = 0;
  rl_nm_store_created_msg_t r;
  if (rl_nm_store_created_msg_unpack(&reply, &r, err, errlen) != 0) {
    rc = -1;
  } else if (!r.has_offset || r.offset + len > cw->store_size) {
    if (!r.has_error || !rl_wire_strcpy(err, errlen, r.error)) snprintf(err, errlen, "the object store refused the object");
    rc = -1;
  } else {
    *offset = r.offset;
  }
  rl_msg_close(&reply);
  return rc;
}

int rl_cw_put(rl_cw_t *cw, size_t len, const rl_id_t *contained, const char (*contained_owner)[RL_ENDPOINT_MAX],
              size_t ncontained, rl_id_t *id_out, void **dst, char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  rl_id_t task = rl_id_for_task(cw->worker_id, ++cw->seq);
  rl_id_t id = rl_id_for_object(task, RL_ID_PUT_INDEX);
  rl_object_t *o = rl_obj_new_owned(cw, &id);
  if (!o) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  o->local_refs = 1;
  if (len < RL_INLINE_MAX) {
    o->data = rl_xmalloc(len); /* under RL_INLINE_MAX */
    o->len = len;
    o->kind = RL_RET_INLINE;
    o->state = RL_OBJ_READY;
    o->sealed = true;
    *dst = o->data;
  } else {
    uint64_t offset;
    if (s_store_create(cw, &id, &cw->worker_id, len, &offset, err, errlen) != 0) goto fail;
    o->kind = RL_RET_STORE;
    o->len = len;
    o->state = RL_OBJ_READY;
    o->sealed = false;
    *dst = (char *)cw->store_base + offset;
  }
  if (ncontained && rl_objtab_contain(o, contained, ncontained) == 0)
    for (size_t i = 0; i < ncontained; i++) rl_cw_ref_add(cw, &contained[i], contained_owner[i]);
  *id_out = id;
  return 0;
fail:
  o->local_refs = 0;
  o->kind = RL_RET_INLINE;
  rl_obj_maybe_free(cw, o);
  return -1;
}

void rl_cw_put_seal(rl_cw_t *cw, const rl_id_t *id) {
  RL_CW_HOLD(cw);
  rl_object_t *o = rl_obj_find(cw, id);
  if (!o || o->sealed) return;
  rl_nm_store_seal_msg_t seal = {.object_id = *id};
  rl_nm_store_seal_msg_send(cw->nm, NULL, &seal);
  rl_obj_set_stored(cw, o, o->len, NULL, 0);
}

int rl_obj_store_pin(rl_cw_t *cw, const rl_id_t *id, const char *location, rl_cw_value_t *v, int *reason,
                     char *err, size_t errlen) {
  int64_t deadline = rl_now_ms() + 10000;
  for (;;) {
    uint64_t request = rl_cw_request_id(cw);
    bool remote = location && *location && strcmp(location, cw->node_endpoint);
    rl_nm_store_get_msg_t g = {.request = request, .object_id = *id, .has_location = remote};
    if (remote && snprintf(g.location, sizeof g.location, "%s", location) >= (int)sizeof g.location) {
      snprintf(err, errlen, "the object's node endpoint is too long");
      return -1;
    }
    rl_msg_t reply;
    *reason = RL_LOC_GONE;
    if (rl_cw_nm_call(cw, RL_NM_STORE_GET, &g, request, &reply, 60000) != 0) {
      snprintf(err, errlen, "the node manager did not answer a store request");
      return -1;
    }
    rl_nm_store_location_msg_t r;
    bool ok = rl_nm_store_location_msg_unpack(&reply, &r, err, errlen) == 0;
    if (ok && r.has_offset && r.has_size && r.offset + r.size <= cw->store_size) {
      rl_msg_close(&reply);
      v->data = (char *)cw->store_base + r.offset;
      v->len = r.size;
      v->pinned = true;
      v->id = *id;
      return 0;
    }
    if (!ok || !r.has_error || !rl_wire_strcpy(err, errlen, r.error))
      snprintf(err, errlen, "the object store lost the object");
    if (ok && r.has_reason) *reason = (int)r.reason;
    rl_msg_close(&reply);
    /* Sealing by the creator may still be on its way: retry briefly. */
    if (*reason != RL_LOC_NOT_SEALED || rl_now_ms() > deadline) return -1;
    rl_cw_poll(cw, 2);
  }
}

int rl_cw_get(rl_cw_t *cw, const rl_id_t *id, int timeout_ms, rl_cw_value_t *v, char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  memset(v, 0, sizeof *v);
  v->id = *id;
  rl_object_t *o = rl_obj_find(cw, id);
  if (!o) {
    char hex[RL_ID_HEX];
    snprintf(err, errlen, "object %s is unknown to this process", rl_id_hex(id, hex));
    return -1;
  }
  int64_t since = rl_now_ms(), deadline = timeout_ms < 0 ? INT64_MAX : since + timeout_ms;
  bool told = false, warned = false;
again:
  while (rl_cw_object_state(cw, id) == RL_OBJ_PENDING) {
    if (!told) rl_cw_blocked(cw, told = true);
    rl_sub_warn_pending(cw, since, &warned);
    int64_t left = deadline - rl_now_ms();
    if (left <= 0) {
      rl_cw_blocked(cw, false);
      return 1;
    }
    if (rl_cw_poll_wait(cw, left > 1000 ? 1000 : (int)left)) {
      rl_cw_blocked(cw, false);
      return 2;
    }
    o = rl_obj_find(cw, id);
    if (!o) {
      rl_cw_blocked(cw, false);
      snprintf(err, errlen, "the object was freed while waiting for it");
      return -1;
    }
  }
  if (told) rl_cw_blocked(cw, false);
  o = rl_obj_find(cw, id);
  v->state = o->state;
  if (o->kind == RL_RET_STORE) {
    char location[RL_ENDPOINT_MAX];
    rl_str_copy(location, sizeof location, o->location);
    int reason;
    if (rl_obj_store_pin(cw, id, location, v, &reason, err, errlen) == 0) return 0;
    /* Its node died while we asked for it: it is being made again (lineage), or it
     * failed with the reason. */
    o = rl_obj_find(cw, id);
    if (o && (o->state != RL_OBJ_READY || o->kind != RL_RET_STORE)) goto again;
    /* Borrowed, and its owner named a copy on a node that died before the owner heard
     * of it: ask the owner again, naming the lost copy. */
    if (o && !o->owned && !strcmp(o->location, location) && reason == RL_LOC_NODE_DIED) {
      s_borrowed_copy_lost(o);
      s_ask_owner_again(cw, o);
      goto again;
    }
    return -1;
  }
  v->data = o->data;
  v->len = o->len;
  return 0;
}

void rl_cw_value_release(rl_cw_t *cw, rl_cw_value_t *v) {
  RL_CW_HOLD(cw);
  if (!v->pinned) return;
  v->pinned = false;
  rl_nm_store_release_msg_t rel = {.object_id = v->id};
  rl_nm_store_release_msg_send(cw->nm, NULL, &rel);
}

int rl_cw_wait(rl_cw_t *cw, const rl_id_t *ids, size_t n, size_t num_ready, int timeout_ms, bool *ready) {
  RL_CW_HOLD(cw);
  int64_t since = rl_now_ms(), deadline = timeout_ms < 0 ? INT64_MAX : since + timeout_ms;
  bool told = false, warned = false;
  int rc = 0;
  for (;;) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
      ready[i] = rl_cw_object_state(cw, &ids[i]) != RL_OBJ_PENDING;
      count += ready[i];
    }
    if (count >= num_ready) break;
    int64_t left = deadline - rl_now_ms();
    if (left <= 0) break;
    if (!told) rl_cw_blocked(cw, told = true);
    rl_sub_warn_pending(cw, since, &warned);
    if (rl_cw_poll(cw, left > 1000 ? 1000 : (int)left)) {
      rc = 2;
      break;
    }
  }
  if (told) rl_cw_blocked(cw, false);
  return rc;
}

void rl_obj_destroy_all(rl_cw_t *cw) { rl_objtab_destroy(&cw->objects); }

int rl_obj_store_write(rl_cw_t *cw, const rl_id_t *id, const rl_id_t *owner, size_t len,
                       void (*copy)(void *ctx, size_t i, void *dst), void *ctx, size_t i, char *err, size_t errlen) {
  uint64_t offset;
  if (s_store_create(cw, id, owner, len, &offset, err, errlen) != 0) {
    /* A task run again (a retry, or rebuilding a lost result) finds what an earlier run
     * of it sealed here: that value stands. */
    return strstr(err, "already exists in the store (sealed)") ? 0 : -1;
  }
  copy(ctx, i, (char *)cw->store_base + offset);
  rl_nm_store_seal_msg_t seal = {.object_id = *id};
  rl_nm_store_seal_msg_send(cw->nm, NULL, &seal);
  return 0;
}

/* The ids (not pointers: failing one object fails the tasks waiting for it, which may
 * free others) of the objects that lost(o, ctx) picks; their number in *n. */
static rl_id_t *s_pick(rl_cw_t *cw, bool (*lost)(const rl_object_t *o, const void *ctx), const void *ctx, size_t *n) {
  size_t cur = 0;
  rl_object_t *o;
  rl_id_t *ids = rl_xmalloc((rl_objtab_size(cw->objects) + 1) * sizeof *ids);
  *n = 0;
  while ((o = rl_objtab_next(cw->objects, &cur)))
    if (lost(o, ctx)) ids[(*n)++] = o->id;
  return ids;
}

static bool s_owned_by_endpoint(const rl_object_t *o, const void *endpoint) {
  return !o->owned && !strcmp(o->owner, endpoint);
}

/* The n borrowed objects of ids lost their owner: each is marked so (a copy it has now
 * cannot be made again if lost), and those still waited for fail with OwnerDiedError:
 * "the owner of this object (<who>) died<why>", who naming the owner's endpoint after
 * who_prefix if given. */
static void s_owner_lost(rl_cw_t *cw, const rl_id_t *ids, size_t n, const char *who_prefix, const char *who,
                         const char *why) {
  for (size_t i = 0; i < n; i++) {
    rl_object_t *o = rl_obj_find(cw, &ids[i]);
    if (!o || o->owned) continue;
    o->owner_dead = true;
    o->borrow_told = false; /* nobody left to tell */
    if (o->state != RL_OBJ_PENDING) continue;
    char msg[600];
    snprintf(msg, sizeof msg, "the owner of this object (%s%s%s) died%s", who, who_prefix ? who_prefix : "",
             who_prefix ? o->owner : "", why);
    rl_obj_fail(cw, o, "OwnerDiedError", msg);
  }
}

void rl_obj_owner_died(rl_cw_t *cw, const char *endpoint, int pid, const char *reason) {
  size_t n;
  rl_id_t *ids = s_pick(cw, s_owned_by_endpoint, endpoint, &n);
  char who[64], why[320];
  snprintf(who, sizeof who, "worker pid %d", pid);
  snprintf(why, sizeof why, ": %s", reason);
  s_owner_lost(cw, ids, n, NULL, who, why);
  free(ids);
}

static bool s_owned_by_worker(const rl_object_t *o, const void *worker) {
  return !o->owned && !memcmp(o->id.b, worker, RL_ID_SIZE / 2);
}

void rl_obj_owner_gone(rl_cw_t *cw, const rl_id_t *worker) {
  size_t n;
  rl_id_t *ids = s_pick(cw, s_owned_by_worker, worker->b, &n);
  char hex[RL_ID_HEX], who[64];
  snprintf(who, sizeof who, "worker %.12s", rl_id_hex(worker, hex));
  s_owner_lost(cw, ids, n, " at ", who, "");
  free(ids);
}

static bool s_stored_on(const rl_object_t *o, const void *node) {
  return o->kind == RL_RET_STORE && o->state == RL_OBJ_READY && !strcmp(o->location, node);
}

void rl_obj_node_died(rl_cw_t *cw, const char *node) {
  size_t n;
  rl_id_t *ids = s_pick(cw, s_stored_on, node, &n);
  /* All lost objects are pending first, so a task run again to rebuild one waits for
   * the others it takes as arguments. Nothing is left in a store to delete. */
  for (size_t i = 0; i < n; i++) {
    rl_object_t *o = rl_obj_find(cw, &ids[i]);
    if (!o->owned) {
      s_borrowed_copy_lost(o);
      continue;
    }
    o->state = RL_OBJ_PENDING;
    o->kind = RL_RET_INLINE;
    o->location[0] = 0;
    o->len = 0;
  }
  for (size_t i = 0; i < n; i++) {
    rl_object_t *o = rl_obj_find(cw, &ids[i]);
    if (!o || o->state != RL_OBJ_PENDING) continue; /* freed, or made again, by what came before */
    if (!o->owned) {
      s_ask_owner_again(cw, o);
      continue;
    }
    if (rl_sub_reconstruct(cw, o)) continue;
    char msg[400];
    snprintf(msg, sizeof msg, "the object was stored on node %s, which died%s", node,
             o->lineage                             ? " (its task was already retried max_retries times)"
             : rl_id_index(o->id) == RL_ID_PUT_INDEX ? " and it cannot be made again (it was put, not returned by a task)"
                                                    : " and it cannot be made again (its task may not run again: "
                                                      "max_retries = 0, or an actor call)");
    rl_obj_fail(cw, o, "ObjectLostError", msg);
  }
  free(ids);
}
