/* msg.c: framing, zero-copy send, and validated receive of rayl messages. */
#include "wire/msg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/selftest.h"

/* A message's buffer starts at S_BUF bytes (msgpack's first size is 8 KiB: a large
 * allocation for each small message), and grows by doubling. */
#define S_BUF 512
/* Messages up to this size are copied into ZeroMQ's frame (one small allocation, and
 * ours freed at once by this thread) instead of lent to it. */
#define S_COPY_MAX 1024

static void s_msgbuf_start(rl_msgbuf_t *b, uint8_t type, uint32_t nfields, size_t capacity) {
  msgpack_sbuffer_init(&b->sb);
  b->sb.data = malloc(capacity);
  b->sb.alloc = b->sb.data ? capacity : 0;
  const char hdr[RL_MSG_HEADER] = {RL_WIRE_VERSION, (char)type, 0, 0};
  msgpack_sbuffer_write(&b->sb, hdr, sizeof hdr);
  msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
  msgpack_pack_array(&b->pk, nfields);
}

void rl_msgbuf_init(rl_msgbuf_t *b, uint8_t type, uint32_t nfields) { s_msgbuf_start(b, type, nfields, S_BUF); }

void rl_msgbuf_init_sized(rl_msgbuf_t *b, uint8_t type, uint32_t nfields, size_t capacity) {
  s_msgbuf_start(b, type, nfields, capacity + 64);
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

/* Sends b's frame (consumed) with flags (ZMQ_SNDMORE or 0). */
static int s_send_frame(void *sock, rl_msgbuf_t *b, int flags) {
  zmq_msg_t frame;
  size_t size = b->sb.size;
  if (size <= S_COPY_MAX && zmq_msg_init_size(&frame, size) == 0) {
    memcpy(zmq_msg_data(&frame), b->sb.data, size);
    rl_msgbuf_reset(b);
  } else {
    char *data = msgpack_sbuffer_release(&b->sb);
    zmq_msg_init_data(&frame, data, size, s_free_buffer, NULL);
  }
  if (zmq_msg_send(&frame, sock, flags | ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&frame);
    return -1;
  }
  return 0;
}

static int s_send_identity(void *sock, const zmq_msg_t *identity) {
  zmq_msg_t id;
  zmq_msg_init(&id);
  zmq_msg_copy(&id, (zmq_msg_t *)identity);
  if (zmq_msg_send(&id, sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&id);
    return -1;
  }
  return 0;
}

/* ---- batches ---- */

/* An open batch: `parts` messages went to the socket with ZMQ_SNDMORE (after the
 * identity, on a ROUTER); the last one added is held here, and goes last, without it. */
typedef struct {
  void *sock; /* NULL: a free slot */
  const void *owner;
  zmq_msg_t identity;
  bool has_identity;
  rl_msgbuf_t held;
  unsigned parts;
  size_t bytes;
  int64_t since_us;
} s_batch_t;

#define S_BATCHES 64
static s_batch_t s_batches[S_BATCHES];
static pthread_mutex_t s_batches_mu = PTHREAD_MUTEX_INITIALIZER;
/* How old a batch may grow before the next add sends it (RL_MSG_BATCH_US; the selftest
 * raises it so that a slow machine does not split the batch it checks). */
static int64_t s_batch_age_us = RL_MSG_BATCH_US;
/* Open batches: rl_msg_send looks for one on its socket only when there are some. A
 * plain load is enough: a batch on a socket is opened by the thread that uses the
 * socket (or one that took it over through a lock, which orders the two). */
static atomic_int s_open;

static bool s_same_identity(const s_batch_t *e, const zmq_msg_t *identity) {
  if (!identity) return !e->has_identity;
  size_t n = zmq_msg_size((zmq_msg_t *)identity);
  return e->has_identity && n == zmq_msg_size((zmq_msg_t *)&e->identity) &&
         !memcmp(zmq_msg_data((zmq_msg_t *)identity), zmq_msg_data((zmq_msg_t *)&e->identity), n);
}

/* Sends e's held message (with ZMQ_SNDMORE if `more`), the identity first if it is the
 * batch's first part. */
static int s_batch_send_held(s_batch_t *e, bool more) {
  if (e->parts == 0 && e->has_identity && s_send_identity(e->sock, &e->identity) != 0) {
    rl_msgbuf_reset(&e->held);
    return -1;
  }
  e->parts++;
  return s_send_frame(e->sock, &e->held, more ? ZMQ_SNDMORE : 0);
}

/* Ends e's batch (its held message goes last) and frees the slot. Lock held. */
static void s_batch_close(s_batch_t *e) {
  if (s_batch_send_held(e, false) != 0)
    rl_log(RL_LOG_WARN, "could not send a batch of %u messages (the peer is gone?)", e->parts);
  zmq_msg_close(&e->identity);
  e->sock = NULL;
  e->owner = NULL;
  atomic_fetch_sub_explicit(&s_open, 1, memory_order_relaxed);
}

static s_batch_t *s_batch_find(const void *sock) {
  for (int i = 0; i < S_BATCHES; i++)
    if (s_batches[i].sock == sock) return &s_batches[i];
  return NULL;
}

/* Ends the batch open on sock, if any. */
static void s_flush_socket(void *sock) {
  pthread_mutex_lock(&s_batches_mu);
  s_batch_t *e = s_batch_find(sock);
  if (e) s_batch_close(e);
  pthread_mutex_unlock(&s_batches_mu);
}

int rl_msg_send(void *sock, const zmq_msg_t *identity, rl_msgbuf_t *b) {
  if (atomic_load_explicit(&s_open, memory_order_relaxed)) s_flush_socket(sock);
  if (identity && s_send_identity(sock, identity) != 0) {
    rl_msgbuf_reset(b);
    return -1;
  }
  return s_send_frame(sock, b, 0);
}

int rl_msg_send_batched(void *sock, const zmq_msg_t *identity, rl_msgbuf_t *b, const void *owner) {
  int rc = 0;
  pthread_mutex_lock(&s_batches_mu);
  s_batch_t *e = s_batch_find(sock);
  if (e && !s_same_identity(e, identity)) {
    s_batch_close(e);
    e = NULL;
  }
  if (!e) {
    e = s_batch_find(NULL);
    if (!e) { /* every slot taken: this one goes alone */
      pthread_mutex_unlock(&s_batches_mu);
      return rl_msg_send(sock, identity, b);
    }
    e->sock = sock;
    e->owner = owner;
    e->parts = 0;
    e->bytes = b->sb.size;
    e->since_us = rl_now_us();
    e->has_identity = identity != NULL;
    zmq_msg_init(&e->identity);
    if (identity) zmq_msg_copy(&e->identity, (zmq_msg_t *)identity);
    e->held = *b;
    memset(&b->sb, 0, sizeof b->sb);
    atomic_fetch_add_explicit(&s_open, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s_batches_mu);
    return 0;
  }
  rc = s_batch_send_held(e, true);
  e->held = *b;
  memset(&b->sb, 0, sizeof b->sb);
  e->bytes += e->held.sb.size;
  if (rc != 0 || e->parts + 1 >= RL_MSG_BATCH_PARTS || e->bytes >= RL_MSG_BATCH_BYTES ||
      rl_now_us() - e->since_us >= s_batch_age_us)
    s_batch_close(e);
  pthread_mutex_unlock(&s_batches_mu);
  return rc;
}

void rl_msg_flush(const void *owner) {
  if (!atomic_load_explicit(&s_open, memory_order_relaxed)) return;
  pthread_mutex_lock(&s_batches_mu);
  for (int i = 0; i < S_BATCHES; i++)
    if (s_batches[i].sock && s_batches[i].owner == owner) s_batch_close(&s_batches[i]);
  pthread_mutex_unlock(&s_batches_mu);
}

static uint64_t s_be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* Walks a msgpack buffer's headers without allocating and checks that every declared
 * length and element count fits in the bytes that are there: msgpack-c allocates an
 * array's slots before reading them, so a tiny frame claiming 4 billion elements must
 * be refused before it reaches the unpacker. */
bool rl_msgpack_plausible(const uint8_t *p, size_t len) {
  size_t pos = 0;
  uint64_t pending = 1; /* objects still to read */
  while (pending > 0) {
    if (pos >= len || pending > len - pos) return false;
    pending--;
    uint8_t b = p[pos++];
    uint64_t skip = 0, count = 0;
    int hdr = 0;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) {
    } else if (b >= 0x80 && b <= 0x8f) count = 2 * (uint64_t)(b & 0x0f);
    else if (b >= 0x90 && b <= 0x9f) count = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf) skip = b & 0x1f;
    else switch (b) {
      case 0xc4: case 0xd9: hdr = 1; break;
      case 0xc5: case 0xda: hdr = 2; break;
      case 0xc6: case 0xdb: hdr = 4; break;
      case 0xc7: hdr = 1; skip = 1; break;
      case 0xc8: hdr = 2; skip = 1; break;
      case 0xc9: hdr = 4; skip = 1; break;
      case 0xca: case 0xce: case 0xd2: skip = 4; break;
      case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
      case 0xcc: case 0xd0: skip = 1; break;
      case 0xcd: case 0xd1: skip = 2; break;
      case 0xd4: skip = 2; break;
      case 0xd5: skip = 3; break;
      case 0xd6: skip = 5; break;
      case 0xd7: skip = 9; break;
      case 0xd8: skip = 17; break;
      case 0xdc: case 0xde: {
        if (len - pos < 2) return false;
        count = s_be(p + pos, 2) * (b == 0xde ? 2 : 1);
        pos += 2;
        break;
      }
      case 0xdd: case 0xdf: {
        if (len - pos < 4) return false;
        count = s_be(p + pos, 4) * (b == 0xdf ? 2 : 1);
        pos += 4;
        break;
      }
      default: return false; /* 0xc1: never used */
    }
    if (hdr) {
      if (len - pos < (size_t)hdr) return false;
      skip += s_be(p + pos, hdr);
      pos += hdr;
    }
    if (skip > len - pos) return false;
    pos += skip;
    pending += count;
  }
  return pos == len;
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

/* Messages below S_SMALL_ZONE_FROM bytes unpack into a zone of S_SMALL_ZONE bytes to
 * start with (a small allocation; a msgpack object takes 24 bytes, and the zone grows
 * if it needs more). */
#define S_SMALL_ZONE_FROM 400
#define S_SMALL_ZONE 1000

/* Checks and unpacks the frame just received into m (m->more says whether more parts of
 * a batch follow it). Returns 1, or -1 (logged; the rest of its batch is dropped). */
static int s_parse(void *sock, rl_msg_t *m) {
  m->more = zmq_msg_more(&m->frame);
  m->sock = sock;
  size_t size = zmq_msg_size(&m->frame);
  const uint8_t *data = zmq_msg_data(&m->frame);
  if (size < RL_MSG_HEADER + 1 || size > RL_MSG_MAX) goto bad;
  if (data[0] != RL_WIRE_VERSION) goto bad;
  m->type = data[1];
  if (!rl_msgpack_plausible(data + RL_MSG_HEADER, size - RL_MSG_HEADER)) goto bad;
  /* The objects go into a zone sized for this message (msgpack_unpack_next's is 8 KiB
   * whatever the size: a large allocation for each small message). */
  size_t off = 0;
  m->up.zone = msgpack_zone_new(size < S_SMALL_ZONE_FROM ? S_SMALL_ZONE : MSGPACK_ZONE_CHUNK_SIZE);
  if (!m->up.zone || msgpack_unpack((const char *)data + RL_MSG_HEADER, size - RL_MSG_HEADER, &off, m->up.zone,
                                    &m->up.data) != MSGPACK_UNPACK_SUCCESS)
    goto bad;
  if (off != size - RL_MSG_HEADER || m->up.data.type != MSGPACK_OBJECT_ARRAY) goto bad;
  m->fields = m->up.data.via.array.ptr;
  m->nfields = m->up.data.via.array.size;
  return 1;
bad:
  rl_log(RL_LOG_WARN, "dropped a malformed message (%zu bytes)", size);
  rl_msg_close(m);
  return -1;
}

int rl_msg_recv(void *sock, bool router, rl_msg_t *m) {
  memset(m, 0, sizeof *m);
  zmq_msg_init(&m->identity);
  zmq_msg_init(&m->frame);
  zmq_msg_init(&m->batch_identity);
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
  if (router && zmq_msg_more(&m->frame)) zmq_msg_copy(&m->batch_identity, &m->identity);
  return s_parse(sock, m);
bad:
  s_drain(sock);
  rl_log(RL_LOG_WARN, "dropped a malformed message (%zu bytes)", zmq_msg_size(&m->frame));
  rl_msg_close(m);
  return -1;
}

int rl_msg_from_bytes(const void *data, size_t size, rl_msg_t *m) {
  memset(m, 0, sizeof *m);
  zmq_msg_init(&m->identity);
  zmq_msg_init(&m->batch_identity);
  msgpack_unpacked_init(&m->up);
  if (zmq_msg_init_size(&m->frame, size) != 0) {
    zmq_msg_init(&m->frame);
    rl_msg_close(m);
    return -1;
  }
  if (size) memcpy(zmq_msg_data(&m->frame), data, size);
  return s_parse(NULL, m);
}

int rl_msg_next(rl_msg_t *m) {
  if (!m->more) return 0;
  m->more = false; /* the rest is read here, not dropped */
  msgpack_unpacked_destroy(&m->up);
  msgpack_unpacked_init(&m->up);
  zmq_msg_close(&m->frame);
  zmq_msg_init(&m->frame);
  zmq_msg_close(&m->identity);
  zmq_msg_init(&m->identity);
  if (m->has_identity) zmq_msg_copy(&m->identity, &m->batch_identity);
  m->fields = NULL;
  m->nfields = 0;
  /* The parts of a multipart message arrive together: the next one is there. */
  if (zmq_msg_recv(&m->frame, m->sock, ZMQ_DONTWAIT) < 0) return 0;
  return s_parse(m->sock, m);
}

void rl_msg_close(rl_msg_t *m) {
  if (m->more) s_drain(m->sock);
  m->more = false;
  msgpack_unpacked_destroy(&m->up);
  msgpack_unpacked_init(&m->up);
  zmq_msg_close(&m->frame);
  zmq_msg_close(&m->identity);
  zmq_msg_close(&m->batch_identity);
  zmq_msg_init(&m->frame);
  zmq_msg_init(&m->identity);
  zmq_msg_init(&m->batch_identity);
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
  if (!rl_field_bytes(m, i, &p, &n) || n >= outsize || (n && memchr(p, 0, n))) return false;
  if (n) memcpy(out, p, n); /* an empty string may come with a NULL pointer */
  out[n] = 0;
  return true;
}

bool rl_field_is_nil(const rl_msg_t *m, uint32_t i) {
  const msgpack_object *o = rl_field(m, i);
  return o && o->type == MSGPACK_OBJECT_NIL;
}
