/* leases_test.c: leases.c's selftest, built into rl_selftest only (not librayl). */
#include "node/leases.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* What the fake send_to hook saw last: the message's type and fields. */
typedef struct {
  int sent;
  bool refuse;        /* answer -1, as for a client whose queue is full */
  rl_id_t to;
  int type;
  uint64_t request;
  char text[RL_ENDPOINT_MAX]; /* GRANTED: the worker's endpoint; SPILLBACK: the node */
} s_fake_t;

static int s_fake_send(void *ctx, const rl_id_t *client, int type, const void *msg) {
  s_fake_t *f = ctx;
  f->sent++;
  f->to = *client;
  f->type = type;
  f->request = 0;
  f->text[0] = 0;
  if (type == RL_NM_LEASE_GRANTED) {
    const rl_nm_lease_granted_msg_t *g = msg;
    f->request = g->request;
    snprintf(f->text, sizeof f->text, "%s", g->endpoint);
  } else if (type == RL_NM_LEASE_SPILLBACK) {
    const rl_nm_lease_spillback_msg_t *sb = msg;
    f->request = sb->request;
    snprintf(f->text, sizeof f->text, "%s", sb->node_endpoint);
  }
  return f->refuse ? -1 : 0;
}

static void s_fake_gone(void *ctx, const rl_id_t *id, rl_gone_t how) {
  (void)ctx, (void)id, (void)how; /* the lease queue never reports a client gone */
}

/* Hands `client`'s lease request for {CPU: cpus} (spilled, with strategy: NULL for the
 * default) to rl_leases_request, as the node's socket would (through a real ZeroMQ
 * pair). A negative cpus sends a string where the resource map goes. Returns 0, or -1
 * if the message did not arrive. */
static int s_request(rl_nm_t *nm, void *in, void *out, const rl_id_t *client, uint64_t request, double cpus,
                     bool spilled, const rl_wire_sched_t *strategy) {
  rl_msgbuf_t b;
  if (cpus < 0) {
    rl_msgbuf_init(&b, RL_NM_LEASE, 2);
    msgpack_pack_uint64(&b.pk, request);
    rl_pack_str(&b.pk, "CPU=1");
  } else {
    rl_nm_lease_msg_t lease = {.request = request, .has_spilled = true, .spilled = spilled};
    rl_res_clear(&lease.resources);
    rl_res_set(&lease.resources, "CPU", cpus, NULL, 0);
    if (strategy) {
      lease.has_strategy = true;
      lease.strategy = *strategy;
    }
    char err[200];
    if (rl_nm_lease_msg_pack(&lease, &b, err, sizeof err) != 0) return -1;
  }
  if (rl_msg_send(out, NULL, &b) != 0) return -1;
  rl_msg_t m;
  int rc = -1;
  for (int i = 0; i < 1000 && rc != 1; i++) {
    rc = rl_msg_recv(in, false, &m);
    if (rc == 0) usleep(1000);
  }
  if (rc != 1) return -1;
  rl_leases_request(nm, client, &m);
  rl_msg_close(&m);
  return 0;
}

/* The lease queue as a leaf: a node of 2 CPUs with one idle worker and one peer of 8
 * CPUs, driven through fake hooks. Grants, spills, queues, serves on return, gives a
 * worker back when its grant cannot be sent, and drops malformed requests. */
int rl_leases_selftest(void) {
  int rc = 1;
  s_fake_t fake = {0};
  rl_nm_t *nm = rl_xcalloc(1, sizeof *nm);
  nm->hooks = (rl_nm_hooks_t){.ctx = &fake, .send_to = s_fake_send, .client_gone = s_fake_gone};
  nm->node_id = rl_id_random();
  rl_res_set(&nm->total, "CPU", 2, NULL, 0);
  nm->available = nm->total;
  nm->npeers = 1;
  nm->peers[0].id = rl_id_random();
  snprintf(nm->peers[0].endpoint, sizeof nm->peers[0].endpoint, "tcp://peer:1");
  rl_res_set(&nm->peers[0].total, "CPU", 8, NULL, 0);
  nm->peers[0].available = nm->peers[0].total;
  /* A registered idle worker with no process: nothing here signals it (a pid no
   * process has, so a stray kill could not reach one). */
  rl_worker_t w = {.pid = 0x3ffffffe, .state = RL_W_IDLE, .registered = true, .id = rl_id_random(),
                   .out_fd = -1, .err_fd = -1, .runtime_env = ""};
  snprintf(w.endpoint, sizeof w.endpoint, "ipc://worker-1");
  nm->workers = &w;
  rl_id_t c = rl_id_random(), d = rl_id_random();
  void *zctx = zmq_ctx_new();
  void *in = zmq_socket(zctx, ZMQ_PAIR), *out = zmq_socket(zctx, ZMQ_PAIR);
  char ep[64];
  snprintf(ep, sizeof ep, "inproc://leases-selftest-%d", (int)getpid());
  S_CHECK(zmq_bind(in, ep) == 0 && zmq_connect(out, ep) == 0);

  /* Fits here, a worker is idle: granted to the client, its CPU taken. */
  S_CHECK(s_request(nm, in, out, &c, 7, 1, false, NULL) == 0);
  S_CHECK(fake.sent == 1 && fake.type == RL_NM_LEASE_GRANTED && rl_id_eq(&fake.to, &c));
  S_CHECK(fake.request == 7 && !strcmp(fake.text, "ipc://worker-1"));
  S_CHECK(w.state == RL_W_LEASED && rl_id_eq(&w.lessee, &c) && rl_res_get(&nm->available, "CPU") == 1);

  /* More than this node has: sent to the peer that has it. */
  S_CHECK(s_request(nm, in, out, &c, 8, 4, false, NULL) == 0);
  S_CHECK(fake.sent == 2 && fake.type == RL_NM_LEASE_SPILLBACK && fake.request == 8);
  S_CHECK(!strcmp(fake.text, "tcp://peer:1") && !nm->queue);

  /* Hard affinity to the peer: sent there although it would fit here. */
  rl_wire_sched_t affinity = {.kind = RL_SCHED_NODE, .has_node_id = true, .node_id = nm->peers[0].id};
  S_CHECK(s_request(nm, in, out, &c, 9, 0.5, false, &affinity) == 0);
  S_CHECK(fake.sent == 3 && fake.type == RL_NM_LEASE_SPILLBACK && fake.request == 9 && !nm->queue);

  /* Spilled here, does not fit now: queued, and granted once the worker comes back. */
  S_CHECK(s_request(nm, in, out, &d, 10, 2, true, NULL) == 0);
  S_CHECK(fake.sent == 3 && nm->queue && nm->queue->request == 10);
  rl_nm_return_msg_t back = {.worker_id = w.id, .worker_failed = false};
  S_CHECK(rl_nm_return_msg_send(out, NULL, &back) == 0);
  rl_msg_t m;
  int got = 0;
  for (int i = 0; i < 1000 && got != 1; i++)
    if ((got = rl_msg_recv(in, false, &m)) == 0) usleep(1000);
  S_CHECK(got == 1);
  rl_leases_return(nm, &c, &m);
  rl_msg_close(&m);
  S_CHECK(fake.sent == 4 && fake.type == RL_NM_LEASE_GRANTED && rl_id_eq(&fake.to, &d) && fake.request == 10);
  S_CHECK(!nm->queue && rl_id_eq(&w.lessee, &d) && rl_res_get(&nm->available, "CPU") == 0);

  /* Its lessee leaves: the worker is idle again, the CPUs free. */
  S_CHECK(rl_leases_client_gone(nm, &d, false) == 1);
  S_CHECK(w.state == RL_W_IDLE && rl_res_get(&nm->available, "CPU") == 2);

  /* A grant the client cannot be sent: the worker and CPU are given back. */
  fake.refuse = true;
  S_CHECK(s_request(nm, in, out, &c, 11, 1, false, NULL) == 0);
  S_CHECK(fake.sent == 5 && fake.type == RL_NM_LEASE_GRANTED);
  S_CHECK(w.state == RL_W_IDLE && rl_res_get(&nm->available, "CPU") == 2 && !nm->queue);
  fake.refuse = false;

  /* A malformed request (a string for the resources) is dropped: nothing sent or queued. */
  S_CHECK(s_request(nm, in, out, &c, 12, -1, false, NULL) == 0);
  S_CHECK(fake.sent == 5 && !nm->queue && w.state == RL_W_IDLE);
  rc = 0;
fail:
  rl_leases_client_gone(nm, &c, false); /* frees what a failed check left queued */
  rl_leases_client_gone(nm, &d, false);
  zmq_close(in);
  zmq_close(out);
  zmq_ctx_term(zctx);
  free(nm);
  return rc;
}
