/* pg_service_test.c: the head's placement group protocol end to end: rl_gcs_serve in a
 * thread, a client and a node manager played by DEALER sockets over inproc://. */
#include "common/selftest.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "head/gcs_server.h"
#include "head/test_head.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/res_pack.h"
#include "wire/wire.h"

#define S_CHECK(c) RL_CHECK_GOTO(c)

static rl_resources_t s_cpu(double n) {
  rl_resources_t r;
  rl_res_clear(&r);
  rl_res_set(&r, "CPU", n, NULL, 0);
  return r;
}

static void s_create(void *client, uint64_t request, const rl_id_t *id, const char *name, const char *strategy,
                     const double *cpus, int n, const rl_id_t *creator) {
  rl_resources_t bundles[8];
  for (int i = 0; i < n && i < 8; i++) bundles[i] = s_cpu(cpus[i]);
  rl_gcs_pg_create_msg_t q = {.request = request, .pg_id = *id, .name = rl_wire_str(name),
                              .strategy = rl_wire_str(strategy), .bundles = {(uint32_t)(n < 8 ? n : 8), bundles},
                              .detached = false, .creator = *creator};
  rl_gcs_pg_create_msg_send(client, NULL, &q);
}

/* PG_WAIT or PG_REMOVE [request, pg_id]. */
static void s_request(void *client, int type, uint64_t request, const rl_id_t *id) {
  if (type == RL_GCS_PG_WAIT) {
    rl_gcs_pg_wait_msg_t q = {.request = request, .pg_id = *id};
    rl_gcs_pg_wait_msg_send(client, NULL, &q);
  } else {
    rl_gcs_pg_remove_msg_t q = {.request = request, .pg_id = *id};
    rl_gcs_pg_remove_msg_send(client, NULL, &q);
  }
}

/* The node's answer to a RESERVE it received (m), with what it has left. */
static void s_answer(void *node, rl_msg_t *m, bool ok, double available, double reserved) {
  rl_gcs_pg_reserve_msg_t ask;
  if (!rl_gcs_pg_reserve_msg_read(m, &ask)) return;
  rl_gcs_pg_reserved_msg_t r = {.pg_id = ask.pg_id, .index = ask.index, .attempt = ask.attempt, .ok = ok,
                                .available = s_cpu(available), .reserved = s_cpu(reserved)};
  rl_gcs_pg_reserved_msg_send(node, NULL, &r);
}

/* The error text of field i, or "" if it has none. */
static const char *s_text(rl_msg_t *m, uint32_t i, char *buf, size_t n) {
  if (!rl_field_strcpy(m, i, buf, n)) buf[0] = 0;
  return buf;
}

int rl_pg_service_selftest(void) {
  int prev_level = rl_log_level;
  rl_log_level = RL_LOG_ERROR;
  void *ctx = zmq_ctx_new();
  void *client = zmq_socket(ctx, ZMQ_DEALER), *node = zmq_socket(ctx, ZMQ_DEALER);
  rl_test_head_t head = {0};
  int zero = 0;
  char ep[64], text[300];
  rl_id_t node_id = rl_id_random(), me = rl_id_random(), other = rl_id_random(), g1 = rl_id_random(),
          g2 = rl_id_random();
  rl_msg_t m;
  uint64_t version, request;
  rl_resources_t res, four = s_cpu(4);
  rl_msgbuf_t b;
  snprintf(ep, sizeof ep, "inproc://pg-selftest-%d", (int)getpid());
  S_CHECK(client && node);
  zmq_setsockopt(client, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(node, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(node, ZMQ_ROUTING_ID, node_id.b, RL_ID_SIZE); /* as a node manager does */
  S_CHECK(rl_test_head_start(&head, ctx, ep, (rl_gcs_opts_t){.heartbeat_timeout_ms = 5000, .kv_max_bytes = 1 << 20}) ==
          0);
  S_CHECK(zmq_connect(client, ep) == 0 && zmq_connect(node, ep) == 0);

  /* A node with 4 CPUs. */
  rl_msgbuf_init(&b, RL_GCS_REGISTER_NODE, 4);
  rl_pack_id(&b.pk, &node_id);
  rl_pack_str(&b.pk, "tcp://127.0.0.1:7001");
  rl_res_pack(&b.pk, &four);
  msgpack_pack_uint64(&b.pk, 1);
  S_CHECK(rl_msg_send(node, NULL, &b) == 0);
  rl_msgbuf_init(&b, RL_GCS_GET_NODES, 1); /* answered once the registration is in */
  msgpack_pack_uint64(&b.pk, 0);
  rl_msg_send(node, NULL, &b);
  S_CHECK(rl_test_head_next(node, RL_GCS_NODES, &m));
  rl_msg_close(&m);

  /* Create {1}, {2} STRICT_PACK: accepted at once, and the node is asked to reserve
   * both bundles; a waiter is answered once both are confirmed. */
  double b12[2] = {1, 2};
  s_create(client, 1, &g1, "one", "STRICT_PACK", b12, 2, &me);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_REPLY, &m) && rl_field_u64(&m, 0, &request) && request == 1 && m.nfields == 1);
  rl_msg_close(&m);
  s_request(client, RL_GCS_PG_WAIT, 2, &g1);
  for (int i = 0; i < 2; i++) {
    S_CHECK(rl_test_head_next(node, RL_GCS_PG_RESERVE, &m));
    rl_gcs_pg_reserve_msg_t ask;
    bool ok = rl_gcs_pg_reserve_msg_read(&m, &ask) && rl_id_eq(&ask.pg_id, &g1) &&
              rl_res_get(&ask.resources, "CPU") == (ask.index == 0 ? 1 : 2);
    if (ok) s_answer(node, &m, true, 4 - (i ? 3 : 1), i ? 3 : 1);
    rl_msg_close(&m);
    S_CHECK(ok);
  }
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_READY, &m) && rl_field_u64(&m, 0, &request) && request == 2 && m.nfields == 2);
  rl_msg_close(&m);
  /* The node is told where the group's bundles are (both on it). */
  S_CHECK(rl_test_head_next(node, RL_GCS_PG_PLACEMENT, &m));
  rl_gcs_pg_placement_msg_t pl;
  bool placed = rl_gcs_pg_placement_msg_read(&m, &pl) && rl_id_eq(&pl.pg_id, &g1) && pl.has_bundles &&
                pl.bundles.n == 2 && pl.bundles.v[1].has_node_id && rl_id_eq(&pl.bundles.v[1].node_id, &node_id);
  version = pl.version;
  rl_msg_close(&m);
  S_CHECK(placed);
  /* Waiting on a created group is answered at once; listing shows it. */
  s_request(client, RL_GCS_PG_WAIT, 3, &g1);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_READY, &m) && m.nfields == 2);
  rl_msg_close(&m);
  rl_gcs_pg_get_msg_t get = {.request = 4, .name = rl_wire_str("one"), .has_name = true};
  rl_gcs_pg_get_msg_send(client, NULL, &get);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_INFO, &m));
  rl_gcs_pg_info_msg_t info;
  bool listed = rl_gcs_pg_info_msg_read(&m, &info) && info.request == 4 && info.groups.n == 1 &&
                info.groups.v[0].state.n == 7 && !memcmp(info.groups.v[0].state.p, "CREATED", 7);
  rl_msg_close(&m);
  S_CHECK(listed);

  /* Refused: a taken name, an unknown strategy; dropped: a malformed request (the
   * next one is still answered). */
  s_create(client, 5, &g2, "one", "PACK", b12, 1, &me);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_REPLY, &m) && strstr(s_text(&m, 1, text, sizeof text), "named 'one'"));
  rl_msg_close(&m);
  s_create(client, 6, &g2, "", "NEAREST", b12, 1, &me);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_REPLY, &m) && strstr(s_text(&m, 1, text, sizeof text), "unknown strategy"));
  rl_msg_close(&m);
  rl_msgbuf_init(&b, RL_GCS_PG_CREATE, 2);
  msgpack_pack_uint64(&b.pk, 7);
  rl_pack_str(&b.pk, "not an id");
  rl_msg_send(client, NULL, &b); /* refused, naming the field */
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_REPLY, &m) && strstr(s_text(&m, 1, text, sizeof text), "field 'pg_id'"));
  rl_msg_close(&m);
  /* A node manager's view: the table when its version differs, nothing when it is
   * the head's. */
  rl_msgbuf_init(&b, RL_GCS_GET_NODES, 2);
  msgpack_pack_uint64(&b.pk, 8);
  msgpack_pack_uint64(&b.pk, 0);
  rl_msg_send(node, NULL, &b);
  S_CHECK(rl_test_head_next(node, RL_GCS_NODES, &m));
  rl_gcs_nodes_msg_t view;
  bool viewed = rl_gcs_nodes_msg_read(&m, &view) && view.has_pg_version && view.pg_version == version &&
                view.has_groups && view.groups.n == 1 && rl_id_eq(&view.groups.v[0].pg_id, &g1);
  rl_msg_close(&m);
  S_CHECK(viewed);
  rl_msgbuf_init(&b, RL_GCS_GET_NODES, 2);
  msgpack_pack_uint64(&b.pk, 9);
  msgpack_pack_uint64(&b.pk, version);
  rl_msg_send(node, NULL, &b);
  S_CHECK(rl_test_head_next(node, RL_GCS_NODES, &m) && rl_gcs_nodes_msg_read(&m, &view) && view.pg_version == version &&
          !view.has_groups);
  rl_msg_close(&m);

  /* A second group (another creator): the node refuses the first reservation (busy);
   * the head asks again after a moment, and the group is created. */
  double b1[1] = {1};
  s_create(client, 10, &g2, "", "PACK", b1, 1, &other);
  S_CHECK(rl_test_head_next(node, RL_GCS_PG_RESERVE, &m));
  s_answer(node, &m, false, 0, 3);
  rl_msg_close(&m);
  int64_t refused_at = rl_now_ms();
  rl_msgbuf_init(&b, RL_GCS_HEARTBEAT, 3); /* the node frees up */
  rl_pack_id(&b.pk, &node_id);
  res = s_cpu(1);
  rl_res_pack(&b.pk, &res);
  res = s_cpu(3);
  rl_res_pack(&b.pk, &res);
  rl_msg_send(node, NULL, &b);
  S_CHECK(rl_test_head_next(node, RL_GCS_PG_RESERVE, &m) && rl_now_ms() - refused_at >= 150);
  s_answer(node, &m, true, 0, 4);
  rl_msg_close(&m);
  s_request(client, RL_GCS_PG_WAIT, 11, &g2);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_READY, &m) && m.nfields == 2);
  rl_msg_close(&m);

  /* The first creator leaves: its group is removed (the node is told), the other's stays. */
  rl_msgbuf_init(&b, RL_GCS_CLIENT_GONE, 1);
  rl_pack_id(&b.pk, &me);
  rl_msg_send(node, NULL, &b);
  bool removed = false;
  while (!removed && rl_test_head_next(node, RL_GCS_PG_PLACEMENT, &m)) {
    rl_gcs_pg_placement_msg_t pl;
    removed = rl_gcs_pg_placement_msg_read(&m, &pl) && rl_id_eq(&pl.pg_id, &g1) && !pl.has_bundles;
    rl_msg_close(&m);
  }
  S_CHECK(removed);
  s_request(client, RL_GCS_PG_WAIT, 12, &g1);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_READY, &m) && strstr(s_text(&m, 2, text, sizeof text), "does not exist"));
  rl_msg_close(&m);
  /* Removing the second answers its waiters (none) and tells the node; again: an error. */
  s_request(client, RL_GCS_PG_REMOVE, 13, &g2);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_REPLY, &m) && m.nfields == 1);
  rl_msg_close(&m);
  s_request(client, RL_GCS_PG_REMOVE, 14, &g2);
  S_CHECK(rl_test_head_next(client, RL_GCS_PG_REPLY, &m) && strstr(s_text(&m, 1, text, sizeof text), "no placement group"));
  rl_msg_close(&m);

  S_CHECK(rl_test_head_stop(&head) == 0);
  zmq_close(client);
  zmq_close(node);
  zmq_ctx_term(ctx);
  rl_log_level = prev_level;
  return 0;
fail:
  rl_test_head_stop(&head);
  zmq_close(client);
  zmq_close(node);
  zmq_ctx_term(ctx);
  rl_log_level = prev_level;
  return 1;
}
