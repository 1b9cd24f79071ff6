/* wire.h: typed messages: one C struct per message type of proto.h, with a packer and an
 * unpacker made from its field list that validate every field.
 *
 * For a message RL_NM_LEASE (proto.h: RL_NM_LEASE_FIELDS) this header declares
 *   rl_nm_lease_msg_t: a leading `nfields` (how many fields came on the wire; ignored
 *     when packing), then one member per field, in wire order, and `bool has_<name>`
 *     after each optional one;
 *   rl_nm_lease_msg_send(sock, identity, &msg) and ..._send_batched(..., owner): pack and
 *     send (rl_msg_send / rl_msg_send_batched); -1 if the socket refused it or a field
 *     broke its limits (logged, naming the field);
 *   rl_nm_lease_msg_read(m, &msg): unpack a received message; false (logged: "dropped
 *     NM_LEASE: field 'strategy' expected array, got str") if it does not match;
 *   rl_nm_lease_msg_pack / _unpack: the same with the error returned in a buffer;
 *   rl_nm_lease_msg_pack_with(&msg, b, write, arg, err, errlen): pack, the sender writing
 *     the bytes of reserved members straight into the frame (below: rl_wire_reserve).
 * Records (the elements of arrays, proto.h's RL_WREC_<name>_FIELDS) are
 * rl_wire_<name>_t, built the same way.
 *
 * Members by kind: U64 uint64_t, I64 int64_t, F64 double, BOOL bool, ID rl_id_t,
 * STR char[max] (NUL-terminated), TEXT and BIN rl_wire_bytes_t, RES rl_resources_t,
 * MAP and ANY const msgpack_object *, LIST and ARR {uint32_t n; T *v;}, REC the record.
 * What an unpacked message borrows (TEXT, BIN, MAP, ANY, and the arrays, which live in
 * the message's zone) is valid until rl_msg_next or rl_msg_close on it. A packed
 * message's members are only read.
 *
 * Example:
 *   rl_nm_return_msg_t r = {.worker_id = w, .worker_failed = false};
 *   rl_nm_return_msg_send(sock, NULL, &r);
 *   ...
 *   rl_nm_return_msg_t got;
 *   if (!rl_nm_return_msg_read(m, &got)) return;  // logged and dropped */
#ifndef RL_WIRE_H
#define RL_WIRE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "sched/resources.h"
#include "wire/msg.h"
#include "wire/proto.h"

/* A string or bytes borrowed from a message, or lent to the packer; not NUL-terminated. */
typedef struct {
  const char *p;
  size_t n;
} rl_wire_bytes_t;

/* A NUL-terminated string as rl_wire_bytes_t (for packing). */
static inline rl_wire_bytes_t rl_wire_str(const char *s) {
  rl_wire_bytes_t b = {s, 0};
  while (s && s[b.n]) b.n++;
  return b;
}
static inline rl_wire_bytes_t rl_wire_bytes(const void *p, size_t n) {
  rl_wire_bytes_t b = {(const char *)p, n};
  return b;
}
/* Copies b into out (NUL-terminated). Returns false (out then holds "") if b does not fit
 * or holds a NUL. */
bool rl_wire_strcpy(char *out, size_t outsize, rl_wire_bytes_t b);

/* ---- payloads the sender writes into the frame ----
 *
 * A TEXT or BIN member set to rl_wire_reserve(n) stands for n bytes that the sender
 * writes itself, straight into the message's buffer, when rl_wire_pack_with packs the
 * message: a large payload (a task's result encoded in place, a chunk sealed from the
 * store) is then written once, into the frame that is sent, instead of being built apart
 * and copied in. (No copy follows: the buffer is sized for the whole message up front,
 * so it does not move once they are written, and rl_msg_send lends it to ZeroMQ as the
 * frame; the wire selftest checks the first. Only resource maps, MAP and ANY members, and
 * an array's elements past its first 16, are estimated: one larger than its estimate
 * after a reserved member could still move it.) The contract:
 *   - write(arg, k, dst, n) is called once for each reserved member, k = 0, 1, ... in
 *     wire order (fields in order, array elements in order, a record's fields before the
 *     next element's), during the packing, with room for exactly n bytes at dst (inside
 *     b's buffer; valid only during the call). It writes all n of them and returns 0, or
 *     returns -1 to fail the packing ("NM_PULL_DATA: field 'data' was not written: its
 *     writer failed"; the writer keeps its own reason in arg). It must not touch b.
 *   - Each reserved member is checked like any bytes first: n over the field's max fails,
 *     naming the field, and write is not called for it.
 *   - rl_wire_pack, rl_wire_send and rl_wire_send_batched refuse a message holding a
 *     reserved member ("field 'data' is reserved ... pack it with rl_wire_pack_with"):
 *     nothing would write its bytes, and uninitialized memory would go on the wire.
 * Example (transfer_sealed.c):
 *   rl_nm_pull_data_msg_t d = {..., .has_data = true, .data = rl_wire_reserve(n + RL_SEAL_TAG)};
 *   if (rl_nm_pull_data_msg_pack_with(&d, &b, s_seal_chunk, &chunk, err, sizeof err) == 0)
 *     rl_msg_send(sock, identity, &b);
 * The unpacker knows no reserved members: it reads what the writer wrote as any bytes. */

/* n bytes for rl_wire_pack_with's writer to fill (a TEXT or BIN member only). */
rl_wire_bytes_t rl_wire_reserve(size_t n);
/* Writes the n bytes of the k-th reserved member at dst. Returns 0, or -1 (the packing
 * then fails). */
typedef int (*rl_wire_write_fn)(void *arg, uint32_t k, char *dst, size_t n);

/* ---- the structs ---- */
#define RL_WT_U64(f, m, e) uint64_t f
#define RL_WT_I64(f, m, e) int64_t f
#define RL_WT_F64(f, m, e) double f
#define RL_WT_BOOL(f, m, e) bool f
#define RL_WT_ID(f, m, e) rl_id_t f
#define RL_WT_STR(f, m, e) char f[m]
#define RL_WT_TEXT(f, m, e) rl_wire_bytes_t f
#define RL_WT_BIN(f, m, e) rl_wire_bytes_t f
#define RL_WT_RES(f, m, e) rl_resources_t f
#define RL_WT_MAP(f, m, e) const msgpack_object *f
#define RL_WT_ANY(f, m, e) const msgpack_object *f
#define RL_WET_U64 uint64_t
#define RL_WET_ID rl_id_t
#define RL_WET_TEXT rl_wire_bytes_t
#define RL_WET_RES rl_resources_t
#define RL_WT_LIST(f, m, e) \
  struct {                  \
    uint32_t n;             \
    RL_WET_##e *v;          \
  } f
#define RL_WT_ARR(f, m, e) \
  struct {                 \
    uint32_t n;            \
    rl_wire_##e##_t *v;    \
  } f
#define RL_WT_REC(f, m, e) rl_wire_##e##_t f
#define RL_WHAS_REQ(f)
#define RL_WHAS_OPT(f) bool has_##f;
#define RL_WIRE_MEMBER(c, f, kind, opt, max, elem) \
  RL_WT_##kind(f, max, elem);                      \
  RL_WHAS_##opt(f)

#define RL_WIRE_DECLARE_RECORD(name)                 \
  typedef struct {                                   \
    uint32_t nfields;                                \
    RL_WREC_##name##_FIELDS(RL_WIRE_MEMBER, name)    \
  } rl_wire_##name##_t;
RL_WIRE_RECORDS(RL_WIRE_DECLARE_RECORD)

/* ---- scheduling strategies (RL_WREC_sched_FIELDS) ---- */

/* True if a and b place leases the same way. */
bool rl_wire_sched_eq(const rl_wire_sched_t *a, const rl_wire_sched_t *b);
/* Packs s as the one value of a field (for messages still packed field by field).
 * Returns 0, or -1 with err if s is incomplete (nothing packed then). */
int rl_wire_pack_sched(msgpack_packer *pk, const rl_wire_sched_t *s, char *err, size_t errlen);
/* Reads a field packed by rl_wire_pack_sched. Returns 0, or -1 with err. */
int rl_wire_unpack_sched(const msgpack_object *o, rl_wire_sched_t *s, char *err, size_t errlen);

/* ---- the generic codec (type: an RL_* message type) ---- */

/* "NM_LEASE" for RL_NM_LEASE; NULL for an unknown type. */
const char *rl_wire_name(int type);
/* Packs msg (the struct of `type`) into b (rl_msgbuf_init'ed here). Returns 0, or -1
 * with "NM_LEASE: field 'x' ..." in err (b is then empty) if a field breaks its limits
 * (string too long or holding a NUL, value or count over the max, strategy incomplete). */
int rl_wire_pack(int type, const void *msg, rl_msgbuf_t *b, char *err, size_t errlen);
/* Unpacks m (whose type must be `type`) into msg, checking every field. Returns 0, or -1
 * with the first problem in err ("NM_LEASE: field 'strategy' expected array, got str").
 * msg borrows from m (see above). */
int rl_wire_unpack(const rl_msg_t *m, int type, void *msg, char *err, size_t errlen);
/* rl_wire_unpack, logging the error (a warning) and returning false on failure. */
bool rl_wire_read(const rl_msg_t *m, int type, void *msg);
/* rl_wire_pack, with the bytes of each reserved member (rl_wire_reserve) written in place
 * by write(arg, ...) (see above). Returns 0 (b holds the whole message, ready to send),
 * or -1 with err naming the field (b is then empty): rl_wire_pack's errors, or a writer
 * that failed. */
int rl_wire_pack_with(int type, const void *msg, rl_msgbuf_t *b, rl_wire_write_fn write, void *arg, char *err,
                      size_t errlen);
/* One field's value alone, packed and read as within its message (for a value kept apart
 * and sent later: the head keeps an actor's __init arguments, CW_PUSH_TASK's field 'args',
 * as bytes in its table). value points to a member of the type of field `field` of
 * message `type`. rl_wire_pack_field packs it into pk, checked as rl_wire_pack checks it
 * (no reserved members). rl_wire_unpack_field reads o into it, checked as rl_wire_unpack
 * checks it; arrays go into zone, bytes borrow from o's buffer. Both return 0, or -1 with
 * err ("CW_PUSH_TASK: field 'args[1]' has 4 fields, at most 3 expected"; an unknown type
 * or field is an error too). */
int rl_wire_pack_field(int type, const char *field, const void *value, msgpack_packer *pk, char *err, size_t errlen);
int rl_wire_unpack_field(int type, const char *field, const msgpack_object *o, msgpack_zone *zone, void *value,
                         char *err, size_t errlen);
/* Packs and sends (rl_msg_send). Returns 0, or -1 (a pack error is logged). */
int rl_wire_send(void *sock, const zmq_msg_t *identity, int type, const void *msg);
/* Packs and adds to owner's batch (rl_msg_send_batched). Returns 0, or -1. */
int rl_wire_send_batched(void *sock, const zmq_msg_t *identity, int type, const void *msg, const void *owner);
/* The request id a message carries in its first field, for messages whose field list
 * starts with `request u64` (requests and their replies, of any group): true with
 * *request, false for other types or a malformed first field. */
bool rl_wire_request_of(const rl_msg_t *m, uint64_t *request);
/* Unpacks m, whatever its type, into a scratch struct (for the fuzzer). Returns 1 if it
 * matched its type's field list, -1 if not (why in err), 0 for an unknown type. */
int rl_wire_unpack_any(const rl_msg_t *m, char *err, size_t errlen);

#define RL_WIRE_DECLARE_MESSAGE(TYPE, name)                                                                \
  typedef struct {                                                                                        \
    uint32_t nfields;                                                                                     \
    RL_##TYPE##_FIELDS(RL_WIRE_MEMBER, name)                                                              \
  } rl_##name##_msg_t;                                                                                    \
  static inline int rl_##name##_msg_pack(const rl_##name##_msg_t *msg, rl_msgbuf_t *b, char *err,        \
                                         size_t errlen) {                                                 \
    return rl_wire_pack(RL_##TYPE, msg, b, err, errlen);                                                  \
  }                                                                                                       \
  static inline int rl_##name##_msg_pack_with(const rl_##name##_msg_t *msg, rl_msgbuf_t *b,               \
                                              rl_wire_write_fn write, void *arg, char *err, size_t errlen) { \
    return rl_wire_pack_with(RL_##TYPE, msg, b, write, arg, err, errlen);                                 \
  }                                                                                                       \
  static inline int rl_##name##_msg_unpack(const rl_msg_t *m, rl_##name##_msg_t *msg, char *err,         \
                                           size_t errlen) {                                               \
    return rl_wire_unpack(m, RL_##TYPE, msg, err, errlen);                                                \
  }                                                                                                       \
  static inline bool rl_##name##_msg_read(const rl_msg_t *m, rl_##name##_msg_t *msg) {                   \
    return rl_wire_read(m, RL_##TYPE, msg);                                                               \
  }                                                                                                       \
  static inline int rl_##name##_msg_send(void *sock, const zmq_msg_t *identity,                          \
                                         const rl_##name##_msg_t *msg) {                                  \
    return rl_wire_send(sock, identity, RL_##TYPE, msg);                                                  \
  }                                                                                                       \
  static inline int rl_##name##_msg_send_batched(void *sock, const zmq_msg_t *identity,                  \
                                                 const rl_##name##_msg_t *msg, const void *owner) {       \
    return rl_wire_send_batched(sock, identity, RL_##TYPE, msg, owner);                                   \
  }
RL_WIRE_MESSAGES(RL_WIRE_DECLARE_MESSAGE)

#endif
