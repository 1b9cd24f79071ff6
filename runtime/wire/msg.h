/* msg.h: one message on the wire: a 4-byte header (version, type) and a msgpack body,
 * sent and received over raw ZeroMQ sockets and validated before anyone reads it. */
#ifndef RL_MSG_H
#define RL_MSG_H
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "common/id.h"

#define RL_WIRE_VERSION 1
/* Largest message accepted from a socket; larger ones are dropped and logged. Values
 * this big travel through the object store, not inline. */
#define RL_MSG_MAX ((size_t)256 << 20)
#define RL_MSG_HEADER 4

/* A message being built: msgpack_pack_* into &b->pk after rl_msgbuf_init. */
typedef struct {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} rl_msgbuf_t;

/* Starts a message of `type` whose body is an array of `nfields` fields. Can't fail
 * (msgpack-c aborts the process on out-of-memory). */
void rl_msgbuf_init(rl_msgbuf_t *b, uint8_t type, uint32_t nfields);
/* Same, with room for about `capacity` bytes reserved up front (large messages are
 * then built without reallocating and copying as they grow). */
void rl_msgbuf_init_sized(rl_msgbuf_t *b, uint8_t type, uint32_t nfields, size_t capacity);
/* Frees the buffer of a message that was not sent. Safe twice. */
void rl_msgbuf_reset(rl_msgbuf_t *b);
/* Packing helpers for the common field kinds. */
void rl_pack_id(msgpack_packer *pk, const rl_id_t *id);
void rl_pack_str(msgpack_packer *pk, const char *s);
void rl_pack_bin(msgpack_packer *pk, const void *p, size_t n);

/* Sends the message (consuming b's buffer, zero-copy) on a raw ZeroMQ socket, first
 * sending the identity frame if `identity` is not NULL (ROUTER sockets). Never blocks:
 * returns 0, or -1 if the socket refused it (peer gone or queue full; the message is
 * dropped). */
int rl_msg_send(void *sock, const zmq_msg_t *identity, rl_msgbuf_t *b);

/* Batches: messages for one socket (on a ROUTER, for one peer) given to
 * rl_msg_send_batched travel as the parts of one ZeroMQ multipart message, so both
 * sides' ZeroMQ I/O threads and the receiving process wake once for all of them instead
 * of once each (rl_msg_recv returns the first part, rl_msg_next the others). A batch
 * goes out when it is full (RL_MSG_BATCH_PARTS or RL_MSG_BATCH_BYTES), at the first add
 * after it is RL_MSG_BATCH_US old, when its owner calls rl_msg_flush, when a message for
 * another peer is batched on its socket, and before any rl_msg_send on its socket (the
 * order of messages on a socket is kept). Its owner flushes before it waits for
 * anything and before it closes the socket. Any thread may batch for its own sockets. */
#define RL_MSG_BATCH_PARTS 64
#define RL_MSG_BATCH_BYTES ((size_t)64 << 10)
#define RL_MSG_BATCH_US 500
/* Adds b (consumed) to the batch of owner for sock and identity (NULL: not a ROUTER).
 * Returns 0, or -1 if the socket refused a message (dropped, as rl_msg_send's). */
int rl_msg_send_batched(void *sock, const zmq_msg_t *identity, rl_msgbuf_t *b, const void *owner);
/* Sends every batch of owner now. Can't fail (a message the socket refuses is logged). */
void rl_msg_flush(const void *owner);

/* A received, validated message. body is the msgpack array of fields. */
typedef struct {
  uint8_t type;
  zmq_msg_t identity; /* the sender's routing id (ROUTER sockets), else empty */
  bool has_identity;
  zmq_msg_t frame;
  msgpack_unpacked up;
  const msgpack_object *fields;
  uint32_t nfields;
  bool more;                 /* more parts of a batch follow (rl_msg_next) */
  void *sock;                /* where they are */
  zmq_msg_t batch_identity;  /* the sender of a batch that came on a ROUTER */
} rl_msg_t;

/* Receives one message without blocking. Returns 1 with *m filled (release it with
 * rl_msg_close), 0 if nothing is waiting, -1 if a message arrived but was malformed
 * (wrong frame count, version, size, or msgpack body): it is logged and dropped.
 * `router`: the socket is a ROUTER, so an identity frame comes first. */
int rl_msg_recv(void *sock, bool router, rl_msg_t *m);
/* The next message of the batch m came in (m's current message is released first, so
 * take what you keep of it before): 1 with *m filled, 0 at the end of the batch (or if
 * m was a lone message), -1 if it was malformed (logged; the rest of the batch is
 * dropped). Loop `do { ... } while (rl_msg_next(&m) > 0)`; then rl_msg_close. */
int rl_msg_next(rl_msg_t *m);
/* Reads one message from the bytes of a frame (header and body), with rl_msg_recv's
 * checks, without a socket (tests, the fuzzer). Returns 1 with *m filled (release it with
 * rl_msg_close), or -1 if the bytes are malformed (logged). */
int rl_msg_from_bytes(const void *data, size_t size, rl_msg_t *m);
/* Releases m; parts of its batch not read yet are dropped. */
void rl_msg_close(rl_msg_t *m);

/* True if the msgpack bytes are one complete object whose declared lengths and counts
 * all fit in len (checked without allocating). */
bool rl_msgpack_plausible(const uint8_t *p, size_t len);

/* Field readers: each returns true and sets *out only if field i exists and has the
 * expected type (input from the network is checked, never asserted). */
bool rl_field_u64(const rl_msg_t *m, uint32_t i, uint64_t *out);
bool rl_field_i64(const rl_msg_t *m, uint32_t i, int64_t *out);
bool rl_field_f64(const rl_msg_t *m, uint32_t i, double *out);
bool rl_field_bool(const rl_msg_t *m, uint32_t i, bool *out);
bool rl_field_id(const rl_msg_t *m, uint32_t i, rl_id_t *out);
/* A string or binary field, borrowed from the message (valid until rl_msg_close). */
bool rl_field_bytes(const rl_msg_t *m, uint32_t i, const char **p, size_t *n);
/* Copies a string field into out (NUL-terminated); false if missing or too long. */
bool rl_field_strcpy(const rl_msg_t *m, uint32_t i, char *out, size_t outsize);
bool rl_field_is_nil(const rl_msg_t *m, uint32_t i);
/* The raw msgpack object of field i, or NULL. */
const msgpack_object *rl_field(const rl_msg_t *m, uint32_t i);

/* Object-level readers (for nested arrays and maps). */
bool rl_obj_u64(const msgpack_object *o, uint64_t *out);
bool rl_obj_f64(const msgpack_object *o, double *out);
bool rl_obj_bytes(const msgpack_object *o, const char **p, size_t *n);
bool rl_obj_id(const msgpack_object *o, rl_id_t *out);

#endif
