/* head_client.c: requests to the head and their replies decoded (worker/head_client.h). */
#include "worker/head_client.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "net/key.h"
#include "wire/proto.h"

void rl_head_init_cw(rl_head_t *h, rl_cw_t *cw) {
  *h = (rl_head_t){.cw = cw};
  snprintf(h->endpoint, sizeof h->endpoint, "%s", rl_cw_gcs_endpoint(cw));
}

void rl_head_close(rl_head_t *h) {
  rl_net_watch_destroy(&h->watch);
  if (h->sock) zmq_close(h->sock);
  h->sock = NULL;
  if (h->ctx) zmq_ctx_term(h->ctx);
  h->ctx = NULL;
}

int rl_head_connect(rl_head_t *h, const char *endpoint, char *err, size_t errlen) {
  *h = (rl_head_t){0};
  snprintf(h->endpoint, sizeof h->endpoint, "%s", endpoint);
  h->ctx = zmq_ctx_new();
  h->sock = h->ctx ? zmq_socket(h->ctx, ZMQ_DEALER) : NULL;
  if (!h->sock) {
    snprintf(err, errlen, "cannot open a socket to %s: %s", endpoint, zmq_strerror(zmq_errno()));
    rl_head_close(h);
    return -1;
  }
  int zero = 0, ivl = 10;
  zmq_setsockopt(h->sock, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(h->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  h->watch = rl_net_watch_new(h->ctx, h->sock);
  if (rl_net_connect(h->sock, endpoint) != 0) {
    snprintf(err, errlen, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
    rl_head_close(h);
    return -1;
  }
  return 0;
}

const char *rl_head_endpoint(const rl_head_t *h) { return h->endpoint; }

uint64_t rl_head_next_request(rl_head_t *h) { return h->cw ? rl_cw_next_request(h->cw) : ++h->request; }

/* Why a head refused our handshake, and what to do. */
static void s_refused(const char *gcs, char *err, size_t errlen) {
  const char *head = strncmp(gcs, "tcp://", 6) ? gcs : gcs + 6;
  if (rl_net_key_held())
    snprintf(err, errlen,
             "the head at %s refused the cluster key from %s: it is not that cluster's key (or that cluster runs "
             "without security). Use the key file the head's machine keeps as <session>/cluster.key (`rayl start "
             "--head` printed its path): --cluster-key FILE for rayl start and rayl status, RAYL_CLUSTER_KEY_FILE=FILE "
             "for drivers",
             head, rl_net_key_origin());
  else
    snprintf(err, errlen,
             "the head at %s refused this process: the cluster uses CURVE security and no cluster key was given. "
             "Copy the key file from the head's machine (<session>/cluster.key; `rayl start --head` printed its path; "
             "keep it mode 0600) and supply it: --cluster-key FILE for rayl start and rayl status, "
             "RAYL_CLUSTER_KEY_FILE=FILE for drivers",
             head);
}

/* Waits on h's own socket for the reply to request. 0, or -1 (refused set if the head
 * refused our handshake). */
static int s_wait(rl_head_t *h, uint64_t request, rl_msg_t *reply, int timeout_ms, bool *refused) {
  int64_t deadline = rl_now_ms() + timeout_ms;
  zmq_pollitem_t it[2] = {{h->sock, 0, ZMQ_POLLIN, 0}, {h->watch ? rl_net_watch_socket(h->watch) : NULL, 0, ZMQ_POLLIN, 0}};
  while (!*refused && rl_now_ms() < deadline && !rl_interrupted) {
    if (zmq_poll(it, h->watch ? 2 : 1, rl_ms_left(deadline)) <= 0) continue;
    if (h->watch && (it[1].revents & ZMQ_POLLIN)) *refused = rl_net_watch_refused(h->watch);
    while (rl_msg_recv(h->sock, false, reply) == 1) {
      uint64_t got;
      if (rl_wire_request_of(reply, &got) && got == request) return 0;
      rl_msg_close(reply); /* the late answer to a request given up on */
    }
  }
  return -1;
}

/* After a send that failed: the head has already ended our connection for good (a
 * refused handshake does), so nothing can leave. Waits up to timeout_ms for the watch
 * to say why. Always -1. */
static int s_unsent(rl_head_t *h, int timeout_ms, bool *refused) {
  int64_t deadline = rl_now_ms() + timeout_ms;
  while (h->watch && !(*refused = rl_net_watch_refused(h->watch)) && rl_now_ms() < deadline && !rl_interrupted) {
    zmq_pollitem_t it = {rl_net_watch_socket(h->watch), 0, ZMQ_POLLIN, 0};
    zmq_poll(&it, 1, rl_ms_left(deadline));
  }
  return -1;
}

int rl_head_call(rl_head_t *h, rl_msgbuf_t *b, uint64_t request, int reply_type, rl_msg_t *reply, int timeout_ms,
                 char *err, size_t errlen) {
  bool refused = false, unsent = false;
  int rc;
  if (h->cw) {
    rc = rl_cw_gcs_call(h->cw, b, request, reply, timeout_ms);
  } else if (!h->sock) {
    rl_msgbuf_reset(b);
    snprintf(err, errlen, "no connection to the head at %s", h->endpoint);
    return -1;
  } else {
    unsent = rl_msg_send(h->sock, NULL, b) != 0;
    rc = unsent ? s_unsent(h, timeout_ms, &refused) : s_wait(h, request, reply, timeout_ms, &refused);
  }
  if (rc != 0) {
    if (refused) s_refused(h->endpoint, err, errlen);
    else if (unsent)
      snprintf(err, errlen, "the head at %s closed the connection before a request could be sent (is a rayl head "
               "listening there?)", h->endpoint);
    else
      snprintf(err, errlen, "the head at %s did not answer within %d ms%s", h->endpoint, timeout_ms,
               rl_interrupted ? " (interrupted)" : "");
    return -1;
  }
  if (reply->type != reply_type) {
    snprintf(err, errlen, "the head at %s answered with a message of type %u instead of %d (is it another rayl?)",
             h->endpoint, reply->type, reply_type);
    rl_msg_close(reply);
    return -1;
  }
  return 0;
}

/* Sends req (of type), waits for the reply of reply_type to request and unpacks it into
 * out. 0, or -1 with err. */
static int s_ask(rl_head_t *h, int type, const void *req, uint64_t request, int reply_type, void *out,
                 rl_msg_t *reply, int timeout_ms, char *err, size_t errlen) {
  rl_msgbuf_t b;
  if (rl_wire_pack(type, req, &b, err, errlen) != 0) return -1;
  if (rl_head_call(h, &b, request, reply_type, reply, timeout_ms, err, errlen) != 0) return -1;
  char why[400];
  if (rl_wire_unpack(reply, reply_type, out, why, sizeof why) == 0) return 0;
  snprintf(err, errlen, "the head at %s sent a malformed reply: %s", h->endpoint, why);
  rl_msg_close(reply);
  return -1;
}

int rl_head_nodes(rl_head_t *h, rl_gcs_nodes_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err, size_t errlen) {
  rl_gcs_get_nodes_msg_t req = {.request = rl_head_next_request(h)};
  return s_ask(h, RL_GCS_GET_NODES, &req, req.request, RL_GCS_NODES, out, reply, timeout_ms, err, errlen);
}

int rl_head_kv(rl_head_t *h, int type, const char *key, const void *value, size_t vlen, rl_gcs_kv_reply_msg_t *out,
               rl_msg_t *reply, int timeout_ms, char *err, size_t errlen) {
  uint64_t request = rl_head_next_request(h);
  union {
    rl_gcs_kv_put_msg_t put;
    rl_gcs_kv_get_msg_t get;
    rl_gcs_kv_exists_msg_t exists;
  } req;
  if (type == RL_GCS_KV_PUT)
    req.put = (rl_gcs_kv_put_msg_t){.request = request, .key = rl_wire_str(key), .value = rl_wire_bytes(value, vlen),
                                    .has_value = value != NULL};
  else if (type == RL_GCS_KV_GET) req.get = (rl_gcs_kv_get_msg_t){.request = request, .key = rl_wire_str(key)};
  else req.exists = (rl_gcs_kv_exists_msg_t){.request = request, .key = rl_wire_str(key)};
  return s_ask(h, type, &req, request, RL_GCS_KV_REPLY, out, reply, timeout_ms, err, errlen);
}

int rl_head_job_submit(rl_head_t *h, rl_gcs_job_submit_msg_t *req, rl_gcs_job_reply_msg_t *out, rl_msg_t *reply,
                       int timeout_ms, char *err, size_t errlen) {
  req->request = rl_head_next_request(h);
  return s_ask(h, RL_GCS_JOB_SUBMIT, req, req->request, RL_GCS_JOB_REPLY, out, reply, timeout_ms, err, errlen);
}

int rl_head_job(rl_head_t *h, int type, const char *submission_id, rl_gcs_job_reply_msg_t *out, rl_msg_t *reply,
                int timeout_ms, char *err, size_t errlen) {
  /* JOB_GET and JOB_STOP have the same fields */
  rl_gcs_job_get_msg_t req = {.request = rl_head_next_request(h), .submission_id = rl_wire_str(submission_id)};
  return s_ask(h, type, &req, req.request, RL_GCS_JOB_REPLY, out, reply, timeout_ms, err, errlen);
}

int rl_head_job_list(rl_head_t *h, rl_gcs_job_list_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err,
                     size_t errlen) {
  rl_gcs_job_list_request_msg_t req = {.request = rl_head_next_request(h)};
  return s_ask(h, RL_GCS_JOB_LIST_REQUEST, &req, req.request, RL_GCS_JOB_LIST, out, reply, timeout_ms, err, errlen);
}

int rl_head_job_logs(rl_head_t *h, const char *submission_id, uint64_t offset, uint64_t max,
                     rl_gcs_job_logs_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err, size_t errlen) {
  rl_gcs_job_logs_request_msg_t req = {.request = rl_head_next_request(h), .submission_id = rl_wire_str(submission_id),
                                       .offset = offset, .max = max};
  if (s_ask(h, RL_GCS_JOB_LOGS_REQUEST, &req, req.request, RL_GCS_JOB_LOGS, out, reply, timeout_ms, err, errlen) != 0)
    return -1;
  if (out->has_error || (out->has_data && out->has_offset && out->has_size && out->has_status)) return 0;
  snprintf(err, errlen, "the head at %s sent a malformed reply: JOB_LOGS: neither the log's part nor an error",
           h->endpoint);
  rl_msg_close(reply);
  return -1;
}

int rl_head_state(rl_head_t *h, bool actors, rl_gcs_state_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err,
                  size_t errlen) {
  rl_gcs_list_state_msg_t req = {.request = rl_head_next_request(h), .what = rl_wire_str(actors ? "actors" : "tasks")};
  return s_ask(h, RL_GCS_LIST_STATE, &req, req.request, RL_GCS_STATE, out, reply, timeout_ms, err, errlen);
}

int rl_head_pg_info(rl_head_t *h, const rl_id_t *pg_id, const char *name, rl_gcs_pg_info_msg_t *out,
                    rl_msg_t *reply, int timeout_ms, char *err, size_t errlen) {
  rl_gcs_pg_get_msg_t req = {.request = rl_head_next_request(h), .pg_id = pg_id ? *pg_id : (rl_id_t){{0}},
                             .has_pg_id = pg_id != NULL, .name = rl_wire_str(name), .has_name = name != NULL};
  return s_ask(h, RL_GCS_PG_GET, &req, req.request, RL_GCS_PG_INFO, out, reply, timeout_ms, err, errlen);
}

int rl_head_timeline(rl_head_t *h, rl_gcs_timeline_msg_t *out, rl_msg_t *reply, int timeout_ms, char *err,
                     size_t errlen) {
  rl_gcs_timeline_get_msg_t req = {.request = rl_head_next_request(h)};
  return s_ask(h, RL_GCS_TIMELINE_GET, &req, req.request, RL_GCS_TIMELINE, out, reply, timeout_ms, err, errlen);
}
