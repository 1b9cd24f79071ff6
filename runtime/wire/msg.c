/* msg.c: framing, zero-copy send, and validated receive of rayl messages. */
#include "wire/msg.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

void rl_msgbuf_init(rl_msgbuf_t *b, uint8_t type, uint32_t nfields) {
  msgpack_sbuffer_init(&b->sb);
  const char hdr[RL_MSG_HEADER] = {RL_WIRE_VERSION, (char)type, 0, 0};
  msgpack_sbuffer_write(&b->sb, hdr, sizeof hdr);
  msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
  msgpack_pack_array(&b->pk, nfields);
}

void rl_msgbuf_reset(rl_msgbuf_t *b) {
  msgpack_sbuffer_destroy(&b->sb);
  memset(&b->sb, 0, sizeof b->sb);
}

void rl_pack_id(msgpack_packer *pk, const rl_id_t *id) { rl_pack_bin(pk, id->b, RL_ID_SIZE); }

void rl_pack_str(msgpack_packer *pk, const char *s) {
  size_t n = strlen(s);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}

void rl_pack_bin(msgpack_packer *pk, const void *p, size_t n) {
  msgpack_pack_bin(pk, n);
  msgpack_pack_bin_body(pk, p, n);
}

static void s_free_buffer(void *data, void *hint) {
  (void)hint;
  free(data);
}

int rl_msg_send(void *sock, const zmq_msg_t *identity, rl_msgbuf_t *b) {
  if (identity) {
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, (zmq_msg_t *)identity);
    if (zmq_msg_send(&id, sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&id);
      rl_msgbuf_reset(b);
      return -1;
    }
  }
  zmq_msg_t frame;
  size_t size = b->sb.size;
  char *data = msgpack_sbuffer_release(&b->sb);
  zmq_msg_init_data(&frame, data, size, s_free_buffer, NULL);
  if (zmq_msg_send(&frame, sock, ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&frame);
    return -1;
  }
  return 0;
}

static void s_drain(void *sock) {
  int more = 1;
  size_t len = sizeof more;
  while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
    zmq_msg_t junk;
    zmq_msg_init(&junk);
    zmq_msg_recv(&junk, sock, ZMQ_DONTWAIT);
    zmq_msg_close(&junk);
    len = sizeof more;
  }
}

int rl_msg_recv(void *sock, bool router, rl_msg_t *m) {
  memset(m, 0, sizeof *m);
  zmq_msg_init(&m->identity);
  zmq_msg_init(&m->frame);
  msgpack_unpacked_init(&m->up);
  if (router) {
    if (zmq_msg_recv(&m->identity, sock, ZMQ_DONTWAIT) < 0) {
      rl_msg_close(m);
      return 0;
    }
    m->has_identity = true;
    if (!zmq_msg_more(&m->identity)) goto bad;
  }
  if (zmq_msg_recv(&m->frame, sock, ZMQ_DONTWAIT) < 0) {
    if (router) goto bad;
    rl_msg_close(m);
    return 0;
  }
  if (zmq_msg_more(&m->frame)) goto bad;
  size_t size = zmq_msg_size(&m->frame);
  const uint8_t *data = zmq_msg_data(&m->frame);
  if (size < RL_MSG_HEADER + 1 || size > RL_MSG_MAX) goto bad;
  if (data[0] != RL_WIRE_VERSION) goto bad;
  m->type = data[1];
  size_t off = 0;
  if (msgpack_unpack_next(&m->up, (const char *)data + RL_MSG_HEADER, size - RL_MSG_HEADER, &off) !=
      MSGPACK_UNPACK_SUCCESS)
    goto bad;
  if (off != size - RL_MSG_HEADER || m->up.data.type != MSGPACK_OBJECT_ARRAY) goto bad;
  m->fields = m->up.data.via.array.ptr;
  m->nfields = m->up.data.via.array.size;
  return 1;
bad:
  s_drain(sock);
  rl_log(RL_LOG_WARN, "dropped a malformed message (%zu bytes)", zmq_msg_size(&m->frame));
  rl_msg_close(m);
  return -1;
}

void rl_msg_close(rl_msg_t *m) {
  msgpack_unpacked_destroy(&m->up);
  msgpack_unpacked_init(&m->up);
  zmq_msg_close(&m->frame);
  zmq_msg_close(&m->identity);
  zmq_msg_init(&m->frame);
  zmq_msg_init(&m->identity);
  m->fields = NULL;
  m->nfields = 0;
}

const msgpack_object *rl_field(const rl_msg_t *m, uint32_t i) {
  return i < m->nfields ? &m->fields[i] : NULL;
}

bool rl_obj_u64(const msgpack_object *o, uint64_t *out) {
  if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return false;
  *out = o->via.u64;
  return true;
}

bool rl_obj_f64(const msgpack_object *o, double *out) {
  if (!o) return false;
  switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return true;
    default: return false;
  }
}

bool rl_obj_bytes(const msgpack_object *o, const char **p, size_t *n) {
  if (!o) return false;
  if (o->type == MSGPACK_OBJECT_STR) {
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return true;
  }
  if (o->type == MSGPACK_OBJECT_BIN) {
    *p = o->via.bin.ptr;
    *n = o->via.bin.size;
    return true;
  }
  return false;
}

bool rl_obj_id(const msgpack_object *o, rl_id_t *out) {
  const char *p;
  size_t n;
  if (!rl_obj_bytes(o, &p, &n) || n != RL_ID_SIZE) return false;
  memcpy(out->b, p, RL_ID_SIZE);
  return true;
}

bool rl_field_u64(const rl_msg_t *m, uint32_t i, uint64_t *out) { return rl_obj_u64(rl_field(m, i), out); }

bool rl_field_i64(const rl_msg_t *m, uint32_t i, int64_t *out) {
  const msgpack_object *o = rl_field(m, i);
  if (!o) return false;
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
    *out = (int64_t)o->via.u64;
    return true;
  }
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
    *out = o->via.i64;
    return true;
  }
  return false;
}

bool rl_field_f64(const rl_msg_t *m, uint32_t i, double *out) { return rl_obj_f64(rl_field(m, i), out); }

bool rl_field_bool(const rl_msg_t *m, uint32_t i, bool *out) {
  const msgpack_object *o = rl_field(m, i);
  if (!o || o->type != MSGPACK_OBJECT_BOOLEAN) return false;
  *out = o->via.boolean;
  return true;
}

bool rl_field_id(const rl_msg_t *m, uint32_t i, rl_id_t *out) { return rl_obj_id(rl_field(m, i), out); }

bool rl_field_bytes(const rl_msg_t *m, uint32_t i, const char **p, size_t *n) {
  return rl_obj_bytes(rl_field(m, i), p, n);
}

bool rl_field_strcpy(const rl_msg_t *m, uint32_t i, char *out, size_t outsize) {
  const char *p;
  size_t n;
  if (!rl_field_bytes(m, i, &p, &n) || n >= outsize || memchr(p, 0, n)) return false;
  memcpy(out, p, n);
  out[n] = 0;
  return true;
}

bool rl_field_is_nil(const rl_msg_t *m, uint32_t i) {
  const msgpack_object *o = rl_field(m, i);
  return o && o->type == MSGPACK_OBJECT_NIL;
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
  const char *junk[] = {"\x09\x01\x00\x00\x90", "\x01\x01\x00\x00\x93\x01", "\x01\x01\x00\x00\x90\x90", ""};
  size_t lens[] = {5, 6, 6, 0};
  int prev = rl_log_level;
  rl_log_level = -1;
  for (int i = 0; i < 4; i++) {
    zmq_send(a, junk[i], lens[i], 0);
    zmq_poll(&it, 1, 1000);
    ok = ok && rl_msg_recv(b, false, &m) == -1;
  }
  rl_log_level = prev;
  ok = ok && rl_msg_recv(b, false, &m) == 0;
  zmq_close(a);
  zmq_close(b);
  zmq_ctx_term(ctx);
  return ok ? 0 : 1;
}
