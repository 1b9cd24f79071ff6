/* state_table_test.c: state_table.c's selftest, built into rl_selftest only (not librayl). */
#include "gcs/state_table.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* A report from owner with one task row and one actor row (NULL: none); node 1 is
 * "tcp://n1:1". */
typedef struct {
  const rl_id_t *id;
  int state;
  const char *name;
  int node;
  const char *error;
} s_trow_t;

static void s_report(rl_msgbuf_t *b, const rl_id_t *owner, const s_trow_t *tasks, int ntasks, const rl_id_t *actor,
                     int astate, bool detached, const rl_id_t *worker) {
  rl_msgbuf_init(b, RL_GCS_STATE_REPORT, 6);
  rl_pack_id(&b->pk, owner);
  msgpack_pack_uint64(&b->pk, 42);
  msgpack_pack_array(&b->pk, 2);
  rl_pack_str(&b->pk, "tcp://n1:1");
  rl_pack_str(&b->pk, "tcp://elsewhere:1");
  msgpack_pack_array(&b->pk, (uint32_t)ntasks);
  for (int i = 0; i < ntasks; i++) {
    bool detail = tasks[i].state == RL_TS_FAILED && tasks[i].error;
    msgpack_pack_array(&b->pk, detail ? 10 : 9);
    rl_pack_id(&b->pk, tasks[i].id);
    msgpack_pack_uint64(&b->pk, (uint64_t)tasks[i].state);
    msgpack_pack_uint64(&b->pk, 0);
    rl_pack_str(&b->pk, tasks[i].name);
    msgpack_pack_uint64(&b->pk, RL_KIND_TASK);
    msgpack_pack_nil(&b->pk);
    msgpack_pack_uint64(&b->pk, (uint64_t)tasks[i].node);
    msgpack_pack_uint64(&b->pk, tasks[i].node ? 777 : 0);
    if (tasks[i].error) rl_pack_str(&b->pk, tasks[i].error);
    else msgpack_pack_nil(&b->pk);
    if (detail) rl_pack_str(&b->pk, "it broke\nremote traceback:\n\tx.lua:1");
  }
  msgpack_pack_array(&b->pk, actor ? 1 : 0);
  if (actor) {
    msgpack_pack_array(&b->pk, 10);
    rl_pack_id(&b->pk, actor);
    msgpack_pack_uint64(&b->pk, (uint64_t)astate);
    rl_pack_str(&b->pk, "Counter");
    rl_pack_str(&b->pk, "ctr");
    rl_pack_str(&b->pk, "ns");
    if (detached) msgpack_pack_true(&b->pk);
    else msgpack_pack_false(&b->pk);
    msgpack_pack_uint64(&b->pk, astate == RL_AS_ALIVE ? 1 : 0);
    msgpack_pack_uint64(&b->pk, 99);
    if (worker) rl_pack_id(&b->pk, worker);
    else msgpack_pack_nil(&b->pk);
    msgpack_pack_nil(&b->pk);
  }
  msgpack_pack_uint64(&b->pk, 3);
}

/* Turns a built message into a received one (header stripped, body unpacked). */
static int s_as_received(rl_msgbuf_t *b, rl_msg_t *m) {
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

/* Reads m as RL_GCS_STATE_REPORT and applies it (rl_state_table_report). */
static int s_apply(rl_state_table_t *t, const rl_msg_t *m, rl_state_node_fn *resolve, void *ctx, char *err, size_t errlen) {
  rl_gcs_state_report_msg_t r;
  if (rl_gcs_state_report_msg_unpack(m, &r, err, errlen) != 0) return -1;
  return rl_state_table_report(t, &r, resolve, ctx, err, errlen);
}

static rl_id_t s_n1;

static bool s_resolve(void *ctx, const char *ep, size_t len, rl_id_t *out) {
  (void)ctx;
  if (len != 10 || memcmp(ep, "tcp://n1:1", 10)) return false;
  *out = s_n1;
  return true;
}

/* The listing as RL_GCS_STATE carries it (packed and unpacked again), seen as
 * [rows, dropped, evicted]. */
static msgpack_object s_view[3];
static msgpack_object s_listed(const rl_state_table_t *t, bool tasks, msgpack_sbuffer *sb, msgpack_unpacked *up) {
  rl_gcs_state_msg_t r = {.has_tasks = tasks, .has_actors = !tasks};
  rl_state_table_losses(t, &r.dropped, &r.evicted);
  r.tasks.n = tasks ? (uint32_t)rl_state_table_tasks(t) : 0;
  r.tasks.v = calloc(r.tasks.n + 1, sizeof *r.tasks.v);
  r.actors.n = tasks ? 0 : (uint32_t)rl_state_table_actors(t);
  r.actors.v = calloc(r.actors.n + 1, sizeof *r.actors.v);
  if (tasks) rl_state_table_task_rows(t, r.tasks.v);
  else rl_state_table_actor_rows(t, r.actors.v);
  rl_msgbuf_t b;
  msgpack_object none = {.type = MSGPACK_OBJECT_NIL};
  int rc = rl_gcs_state_msg_pack(&r, &b, NULL, 0);
  free(r.tasks.v);
  free(r.actors.v);
  if (rc != 0) return none;
  msgpack_sbuffer_clear(sb);
  msgpack_sbuffer_write(sb, b.sb.data + RL_MSG_HEADER, b.sb.size - RL_MSG_HEADER);
  rl_msgbuf_reset(&b);
  if (msgpack_unpack_next(up, sb->data, sb->size, NULL) != MSGPACK_UNPACK_SUCCESS) return none;
  const msgpack_object *f = up->data.via.array.ptr;
  s_view[0] = f[tasks ? 1 : 4], s_view[1] = f[2], s_view[2] = f[3];
  msgpack_object v = {.type = MSGPACK_OBJECT_ARRAY};
  v.via.array.size = 3;
  v.via.array.ptr = s_view;
  return v;
}

static bool s_count_view(void *ctx, const rl_task_view_t *v) {
  ((size_t *)ctx)[v->state]++;
  return true;
}

/* Keeps the first (most recent) task visited. */
static bool s_first_view(void *ctx, const rl_task_view_t *v) {
  *(rl_task_view_t *)ctx = *v;
  return false;
}

int rl_state_table_selftest(void) {
  rl_state_table_t *t = rl_state_table_new(3, 2);
  rl_msgbuf_t b;
  rl_msg_t m;
  char err[200];
  msgpack_sbuffer sb;
  msgpack_unpacked up;
  msgpack_sbuffer_init(&sb);
  msgpack_unpacked_init(&up);
  rl_id_t owner = rl_id_random(), other = rl_id_random(), tid[5], actor = rl_id_random(), worker = rl_id_random();
  s_n1 = rl_id_random();
  for (int i = 0; i < 5; i++) tid[i] = rl_id_random();
  S_CHECK(t);

  /* A task submitted, then running on node 1, then finished; an actor pending, then alive. */
  s_trow_t r = {&tid[0], RL_TS_SUBMITTED, "square", 0, NULL};
  s_report(&b, &owner, &r, 1, &actor, RL_AS_PENDING, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  r = (s_trow_t){&tid[0], RL_TS_RUNNING, "square", 1, NULL};
  s_report(&b, &owner, &r, 1, &actor, RL_AS_ALIVE, false, &worker);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  r = (s_trow_t){&tid[0], RL_TS_FINISHED, "square", 0, NULL};
  s_report(&b, &owner, &r, 1, NULL, 0, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  S_CHECK(rl_state_table_tasks(t) == 1 && rl_state_table_actors(t) == 1);
  msgpack_object rows = s_listed(t, true, &sb, &up);
  S_CHECK(rows.via.array.size == 3 && rows.via.array.ptr[0].via.array.size == 1);
  msgpack_object row = rows.via.array.ptr[0].via.array.ptr[0];
  rl_id_t got;
  uint64_t v;
  S_CHECK(rl_obj_u64(&row.via.array.ptr[1], &v) && v == RL_TS_FINISHED);
  S_CHECK(rl_obj_id(&row.via.array.ptr[6], &got) && rl_id_eq(&got, &s_n1)); /* kept from RUNNING */
  S_CHECK(rl_obj_u64(&row.via.array.ptr[7], &v) && v == 777);
  S_CHECK(rl_obj_id(&row.via.array.ptr[9], &got) && rl_id_eq(&got, &owner));
  S_CHECK(rl_obj_u64(&rows.via.array.ptr[1], &v) && v == 9); /* dropped: 3 in each of 3 reports */
  rows = s_listed(t, false, &sb, &up);
  row = rows.via.array.ptr[0].via.array.ptr[0];
  S_CHECK(rl_obj_u64(&row.via.array.ptr[1], &v) && v == RL_AS_ALIVE);
  S_CHECK(rl_obj_id(&row.via.array.ptr[6], &got) && rl_id_eq(&got, &s_n1));

  /* A node the head does not know leaves the node unknown. */
  r = (s_trow_t){&tid[1], RL_TS_RUNNING, "elsewhere", 2, NULL};
  s_report(&b, &other, &r, 1, NULL, 0, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  rows = s_listed(t, true, &sb, &up);
  S_CHECK(rows.via.array.ptr[0].via.array.ptr[1].via.array.ptr[6].type == MSGPACK_OBJECT_NIL);

  /* The owner dies: its unfinished task fails, its actor dies; other's task too. */
  r = (s_trow_t){&tid[2], RL_TS_SUBMITTED, "waits", 0, NULL};
  s_report(&b, &owner, &r, 1, NULL, 0, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  rl_state_table_clients_died(t, &owner, 1);
  rows = s_listed(t, true, &sb, &up);
  S_CHECK(rows.via.array.ptr[0].via.array.size == 3);
  row = rows.via.array.ptr[0].via.array.ptr[2];
  S_CHECK(rl_obj_u64(&row.via.array.ptr[1], &v) && v == RL_TS_FAILED);
  S_CHECK(row.via.array.ptr[8].type == MSGPACK_OBJECT_STR && row.via.array.ptr[8].via.str.size == 14);
  row = rows.via.array.ptr[0].via.array.ptr[0];
  S_CHECK(rl_obj_u64(&row.via.array.ptr[1], &v) && v == RL_TS_FINISHED); /* finished stays finished */
  row = rows.via.array.ptr[0].via.array.ptr[1];
  S_CHECK(rl_obj_u64(&row.via.array.ptr[1], &v) && v == RL_TS_RUNNING); /* another owner's */
  rows = s_listed(t, false, &sb, &up);
  row = rows.via.array.ptr[0].via.array.ptr[0];
  S_CHECK(rl_obj_u64(&row.via.array.ptr[1], &v) && v == RL_AS_DEAD && row.via.array.ptr[8].type == MSGPACK_OBJECT_STR);

  /* Bounded: a fourth task forgets the first reported. */
  r = (s_trow_t){&tid[3], RL_TS_SUBMITTED, "fourth", 0, NULL};
  s_report(&b, &other, &r, 1, NULL, 0, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  rows = s_listed(t, true, &sb, &up);
  S_CHECK(rows.via.array.ptr[0].via.array.size == 3 && rl_obj_u64(&rows.via.array.ptr[2], &v) && v == 1);
  S_CHECK(rl_obj_id(&rows.via.array.ptr[0].via.array.ptr[0].via.array.ptr[0], &got) && rl_id_eq(&got, &tid[1]));

  /* A detached actor survives its owner, and dies with its worker; beyond two dead
   * actors the longest dead is forgotten. */
  rl_id_t det = rl_id_random(), dw = rl_id_random(), third = rl_id_random();
  s_report(&b, &other, NULL, 0, &det, RL_AS_ALIVE, true, &dw);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  rl_state_table_clients_died(t, &other, 1);
  S_CHECK(rl_state_table_actors(t) == 2);
  rows = s_listed(t, false, &sb, &up);
  S_CHECK(rl_obj_u64(&rows.via.array.ptr[0].via.array.ptr[1].via.array.ptr[1], &v) && v == RL_AS_ALIVE);
  rl_state_table_clients_died(t, &dw, 1);
  rows = s_listed(t, false, &sb, &up);
  S_CHECK(rl_obj_u64(&rows.via.array.ptr[0].via.array.ptr[1].via.array.ptr[1], &v) && v == RL_AS_DEAD);
  s_report(&b, &other, NULL, 0, &third, RL_AS_DEAD, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  S_CHECK(rl_state_table_actors(t) == 2);
  rows = s_listed(t, false, &sb, &up);
  S_CHECK(rl_obj_id(&rows.via.array.ptr[0].via.array.ptr[0].via.array.ptr[0], &got) && rl_id_eq(&got, &det));

  /* Malformed reports change nothing. */
  r = (s_trow_t){&tid[4], 9, "bad state", 0, NULL};
  s_report(&b, &other, &r, 1, NULL, 0, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == -1);
  S_CHECK(strstr(err, "state"));
  rl_msg_close(&m);
  r = (s_trow_t){&tid[4], RL_TS_RUNNING, "bad node", 3, NULL};
  s_report(&b, &other, &r, 1, NULL, 0, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == -1);
  rl_msg_close(&m);
  rl_msgbuf_init(&b, RL_GCS_STATE_REPORT, 2);
  rl_pack_id(&b.pk, &other);
  msgpack_pack_uint64(&b.pk, 1);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == -1);
  rl_msg_close(&m);
  S_CHECK(rl_idmap_get(t->task_index, &tid[4]) == NULL && rl_state_table_tasks(t) == 3);

  /* A failure's text is kept and shown to readers; a retry drops it. */
  rl_id_t failed = rl_id_random();
  r = (s_trow_t){&failed, RL_TS_FAILED, "breaks", 1, "TaskError"};
  s_report(&b, &other, &r, 1, NULL, 0, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  rl_task_view_t seen = {0};
  rl_state_table_each_task(t, s_first_view, &seen);
  S_CHECK(seen.error && !strcmp(seen.error, "it broke\nremote traceback:\n\tx.lua:1"));
  S_CHECK(!strcmp(seen.error_type, "TaskError") && t->error_bytes > 0);
  r = (s_trow_t){&failed, RL_TS_SUBMITTED, "breaks", 0, NULL};
  s_report(&b, &other, &r, 1, NULL, 0, false, NULL);
  S_CHECK(s_as_received(&b, &m) == 0 && s_apply(t, &m, s_resolve, NULL, err, sizeof err) == 0);
  rl_msg_close(&m);
  rl_state_table_each_task(t, s_first_view, &seen);
  S_CHECK(!seen.error && t->error_bytes == 0);
  size_t tc[RL_TS_FAILED + 1], ac[RL_AS_DEAD + 1], scan[RL_TS_FAILED + 1] = {0};
  rl_state_table_counts(t, tc, ac);
  rl_state_table_each_task(t, s_count_view, scan);
  S_CHECK(!memcmp(tc, scan, sizeof tc) && tc[RL_TS_SUBMITTED] == 1 && tc[RL_TS_FAILED] == 2); /* as a scan says */
  S_CHECK(ac[RL_AS_DEAD] == 2 && ac[RL_AS_ALIVE] == 0 && ac[RL_AS_PENDING] == 0);

  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_destroy(&sb);
  rl_state_table_destroy(&t);
  rl_state_table_destroy(&t);
  return 0;
fail:
  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_destroy(&sb);
  rl_state_table_destroy(&t);
  return 1;
}
