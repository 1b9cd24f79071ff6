/* actor_table.c: the head's actor records (creation spec, lifecycle state, placement)
 * in an id map, and their encoding for the head's database. */
#include "gcs/actor_table.h"

#include <stdlib.h>
#include <string.h>

#include "common/idmap.h"
#include "common/selftest.h"
#include "common/xalloc.h"
#include "wire/msg.h"
#include "wire/proto.h"
#include "wire/res_pack.h"

#define S_FIELDS 21

struct rl_actor_table_t {
  rl_idmap_t *map;
};

rl_actor_table_t *rl_actor_table_new(void) {
  rl_actor_table_t *t = rl_xcalloc(1, sizeof *t);
  t->map = rl_idmap_new();
  return t;
}

void rl_actor_table_destroy(rl_actor_table_t **p) {
  if (!p || !*p) return;
  rl_actor_table_t *t = *p;
  size_t cur = 0;
  for (rl_gcs_actor_t *a; (a = rl_idmap_next(t->map, &cur, NULL));) rl_gcs_actor_destroy(&a);
  rl_idmap_destroy(&t->map);
  free(t);
  *p = NULL;
}

void rl_actor_table_put(rl_actor_table_t *t, rl_gcs_actor_t **a) {
  rl_gcs_actor_t *old = rl_idmap_remove(t->map, &(*a)->id);
  rl_gcs_actor_destroy(&old);
  rl_idmap_put(t->map, &(*a)->id, *a);
  *a = NULL;
}

rl_gcs_actor_t *rl_actor_table_get(const rl_actor_table_t *t, const rl_id_t *id) { return rl_idmap_get(t->map, id); }

rl_gcs_actor_t *rl_actor_table_next(const rl_actor_table_t *t, size_t *cursor) {
  return rl_idmap_next(t->map, cursor, NULL);
}

size_t rl_actor_table_size(const rl_actor_table_t *t) { return rl_idmap_size(t->map); }

int rl_gcs_actor_set(char **dst, size_t *dst_len, const void *src, size_t n) {
  char *copy = malloc(n + 1);
  if (!copy) return -1;
  if (n) memcpy(copy, src, n);
  copy[n] = 0;
  free(*dst);
  *dst = copy;
  if (dst_len) *dst_len = n;
  return 0;
}

rl_gcs_actor_t *rl_gcs_actor_new(void) {
  rl_gcs_actor_t *a = rl_xcalloc(1, sizeof *a);
  if (rl_gcs_actor_set(&a->name_key, NULL, "", 0) || rl_gcs_actor_set(&a->fn_key, &a->fn_key_len, "", 0) ||
      rl_gcs_actor_set(&a->fn, &a->fn_len, "", 0) || rl_gcs_actor_set(&a->args, &a->args_len, "\x90", 1) ||
      rl_gcs_actor_set(&a->runtime_env, NULL, "", 0)) {
    rl_gcs_actor_destroy(&a);
    return NULL;
  }
  return a;
}

void rl_gcs_actor_destroy(rl_gcs_actor_t **p) {
  if (!p || !*p) return;
  rl_gcs_actor_t *a = *p;
  free(a->name_key);
  free(a->fn_key);
  free(a->fn);
  free(a->args);
  free(a->runtime_env);
  free(a);
  *p = NULL;
}

bool rl_gcs_actor_can_restart(const rl_gcs_actor_t *a) {
  return a->max_restarts < 0 || a->restarts_used < (uint64_t)a->max_restarts;
}

static void s_bool(msgpack_packer *pk, bool v) {
  if (v) msgpack_pack_true(pk);
  else msgpack_pack_false(pk);
}

char *rl_gcs_actor_encode(const rl_gcs_actor_t *a, size_t *len) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, S_FIELDS);
  msgpack_pack_uint64(&pk, (uint64_t)a->state);
  rl_pack_str(&pk, a->class_name);
  rl_pack_str(&pk, a->name_key);
  rl_pack_bin(&pk, a->fn_key, a->fn_key_len);
  rl_pack_bin(&pk, a->fn, a->fn_len);
  rl_pack_bin(&pk, a->args, a->args_len);
  s_bool(&pk, a->args_have_refs);
  rl_res_pack(&pk, &a->resources);
  rl_res_pack(&pk, &a->placement);
  if (rl_wire_pack_sched(&pk, &a->sched, NULL, 0) != 0) msgpack_pack_nil(&pk); /* reads back as bad */
  rl_pack_str(&pk, a->runtime_env);
  msgpack_pack_int64(&pk, a->max_restarts);
  msgpack_pack_uint64(&pk, a->restarts_used);
  rl_pack_id(&pk, &a->owner_id);
  rl_pack_str(&pk, a->owner_endpoint);
  rl_pack_str(&pk, a->owner_node);
  s_bool(&pk, a->owner_alive);
  rl_pack_id(&pk, &a->worker_id);
  rl_pack_str(&pk, a->worker_endpoint);
  rl_pack_str(&pk, a->node_endpoint);
  rl_pack_str(&pk, a->message);
  *len = sb.size;
  return sb.data; /* msgpack_sbuffer's buffer is malloc'd: the caller frees it */
}

static bool s_cpy(const msgpack_object *o, char *out, size_t size) {
  const char *p;
  size_t n;
  if (!rl_obj_bytes(o, &p, &n) || n >= size) return false;
  memcpy(out, p, n);
  out[n] = 0;
  return true;
}

static bool s_dup(const msgpack_object *o, char **out, size_t *len) {
  const char *p;
  size_t n;
  return rl_obj_bytes(o, &p, &n) && rl_gcs_actor_set(out, len, p, n) == 0;
}

static bool s_i64(const msgpack_object *o, int64_t *out) {
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) *out = (int64_t)o->via.u64;
  else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *out = o->via.i64;
  else return false;
  return true;
}

/* Fills a from the fields f (S_FIELDS of them); false names the bad field in why. */
static bool s_fill(rl_gcs_actor_t *a, const msgpack_object *f, char *why, size_t whylen) {
  uint64_t state;
  const char *bad = NULL;
  if (!rl_obj_u64(&f[0], &state) || state > RL_AS_DEAD) bad = "state";
  else if (!s_cpy(&f[1], a->class_name, sizeof a->class_name)) bad = "class name";
  else if (!s_dup(&f[2], &a->name_key, NULL)) bad = "name key";
  else if (!s_dup(&f[3], &a->fn_key, &a->fn_key_len) || !s_dup(&f[4], &a->fn, &a->fn_len)) bad = "class";
  else if (!s_dup(&f[5], &a->args, &a->args_len) || !rl_msgpack_plausible((const uint8_t *)a->args, a->args_len))
    bad = "arguments";
  else if (f[6].type != MSGPACK_OBJECT_BOOLEAN) bad = "arguments flag";
  else if (rl_res_unpack(&f[7], &a->resources) || rl_res_unpack(&f[8], &a->placement)) bad = "resources";
  else if (rl_wire_unpack_sched(&f[9], &a->sched, NULL, 0) != 0) bad = "strategy";
  else if (!s_dup(&f[10], &a->runtime_env, NULL)) bad = "runtime_env";
  else if (!s_i64(&f[11], &a->max_restarts) || a->max_restarts < -1) bad = "max_restarts";
  else if (!rl_obj_u64(&f[12], &a->restarts_used)) bad = "restarts used";
  else if (!rl_obj_id(&f[13], &a->owner_id) || !s_cpy(&f[14], a->owner_endpoint, sizeof a->owner_endpoint) ||
           !s_cpy(&f[15], a->owner_node, sizeof a->owner_node) || f[16].type != MSGPACK_OBJECT_BOOLEAN)
    bad = "owner";
  else if (!rl_obj_id(&f[17], &a->worker_id) || !s_cpy(&f[18], a->worker_endpoint, sizeof a->worker_endpoint) ||
           !s_cpy(&f[19], a->node_endpoint, sizeof a->node_endpoint))
    bad = "worker";
  else if (!s_cpy(&f[20], a->message, sizeof a->message)) bad = "message";
  if (bad) {
    snprintf(why, whylen, "its %s is not valid", bad);
    return false;
  }
  a->state = (int)state;
  a->args_have_refs = f[6].via.boolean;
  a->owner_alive = f[16].via.boolean;
  return true;
}

rl_gcs_actor_t *rl_gcs_actor_decode(const rl_id_t *id, const void *blob, size_t len, char *why, size_t whylen) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  rl_gcs_actor_t *a = NULL;
  if (!blob || msgpack_unpack_next(&u, blob, len, &off) != MSGPACK_UNPACK_SUCCESS ||
      u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != S_FIELDS) {
    snprintf(why, whylen, "it is not an array of %d fields", S_FIELDS);
    goto done;
  }
  if (!(a = rl_gcs_actor_new())) {
    snprintf(why, whylen, "out of memory");
    goto done;
  }
  a->id = *id;
  if (!s_fill(a, u.data.via.array.ptr, why, whylen)) rl_gcs_actor_destroy(&a);
done:
  msgpack_unpacked_destroy(&u);
  return a;
}
