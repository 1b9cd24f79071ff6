/* inspect.c: what `rayl stack` and `rayl memory` ask a core worker, answered by
 * whichever thread serves it (the I/O thread while the Lua thread runs a task): the
 * running task and the Lua thread's traceback (through the host's stack hook), and the
 * objects it owns with their references and call sites. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/idmap.h"
#include "common/log.h"
#include "common/selftest.h"
#include "wire/proto.h"
#include "worker/cw_internal.h"

#define S_STACK_WAIT_MS 1000 /* how long the Lua thread has to reach a Lua instruction */

void rl_cw_set_stack_fn(rl_cw_t *cw, rl_cw_stack_fn fn, void *ctx) {
  RL_CW_HOLD(cw);
  cw->stack_fn = fn;
  cw->stack_ctx = ctx;
}

void rl_cw_set_call_site(rl_cw_t *cw, const rl_id_t *id, const char *site) {
  RL_CW_HOLD(cw);
  rl_object_t *o = rl_obj_find(cw, id);
  if (o && o->owned) o->call_site = site;
}

/* The running task as `rayl stack` names it (its name as `rayl list tasks` shows it,
 * "Actor(file:line).method" for an actor method), or "" when idle. */
static void s_task_name(const rl_cw_t *cw, char *out, size_t n) {
  snprintf(out, n, "%s", cw->running ? cw->running->name : "");
}

static void s_reply(rl_cw_t *cw, rl_msg_t *m, rl_msgbuf_t *b) {
  if (rl_msg_send(cw->router, m->has_identity ? &m->identity : NULL, b) != 0)
    rl_log(RL_LOG_DEBUG, "an inspection reply was dropped (asker gone?)");
}

void rl_inspect_handle_stack(rl_cw_t *cw, rl_msg_t *m) {
  uint64_t request;
  if (!rl_field_u64(m, 0, &request)) {
    rl_log(RL_LOG_WARN, "dropped a malformed stack request");
    return;
  }
  char task[160], tb[8192] = "";
  s_task_name(cw, task, sizeof task);
  bool answered = cw->stack_fn && cw->stack_fn(cw->stack_ctx, tb, sizeof tb, S_STACK_WAIT_MS);
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_CW_STACK_REPLY, 5);
  msgpack_pack_uint64(&b.pk, request);
  msgpack_pack_uint64(&b.pk, (uint64_t)getpid());
  rl_pack_str(&b.pk, task);
  rl_pack_str(&b.pk, tb);
  if (answered || !cw->stack_fn) msgpack_pack_false(&b.pk);
  else msgpack_pack_true(&b.pk);
  s_reply(cw, m, &b);
}

/* For each id contained in some object's value, how many values contain it (the count
 * as the map's value), or NULL when none. */
static rl_idmap_t *s_captured_counts(const rl_cw_t *cw) {
  rl_idmap_t *m = NULL;
  size_t cur = 0;
  rl_object_t *o;
  while ((o = rl_objtab_next(cw->objects, &cur)))
    for (size_t i = 0; i < o->ncontained; i++) {
      if (!m) m = rl_idmap_new();
      uintptr_t n = (uintptr_t)rl_idmap_get(m, &o->contained[i]);
      rl_idmap_put(m, &o->contained[i], (void *)(n + 1));
    }
  return m;
}

/* The reference kinds holding o, comma-separated, into buf. Each object whose value
 * contains o holds one of its local refs: those count as captured, not local. */
static void s_refs(const rl_object_t *o, size_t captured, char *buf, size_t n) {
  size_t used = 0;
  buf[0] = 0;
  const struct {
    bool on;
    const char *what;
  } kinds[] = {{o->local_refs > (int64_t)captured, "local"},
               {o->nborrowers > 0, "borrowed"},
               {o->task_refs > 0 || o->ndependents > 0, "pinned by a task"},
               {captured > 0, "captured"}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && used < n; i++)
    if (kinds[i].on) used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", kinds[i].what);
}

static void s_pack_owned(const rl_object_t *o, int64_t now, const rl_idmap_t *captured_counts, msgpack_packer *pk) {
  char refs[80];
  size_t captured = captured_counts ? (size_t)(uintptr_t)rl_idmap_get(captured_counts, &o->id) : 0;
  s_refs(o, captured, refs, sizeof refs);
  msgpack_pack_array(pk, 9);
  rl_pack_id(pk, &o->id);
  if (o->state == RL_OBJ_READY) msgpack_pack_uint64(pk, o->len);
  else msgpack_pack_nil(pk); /* pending: not made yet */
  rl_pack_str(pk, refs);
  msgpack_pack_uint64(pk, (uint64_t)(o->local_refs > 0 ? o->local_refs : 0));
  msgpack_pack_uint64(pk, o->nborrowers);
  msgpack_pack_uint64(pk, (uint64_t)(o->task_refs > 0 ? o->task_refs : 0) + o->ndependents);
  msgpack_pack_uint64(pk, captured);
  rl_pack_str(pk, o->call_site ? o->call_site : "");
  msgpack_pack_uint64(pk, (uint64_t)(now > o->created_ms ? now - o->created_ms : 0));
}

void rl_inspect_handle_owned(rl_cw_t *cw, rl_msg_t *m) {
  uint64_t request;
  if (!rl_field_u64(m, 0, &request)) {
    rl_log(RL_LOG_WARN, "dropped a malformed object listing request");
    return;
  }
  size_t cur = 0, n = 0;
  rl_object_t *o;
  while ((o = rl_objtab_next(cw->objects, &cur))) n += o->owned && !o->ties_actor;
  rl_idmap_t *captured = s_captured_counts(cw);
  rl_msgbuf_t b;
  rl_msgbuf_init_sized(&b, RL_CW_OWNED, 3, 64 + n * 128);
  msgpack_pack_uint64(&b.pk, request);
  msgpack_pack_uint64(&b.pk, (uint64_t)getpid());
  msgpack_pack_array(&b.pk, (uint32_t)n);
  int64_t now = rl_now_ms();
  cur = 0;
  while ((o = rl_objtab_next(cw->objects, &cur)))
    if (o->owned && !o->ties_actor) s_pack_owned(o, now, captured, &b.pk);
  rl_idmap_destroy(&captured);
  s_reply(cw, m, &b);
}

/* ---- selftest ---- */

int rl_inspect_selftest(void) {
  rl_object_t o;
  memset(&o, 0, sizeof o);
  char buf[80];
  int fails = 0;
  s_refs(&o, 0, buf, sizeof buf);
  RL_CHECK_COUNT(!strcmp(buf, ""), fails);
  o.local_refs = 2;
  o.task_refs = 2;
  s_refs(&o, 1, buf, sizeof buf);
  RL_CHECK_COUNT(!strcmp(buf, "local, pinned by a task, captured"), fails);
  o.local_refs = 1; /* the one local ref is the containing object's */
  o.task_refs = 0;
  s_refs(&o, 1, buf, sizeof buf);
  RL_CHECK_COUNT(!strcmp(buf, "captured"), fails);
  o.local_refs = 0;
  o.nborrowers = 1;
  o.task_refs = 0;
  s_refs(&o, 0, buf, sizeof buf);
  RL_CHECK_COUNT(!strcmp(buf, "borrowed"), fails);
  return fails ? 1 : 0;
}
