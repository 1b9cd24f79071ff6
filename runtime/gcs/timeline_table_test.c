/* timeline_table_test.c: timeline_table.c's selftest, built into rl_selftest only (not librayl). */
#include "gcs/timeline_table.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

/* A report of one owner with n spans named "f<i>" on node 1, starting at i * 10. */
static void s_report(rl_msgbuf_t *b, const rl_id_t *owner, int n, bool bad) {
  rl_msgbuf_init(b, RL_GCS_STATE_REPORT, 8);
  rl_pack_id(&b->pk, owner);
  msgpack_pack_uint64(&b->pk, 42);
  msgpack_pack_array(&b->pk, 1);
  rl_pack_str(&b->pk, "tcp://n1:1");
  msgpack_pack_array(&b->pk, 0);
  msgpack_pack_array(&b->pk, 0);
  msgpack_pack_uint64(&b->pk, 0);
  msgpack_pack_array(&b->pk, (uint32_t)n);
  for (int i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "f%d", i);
    rl_id_t id = rl_id_random();
    msgpack_pack_array(&b->pk, 9);
    rl_pack_id(&b->pk, &id);
    rl_pack_str(&b->pk, name);
    msgpack_pack_uint64(&b->pk, RL_KIND_TASK);
    msgpack_pack_nil(&b->pk);
    msgpack_pack_uint64(&b->pk, bad && i == n - 1 ? 7 : 1);
    msgpack_pack_uint64(&b->pk, 777);
    msgpack_pack_uint64(&b->pk, (uint64_t)i * 10);
    msgpack_pack_uint64(&b->pk, (uint64_t)i * 10 + 5);
    msgpack_pack_false(&b->pk);
  }
  msgpack_pack_uint64(&b->pk, 2); /* spans_dropped */
}

static int s_received(rl_msgbuf_t *b, rl_msg_t *m) {
  memset(m, 0, sizeof *m);
  zmq_msg_init(&m->identity);
  zmq_msg_init_size(&m->frame, b->sb.size);
  memcpy(zmq_msg_data(&m->frame), b->sb.data, b->sb.size);
  rl_msgbuf_reset(b);
  m->type = ((uint8_t *)zmq_msg_data(&m->frame))[1];
  msgpack_unpacked_init(&m->up);
  if (msgpack_unpack_next(&m->up, (const char *)zmq_msg_data(&m->frame) + RL_MSG_HEADER,
                          zmq_msg_size(&m->frame) - RL_MSG_HEADER, NULL) != MSGPACK_UNPACK_SUCCESS ||
      m->up.data.type != MSGPACK_OBJECT_ARRAY)
    return -1;
  m->fields = m->up.data.via.array.ptr;
  m->nfields = m->up.data.via.array.size;
  return 0;
}

static rl_id_t s_node;

/* Reads m as RL_GCS_STATE_REPORT and applies it (rl_timeline_table_report). */
static int s_apply(rl_timeline_table_t *t, const rl_msg_t *m, rl_state_node_fn *resolve, void *ctx, char *err, size_t errlen) {
  rl_gcs_state_report_msg_t r;
  if (rl_gcs_state_report_msg_unpack(m, &r, err, errlen) != 0) return -1;
  return rl_timeline_table_report(t, &r, resolve, ctx, err, errlen);
}

static bool s_resolve(void *ctx, const char *ep, size_t len, rl_id_t *out) {
  (void)ctx;
  if (len != 10 || memcmp(ep, "tcp://n1:1", 10)) return false;
  *out = s_node;
  return true;
}

static bool s_first_name(void *ctx, const rl_timeline_event_t *e) {
  snprintf(ctx, 16, "%.15s", e->name);
  return false;
}

int rl_timeline_table_selftest(void) {
  rl_timeline_table_t *t = rl_timeline_table_new(4);
  rl_msgbuf_t b;
  rl_msg_t m;
  char err[200], first[16] = "";
  int fails = 0;
  rl_id_t owner = rl_id_random();
  s_node = rl_id_random();
  RL_CHECK_COUNT(t != NULL && rl_timeline_table_new(0) == NULL, fails);
  if (!t) return 1;
  /* Three spans kept, in order, with node and owner resolved. */
  s_report(&b, &owner, 3, false);
  RL_CHECK_COUNT(s_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0, fails);
  rl_msg_close(&m);
  RL_CHECK_COUNT(rl_timeline_table_count(t) == 3, fails);
  rl_timeline_table_each(t, s_first_name, first);
  RL_CHECK_COUNT(!strcmp(first, "f0"), fails);
  /* A bad span (node index beyond the list) adds nothing. */
  s_report(&b, &owner, 2, true);
  RL_CHECK_COUNT(s_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == -1,
                 fails);
  RL_CHECK_COUNT(strstr(err, "node") != NULL && rl_timeline_table_count(t) == 3, fails);
  rl_msg_close(&m);
  /* Beyond max the oldest go first. */
  s_report(&b, &owner, 3, false);
  RL_CHECK_COUNT(s_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0, fails);
  rl_msg_close(&m);
  RL_CHECK_COUNT(rl_timeline_table_count(t) == 4 && rl_timeline_table_evicted(t) == 2, fails);
  RL_CHECK_COUNT(rl_timeline_table_dropped(t) == 4, fails); /* 2 per report taken */
  rl_timeline_table_each(t, s_first_name, first);
  RL_CHECK_COUNT(!strcmp(first, "f2"), fails);
  /* As rows: each event with the node id resolved. */
  rl_wire_timeline_event_t rows[4];
  rl_timeline_table_rows(t, rows);
  RL_CHECK_COUNT(rows[0].has_node_id && rl_id_eq(&rows[0].node_id, &s_node) && rows[0].name.n == 2 &&
                     !memcmp(rows[0].name.p, "f2", 2) && rows[3].start_us == 20 && rows[3].end_us == 25,
                 fails);
  rl_timeline_table_destroy(&t);
  rl_timeline_table_destroy(&t);
  RL_CHECK_COUNT(t == NULL, fails);
  return fails ? 1 : 0;
}
