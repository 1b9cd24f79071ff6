/* store_service_test.c: store_service.c's selftest, built into rl_selftest only (not librayl). */
#include "node/store_service.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

typedef struct {
  void *router, *dealer;
  rl_store_service_t *s;
  rl_id_t owner; /* maps to client 9 */
} s_test_t;

static uint64_t s_test_owner(void *ctx, const rl_id_t *owner) {
  s_test_t *t = ctx;
  return rl_id_eq(owner, &t->owner) ? 9 : 0;
}

/* Sends b from the dealer, lets the service handle it as client 1; *handled gets its
 * result. Returns 1 with *reply filled if a reply came within wait_ms, else 0. */
static int s_exchange(s_test_t *t, rl_msgbuf_t *b, int *handled, rl_msg_t *reply, int wait_ms) {
  *handled = -2;
  if (rl_msg_send(t->dealer, NULL, b) != 0) return 0;
  zmq_pollitem_t in = {t->router, 0, ZMQ_POLLIN, 0};
  rl_msg_t m;
  if (zmq_poll(&in, 1, 2000) != 1 || rl_msg_recv(t->router, true, &m) != 1) return 0;
  *handled = rl_store_service_handle(t->s, t->router, &m, 1, s_test_owner, t);
  rl_msg_close(&m);
  zmq_pollitem_t out = {t->dealer, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&out, 1, wait_ms) != 1) return 0;
  return rl_msg_recv(t->dealer, false, reply) == 1;
}

/* CREATE (owner nil if NULL) and the reply's offset; -1 with the error in err. */
static long s_create(s_test_t *t, uint64_t req, const rl_id_t *id, uint64_t size, const rl_id_t *owner, char *err,
                     size_t errlen) {
  rl_msgbuf_t b;
  rl_msg_t r;
  int h;
  long res = -2;
  rl_nm_store_create_msg_t c = {.request = req, .object_id = *id, .size = size, .has_owner_worker_id = owner != NULL};
  if (owner) c.owner_worker_id = *owner;
  if (rl_nm_store_create_msg_pack(&c, &b, err, errlen) != 0) return -2;
  if (!s_exchange(t, &b, &h, &r, 2000)) return -2;
  rl_nm_store_created_msg_t got;
  if (h == 0 && rl_nm_store_created_msg_unpack(&r, &got, err, errlen) == 0 && got.request == req) {
    if (got.has_offset && !got.has_error) res = (long)got.offset;
    else if (!got.has_offset && got.has_error && rl_wire_strcpy(err, errlen, got.error)) res = -1;
  }
  rl_msg_close(&r);
  return res;
}

static int s_last_reason = -1; /* the RL_LOC_* reason of s_get's last failure */

/* GET: the offset (and *size), or -1 with the error in err (and s_last_reason). */
static long s_get(s_test_t *t, uint64_t req, const rl_id_t *id, uint64_t *size, char *err, size_t errlen) {
  rl_msgbuf_t b;
  rl_msg_t r;
  int h;
  long res = -2;
  rl_nm_store_get_msg_t g = {.request = req, .object_id = *id};
  if (rl_nm_store_get_msg_pack(&g, &b, err, errlen) != 0) return -2;
  if (!s_exchange(t, &b, &h, &r, 2000)) return -2;
  rl_nm_store_location_msg_t l;
  if (h == 0 && rl_nm_store_location_msg_unpack(&r, &l, err, errlen) == 0 && l.request == req) {
    if (l.has_offset && l.has_size && !l.has_error) res = (long)l.offset, *size = l.size;
    else if (!l.has_offset && l.has_error && rl_wire_strcpy(err, errlen, l.error)) res = -1;
    s_last_reason = l.has_reason ? (int)l.reason : -1;
  }
  rl_msg_close(&r);
  return res;
}

/* SEAL, RELEASE or DELETE: returns the handler's result; a reply is a failure. */
static int s_simple(s_test_t *t, uint8_t type, const rl_id_t *id) {
  rl_msgbuf_t b;
  rl_msg_t r;
  int h;
  rl_nm_store_seal_msg_t one = {.object_id = *id}; /* SEAL and RELEASE: one id */
  rl_nm_store_delete_msg_t del = {.object_id = *id}; /* DELETE: here, no location */
  if (rl_wire_pack(type, type == RL_NM_STORE_DELETE ? (const void *)&del : &one, &b, NULL, 0) != 0) return -4;
  if (s_exchange(t, &b, &h, &r, 20)) {
    rl_msg_close(&r);
    return -3;
  }
  return h;
}

#define S_CHECK(c) RL_CHECK_GOTO(c)

/* rl_store_service_prefault remembers whole granules only, for reading or writing. */
static int s_prefault_selftest(const char *dir) {
  const size_t MiB = (size_t)1 << 20;
  char err[512];
  rl_store_service_t *s = rl_store_service_new(67 * MiB, dir, err, sizeof err);
  RL_CHECK_RETURN(s != NULL);
  int ok = 1;
  /* The first S_PREFAULT bytes at start: writable (so readable). */
  ok &= s_granule_faulted(s, 0, true) && s_granule_faulted(s, 31, true) && s_granule_faulted(s, 31, false);
  ok &= !s_granule_faulted(s, 32, false) && !s_granule_faulted(s, 33, false);
  /* A part of a granule is faulted in, not remembered. */
  rl_store_service_prefault(s, s->base + 64 * MiB + 4096, 10, false);
  ok &= !s_granule_faulted(s, 32, false);
  /* A whole one, for reading: readable, not writable. */
  rl_store_service_prefault(s, s->base + 64 * MiB, 2 * MiB, false);
  ok &= s_granule_faulted(s, 32, false) && !s_granule_faulted(s, 32, true);
  /* The last, shorter granule counts as whole up to the end; past the end is ignored. */
  rl_store_service_prefault(s, s->base + 66 * MiB, 5 * MiB, true);
  ok &= s_granule_faulted(s, 33, true) && s_granule_faulted(s, 33, false);
  rl_store_service_prefault(s, s->base + 67 * MiB, MiB, true);
  memset(s->base + 66 * MiB, 7, MiB);
  ok &= s->base[67 * MiB - 1] == 7;
  rl_store_service_destroy(&s);
  return ok ? 0 : 1;
}

int rl_store_service_selftest(void) {
  enum { CAP = 1 << 20 };
  char dir[128], err[512];
  snprintf(dir, sizeof dir, "/tmp/rayl-store-service-test-%d", (int)getpid());
  s_test_t t = {0};
  t.owner = rl_id_random();
  unsigned char *m1 = NULL, *m2 = NULL;
  void *zctx = zmq_ctx_new();
  int prev_level = rl_log_level;
  rl_id_t a = rl_id_random(), b = rl_id_random(), c = rl_id_random(), d = rl_id_random();
  size_t used, nobj, nspill;
  uint64_t size;
  S_CHECK(s_prefault_selftest(dir) == 0);
  S_CHECK(rl_store_service_new(0, dir, err, sizeof err) == NULL && strstr(err, "bad object store size"));
  t.s = rl_store_service_new(CAP, dir, err, sizeof err);
  S_CHECK(t.s && rl_store_service_capacity(t.s) == CAP);
  S_CHECK(!strncmp(rl_store_service_path(t.s), "/proc/", 6));
  t.router = zmq_socket(zctx, ZMQ_ROUTER);
  t.dealer = zmq_socket(zctx, ZMQ_DEALER);
  S_CHECK(zmq_bind(t.router, "inproc://rl-store-selftest") == 0);
  S_CHECK(zmq_connect(t.dealer, "inproc://rl-store-selftest") == 0);
  S_CHECK(rl_region_map("/proc/self/fd/999999", CAP, err, sizeof err) == NULL && strstr(err, "cannot open"));
  S_CHECK(rl_region_map(rl_store_service_path(t.s), 2 * CAP, err, sizeof err) == NULL && strstr(err, "smaller"));
  m1 = rl_region_map(rl_store_service_path(t.s), CAP, err, sizeof err);
  m2 = rl_region_map(rl_store_service_path(t.s), CAP, err, sizeof err);
  S_CHECK(m1 && m2 && m1 != m2);

  /* create, write through one mapping, seal, get, read through the other */
  long oa = s_create(&t, 1, &a, 1000, NULL, err, sizeof err);
  S_CHECK(oa == 0);
  for (int i = 0; i < 1000; i++) m1[oa + i] = (unsigned char)(i * 13);
  S_CHECK(s_get(&t, 2, &a, &size, err, sizeof err) == -1 && strstr(err, "not sealed yet") &&
          s_last_reason == RL_LOC_NOT_SEALED);
  S_CHECK(s_simple(&t, RL_NM_STORE_SEAL, &a) == 0);
  S_CHECK(s_get(&t, 3, &a, &size, err, sizeof err) == oa && size == 1000);
  for (int i = 0; i < 1000; i++) S_CHECK(m2[oa + i] == (unsigned char)(i * 13));
  S_CHECK(s_get(&t, 4, &d, &size, err, sizeof err) == -1 && strstr(err, "not in this node") &&
          s_last_reason == RL_LOC_GONE);

  /* another process maps the region by its path, reads A and writes B */
  long ob = s_create(&t, 5, &b, 4096, &t.owner, err, sizeof err);
  S_CHECK(ob == 1024);
  pid_t pid = fork();
  if (pid == 0) {
    unsigned char *cm = rl_region_map(rl_store_service_path(t.s), CAP, NULL, 0);
    int bad = !cm;
    for (int i = 0; !bad && i < 1000; i++) bad = cm[oa + i] != (unsigned char)(i * 13);
    if (cm) memset(cm + ob, 0xab, 4096);
    _exit(bad);
  }
  int status = -1;
  S_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  S_CHECK(m1[ob] == 0xab && m2[ob + 4095] == 0xab);
  S_CHECK(s_simple(&t, RL_NM_STORE_SEAL, &b) == 0);

  /* full store (A pinned, C being written) and an object larger than the store */
  S_CHECK(s_create(&t, 6, &c, 900000, NULL, err, sizeof err) == 5120);
  S_CHECK(s_create(&t, 7, &d, 900000, NULL, err, sizeof err) == -1);
  S_CHECK(!strcmp(err, "object store is full: need 900032 bytes, 143424 free of 1048576 (pinned objects: 2); "
                       "raise object_store_memory or release references"));
  S_CHECK(s_create(&t, 8, &d, 3u << 20, NULL, err, sizeof err) == -1);
  S_CHECK(!strcmp(err, "object of 3145728 bytes is larger than the object store (1048576 bytes); raise "
                       "object_store_memory"));
  S_CHECK(s_create(&t, 9, &a, 10, NULL, err, sizeof err) == -1 && strstr(err, "already exists"));

  /* malformed messages: -1, no reply, nothing changed */
  rl_store_service_stats(t.s, &used, &nobj, &nspill);
  S_CHECK(used == 1024 + 4096 + 900032 && nobj == 3 && nspill == 0);
  rl_log_level = -1;
  for (int k = 0; k < 12; k++) {
    rl_msgbuf_t mb;
    static const uint8_t types[] = {RL_NM_STORE_CREATE, RL_NM_STORE_CREATE, RL_NM_STORE_CREATE, RL_NM_STORE_CREATE,
                                    RL_NM_STORE_CREATE, RL_NM_STORE_SEAL,   RL_NM_STORE_SEAL,   RL_NM_STORE_GET,
                                    RL_NM_STORE_GET,    RL_NM_STORE_RELEASE, RL_NM_STORE_DELETE, RL_NM_LEASE};
    static const uint32_t counts[] = {2, 4, 4, 4, 4, 0, 1, 2, 1, 1, 1, 0};
    rl_msgbuf_init(&mb, types[k], counts[k]);
    msgpack_packer *pk = &mb.pk;
    switch (k) {
      case 0: msgpack_pack_uint64(pk, 10), rl_pack_id(pk, &d); break;  /* missing size, owner */
      case 1: msgpack_pack_uint64(pk, 10), rl_pack_id(pk, &d), rl_pack_str(pk, "64"), msgpack_pack_nil(pk); break;
      case 2: msgpack_pack_uint64(pk, 10), rl_pack_bin(pk, d.b, 15), msgpack_pack_uint64(pk, 64),
              msgpack_pack_nil(pk); break;                              /* 15-byte id */
      case 3: msgpack_pack_uint64(pk, 10), rl_pack_id(pk, &d), msgpack_pack_uint64(pk, 64),
              msgpack_pack_uint64(pk, 5); break;                        /* owner not an id */
      case 4: msgpack_pack_int64(pk, -1), rl_pack_id(pk, &d), msgpack_pack_uint64(pk, 64),
              msgpack_pack_nil(pk); break;                              /* negative request */
      case 5: break;                                                    /* seal without id */
      case 6: msgpack_pack_uint64(pk, 3); break;                        /* seal with a number */
      case 7: rl_pack_id(pk, &a), msgpack_pack_uint64(pk, 11); break;   /* get, fields swapped */
      case 8: msgpack_pack_uint64(pk, 11); break;                       /* get without id */
      case 9: rl_pack_bin(pk, "0123456789abcdefg", 17); break;          /* release: 17-byte id */
      case 10: msgpack_pack_nil(pk); break;                             /* delete nil */
      default: break;                                                   /* not a store message */
    }
    rl_msg_t r;
    int h;
    int got = s_exchange(&t, &mb, &h, &r, 20);
    if (got) rl_msg_close(&r);
    size_t u2, n2, s2;
    rl_store_service_stats(t.s, &u2, &n2, &s2);
    S_CHECK(h == -1 && !got && u2 == used && n2 == nobj && s2 == nspill);
  }
  rl_log_level = prev_level;
  S_CHECK(rl_objects_pins(t.s->objects, &a) == 1 && rl_objects_pins(t.s->objects, &c) == 1);

  /* release and delete; B is owned by client 9 (t.owner) and goes with it */
  S_CHECK(s_simple(&t, RL_NM_STORE_RELEASE, &a) == 0 && rl_objects_pins(t.s->objects, &a) == 0);
  S_CHECK(s_simple(&t, RL_NM_STORE_RELEASE, &a) == 0 && rl_objects_pins(t.s->objects, &a) == 0);
  S_CHECK(s_simple(&t, RL_NM_STORE_DELETE, &a) == 0 && rl_objects_pins(t.s->objects, &a) == -1);
  rl_store_service_client_gone(t.s, 9);
  S_CHECK(rl_objects_pins(t.s->objects, &b) == -1);
  S_CHECK(s_simple(&t, RL_NM_STORE_SEAL, &c) == 0);
  rl_store_service_client_gone(t.s, 1);
  rl_store_service_stats(t.s, &used, &nobj, &nspill);
  S_CHECK(used == 0 && nobj == 0 && nspill == 0);
  /* freed memory is reused from the lowest address */
  S_CHECK(s_create(&t, 12, &d, 100, NULL, err, sizeof err) == 0);

  rl_region_unmap(m1, CAP);
  rl_region_unmap(m2, CAP);
  zmq_close(t.router);
  zmq_close(t.dealer);
  zmq_ctx_term(zctx);
  rl_store_service_destroy(&t.s);
  rl_store_service_destroy(&t.s);
  return t.s == NULL && access(dir, F_OK) != 0 ? 0 : 1;
fail:
  rl_log_level = prev_level;
  rl_region_unmap(m1, CAP);
  rl_region_unmap(m2, CAP);
  if (t.router) zmq_close(t.router);
  if (t.dealer) zmq_close(t.dealer);
  zmq_ctx_term(zctx);
  rl_store_service_destroy(&t.s);
  return 1;
}
