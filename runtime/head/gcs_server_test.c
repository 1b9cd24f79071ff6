/* gcs_server_test.c: rl_gcs_serve's selftest: the loop in a thread, DEALER clients over
 * inproc://, junk of every kind, registration, heartbeats, liveness, the KV store, and
 * the database kept across a restart of the loop. */
#include "common/selftest.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "gcs/gcs_db.h"
#include "head/gcs_server.h"
#include "gcs/node_table.h"
#include "head/test_head.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/res_pack.h"
#include "wire/wire.h"

/* ---- selftest: the loop in a thread, a DEALER client over inproc:// ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* Waits up to 5 s for the reply to request on a DEALER, skipping replies to others
 * (junk that happens to be a valid request gets answered too). Returns 1 with *m
 * filled, else 0. */
static int s_wait_reply(void *dealer, uint64_t request, rl_msg_t *m) {
  zmq_pollitem_t it = {dealer, 0, ZMQ_POLLIN, 0};
  for (int64_t end = rl_now_ms() + 5000; rl_now_ms() < end;) {
    if (zmq_poll(&it, 1, 100) <= 0) continue;
    while (rl_msg_recv(dealer, false, m) == 1) {
      uint64_t req;
      if (rl_field_u64(m, 0, &req) && req == request) return 1;
      rl_msg_close(m);
    }
  }
  return 0;
}

/* Waits up to 5 s for a REREGISTER naming node, skipping other messages. Returns 1 if
 * it came. */
static int s_wait_reregister(void *dealer, const rl_id_t *node) {
  zmq_pollitem_t it = {dealer, 0, ZMQ_POLLIN, 0};
  rl_msg_t m;
  for (int64_t end = rl_now_ms() + 5000; rl_now_ms() < end;) {
    if (zmq_poll(&it, 1, 100) <= 0) continue;
    while (rl_msg_recv(dealer, false, &m) == 1) {
      rl_id_t id;
      bool match = m.type == RL_GCS_REREGISTER && m.nfields == 1 && rl_field_id(&m, 0, &id) && rl_id_eq(&id, node);
      rl_msg_close(&m);
      if (match) return 1;
    }
  }
  return 0;
}

/* Our request ids, far from the ids random junk carries. */
#define S_REQUEST_BASE 0x5eed000000000000ULL

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t s_rand(void) { /* xorshift64: deterministic junk */
  s_rng ^= s_rng << 13;
  s_rng ^= s_rng >> 7;
  s_rng ^= s_rng << 17;
  return s_rng;
}

static void s_send_raw(void *dealer, const void *p, size_t n) { zmq_send(dealer, p, n, ZMQ_DONTWAIT); }

/* Sends b's bytes cut to len (b is reset). */
static void s_send_truncated(void *dealer, rl_msgbuf_t *b, size_t len) {
  s_send_raw(dealer, b->sb.data, len < b->sb.size ? len : b->sb.size);
  rl_msgbuf_reset(b);
}

/* The GPU description a node registers with (NULL: none, as an older node). */
static const char *s_gpus = "2 (declared with --num-gpus; device ids 0,1)";

static void s_build_register(rl_msgbuf_t *b, const rl_id_t *id, const char *ep, const rl_resources_t *r,
                             uint64_t pid) {
  rl_msgbuf_init(b, RL_GCS_REGISTER_NODE, s_gpus ? 5 : 4);
  rl_pack_id(&b->pk, id);
  rl_pack_str(&b->pk, ep);
  rl_res_pack(&b->pk, r);
  msgpack_pack_uint64(&b->pk, pid);
  if (s_gpus) rl_pack_str(&b->pk, s_gpus);
}

/* The first node's GPU description in the last GET_NODES reply. */
static char s_listed_gpus[300];

static void s_send_heartbeat(void *dealer, const rl_id_t *id, const rl_resources_t *avail) {
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_GCS_HEARTBEAT, 2);
  rl_pack_id(&b.pk, id);
  rl_res_pack(&b.pk, avail);
  rl_msg_send(dealer, NULL, &b);
}

/* GET_NODES round trip. Returns the number of nodes (-1 on a bad reply) and the
 * first node's fields. */
static int s_get_nodes(void *dealer, uint64_t request, rl_id_t *id, char *ep, size_t epsize, bool *alive,
                       rl_resources_t *total, rl_resources_t *avail) {
  request += S_REQUEST_BASE;
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_GCS_GET_NODES, 1);
  msgpack_pack_uint64(&b.pk, request);
  if (rl_msg_send(dealer, NULL, &b) != 0) return -1;
  rl_msg_t m;
  if (!s_wait_reply(dealer, request, &m)) return -1;
  int rc = -1;
  uint64_t req;
  const msgpack_object *list = rl_field(&m, 1);
  if (m.type != RL_GCS_NODES || m.nfields != 2 || !rl_field_u64(&m, 0, &req) || req != request || !list ||
      list->type != MSGPACK_OBJECT_ARRAY)
    goto out;
  for (uint32_t i = 0; i < list->via.array.size; i++) {
    const msgpack_object *n = &list->via.array.ptr[i];
    const char *p;
    size_t len;
    rl_resources_t t, a;
    if (n->type != MSGPACK_OBJECT_ARRAY || n->via.array.size != 7 || n->via.array.ptr[5].type != MSGPACK_OBJECT_ARRAY ||
        n->via.array.ptr[6].type != MSGPACK_OBJECT_STR)
      goto out;
    const msgpack_object *f = n->via.array.ptr;
    const char *g;
    size_t glen;
    if (!rl_obj_id(&f[0], id) || !rl_obj_bytes(&f[1], &p, &len) || len >= epsize ||
        f[2].type != MSGPACK_OBJECT_BOOLEAN || rl_res_unpack(&f[3], &t) || rl_res_unpack(&f[4], &a) ||
        !rl_obj_bytes(&f[6], &g, &glen) || glen >= sizeof s_listed_gpus)
      goto out;
    if (i == 0) {
      memcpy(s_listed_gpus, g, glen);
      s_listed_gpus[glen] = 0;
      memcpy(ep, p, len);
      ep[len] = 0;
      *alive = f[2].via.boolean;
      *total = t;
      *avail = a;
    }
  }
  rc = (int)list->via.array.size;
out:
  rl_msg_close(&m);
  return rc;
}

/* GET_NODES [request, nil, since | nil, first] round trip, as node managers ask (since
 * UINT64_MAX: first, a new one): the first node's number of demand shapes and its
 * first shape's count, the dead-client sequence number, and up to max dead ids.
 * Returns how many ids, or -1 on a bad reply. */
static int s_get_view(void *dealer, uint64_t request, uint64_t since, int *ndemands, uint64_t *count, uint64_t *seq,
                      rl_id_t *ids, int max) {
  request += S_REQUEST_BASE;
  rl_gcs_get_nodes_msg_t ask = {.request = request, .dead_since = since, .has_dead_since = since != UINT64_MAX,
                                .first = true, .has_first = since == UINT64_MAX};
  if (rl_gcs_get_nodes_msg_send(dealer, NULL, &ask) != 0) return -1;
  rl_msg_t m;
  if (!s_wait_reply(dealer, request, &m)) return -1;
  int rc = -1;
  rl_gcs_nodes_msg_t r;
  if (!rl_gcs_nodes_msg_read(&m, &r) || r.nodes.n < 1 || r.has_groups || !r.has_dead_seq) goto out;
  *ndemands = (int)r.nodes.v[0].demands.n;
  *count = *ndemands > 0 ? r.nodes.v[0].demands.v[0].count : 0;
  *seq = r.dead_seq;
  for (rc = 0; rc < (int)r.dead_clients.n && rc < max; rc++) ids[rc] = r.dead_clients.v[rc];
out:
  rl_msg_close(&m);
  return rc;
}

/* A KV_PUT (value NULL: delete) or KV_GET (get true) round trip. Returns 1 and the
 * value (or NULL for nil) in out/outlen, 0 on a bad reply, 2 on an error reply. */
static int s_kv(void *dealer, bool get, uint64_t request, const char *key, size_t klen, const char *value,
                size_t vlen, char *out, size_t *outlen) {
  request += S_REQUEST_BASE;
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, get ? RL_GCS_KV_GET : RL_GCS_KV_PUT, get ? 2 : 3);
  msgpack_pack_uint64(&b.pk, request);
  msgpack_pack_str(&b.pk, klen);
  msgpack_pack_str_body(&b.pk, key, klen);
  if (!get) {
    if (value) rl_pack_bin(&b.pk, value, vlen);
    else msgpack_pack_nil(&b.pk);
  }
  if (rl_msg_send(dealer, NULL, &b) != 0) return 0;
  rl_msg_t m;
  if (!s_wait_reply(dealer, request, &m)) return 0;
  int rc = 0;
  rl_gcs_kv_reply_msg_t r;
  *outlen = 0;
  out[0] = 0;
  if (!rl_gcs_kv_reply_msg_read(&m, &r) || r.request != request) goto done;
  if (r.has_error) {
    rc = 2;
  } else if (!r.has_value) {
    rc = 1;
    *outlen = (size_t)-1;
  } else if (r.value.n < 64) {
    if (r.value.n) memcpy(out, r.value.p, r.value.n);
    *outlen = r.value.n;
    rc = 1;
  }
done:
  rl_msg_close(&m);
  return rc;
}

int rl_gcs_selftest(void) {
  int prev_level = rl_log_level;
  rl_log_level = RL_LOG_ERROR; /* the junk below is expected to be dropped with warnings */
  void *ctx = zmq_ctx_new();
  void *dealer = zmq_socket(ctx, ZMQ_DEALER), *other = NULL;
  int zero = 0;
  rl_test_head_t head = {0};
  char ep[64];
  snprintf(ep, sizeof ep, "inproc://gcs-selftest-%d", (int)getpid());
  S_CHECK(dealer);
  /* Unlimited queues: the junk below must not push the valid requests out. */
  zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(dealer, ZMQ_SNDHWM, &zero, sizeof zero);
  S_CHECK(rl_test_head_start(&head, ctx, ep, (rl_gcs_opts_t){.heartbeat_timeout_ms = 300, .kv_max_bytes = 1 << 20}) ==
          0);
  S_CHECK(zmq_connect(dealer, ep) == 0);

  /* Junk. 1: random frames, some with a valid header so the body parser and the
   * handlers see random msgpack. */
  unsigned char buf[256];
  for (int i = 0; i < 2000; i++) {
    size_t n = s_rand() % sizeof buf;
    for (size_t j = 0; j < n; j++) {
      buf[j] = (unsigned char)s_rand();
    }
    if (n > 1 && i % 2) buf[0] = RL_WIRE_VERSION;
    if (n > 4 && i % 4 == 1) {
      buf[1] = (unsigned char)(RL_GCS_REGISTER_NODE + s_rand() % 7);
      buf[4] = (unsigned char)(0x90 | (s_rand() % 6)); /* an array of 0-5 random fields */
    }
    s_send_raw(dealer, buf, n);
  }
  /* 2: a valid registration cut at every length. */
  rl_id_t node = rl_id_random(), id;
  rl_resources_t total, avail, t, a;
  rl_res_clear(&total);
  rl_res_set(&total, "CPU", 4, NULL, 0);
  rl_res_set(&total, "GPU", 1, NULL, 0);
  rl_msgbuf_t b;
  s_build_register(&b, &node, "tcp://127.0.0.1:7001", &total, 4242);
  size_t full = b.sb.size;
  rl_msgbuf_reset(&b);
  for (size_t len = 0; len < full; len++) {
    s_build_register(&b, &node, "tcp://127.0.0.1:7001", &total, 4242);
    s_send_truncated(dealer, &b, len);
  }
  /* 3: wrong field types and counts for every message type (placement groups' and the
   * state API's too). */
  for (int type = RL_GCS_REGISTER_NODE; type <= RL_GCS_STATE; type++) {
    if (type == RL_GCS_REREGISTER + 1) type = RL_GCS_PG_CREATE;
    if (type == RL_GCS_CLIENT_GONE + 1) type = RL_GCS_STATE_REPORT;
    for (int variant = 0; variant < 6; variant++) {
      rl_msgbuf_init(&b, (uint8_t)type, (uint32_t)variant);
      for (int f = 0; f < variant; f++) {
        switch ((variant + f) % 5) {
          case 0: msgpack_pack_nil(&b.pk); break;
          case 1: msgpack_pack_int64(&b.pk, -5); break;
          case 2: rl_pack_str(&b.pk, "not what you want"); break;
          case 3:
            msgpack_pack_map(&b.pk, 1);
            rl_pack_str(&b.pk, "CPU");
            rl_pack_str(&b.pk, "x");
            break;
          case 4:
            msgpack_pack_array(&b.pk, 2);
            msgpack_pack_double(&b.pk, 1.5);
            msgpack_pack_true(&b.pk);
            break;
        }
      }
      rl_msg_send(dealer, NULL, &b);
    }
  }
  rl_msgbuf_init(&b, RL_GCS_REGISTER_NODE, 4); /* good id, endpoint an integer */
  rl_pack_id(&b.pk, &node);
  msgpack_pack_uint64(&b.pk, 7);
  rl_res_pack(&b.pk, &total);
  msgpack_pack_uint64(&b.pk, 1);
  rl_msg_send(dealer, NULL, &b);
  rl_msgbuf_init(&b, RL_GCS_REGISTER_NODE, 4); /* negative resource amount */
  rl_pack_id(&b.pk, &node);
  rl_pack_str(&b.pk, "tcp://x:1");
  msgpack_pack_map(&b.pk, 1);
  rl_pack_str(&b.pk, "CPU");
  msgpack_pack_double(&b.pk, -1);
  msgpack_pack_uint64(&b.pk, 1);
  rl_msg_send(dealer, NULL, &b);
  rl_msgbuf_init(&b, RL_GCS_REGISTER_NODE, 4); /* 15-byte id */
  rl_pack_bin(&b.pk, node.b, 15);
  rl_pack_str(&b.pk, "tcp://x:1");
  rl_res_pack(&b.pk, &total);
  msgpack_pack_uint64(&b.pk, 1);
  rl_msg_send(dealer, NULL, &b);
  /* 4: a 0-byte frame, a bad version, an unknown type, a map body, trailing bytes,
   * and multi-frame garbage. */
  s_send_raw(dealer, "", 0);
  s_send_raw(dealer, "\x02\x3e\x00\x00\x91\x01", 6);
  s_send_raw(dealer, "\x01\xc8\x00\x00\x91\x01", 6);
  s_send_raw(dealer, "\x01\x3e\x00\x00\x81\x01\x01", 7);
  s_send_raw(dealer, "\x01\x3e\x00\x00\x91\x01\x01", 7);
  zmq_send(dealer, "abc", 3, ZMQ_SNDMORE);
  zmq_send(dealer, "\x01\x3e\x00\x00\x91\x01", 6, ZMQ_SNDMORE);
  zmq_send(dealer, "", 0, 0);

  /* The head survived all of it, and no junk became a node. */
  char epout[RL_ENDPOINT_MAX];
  bool alive = false;
  S_CHECK(s_get_nodes(dealer, 1, &id, epout, sizeof epout, &alive, &t, &a) == 0);

  /* Register, list, heartbeat. */
  s_build_register(&b, &node, "tcp://127.0.0.1:7001", &total, 4242);
  S_CHECK(rl_msg_send(dealer, NULL, &b) == 0);
  S_CHECK(s_get_nodes(dealer, 2, &id, epout, sizeof epout, &alive, &t, &a) == 1);
  S_CHECK(rl_id_eq(&id, &node) && !strcmp(epout, "tcp://127.0.0.1:7001") && alive);
  S_CHECK(rl_res_equal(&t, &total) && rl_res_equal(&a, &total));
  S_CHECK(!strcmp(s_listed_gpus, s_gpus)); /* for rayl status */
  s_gpus = NULL; /* registering without one (an older node): "" */
  s_build_register(&b, &node, "tcp://127.0.0.1:7001", &total, 4242);
  S_CHECK(rl_msg_send(dealer, NULL, &b) == 0);
  S_CHECK(s_get_nodes(dealer, 2, &id, epout, sizeof epout, &alive, &t, &a) == 1 && !strcmp(s_listed_gpus, ""));
  avail = total;
  rl_res_set(&avail, "CPU", 2.5, NULL, 0);
  s_send_heartbeat(dealer, &node, &avail);
  rl_id_t stranger = rl_id_random();
  s_send_heartbeat(dealer, &stranger, &avail); /* unknown: asked to register, not added */
  S_CHECK(s_wait_reregister(dealer, &stranger));
  S_CHECK(s_get_nodes(dealer, 3, &id, epout, sizeof epout, &alive, &t, &a) == 1);
  S_CHECK(alive && rl_res_equal(&t, &total) && rl_res_get(&a, "CPU") == 2.5 && rl_res_get(&a, "GPU") == 1);

  /* A second client gets its own replies. */
  other = zmq_socket(ctx, ZMQ_DEALER);
  S_CHECK(other && zmq_connect(other, ep) == 0);
  zmq_setsockopt(other, ZMQ_LINGER, &zero, sizeof zero);
  S_CHECK(s_get_nodes(other, 77, &id, epout, sizeof epout, &alive, &t, &a) == 1);

  /* A heartbeat's demands are listed with its node; the clients it saw die are passed to
   * node managers asking with the last sequence number they saw (none for a new one). */
  rl_id_t dead[3] = {rl_id_random(), rl_id_random()}, got[4];
  rl_msgbuf_init(&b, RL_GCS_HEARTBEAT, 5);
  rl_pack_id(&b.pk, &node);
  rl_res_pack(&b.pk, &avail);
  msgpack_pack_nil(&b.pk); /* no placement group bundles */
  msgpack_pack_array(&b.pk, 1);
  msgpack_pack_array(&b.pk, 3);
  rl_res_pack(&b.pk, &total);
  msgpack_pack_uint64(&b.pk, 5);
  msgpack_pack_true(&b.pk);
  msgpack_pack_array(&b.pk, 2);
  rl_pack_id(&b.pk, &dead[0]);
  rl_pack_id(&b.pk, &dead[1]);
  S_CHECK(rl_msg_send(dealer, NULL, &b) == 0);
  int ndemands;
  uint64_t count, seq;
  S_CHECK(s_get_view(dealer, 80, UINT64_MAX, &ndemands, &count, &seq, got, 4) == 0 && seq == 2);
  S_CHECK(ndemands == 1 && count == 5);
  S_CHECK(s_get_view(dealer, 84, 0, &ndemands, &count, &seq, got, 4) == 2 && rl_id_eq(&got[0], &dead[0]));
  S_CHECK(s_get_view(dealer, 81, 1, &ndemands, &count, &seq, got, 4) == 1 && rl_id_eq(&got[0], &dead[1]));
  S_CHECK(s_get_view(dealer, 82, 2, &ndemands, &count, &seq, got, 4) == 0 && seq == 2);
  rl_msgbuf_init(&b, RL_GCS_HEARTBEAT, 5); /* a bad death list changes nothing */
  rl_pack_id(&b.pk, &node);
  rl_res_pack(&b.pk, &avail);
  msgpack_pack_nil(&b.pk);
  msgpack_pack_array(&b.pk, 0);
  msgpack_pack_array(&b.pk, 1);
  rl_pack_str(&b.pk, "not an id");
  S_CHECK(rl_msg_send(dealer, NULL, &b) == 0);
  S_CHECK(s_get_view(dealer, 83, 2, &ndemands, &count, &seq, got, 4) == 0 && seq == 2 && ndemands == 1);

  /* The state table: a report, then a listing naming the node by id. */
  rl_id_t task = rl_id_random();
  rl_msgbuf_init(&b, RL_GCS_STATE_REPORT, 6);
  rl_pack_id(&b.pk, &dead[0]);
  msgpack_pack_uint64(&b.pk, 4321);
  msgpack_pack_array(&b.pk, 1);
  rl_pack_str(&b.pk, "tcp://127.0.0.1:7001");
  msgpack_pack_array(&b.pk, 1);
  msgpack_pack_array(&b.pk, 9);
  rl_pack_id(&b.pk, &task);
  msgpack_pack_uint64(&b.pk, RL_TS_RUNNING);
  msgpack_pack_uint64(&b.pk, 0);
  rl_pack_str(&b.pk, "work");
  msgpack_pack_uint64(&b.pk, RL_KIND_TASK);
  msgpack_pack_nil(&b.pk);
  msgpack_pack_uint64(&b.pk, 1);
  msgpack_pack_uint64(&b.pk, 99);
  msgpack_pack_nil(&b.pk);
  msgpack_pack_array(&b.pk, 0);
  msgpack_pack_uint64(&b.pk, 0);
  S_CHECK(rl_msg_send(dealer, NULL, &b) == 0);
  rl_msgbuf_init(&b, RL_GCS_LIST_STATE, 2);
  msgpack_pack_uint64(&b.pk, S_REQUEST_BASE + 90);
  rl_pack_str(&b.pk, "tasks");
  S_CHECK(rl_msg_send(dealer, NULL, &b) == 0);
  rl_msg_t reply;
  S_CHECK(s_wait_reply(dealer, S_REQUEST_BASE + 90, &reply));
  const msgpack_object *rows = rl_field(&reply, 1);
  bool listed = reply.type == RL_GCS_STATE && reply.nfields == 4 && rows && rows->type == MSGPACK_OBJECT_ARRAY &&
                rows->via.array.size == 1 && rl_obj_id(&rows->via.array.ptr[0].via.array.ptr[6], &id) &&
                rl_id_eq(&id, &node);
  rl_msg_close(&reply);
  S_CHECK(listed);

  /* KV: put returns the previous value, nil deletes, errors come back as a third field. */
  char out[64];
  size_t outlen;
  S_CHECK(s_kv(dealer, false, 10, "k", 1, "v1", 2, out, &outlen) == 1 && outlen == (size_t)-1);
  S_CHECK(s_kv(dealer, false, 11, "k", 1, "v2", 2, out, &outlen) == 1 && outlen == 2 && !memcmp(out, "v1", 2));
  S_CHECK(s_kv(dealer, true, 12, "k", 1, NULL, 0, out, &outlen) == 1 && outlen == 2 && !memcmp(out, "v2", 2));
  S_CHECK(s_kv(dealer, false, 13, "e", 1, "", 0, out, &outlen) == 1 && outlen == (size_t)-1);
  S_CHECK(s_kv(dealer, true, 14, "e", 1, NULL, 0, out, &outlen) == 1 && outlen == 0); /* empty, not nil */
  S_CHECK(s_kv(dealer, false, 15, "k", 1, NULL, 0, out, &outlen) == 1 && outlen == 2 && !memcmp(out, "v2", 2));
  S_CHECK(s_kv(dealer, true, 16, "k", 1, NULL, 0, out, &outlen) == 1 && outlen == (size_t)-1);
  S_CHECK(s_kv(dealer, false, 17, "", 0, "x", 1, out, &outlen) == 2);
  S_CHECK(s_kv(dealer, true, 18, "", 0, NULL, 0, out, &outlen) == 1 && outlen == (size_t)-1);

  /* Liveness: without heartbeats the node dies (timeout 300 ms); a heartbeat revives
   * it; re-registering resets available. */
  int64_t end = rl_now_ms() + 5000;
  do {
    usleep(50000);
    S_CHECK(s_get_nodes(dealer, 20, &id, epout, sizeof epout, &alive, &t, &a) == 1);
  } while (alive && rl_now_ms() < end);
  S_CHECK(!alive);
  s_send_heartbeat(dealer, &node, &avail);
  S_CHECK(s_get_nodes(dealer, 21, &id, epout, sizeof epout, &alive, &t, &a) == 1 && alive);
  s_build_register(&b, &node, "ipc:///tmp/rayl-node", &total, 4243);
  S_CHECK(rl_msg_send(dealer, NULL, &b) == 0);
  S_CHECK(s_get_nodes(dealer, 22, &id, epout, sizeof epout, &alive, &t, &a) == 1);
  S_CHECK(alive && !strcmp(epout, "ipc:///tmp/rayl-node") && rl_res_equal(&a, &total));

  /* Stop. */
  S_CHECK(rl_test_head_stop(&head) == 0);
  zmq_close(other);
  zmq_close(dealer);
  zmq_ctx_term(ctx);
  rl_log_level = prev_level;
  return 0;
fail:
  rl_test_head_stop(&head);
  if (other) zmq_close(other);
  if (dealer) zmq_close(dealer);
  zmq_ctx_term(ctx);
  rl_log_level = prev_level;
  return 1;
}

/* The loop started on a database, stopped and started again on it, three times: the KV
 * store is back at once; a node is listed again (alive) once it heartbeats; one that
 * never does is dead at the timeout from the start, and stays dead in the file; a node
 * the head never knew is asked to register. */
int rl_gcs_restart_selftest(void) {
  int prev_level = rl_log_level;
  rl_log_level = RL_LOG_ERROR; /* the death below is expected */
  char path[] = "/tmp/rl-gcs-restart-XXXXXX", ep[64], out[64], epout[RL_ENDPOINT_MAX];
  void *ctx = zmq_ctx_new(), *dealer = NULL;
  bool alive = false;
  int zero = 0, fd = mkstemp(path);
  rl_test_head_t head = {0};
  rl_gcs_opts_t opts = {.heartbeat_timeout_ms = 400, .kv_max_bytes = 1 << 20, .db_path = path};
  rl_id_t a = rl_id_random(), b = rl_id_random(), stranger = rl_id_random(), id;
  rl_resources_t total, t, av;
  rl_msgbuf_t m;
  size_t outlen;
  S_CHECK(fd >= 0);
  close(fd);
  rl_res_clear(&total);
  rl_res_set(&total, "CPU", 2, NULL, 0);
  for (int round = 0; round < 3; round++) {
    snprintf(ep, sizeof ep, "inproc://gcs-restart-%d-%d", (int)getpid(), round); /* closing unbinds late */
    dealer = zmq_socket(ctx, ZMQ_DEALER);
    S_CHECK(dealer);
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    S_CHECK(rl_test_head_start(&head, ctx, ep, opts) == 0 && zmq_connect(dealer, ep) == 0);
    if (round == 0) {
      s_build_register(&m, &a, "tcp://127.0.0.1:7101", &total, 101);
      S_CHECK(rl_msg_send(dealer, NULL, &m) == 0);
      s_build_register(&m, &b, "tcp://127.0.0.1:7102", &total, 102);
      S_CHECK(rl_msg_send(dealer, NULL, &m) == 0);
      S_CHECK(s_kv(dealer, false, 30, "name", 4, "keeper", 6, out, &outlen) == 1);
      S_CHECK(s_kv(dealer, false, 31, "gone", 4, "x", 1, out, &outlen) == 1);
      S_CHECK(s_kv(dealer, false, 32, "gone", 4, NULL, 0, out, &outlen) == 1);
      S_CHECK(s_get_nodes(dealer, 33, &id, epout, sizeof epout, &alive, &t, &av) == 2);
    } else if (round == 1) {
      S_CHECK(s_kv(dealer, true, 40, "name", 4, NULL, 0, out, &outlen) == 1 && outlen == 6 &&
              !memcmp(out, "keeper", 6));
      S_CHECK(s_kv(dealer, true, 41, "gone", 4, NULL, 0, out, &outlen) == 1 && outlen == (size_t)-1);
      S_CHECK(s_get_nodes(dealer, 42, &id, epout, sizeof epout, &alive, &t, &av) == 0); /* both pending */
      s_send_heartbeat(dealer, &a, &total);
      S_CHECK(s_get_nodes(dealer, 43, &id, epout, sizeof epout, &alive, &t, &av) == 1);
      S_CHECK(rl_id_eq(&id, &a) && alive && !strcmp(epout, "tcp://127.0.0.1:7101") && rl_res_equal(&t, &total));
      /* b, never heard from, is listed once the timeout has passed: dead. */
      int listed = 1;
      for (int64_t end = rl_now_ms() + 5000; listed == 1 && rl_now_ms() < end;) {
        usleep(50000);
        s_send_heartbeat(dealer, &a, &total);
        listed = s_get_nodes(dealer, 44, &id, epout, sizeof epout, &alive, &t, &av);
      }
      /* (s_get_nodes gives the first node's fields, but the last node's id) */
      S_CHECK(listed == 2 && !strcmp(epout, "tcp://127.0.0.1:7101") && alive && rl_id_eq(&id, &b));
      s_send_heartbeat(dealer, &stranger, &total);
      S_CHECK(s_wait_reregister(dealer, &stranger));
      S_CHECK(s_get_nodes(dealer, 45, &id, epout, sizeof epout, &alive, &t, &av) == 2);
    } else {
      /* b's death was saved: it is listed, dead, at once; a is pending again. */
      S_CHECK(s_get_nodes(dealer, 50, &id, epout, sizeof epout, &alive, &t, &av) == 1);
      S_CHECK(rl_id_eq(&id, &b) && !alive && !strcmp(epout, "tcp://127.0.0.1:7102"));
    }
    S_CHECK(rl_test_head_stop(&head) == 0);
    zmq_close(dealer);
    dealer = NULL;
  }
  zmq_ctx_term(ctx);
  rl_gcs_db_remove(path);
  rl_log_level = prev_level;
  return 0;
fail:
  rl_test_head_stop(&head);
  if (dealer) zmq_close(dealer);
  zmq_ctx_term(ctx);
  rl_gcs_db_remove(path);
  rl_log_level = prev_level;
  return 1;
}
