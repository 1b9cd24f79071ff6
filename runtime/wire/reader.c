/* reader.c: checked reads of message fields with one clear error per failure. */
#include "wire/reader.h"

#include <stdio.h>
#include <string.h>

bool rl_rd_fail(rl_rd_t *r, uint32_t field, const char *name, const char *what) {
  if (r->list)
    snprintf(r->err, r->errlen, "%s: %s[%u] field %u (%s) is %s", r->msg, r->list, r->index + 1, field, name, what);
  else snprintf(r->err, r->errlen, "%s: field %u (%s) is %s", r->msg, field, name, what);
  return false;
}

bool rl_rd_absent(const msgpack_object *o) { return !o || o->type == MSGPACK_OBJECT_NIL; }

bool rl_rd_u64(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, uint64_t *out) {
  if (o && rl_obj_u64(o, out)) return true;
  return rl_rd_fail(r, field, name, o ? "not an unsigned integer" : "missing");
}

bool rl_rd_bool(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, bool *out) {
  if (o && o->type == MSGPACK_OBJECT_BOOLEAN) {
    *out = o->via.boolean;
    return true;
  }
  return rl_rd_fail(r, field, name, o ? "not a boolean" : "missing");
}

bool rl_rd_id(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_id_t *out) {
  if (o && rl_obj_id(o, out)) return true;
  return rl_rd_fail(r, field, name, o ? "not a 16-byte id" : "missing");
}

bool rl_rd_str(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_wstr_t *out) {
  if (o && rl_obj_bytes(o, &out->p, &out->n)) {
    if (!out->p) out->p = ""; /* an empty bin may come without a pointer */
    return true;
  }
  return rl_rd_fail(r, field, name, o ? "not a string" : "missing");
}

bool rl_rd_strcpy(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, char *out, size_t size) {
  rl_wstr_t s;
  if (!rl_rd_str(r, o, field, name, &s)) return false;
  if (s.n >= size || memchr(s.p, 0, s.n)) {
    char what[64];
    snprintf(what, sizeof what, "not a string of at most %zu bytes without NULs", size - 1);
    return rl_rd_fail(r, field, name, what);
  }
  memcpy(out, s.p, s.n);
  out[s.n] = 0;
  return true;
}

bool rl_rd_res(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_resources_t *out) {
  if (o && rl_res_unpack(o, out) == 0) return true;
  return rl_rd_fail(r, field, name, o ? "not a resource map" : "missing");
}

bool rl_rd_opt_id(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_id_t *out, bool *has) {
  *has = !rl_rd_absent(o);
  if (!*has) memset(out, 0, sizeof *out);
  return !*has || rl_rd_id(r, o, field, name, out);
}

bool rl_rd_opt_str(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, rl_wstr_t *out,
                   bool *has) {
  *has = !rl_rd_absent(o);
  if (!*has) *out = (rl_wstr_t){"", 0};
  return !*has || rl_rd_str(r, o, field, name, out);
}

bool rl_rd_array(rl_rd_t *r, const msgpack_object *o, uint32_t field, const char *name, uint32_t max,
                 const msgpack_object **items, uint32_t *n) {
  if (!o) return rl_rd_fail(r, field, name, "missing");
  if (o->type != MSGPACK_OBJECT_ARRAY) return rl_rd_fail(r, field, name, "not an array");
  if (o->via.array.size > max) {
    char what[64];
    snprintf(what, sizeof what, "an array of more than %u entries", max);
    return rl_rd_fail(r, field, name, what);
  }
  *items = o->via.array.ptr;
  *n = o->via.array.size;
  return true;
}

bool rl_rd_entry(rl_rd_t *r, const msgpack_object *o, const char *list, uint32_t index, uint32_t min, uint32_t max,
                 const msgpack_object **fields, uint32_t *n) {
  r->list = list;
  r->index = index;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < min || o->via.array.size > max) {
    snprintf(r->err, r->errlen, "%s: %s[%u] is not an array of %u to %u fields", r->msg, list, index + 1, min, max);
    return false;
  }
  *fields = o->via.array.ptr;
  *n = o->via.array.size;
  return true;
}
