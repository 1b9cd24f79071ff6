/* fuzz_wire.c: libFuzzer harness for a message's way in (wire/msg.c): the frame checks and
 * msgpack body of rl_msg_recv, over a real ZeroMQ socket pair, then every field reader on
 * every field, as receivers read them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/log.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/wire.h"

#include "seeds.h"
#ifdef RL_FUZZ_WIRE_TYPED
#include RL_FUZZ_WIRE_TYPED /* the header declaring rl_wire_unpack_any (cmake/fuzz.cmake) */
#endif

static void *s_ctx, *s_in, *s_out;

/* Reads every field with every reader (nested arrays and maps one level down too):
 * receivers do that with whatever arrived, so none may read out of bounds. */
static void s_read_fields(const rl_msg_t *m) {
  for (uint32_t i = 0; i <= m->nfields; i++) { /* one past the end: must say "missing" */
    uint64_t u;
    int64_t s;
    double f;
    bool b;
    rl_id_t id;
    const char *p;
    size_t n;
    char small[8], big[300];
    (void)rl_field_u64(m, i, &u);
    (void)rl_field_i64(m, i, &s);
    (void)rl_field_f64(m, i, &f);
    (void)rl_field_bool(m, i, &b);
    (void)rl_field_id(m, i, &id);
    if (rl_field_bytes(m, i, &p, &n) && n && (p[0] == 1) != (p[n - 1] == 1)) s++; /* touch both ends */
    if (rl_field_strcpy(m, i, small, sizeof small) && strlen(small) >= sizeof small) abort();
    if (rl_field_strcpy(m, i, big, sizeof big) && strlen(big) >= sizeof big) abort();
    (void)rl_field_is_nil(m, i);
    const msgpack_object *o = rl_field(m, i);
    if (i == m->nfields && o) abort();
    rl_resources_t r;
    (void)rl_res_unpack(o, &r);
    if (o && (o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP)) {
      uint32_t k = o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : o->via.map.size;
      for (uint32_t j = 0; j < k; j++) {
        const msgpack_object *e = o->type == MSGPACK_OBJECT_ARRAY ? &o->via.array.ptr[j] : &o->via.map.ptr[j].val;
        (void)rl_obj_u64(e, &u);
        (void)rl_obj_f64(e, &f);
        (void)rl_obj_bytes(e, &p, &n);
        (void)rl_obj_id(e, &id);
        (void)rl_res_unpack(e, &r);
      }
    }
  }
}

/* Writes b (header and body) as the seed <name> and frees it. */
static void s_seed(const char *name, rl_msgbuf_t *b) {
  rl_fuzz_seed(name, b->sb.data, b->sb.size);
  rl_msgbuf_reset(b);
}

/* Messages as the daemons pack them (proto.h), one of each kind of field. */
static void s_write_seeds(void) {
  rl_msgbuf_t b;
  rl_id_t id = {{0}}, id2 = {{0}};
  for (int i = 0; i < RL_ID_SIZE; i++) id.b[i] = (uint8_t)(i * 17 + 3), id2.b[i] = (uint8_t)(255 - i);
  rl_resources_t res;
  rl_res_clear(&res);
  rl_res_set(&res, "CPU", 2, NULL, 0);
  rl_res_set(&res, "GPU", 0.5, NULL, 0);
  rl_res_set(&res, "memory", 1e9, NULL, 0);

  rl_msgbuf_init(&b, RL_NM_REGISTER, 5);
  msgpack_pack_uint64(&b.pk, 1);
  rl_pack_id(&b.pk, &id);
  msgpack_pack_uint64(&b.pk, 4242);
  rl_pack_str(&b.pk, "ipc:///tmp/rayl/session/sockets/w-1");
  msgpack_pack_uint64(&b.pk, 7);
  s_seed("nm_register", &b);

  rl_msgbuf_init(&b, RL_NM_LEASE, 8);
  msgpack_pack_uint64(&b.pk, 12);
  rl_res_pack(&b.pk, &res);
  msgpack_pack_false(&b.pk);
  msgpack_pack_nil(&b.pk);
  msgpack_pack_false(&b.pk);
  rl_wire_sched_t pg = {.kind = RL_SCHED_PG, .has_pg_id = true, .pg_id = id2, .has_bundle = true, .bundle = -1};
  rl_wire_pack_sched(&b.pk, &pg, NULL, 0);
  msgpack_pack_false(&b.pk);
  rl_pack_str(&b.pk, "{\"env_vars\":{\"A\":\"1\"}}");
  s_seed("nm_lease", &b);

  rl_msgbuf_init(&b, RL_NM_RETURN, 2);
  rl_pack_id(&b.pk, &id);
  msgpack_pack_true(&b.pk);
  s_seed("nm_return", &b);

  rl_msgbuf_init(&b, RL_NM_STORE_CREATE, 4);
  msgpack_pack_uint64(&b.pk, 99);
  rl_pack_id(&b.pk, &id);
  msgpack_pack_uint64(&b.pk, (uint64_t)1 << 32);
  rl_pack_id(&b.pk, &id2);
  s_seed("nm_store_create", &b);

  rl_msgbuf_init(&b, RL_NM_BLOCKED, 0);
  s_seed("nm_blocked", &b);

  rl_msgbuf_init(&b, RL_NM_STORE_CREATED, 3);
  msgpack_pack_uint64(&b.pk, 99);
  msgpack_pack_nil(&b.pk);
  rl_pack_str(&b.pk, "the object store is full");
  s_seed("nm_store_created_error", &b);

  rl_msgbuf_init(&b, RL_NM_RESOURCES_REPLY, 3);
  msgpack_pack_uint64(&b.pk, 3);
  rl_res_pack(&b.pk, &res);
  rl_res_pack(&b.pk, &res);
  s_seed("nm_resources_reply", &b);

  static const char code[] = "\x1bLJ\x02\x0a\x00";
  rl_msgbuf_init(&b, RL_CW_PUSH_TASK, 12);
  rl_pack_id(&b.pk, &id);
  rl_pack_id(&b.pk, &id2);
  rl_pack_str(&b.pk, "ipc:///tmp/rayl/session/sockets/driver");
  rl_pack_bin(&b.pk, "0123456789abcdef0123", 20);
  rl_pack_bin(&b.pk, code, sizeof code - 1);
  msgpack_pack_array(&b.pk, 2);
  msgpack_pack_array(&b.pk, 3);
  msgpack_pack_uint64(&b.pk, 0);
  rl_pack_bin(&b.pk, "\x2a", 1);
  msgpack_pack_uint64(&b.pk, 1);
  msgpack_pack_array(&b.pk, 3);
  msgpack_pack_uint64(&b.pk, 1);
  rl_pack_id(&b.pk, &id2);
  msgpack_pack_uint64(&b.pk, 1 << 20);
  msgpack_pack_uint64(&b.pk, 1);
  msgpack_pack_uint64(&b.pk, 0);
  rl_pack_str(&b.pk, "square");
  msgpack_pack_uint64(&b.pk, 0);
  rl_pack_str(&b.pk, "");
  rl_pack_id(&b.pk, &id);
  msgpack_pack_double(&b.pk, 1.0);
  s_seed("cw_push_task", &b);

  rl_msgbuf_init(&b, RL_CW_TASK_DONE, 2);
  rl_pack_id(&b.pk, &id);
  msgpack_pack_uint64(&b.pk, 0);
  s_seed("cw_task_done_short", &b);

  rl_msgbuf_init(&b, RL_GCS_REGISTER_NODE, 5);
  rl_pack_id(&b.pk, &id);
  rl_pack_str(&b.pk, "tcp://10.0.0.2:6380");
  rl_res_pack(&b.pk, &res);
  msgpack_pack_uint64(&b.pk, 5151);
  rl_pack_str(&b.pk, "2 (detected by the CUDA driver; ids 0,1)");
  s_seed("gcs_register_node", &b);

  rl_msgbuf_init(&b, RL_GCS_GET_NODES, 3);
  msgpack_pack_uint64(&b.pk, 8);
  msgpack_pack_uint64(&b.pk, 2);
  msgpack_pack_nil(&b.pk);
  s_seed("gcs_get_nodes", &b);

  rl_msgbuf_init(&b, RL_GCS_KV_PUT, 3);
  msgpack_pack_uint64(&b.pk, 9);
  rl_pack_str(&b.pk, "fn:0123456789abcdef");
  rl_pack_bin(&b.pk, "\x00\x01\x02\xff", 4);
  s_seed("gcs_kv_put", &b);

  rl_msgbuf_init(&b, RL_NM_PULL_DATA, 5);
  msgpack_pack_uint64(&b.pk, 10);
  rl_pack_id(&b.pk, &id);
  msgpack_pack_uint64(&b.pk, 1000);
  msgpack_pack_uint64(&b.pk, 500);
  static const uint8_t chunk[500];
  rl_pack_bin(&b.pk, chunk, sizeof chunk);
  s_seed("nm_pull_data", &b);
}

#ifdef RL_FUZZ_WIRE_TYPED
/* The typed layer (wire/): the frame's checks without a socket (rl_msg_from_bytes, 1 when
 * it took the bytes, as rl_msg_recv), then the unpacker of the message's type. */
static void s_typed(const uint8_t *data, size_t size) {
  rl_msg_t m;
  char err[256];
  if (rl_msg_from_bytes(data, size, &m) != 1) return;
  err[0] = 0;
  (void)rl_wire_unpack_any(&m, err, sizeof err);
  rl_msg_close(&m);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!s_ctx) {
    rl_log_open("fuzz", "/dev/null"); /* the drop warnings are formatted, not shown */
    s_ctx = zmq_ctx_new();
    s_in = zmq_socket(s_ctx, ZMQ_PAIR);
    s_out = zmq_socket(s_ctx, ZMQ_PAIR);
    if (zmq_bind(s_in, "inproc://fuzz-wire") || zmq_connect(s_out, "inproc://fuzz-wire")) abort();
    if (getenv("RL_FUZZ_SEEDS")) s_write_seeds();
  }
  if (zmq_send(s_out, data, size, 0) != (int)size) abort();
  rl_msg_t m;
  int rc = rl_msg_recv(s_in, false, &m);
  if (rc == 0) {
    /* ZeroMQ delivers inproc messages at once; wait for it if not. */
    zmq_pollitem_t it = {s_in, 0, ZMQ_POLLIN, 0};
    zmq_poll(&it, 1, 1000);
    rc = rl_msg_recv(s_in, false, &m);
  }
  if (rc == 1) {
    if (m.nfields > size) abort();
    s_read_fields(&m);
    rl_msg_close(&m);
  } else if (rc != -1) {
    abort();
  }
#ifdef RL_FUZZ_WIRE_TYPED
  s_typed(data, size);
#endif
  return 0;
}
