/* msg_test.c: msg.c's selftest, built into rl_selftest only (not librayl). */
#include "wire/msg.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

/* A message of type 9 whose one field is n. */
static void s_test_msg(rl_msgbuf_t *b, uint64_t n) {
  rl_msgbuf_init(b, 9, 1);
  msgpack_pack_uint64(&b->pk, n);
}

/* Reads what waits on sock (batches too), each message's field appended to got. */
static int s_test_read(void *sock, bool router, uint64_t *got, int max) {
  int n = 0;
  zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
  rl_msg_t m;
  while (zmq_poll(&it, 1, 100) == 1 && rl_msg_recv(sock, router, &m) == 1) {
    do {
      uint64_t v;
      if (n < max && rl_field_u64(&m, 0, &v) && (!router || zmq_msg_size(&m.identity) == 2)) got[n++] = v;
    } while (rl_msg_next(&m) > 0);
    rl_msg_close(&m);
  }
  return n;
}

/* Batched messages arrive only once flushed, all of them, in order, after nothing sent
 * before them and before what is sent plainly after them; a ROUTER's batch for one peer
 * ends when another peer's begins; a full batch goes by itself; a batch left unread is
 * dropped by rl_msg_close, not read as messages. */
static int s_batch_selftest(void *ctx) {
  int owner, fails = 0;
  uint64_t got[200];
  void *router = zmq_socket(ctx, ZMQ_ROUTER), *d1 = zmq_socket(ctx, ZMQ_DEALER), *d2 = zmq_socket(ctx, ZMQ_DEALER);
  zmq_setsockopt(d1, ZMQ_ROUTING_ID, "d1", 2);
  zmq_setsockopt(d2, ZMQ_ROUTING_ID, "d2", 2);
  zmq_bind(router, "inproc://batchtest");
  zmq_connect(d1, "inproc://batchtest");
  zmq_connect(d2, "inproc://batchtest");
  rl_msgbuf_t b;
  for (uint64_t i = 1; i <= 3; i++) {
    s_test_msg(&b, i);
    RL_CHECK_COUNT(rl_msg_send_batched(d1, NULL, &b, &owner) == 0, fails);
  }
  zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
  RL_CHECK_COUNT(zmq_poll(&it, 1, 20) == 0, fails); /* held until flushed */
  s_test_msg(&b, 4);
  rl_msg_send(d1, NULL, &b); /* ends the batch first */
  int n = s_test_read(router, true, got, 200);
  RL_CHECK_COUNT(n == 4 && got[0] == 1 && got[1] == 2 && got[2] == 3 && got[3] == 4, fails);
  /* The router answers d1 and d2 in batches: d2's first message ends d1's batch. */
  zmq_msg_t id1, id2;
  zmq_msg_init_data(&id1, "d1", 2, NULL, NULL);
  zmq_msg_init_data(&id2, "d2", 2, NULL, NULL);
  for (uint64_t i = 10; i < 13; i++) {
    s_test_msg(&b, i);
    rl_msg_send_batched(router, &id1, &b, &owner);
  }
  s_test_msg(&b, 20);
  rl_msg_send_batched(router, &id2, &b, &owner);
  rl_msg_flush(&owner);
  RL_CHECK_COUNT(s_test_read(d1, false, got, 200) == 3 && got[0] == 10 && got[2] == 12, fails);
  RL_CHECK_COUNT(s_test_read(d2, false, got, 200) == 1 && got[0] == 20, fails);
  /* A full batch goes without a flush (however long the sends take here: the age rule
   * is off for this check). */
  s_batch_age_us = INT64_MAX;
  for (uint64_t i = 0; i < RL_MSG_BATCH_PARTS; i++) {
    s_test_msg(&b, i);
    rl_msg_send_batched(d2, NULL, &b, &owner);
  }
  s_batch_age_us = RL_MSG_BATCH_US;
  n = s_test_read(router, true, got, 200);
  RL_CHECK_COUNT(n == RL_MSG_BATCH_PARTS && got[RL_MSG_BATCH_PARTS - 1] == RL_MSG_BATCH_PARTS - 1, fails);
  /* Closing a batch after its first message drops the rest; the next message is whole. */
  for (uint64_t i = 0; i < 3; i++) {
    s_test_msg(&b, i);
    rl_msg_send_batched(d1, NULL, &b, &owner);
  }
  rl_msg_flush(&owner);
  s_test_msg(&b, 7);
  rl_msg_send(d1, NULL, &b);
  zmq_poll(&it, 1, 100);
  rl_msg_t m;
  RL_CHECK_COUNT(rl_msg_recv(router, true, &m) == 1 && m.more, fails);
  rl_msg_close(&m);
  RL_CHECK_COUNT(s_test_read(router, true, got, 200) == 1 && got[0] == 7, fails);
  RL_CHECK_COUNT(atomic_load(&s_open) == 0, fails);
  zmq_close(router);
  zmq_close(d1);
  zmq_close(d2);
  return fails;
}

int rl_msg_selftest(void) {
  void *ctx = zmq_ctx_new();
  void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
  if (zmq_bind(a, "inproc://msgtest") != 0 || zmq_connect(b, "inproc://msgtest") != 0) return 1;
  rl_msgbuf_t mb;
  rl_msgbuf_init(&mb, 7, 3);
  rl_id_t id = rl_id_random();
  rl_pack_id(&mb.pk, &id);
  msgpack_pack_uint64(&mb.pk, 42);
  rl_pack_str(&mb.pk, "hello");
  if (rl_msg_send(a, NULL, &mb) != 0) return 1;
  zmq_pollitem_t it = {b, 0, ZMQ_POLLIN, 0};
  zmq_poll(&it, 1, 1000);
  rl_msg_t m;
  if (rl_msg_recv(b, false, &m) != 1) return 1;
  rl_id_t got;
  uint64_t v;
  char s[16];
  int ok = m.type == 7 && m.nfields == 3 && rl_field_id(&m, 0, &got) && rl_id_eq(&got, &id) &&
           rl_field_u64(&m, 1, &v) && v == 42 && rl_field_strcpy(&m, 2, s, sizeof s) &&
           !strcmp(s, "hello") && !rl_field_u64(&m, 2, &v) && !rl_field(&m, 3);
  rl_msg_close(&m);
  /* Junk: bad version, truncated msgpack, trailing bytes, empty frame. */
  const char *junk[] = {"\x09\x01\x00\x00\x90", "\x01\x01\x00\x00\x93\x01", "\x01\x01\x00\x00\x90\x90", "",
                        "\x01\x3e\x00\x00\xdd\xff\xff\xff\xff", "\x01\x3e\x00\x00\xdf\x7f\xff\xff\xff"};
  size_t lens[] = {5, 6, 6, 0, 9, 9};
  int prev = rl_log_level;
  rl_log_level = -1;
  for (int i = 0; i < 6; i++) {
    zmq_send(a, junk[i], lens[i], 0);
    zmq_poll(&it, 1, 1000);
    ok = ok && rl_msg_recv(b, false, &m) == -1;
  }
  rl_log_level = prev;
  ok = ok && rl_msg_recv(b, false, &m) == 0;
  zmq_close(a);
  zmq_close(b);
  ok = ok && s_batch_selftest(ctx) == 0;
  zmq_ctx_term(ctx);
  return ok ? 0 : 1;
}
