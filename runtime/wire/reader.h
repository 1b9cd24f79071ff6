/* reader.h: checked reads of a received message's fields and nested entries, each
 * failure described once as "<MESSAGE>: [<list>[i]] field N (name) is not <what>". */
#ifndef RL_READER_H
#define RL_READER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"
#include "sched/resources.h"
#include "wire/msg.h"

/* A string or binary borrowed from a received message (valid until rl_msg_close). */
typedef struct {
  const char *p;
  size_t n;
} rl_wstr_t;

/* Where a decoder is: the message's name, and the list entry it reads (list NULL:
 * the message's own fields). The first failure is written to err. */
typedef struct {
  const char *msg;
  const char *list;
  uint32_t index;
  char *err;
  size_t errlen;
} rl_rd_t;

/* Writes "<msg>: [list[index]] field <field> (<name>) is <what>" to r->err. Returns
 * false (so a decoder can `return rl_rd_fail(...)`). field is 1-based. */
bool rl_rd_fail(rl_rd_t *r, uint32_t field, const char *name, const char *what);

/* True if o is absent (NULL) or nil: an optional field left out. */
bool rl_rd_absent(const msgpack_object *o);
/* Field i (0-based) of an entry (an array of n objects), or NULL past its end. */
static inline const msgpack_object *rl_rd_at(const msgpack_object *f, uint32_t n, uint32_t i) {
  return i < n ? &f[i] : NULL;
}

/* Each reads o (NULL: the field is missing, which fails) into *out, or fails naming
 * field (1-based) and name. */
bool rl_rd_u64(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, uint64_t *out);
bool rl_rd_bool(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, bool *out);
bool rl_rd_id(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_id_t *out);
bool rl_rd_str(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_wstr_t *out);
/* A string of at most size - 1 bytes without NULs, copied NUL-terminated. */
bool rl_rd_strcpy(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, char *out, size_t size);
bool rl_rd_res(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_resources_t *out);
/* Optional fields: absent or nil sets *has false (and leaves *out zero), else read. */
bool rl_rd_opt_id(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_id_t *out, bool *has);
bool rl_rd_opt_str(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_wstr_t *out,
                   bool *has);
/* An array of at most max elements: its elements and count. */
bool rl_rd_array(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, uint32_t max,
                 const msgpack_object **items, uint32_t *n);
/* Entry index of list: an array of min..max fields; sets r->list and r->index (clear
 * r->list when the list is done). */
bool rl_rd_entry(rl_rd_t *r, const msgpack_object *o, const char *list, uint32_t index, uint32_t min, uint32_t max,
                 const msgpack_object **fields, uint32_t *n);

#endif
