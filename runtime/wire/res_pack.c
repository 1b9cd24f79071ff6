/* res_pack.c: resource maps packed as msgpack maps {name: f64} and read back checked. */
#include "wire/res_pack.h"

#include <stdio.h>
#include <string.h>

#include "common/selftest.h"

void rl_res_pack(msgpack_packer *pk, const rl_resources_t *m) {
  msgpack_pack_map(pk, (size_t)m->n);
  for (int i = 0; i < m->n; i++) {
    size_t n = strlen(m->r[i].name);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, m->r[i].name, n);
    msgpack_pack_double(pk, (double)m->r[i].amount / RL_RES_UNIT);
  }
}

int rl_res_unpack(const msgpack_object *o, rl_resources_t *m) {
  if (!o || o->type != MSGPACK_OBJECT_MAP || o->via.map.size > RL_RES_MAX) return -1;
  rl_resources_t out;
  rl_res_clear(&out);
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    if (k->type != MSGPACK_OBJECT_STR) return -1;
    const char *name = k->via.str.ptr;
    size_t n = k->via.str.size;
    double amount;
    switch (v->type) {
      case MSGPACK_OBJECT_FLOAT32:
      case MSGPACK_OBJECT_FLOAT64: amount = v->via.f64; break;
      case MSGPACK_OBJECT_POSITIVE_INTEGER: amount = (double)v->via.u64; break;
      default: return -1; /* negative integers, nil, strings, ... */
    }
    /* Duplicate keys make the map ambiguous; reject rather than pick one. Zero
     * amounts are not stored, so track names seen by checking the source map. */
    for (uint32_t j = 0; j < i; j++) {
      const msgpack_object *kj = &o->via.map.ptr[j].key;
      if (kj->via.str.size == n && memcmp(kj->via.str.ptr, name, n) == 0) return -1;
    }
    if (rl_res_set_n(&out, name, n, amount, NULL, 0) != 0) return -1;
  }
  *m = out;
  return 0;
}
