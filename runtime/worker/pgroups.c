/* pgroups.c: placement groups as a core worker sees them: creation and removal sent
 * to the head without waiting (pipelined; answers are counted as they come), and
 * ready objects that the head's answer to a wait makes ready. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "wire/proto.h"
#include "wire/res_pack.h"
#include "wire/wire.h"
#include "worker/cw_internal.h"

/* A wait for a group: the object made ready (with value) once the head says so. */
struct rl_pg_wait {
  uint64_t request;
  rl_id_t object, pg;
  char *value; /* the encoded value of the ready object */
  size_t len;
  bool answered;
  char *error; /* answered: NULL (created) or why not */
  struct rl_pg_wait *next;
};

/* Creations sent and not answered yet (a refusal names the request). */
static bool s_take_create(rl_cw_t *cw, uint64_t request) {
  for (size_t i = 0; i < cw->pg_creates_n; i++)
    if (cw->pg_creates[i] == request) {
      cw->pg_creates[i] = cw->pg_creates[--cw->pg_creates_n];
      return true;
    }
  return false;
}

static int s_send(rl_cw_t *cw, rl_msgbuf_t *b, char *err, size_t errlen) {
  void *sock = rl_cw_gcs_socket(cw);
  if (!sock || rl_msg_send(sock, NULL, b) != 0) {
    if (!sock) rl_msgbuf_reset(b);
    snprintf(err, errlen, "cannot reach the head at %s", cw->gcs_endpoint);
    return -1;
  }
  return 0;
}

int rl_cw_pg_create(rl_cw_t *cw, const rl_pg_opts_t *o, rl_id_t *id_out, char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  rl_id_t id = rl_id_random();
  uint64_t request = rl_cw_next_request(cw);
  bool named = o->name && o->name[0];
  rl_gcs_pg_create_msg_t create = {.request = request, .pg_id = id, .name = rl_wire_str(named ? o->name : ""),
                                   .strategy = rl_wire_str(o->strategy), .bundles = {(uint32_t)o->nbundles, (rl_resources_t *)o->bundles}, /* only read */
                                   .detached = o->detached, .creator = cw->worker_id};
  rl_msgbuf_t b;
  if (rl_gcs_pg_create_msg_pack(&create, &b, err, errlen) != 0) return -1;
  if (named) {
    /* A name must be free: wait for the head's answer so a clash is reported here. */
    rl_msg_t reply;
    rl_gcs_pg_reply_msg_t r;
    if (rl_cw_gcs_call(cw, &b, request, &reply, 5000) != 0) {
      snprintf(err, errlen, "the head at %s did not answer", cw->gcs_endpoint);
      return -1;
    }
    if (rl_gcs_pg_reply_msg_unpack(&reply, &r, err, errlen) != 0) {
      rl_msg_close(&reply);
      return -1;
    }
    if (r.has_warning) fprintf(stderr, "rayl: warning: %.*s\n", (int)r.warning.n, r.warning.p);
    if (r.has_error) snprintf(err, errlen, "%.*s", (int)r.error.n, r.error.p);
    rl_msg_close(&reply);
    if (r.has_error) return -1;
  } else {
    if (cw->pg_creates_n == cw->pg_creates_cap) {
      size_t cap = cw->pg_creates_cap ? cw->pg_creates_cap * 2 : 64;
      cw->pg_creates = rl_xrealloc(cw->pg_creates, cap * sizeof *cw->pg_creates);
      cw->pg_creates_cap = cap;
    }
    if (s_send(cw, &b, err, errlen) != 0) return -1;
    cw->pg_creates[cw->pg_creates_n++] = request;
    cw->pg_unanswered++;
  }
  *id_out = id;
  return 0;
}

int rl_cw_pg_remove(rl_cw_t *cw, const rl_id_t *pg, char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  rl_gcs_pg_remove_msg_t remove = {.request = rl_cw_next_request(cw), .pg_id = *pg};
  rl_msgbuf_t b;
  if (rl_gcs_pg_remove_msg_pack(&remove, &b, err, errlen) != 0 || s_send(cw, &b, err, errlen) != 0) return -1;
  cw->pg_unanswered++;
  return 0;
}

int rl_cw_pg_ready(rl_cw_t *cw, const rl_id_t *pg, const void *value, size_t len, rl_id_t *id_out, char *err,
                   size_t errlen) {
  RL_CW_HOLD(cw);
  rl_pg_wait_t *w = rl_xcalloc(1, sizeof *w);
  w->value = rl_xmalloc(len); /* an encoded ready marker, a few bytes */
  memcpy(w->value, value, len);
  w->len = len;
  w->pg = *pg;
  w->request = rl_cw_next_request(cw);
  w->object = rl_id_for_object(rl_id_for_task(cw->worker_id, ++cw->seq), RL_ID_PUT_INDEX);
  rl_gcs_pg_wait_msg_t wait = {.request = w->request, .pg_id = *pg};
  rl_msgbuf_t b;
  rl_gcs_pg_wait_msg_pack(&wait, &b, err, errlen); /* two fixed-size fields: can't fail */
  rl_object_t *o = rl_obj_new_owned(cw, &w->object);
  if (!o || s_send(cw, &b, err, errlen) != 0) {
    if (!o) {
      rl_msgbuf_reset(&b);
      snprintf(err, errlen, "out of memory");
    } else {
      rl_obj_maybe_free(cw, o);
    }
    free(w->value);
    free(w);
    return -1;
  }
  o->local_refs = 1; /* the caller's handle; pending until the head answers */
  /* Answers come in request order: keep the list in it. */
  if (cw->pg_waits_tail) cw->pg_waits_tail->next = w;
  else cw->pg_waits = w;
  cw->pg_waits_tail = w;
  *id_out = w->object;
  return 0;
}

/* PG_REPLY [request, error?, warning?] */
static void s_on_reply(rl_cw_t *cw, rl_msg_t *m) {
  rl_gcs_pg_reply_msg_t r;
  if (!rl_gcs_pg_reply_msg_read(m, &r)) return; /* logged */
  if (cw->pg_unanswered > 0) cw->pg_unanswered--;
  if (!s_take_create(cw, r.request)) return; /* a removal: removing twice is no error */
  if (r.has_error)
    fprintf(stderr, "rayl: warning: the head refused to create a placement group: %.*s\n", (int)r.error.n, r.error.p);
  if (r.has_warning) fprintf(stderr, "rayl: warning: %.*s\n", (int)r.warning.n, r.warning.p);
}

/* [request, pg_id, error?]: noted here, applied by rl_pg_apply (outside any handler). */
static void s_on_ready(rl_cw_t *cw, rl_msg_t *m) {
  rl_gcs_pg_ready_msg_t r;
  if (!rl_gcs_pg_ready_msg_read(m, &r)) return; /* logged */
  for (rl_pg_wait_t *w = cw->pg_waits; w; w = w->next) {
    if (w->request != r.request || w->answered) continue;
    w->answered = true;
    if (r.has_error) {
      w->error = rl_xmalloc(r.error.n + 1); /* within a received message */
      memcpy(w->error, r.error.p, r.error.n);
      w->error[r.error.n] = 0;
    }
    cw->pg_answered = true;
    return;
  }
}

void rl_pg_handle_gcs(rl_cw_t *cw, rl_msg_t *m) {
  switch (m->type) {
    case RL_GCS_PG_REPLY: s_on_reply(cw, m); break;
    case RL_GCS_PG_READY: s_on_ready(cw, m); break;
    case RL_CW_ACTOR_LOCATION: rl_actor_handle_location(cw, m); break; /* a detached actor's */
    default: break; /* a late answer to a call that timed out */
  }
}

static void s_free_wait(rl_pg_wait_t *w) {
  free(w->value);
  free(w->error);
  free(w);
}

void rl_pg_apply(rl_cw_t *cw) {
  if (!cw->pg_answered) return;
  cw->pg_answered = false;
  rl_pg_wait_t *prev = NULL;
  for (rl_pg_wait_t *w = cw->pg_waits, *next; w; w = next) {
    next = w->next;
    if (!w->answered) {
      prev = w;
      continue;
    }
    if (prev) prev->next = next;
    else cw->pg_waits = next;
    if (cw->pg_waits_tail == w) cw->pg_waits_tail = prev;
    rl_object_t *o = rl_obj_find(cw, &w->object);
    if (o && o->state == RL_OBJ_PENDING) {
      if (w->error) rl_obj_fail(cw, o, "ValueError", w->error);
      else rl_obj_set_value(cw, o, RL_RET_INLINE, w->value, w->len);
    }
    s_free_wait(w);
  }
}

void rl_pg_flush(rl_cw_t *cw) {
  if (!cw->gcs || cw->pg_unanswered <= 0) return;
  /* Removals (and creations) in flight reach the head before we go. */
  int64_t deadline = rl_now_ms() + 1000;
  zmq_pollitem_t it = {cw->gcs, 0, ZMQ_POLLIN, 0};
  while (cw->pg_unanswered > 0 && rl_now_ms() < deadline) {
    if (zmq_poll(&it, 1, rl_ms_left(deadline)) <= 0) continue;
    rl_msg_t m;
    while (rl_msg_recv(cw->gcs, false, &m) == 1) {
      if (m.type == RL_GCS_PG_REPLY) s_on_reply(cw, &m);
      rl_msg_close(&m);
    }
  }
}

void rl_pg_destroy_all(rl_cw_t *cw) {
  while (cw->pg_waits) {
    rl_pg_wait_t *w = cw->pg_waits;
    cw->pg_waits = w->next;
    s_free_wait(w);
  }
  cw->pg_waits_tail = NULL;
  free(cw->pg_creates);
  cw->pg_creates = NULL;
  cw->pg_creates_n = cw->pg_creates_cap = 0;
}
