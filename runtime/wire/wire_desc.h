/* wire_desc.h: the descriptor of a message's or record's fields, as wire.c reads them
 * (made from proto.h's field lists; for the codec and its selftest, not its users). */
#ifndef RL_WIRE_DESC_H
#define RL_WIRE_DESC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/msg.h"

enum {
  RL_WK_U64 = 1, RL_WK_I64, RL_WK_F64, RL_WK_BOOL, RL_WK_ID, RL_WK_STR, RL_WK_TEXT, RL_WK_BIN,
  RL_WK_RES, RL_WK_MAP, RL_WK_ANY, RL_WK_LIST, RL_WK_ARR, RL_WK_REC
};

struct rl_wire_rec;
typedef struct {
  const char *name;
  uint8_t kind;                  /* RL_WK_* */
  uint8_t elem;                  /* LIST: its elements' kind */
  bool opt;                      /* may be nil or absent */
  uint64_t max;                  /* see proto.h */
  size_t off;                    /* of the member in the struct */
  size_t has;                    /* 1 + the offset of has_<name> (0: required) */
  const struct rl_wire_rec *rec; /* ARR, REC: the record */
} rl_wire_field_t;

typedef struct rl_wire_rec {
  const char *name; /* "NM_LEASE", or the record's name */
  const rl_wire_field_t *fields;
  uint32_t nfields;
  size_t size; /* of the struct */
} rl_wire_rec_t;

/* The descriptor of message type `type`, or NULL. */
const rl_wire_rec_t *rl_wire_desc(int type);

/* Packs msg as rl_wire_pack does, by walking type's descriptor table instead of its
 * straight-line packer: the same bytes (the selftest holds the two to that). */
int rl_wire_pack_walked(int type, const void *msg, rl_msgbuf_t *b, char *err, size_t errlen);

#endif
