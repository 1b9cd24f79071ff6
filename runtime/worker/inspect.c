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
#include "common/xalloc.h"
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

void rl_inspect_handle_stack(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_stack_msg_t q;
  if (!rl_cw_stack_msg_read(m, &q)) return;
  char task[160], tb[8192] = "";
  s_task_name(cw, task, sizeof task);
  bool answered = cw->stack_fn && cw->stack_fn(cw->stack_ctx, tb, sizeof tb, S_STACK_WAIT_MS);
  rl_cw_stack_reply_msg_t r = {.request = q.request, .pid = (uint64_t)getpid(), .task = rl_wire_str(task),
                               .traceback = rl_wire_str(tb), .compiled = !answered && cw->stack_fn};
  if (rl_cw_stack_reply_msg_send(cw->router, m->has_identity ? &m->identity : NULL, &r) != 0)
    rl_log(RL_LOG_DEBUG, "an inspection reply was dropped (asker gone?)");
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

/* The row of o (refs: where its reference kinds are written, kept until sent). */
static void s_owned_row(const rl_object_t *o, int64_t now, const rl_idmap_t *captured_counts, char refs[80],
                        rl_wire_owned_info_t *e) {
  size_t captured = captured_counts ? (size_t)(uintptr_t)rl_idmap_get(captured_counts, &o->id) : 0;
  s_refs(o, captured, refs, 80);
  *e = (rl_wire_owned_info_t){
      .object_id = o->id,
      .has_size = o->state == RL_OBJ_READY, /* pending: not made yet */
      .size = o->len,
      .refs = rl_wire_str(refs),
      .local = (uint64_t)(o->local_refs > 0 ? o->local_refs : 0),
      .borrowers = o->nborrowers,
      .submitted = (uint64_t)(o->task_refs > 0 ? o->task_refs : 0) + o->ndependents,
      .contained = captured,
      .call_site = rl_wire_str(o->call_site ? o->call_site : ""),
      .age_ms = (uint64_t)(now > o->created_ms ? now - o->created_ms : 0),
  };
}

void rl_inspect_handle_owned(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_list_owned_msg_t q;
  if (!rl_cw_list_owned_msg_read(m, &q)) return;
  size_t cur = 0, n = 0;
  rl_object_t *o;
  while ((o = rl_objtab_next(cw->objects, &cur))) n += o->owned && !o->ties_actor;
  rl_idmap_t *captured = s_captured_counts(cw);
  rl_cw_owned_msg_t r = {.request = q.request, .pid = (uint64_t)getpid()};
  r.objects.v = rl_xcalloc(n + 1, sizeof *r.objects.v);
  char (*refs)[80] = rl_xcalloc(n + 1, sizeof *refs);
  int64_t now = rl_now_ms();
  cur = 0;
  while ((o = rl_objtab_next(cw->objects, &cur)))
    if (o->owned && !o->ties_actor) {
      s_owned_row(o, now, captured, refs[r.objects.n], &r.objects.v[r.objects.n]);
      r.objects.n++;
    }
  rl_idmap_destroy(&captured);
  if (rl_cw_owned_msg_send(cw->router, m->has_identity ? &m->identity : NULL, &r) != 0)
    rl_log(RL_LOG_DEBUG, "an inspection reply was dropped (asker gone?)");
  free(refs);
  free(r.objects.v);
}
