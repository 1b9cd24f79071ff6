/* task_args.c: task and actor-call arguments from the Lua stack, and the refs a
 * submission returns. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/result.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "host/host.h"

int rl_host_args_encode(lua_State *L, int first, int n, rl_host_args_t *a, char *err, size_t errlen) {
  memset(a, 0, sizeof *a);
  a->n = n;
  size_t slots = (size_t)(n ? n : 1);
  a->args = rl_xcalloc(slots, sizeof *a->args);
  a->encs = rl_xcalloc(slots, sizeof *a->encs);
  a->refs = rl_xcalloc(slots, sizeof *a->refs);
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    int idx = first + i;
    rl_objref_t *r = rl_objref_test(L, idx);
    if (r) {
      a->args[i].is_ref = true;
      a->args[i].ref = r->id;
      rl_str_copy(a->args[i].owner, sizeof a->args[i].owner, r->owner);
      continue;
    }
    char what[32];
    snprintf(what, sizeof what, "argument %d", i + 1);
    rl_codec_hooks_t hooks = rl_objref_hooks(&a->refs[i]);
    a->encs[i] = rl_codec_encode(L, idx, what, &hooks, err, errlen);
    if (!a->encs[i]) return -1;
    total += (rl_encoded_size(a->encs[i]) + 15) & ~(size_t)15;
  }
  a->flat = aligned_alloc(16, total ? total : 16);
  if (!a->flat) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    if (a->args[i].is_ref) continue;
    size_t len = rl_encoded_size(a->encs[i]);
    rl_encoded_copy(a->encs[i], a->flat + off);
    a->args[i].data = a->flat + off;
    a->args[i].len = len;
    a->args[i].contained = a->refs[i].ids;
    a->args[i].contained_owner = (const char(*)[RL_ENDPOINT_MAX])a->refs[i].owners;
    a->args[i].ncontained = a->refs[i].n;
    off += (len + 15) & ~(size_t)15; /* each argument 16-byte aligned: arrays decode as views */
  }
  return 0;
}

void rl_host_args_free(rl_host_args_t *a) {
  for (int i = 0; i < a->n; i++) {
    if (a->encs) rl_encoded_destroy(&a->encs[i]);
    if (a->refs) rl_reflist_free(&a->refs[i]);
  }
  free(a->args);
  free(a->encs);
  free(a->refs);
  free(a->flat);
  memset(a, 0, sizeof *a);
}

int rl_host_push_refs(lua_State *L, rl_id_t *ids, rl_id_t *ids_stack, int n, int rc, const char *err) {
  if (rc != 0 || !ids) {
    if (ids != ids_stack) free(ids);
    if (!ids) return rl_host_raise(L, "OutOfMemoryError", "no memory for %d return ids", n);
    return rl_host_raise(L, rc == RL_ENOMEM ? "OutOfMemoryError" : "ValueError", "%s", err);
  }
  const char *site = rl_where_call_site(L); /* rayl memory's CALL_SITE (when recorded) */
  for (int i = 0; site && i < n; i++) rl_cw_set_call_site(rl_host.cw, &ids[i], site);
  lua_settop(L, 0);
  luaL_checkstack(L, n, "too many returns");
  for (int i = 0; i < n; i++) {
    rl_objref_push(L, &ids[i], rl_cw_endpoint(rl_host.cw));
    rl_cw_ref_drop(rl_host.cw, &ids[i]); /* the submission counted the caller's handle already */
  }
  if (ids != ids_stack) free(ids);
  return n;
}
