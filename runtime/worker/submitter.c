/* submitter.c: tasks this process submits, as messages and glue: building them,
 * resolving their arguments, pushing each to the lease dispatch.c picks, their
 * results, worker and node deaths, the one retry path, cancellation. The tasks
 * themselves are a task table (task_table.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/result.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "wire/proto.h"
#include "worker/cw_internal.h"

/* A push this soon after the one before it on the same worker is batched with it. */
#define S_BURST_US 200

static uint64_t s_hash(const void *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
  return h;
}

static rl_fn_t *s_function(rl_cw_t *cw, const void *key, size_t key_len, const void *blob, size_t len) {
  uint64_t hash = s_hash(key, key_len);
  for (rl_fn_t *f = cw->fns; f; f = f->next)
    if (f->hash == hash && f->key_len == key_len && !memcmp(f->key, key, key_len)) return f;
  /* The blob (the user's function with its upvalues) is user-sized: NULL if there is
   * no memory for it. */
  void *copy = malloc(len ? len : 1);
  if (!copy) return NULL;
  rl_fn_t *f = rl_xcalloc(1, sizeof *f);
  f->hash = hash;
  f->key = rl_xmalloc(key_len);
  f->blob = copy;
  memcpy(f->key, key, key_len);
  memcpy(f->blob, blob, len);
  f->key_len = key_len;
  f->len = len;
  f->next = cw->fns;
  cw->fns = f;
  return f;
}

/* The scheduling class of a task: its resources, strategy, runtime_env and function
 * (as Ray's). Workers set up for one runtime_env serve no other; the function is part
 * of it so that a long task never queues short ones of another function behind it on
 * a pipelined lease, and each class learns its own run time. */
static rl_class_t *s_class(rl_cw_t *cw, const rl_resources_t *res, const rl_wire_sched_t *sched, const char *runtime_env,
                           const rl_fn_t *fn) {
  if (!runtime_env) runtime_env = "";
  for (rl_class_t *c = cw->classes; c; c = c->next)
    if (!c->actor && c->fn == fn && rl_res_equal(&c->resources, res) && rl_wire_sched_eq(&c->sched, sched) &&
        !strcmp(c->runtime_env, runtime_env))
      return c;
  rl_class_t *c = rl_xcalloc(1, sizeof *c);
  c->runtime_env = rl_xstrdup(runtime_env);
  c->fn = fn;
  c->resources = *res;
  c->sched = *sched;
  c->next = cw->classes;
  cw->classes = c;
  return c;
}

/* Pushes t onto lease l; reports it running if nothing ran there before it. */
static void s_run_push(rl_cw_t *cw, rl_lease_t *l, rl_task_t *t) {
  if (rl_dispatch_run_push(l, t, rl_now_us())) rl_ev_task_running(cw, t, l);
}

/* Takes t off its lease (t->lease is cleared); the next one there runs now. */
static void s_run_remove(rl_cw_t *cw, rl_task_t *t) {
  rl_lease_t *l = t->lease;
  rl_task_t *next = rl_dispatch_run_remove(t);
  if (next) rl_ev_task_running(cw, next, l);
}

/* t leaves its lease with no result from it (given back, failed, retried): one task
 * less in flight there. No-op if it is on none. */
static void s_off_lease(rl_cw_t *cw, rl_task_t *t) {
  rl_lease_t *l = t->lease;
  if (!l) return;
  if (--l->inflight == 0) l->idle_since_ms = rl_now_ms();
  s_run_remove(cw, t);
}

/* t, on no lease, leaves its class's queue (where it waits if its arguments are ready,
 * or at once if it is an actor's call, which keeps its place while they are not). */
static void s_off_queue(rl_task_t *t) {
  if (t->unresolved == 0 || t->cls->actor) rl_dispatch_unqueue(t);
}

/* t waits for o (pending) as an argument. */
static void s_depend(rl_object_t *o, rl_task_t *t) {
  rl_objtab_dependent_add(o, t);
  t->unresolved++;
}

static void s_drop_dependent(rl_cw_t *cw, rl_task_t *t, const rl_id_t *id) {
  rl_object_t *o = rl_obj_find(cw, id);
  if (o) rl_objtab_dependent_remove(o, t);
}

/* A task run again to rebuild a lost result resolves its ref arguments again: one may
 * itself be being made again. */
static void s_rewait_args(rl_cw_t *cw, rl_task_t *t) {
  for (size_t i = 0; i < t->nargs; i++) {
    rl_arg_t *a = &t->args[i];
    if (!a->is_ref) continue;
    free(a->rdata);
    a->rdata = NULL;
    rl_object_t *arg = rl_obj_find(cw, &a->ref);
    if (arg && arg->state == RL_OBJ_PENDING) s_depend(arg, t);
  }
}

bool rl_sub_retry(rl_cw_t *cw, rl_task_t *t, rl_retry_cause_t cause, const char *why) {
  if (!rl_task_retry(t, cause)) return false;
  s_off_lease(cw, t);
  if (cause == RL_RETRY_LINEAGE || cause == RL_RETRY_ARG_LOST) s_rewait_args(cw, t);
  rl_ev_task(cw, t, RL_TS_SUBMITTED, NULL);
  rl_log(RL_LOG_INFO, "retrying task %s (attempt %d): %s", t->name, t->attempt + 1, why);
  if (t->unresolved == 0 || t->cls->actor) rl_dispatch_enqueue(t, true);
  return true;
}

/* Frees a finished task and drops the references it held. */
static void s_task_free(rl_cw_t *cw, rl_task_t *t) {
  s_run_remove(cw, t);
  rl_task_table_remove(cw->tasks, t);
  for (int i = 0; i < t->opts.num_returns; i++) {
    rl_id_t rid = rl_id_for_object(t->id, (uint32_t)i + 1);
    rl_object_t *o = rl_obj_find(cw, &rid);
    if (o && o->lineage == t) o->lineage = NULL;
    if (o && o->producer == t) {
      o->producer = NULL;
      rl_obj_maybe_free(cw, o);
    }
  }
  for (size_t i = 0; i < t->nargs; i++) {
    rl_arg_t *a = &t->args[i];
    if (a->is_ref) {
      s_drop_dependent(cw, t, &a->ref);
      rl_obj_task_ref(cw, &a->ref, -1);
    }
    for (size_t k = 0; k < a->ncontained; k++) rl_obj_task_ref(cw, &a->contained[k], -1);
  }
  rl_task_delete(t);
}

/* Gives every return of t the value kind/data (an error for all returns if kind is
 * RL_RET_ERROR), then frees t. */
static void s_task_complete(rl_cw_t *cw, rl_task_t *t, int kind, const char *data, size_t len) {
  t->finished = true;
  if (kind == RL_RET_ERROR) rl_ev_task_failed(cw, t, data, len);
  else rl_ev_task(cw, t, RL_TS_FINISHED, NULL);
  for (int i = 0; i < t->opts.num_returns; i++) {
    rl_id_t rid = rl_id_for_object(t->id, (uint32_t)i + 1);
    rl_object_t *o = rl_obj_find(cw, &rid);
    if (o && o->state == RL_OBJ_PENDING) rl_obj_set_value(cw, o, kind, data, len);
  }
  s_task_free(cw, t);
}

/* A task that succeeded. While it may still be retried, it is kept as the lineage of
 * its results that live in a store, so they can be made again if their node dies
 * (rl_sub_reconstruct); its arguments stay alive with it. Otherwise it is freed. */
static void s_task_succeeded(rl_cw_t *cw, rl_task_t *t) {
  int n = t->opts.num_returns, kept = 0;
  rl_object_t **rets = rl_xcalloc((size_t)n, sizeof *rets);
  bool keep = rl_task_keeps_lineage(t);
  for (int i = 0; i < n; i++) {
    rl_id_t rid = rl_id_for_object(t->id, (uint32_t)i + 1);
    rl_object_t *o = rl_obj_find(cw, &rid);
    if (!o || (o->producer != t && o->lineage != t)) continue;
    rets[i] = o;
    o->lineage = keep && o->kind == RL_RET_STORE && o->state == RL_OBJ_READY ? t : NULL;
    kept += o->lineage != NULL;
  }
  if (!kept) {
    free(rets);
    s_task_free(cw, t);
    return;
  }
  rl_task_lineage_hold(t, kept);
  for (int i = 0; i < n; i++)
    if (rets[i]) rets[i]->producer = NULL;
  /* The last of these may free t (rl_sub_lineage_release). */
  for (int i = 0; i < n; i++)
    if (rets[i]) rl_obj_maybe_free(cw, rets[i]);
  free(rets);
}

void rl_sub_lineage_release(rl_cw_t *cw, rl_object_t *o) {
  rl_task_t *t = o->lineage;
  o->lineage = NULL;
  if (rl_task_lineage_drop(t)) s_task_free(cw, t);
}

bool rl_sub_reconstruct(rl_cw_t *cw, rl_object_t *o) {
  rl_task_t *t = o->lineage;
  if (!t) return false;
  if (!t->finished) { /* already running again for another of its results */
    o->producer = t;
    return true;
  }
  char hex[RL_ID_HEX], why[100];
  snprintf(why, sizeof why, "rebuilding its lost result %s", rl_id_hex(&o->id, hex));
  if (!rl_sub_retry(cw, t, RL_RETRY_LINEAGE, why)) return false;
  o->producer = t;
  return true;
}

static void s_task_fail(rl_cw_t *cw, rl_task_t *t, const char *type, const char *message) {
  size_t len;
  char *data = rl_cw_encode_error(cw, type, message, &len);
  s_task_complete(cw, t, RL_RET_ERROR, data, len);
  free(data);
}

/* How long a task whose worker could not read a stored argument waits to hear that the
 * argument was lost (its node's death) before its error stands. */
#define S_ARG_LOST_WAIT_MS 10000

/* Whether this process has heard that a stored argument t was pushed with is lost: its
 * object is no longer ready at the location t's worker was sent to. */
static bool s_heard_arg_lost(rl_cw_t *cw, const rl_task_t *t) {
  for (size_t i = 0; i < t->nargs; i++) {
    const rl_arg_t *a = &t->args[i];
    if (!a->is_ref || !a->rdata || a->kind != RL_RET_STORE) continue;
    const rl_object_t *o = rl_obj_find(cw, &a->ref);
    size_t loclen = a->rdata_len - RL_ID_SIZE;
    if (!o || o->state != RL_OBJ_READY || o->kind != RL_RET_STORE || strlen(o->location) != loclen ||
        memcmp(o->location, a->rdata + RL_ID_SIZE, loclen))
      return true;
  }
  return false;
}

/* t's worker could not read a stored argument of t (TASK_DONE's RL_TASK_ARG_LOST): the
 * node holding it died. Once this process has heard of that, t runs again (not counted
 * as a retry), after the arguments being made again (lineage); until then it waits, for
 * at most S_ARG_LOST_WAIT_MS (s_args_lost_check), then runs again as a retry. Returns
 * false if t is not run again. */
static bool s_arg_lost(rl_cw_t *cw, rl_task_t *t) {
  if (s_heard_arg_lost(cw, t)) return rl_sub_retry(cw, t, RL_RETRY_ARG_LOST, "an argument was lost with its node");
  if (t->cancelled || t->finished) return false;
  t->args_lost_ms = rl_now_ms();
  cw->args_lost_waiting++;
  return true;
}

/* The tasks waiting in s_arg_lost: run again those whose argument's loss this process
 * has heard of; retry (or fail) those that waited too long. */
static void s_args_lost_check(rl_cw_t *cw) {
  if (!cw->args_lost_waiting) return;
  int64_t now = rl_now_ms();
  size_t cur = 0, n = 0, waiting = 0;
  rl_task_t *t;
  rl_id_t *due = malloc((rl_task_table_size(cw->tasks) + 1) * sizeof *due);
  if (!due) return;
  while ((t = rl_task_table_next(cw->tasks, &cur)))
    if (t->args_lost_ms) due[n++] = t->id;
  for (size_t i = 0; i < n; i++) {
    /* By id: failing one task may free others. */
    if (!(t = rl_task_table_find(cw->tasks, &due[i])) || !t->args_lost_ms) continue;
    if (s_heard_arg_lost(cw, t)) {
      t->args_lost_ms = 0;
      if (!rl_sub_retry(cw, t, RL_RETRY_ARG_LOST, "an argument was lost with its node"))
        s_task_fail(cw, t, "ObjectLostError", "an argument of this task was lost and cannot be had again");
    } else if (now - t->args_lost_ms > S_ARG_LOST_WAIT_MS) {
      /* The argument's node lives: the worker's own node manager may have died under
       * the read. Run again, as a retry. */
      t->args_lost_ms = 0;
      if (!rl_sub_retry(cw, t, RL_RETRY_WORKER_DIED,
                        "its worker could not read a stored argument whose node was not reported dead"))
        s_task_fail(cw, t, "ObjectLostError",
                    "the worker could not read a stored argument of this task, and its node was not reported dead");
    } else {
      waiting++;
    }
  }
  cw->args_lost_waiting = waiting;
  free(due);
}

size_t rl_cw_task_count(const rl_cw_t *cw) {
  RL_CW_HOLD(cw);
  return rl_task_table_size(cw->tasks);
}

int rl_cw_submit(rl_cw_t *cw, const void *fn_key, size_t fn_key_len, const void *fn, size_t fn_len,
                 const rl_task_arg_t *args, size_t nargs, const rl_task_opts_t *opts, rl_id_t *ids_out,
                 char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  rl_fn_t *f = s_function(cw, fn_key, fn_key_len, fn, fn_len);
  if (!f) {
    snprintf(err, errlen, "out of memory: no room to keep the task's function (%zu bytes)", fn_len);
    return RL_ENOMEM;
  }
  rl_class_t *c = s_class(cw, &opts->resources, &opts->sched, opts->runtime_env, f);
  rl_task_t *t = rl_sub_task_new(cw, c, RL_KIND_TASK, NULL, f, args, nargs, opts, ids_out, false, err, errlen);
  if (!t) return -1;
  rl_sub_tick(cw);
  return 0;
}

rl_fn_t *rl_sub_function(rl_cw_t *cw, const void *key, size_t key_len, const void *blob, size_t len) {
  return s_function(cw, key, key_len, blob, len);
}

rl_task_t *rl_sub_task_new(rl_cw_t *cw, rl_class_t *cls, int kind, const char *method, rl_fn_t *fn,
                           const rl_task_arg_t *args, size_t nargs, const rl_task_opts_t *opts, rl_id_t *ids_out,
                           bool front, char *err, size_t errlen) {
  if (opts->num_returns < 1 || opts->num_returns > 1024) {
    snprintf(err, errlen, "num_returns must be between 1 and 1024 (got %d)", opts->num_returns);
    return NULL;
  }
  rl_id_t id = rl_id_for_task(cw->worker_id, ++cw->seq);
  rl_task_t *t = rl_task_new(&id, kind, method, opts, nargs);
  t->fn = fn;
  t->cls = cls;
  for (size_t i = 0; i < nargs; i++) {
    rl_arg_t *a = &t->args[i];
    a->is_ref = args[i].is_ref;
    if (a->is_ref) {
      a->ref = args[i].ref;
      rl_object_t *o = rl_obj_find(cw, &a->ref);
      if (!o) {
        rl_cw_ref_add(cw, &a->ref, args[i].owner);
        rl_cw_ref_drop(cw, &a->ref); /* the entry stays while the task refs it */
        o = rl_obj_find(cw, &a->ref);
      }
      rl_obj_task_ref(cw, &a->ref, +1);
      if (o && rl_cw_object_state(cw, &a->ref) == RL_OBJ_PENDING) s_depend(o, t);
    } else if (args[i].len >= RL_INLINE_MAX) {
      /* A large argument goes through the store, like a put, instead of inline. */
      void *dst;
      if (rl_cw_put(cw, args[i].len, args[i].contained, args[i].contained_owner, args[i].ncontained, &a->ref, &dst,
                    err, errlen) != 0) {
        s_task_free(cw, t);
        return NULL;
      }
      memcpy(dst, args[i].data, args[i].len);
      rl_cw_put_seal(cw, &a->ref);
      a->is_ref = true;
      rl_obj_task_ref(cw, &a->ref, +1);
      rl_cw_ref_drop(cw, &a->ref); /* only the task holds it */
    } else {
      a->data = rl_xmalloc(args[i].len); /* inline: under RL_INLINE_MAX */
      memcpy(a->data, args[i].data, args[i].len);
      a->len = args[i].len;
      if (args[i].ncontained) {
        a->contained = rl_xmalloc(args[i].ncontained * sizeof *a->contained);
        for (size_t k = 0; k < args[i].ncontained; k++) {
          a->contained[k] = args[i].contained[k];
          rl_obj_task_ref(cw, &a->contained[k], +1);
        }
        a->ncontained = args[i].ncontained;
      }
    }
  }
  for (int i = 0; i < opts->num_returns; i++) {
    ids_out[i] = rl_id_for_object(t->id, (uint32_t)i + 1);
    rl_object_t *o = rl_obj_new_owned(cw, &ids_out[i]);
    o->local_refs = 1;
    o->producer = t;
  }
  rl_task_table_insert(cw->tasks, t);
  rl_ev_task_new(cw, t);
  /* An actor's calls keep their order: they queue at once and wait at the head of
   * the queue for their arguments. */
  if (t->unresolved == 0 || cls->actor) rl_dispatch_enqueue(t, front);
  return t;
}

/* Fills in the values of t's ref arguments as it leaves its queue. Returns true if t
 * can be pushed; false if it failed (an argument failed) or waits again: an argument
 * was lost with its node since t was queued and is being made again (t is queued again
 * once it is there, an actor's call at the head of its queue at once). */
static bool s_resolve_args(rl_cw_t *cw, rl_task_t *t) {
  for (size_t i = 0; i < t->nargs; i++) {
    rl_arg_t *a = &t->args[i];
    rl_object_t *o = a->is_ref && !a->rdata ? rl_obj_find(cw, &a->ref) : NULL;
    if (o && o->state == RL_OBJ_PENDING) s_depend(o, t);
  }
  if (t->unresolved) {
    if (t->cls->actor) rl_dispatch_enqueue(t, true);
    return false;
  }
  for (size_t i = 0; i < t->nargs; i++) {
    rl_arg_t *a = &t->args[i];
    if (!a->is_ref || a->rdata) continue;
    rl_object_t *o = rl_obj_find(cw, &a->ref);
    if (!o) {
      s_task_fail(cw, t, "ObjectLostError", "an argument of this task was freed before the task could run");
      return false;
    }
    if (o->state == RL_OBJ_FAILED) {
      s_task_complete(cw, t, RL_RET_ERROR, o->data, o->len);
      return false;
    }
    a->kind = o->kind;
    if (o->kind == RL_RET_STORE) {
      /* The worker reads it from its node's store, pulled from `location` if need be. */
      size_t loclen = strlen(o->location);
      a->rdata = rl_xmalloc(RL_ID_SIZE + loclen);
      memcpy(a->rdata, o->id.b, RL_ID_SIZE);
      memcpy(a->rdata + RL_ID_SIZE, o->location, loclen);
      a->rdata_len = RL_ID_SIZE + loclen;
      a->rlen = o->len;
    } else {
      a->rdata = rl_xmalloc(o->len); /* an inline value: under RL_INLINE_MAX */
      memcpy(a->rdata, o->data, o->len);
      a->rdata_len = a->rlen = o->len;
    }
  }
  return true;
}

void rl_sub_object_ready(rl_cw_t *cw, rl_object_t *o) {
  if (!o->ndependents) return;
  size_t n;
  rl_task_t **deps = rl_objtab_dependents_take(o, &n);
  for (size_t i = 0; i < n; i++) {
    rl_task_t *t = deps[i];
    if (--t->unresolved == 0 && !t->cancelled && !t->cls->actor) rl_dispatch_enqueue(t, false);
  }
  free(deps);
  rl_obj_maybe_free(cw, o);
}

static bool s_lease_has_fn(rl_lease_t *l, uint64_t hash) {
  for (size_t i = 0; i < l->nfn; i++)
    if (l->fn_sent[i] == hash) return true;
  if (l->nfn == l->capfn) {
    size_t cap = l->capfn ? 2 * l->capfn : 8;
    l->fn_sent = rl_xrealloc(l->fn_sent, cap * sizeof *l->fn_sent);
    l->capfn = cap;
  }
  l->fn_sent[l->nfn++] = hash;
  return false;
}

static void s_push(rl_cw_t *cw, rl_task_t *t, rl_lease_t *l) {
  /* Tasks and actor creations say how many CPUs they hold (the worker sizes its math
   * libraries' thread pools to it); method calls run with their actor's. */
  bool method = t->kind == RL_KIND_ACTOR_METHOD;
  rl_wire_task_arg_t args_small[8], *args = t->nargs <= 8 ? args_small : rl_xcalloc(t->nargs, sizeof *args);
  for (size_t i = 0; i < t->nargs; i++) {
    const rl_arg_t *a = &t->args[i];
    args[i] = a->is_ref ? (rl_wire_task_arg_t){.kind = (uint64_t)a->kind, .data = rl_wire_bytes(a->rdata, a->rdata_len),
                                               .size = a->rlen}
                        : (rl_wire_task_arg_t){.kind = RL_RET_INLINE, .data = rl_wire_bytes(a->data, a->len), .size = a->len};
  }
  rl_cw_push_task_msg_t p = {.task_id = t->id, .owner_id = cw->worker_id, .args = {(uint32_t)t->nargs, args},
                             .num_returns = (uint64_t)t->opts.num_returns, .attempt = (uint64_t)t->attempt,
                             .name = rl_wire_str(t->name), .has_kind = true, .kind = (uint64_t)t->kind,
                             .has_method = true, .method = rl_wire_str(t->kind == RL_KIND_TASK ? "" : t->method),
                             .has_actor_id = true, .has_num_cpus = !method,
                             .num_cpus = rl_res_get(&t->cls->resources, "CPU")};
  rl_str_copy(p.owner_endpoint, sizeof p.owner_endpoint, cw->endpoint);
  if (t->cls->actor) p.actor_id = t->cls->actor->id;
  if (t->fn) {
    p.function_key = rl_wire_bytes(t->fn->key, t->fn->key_len);
    p.has_function = !s_lease_has_fn(l, t->fn->hash);
    p.function = rl_wire_bytes(t->fn->blob, t->fn->len);
  }
  rl_msgbuf_t b;
  char err[256];
  int packed = rl_cw_push_task_msg_pack(&p, &b, err, sizeof err);
  if (args != args_small) free(args);

  /* Tasks pushed back to back (the one before still on the worker, pushed moments ago)
   * are batched: they wake the worker once, sent at our next wait. A lone one goes at
   * once, so that a round trip does not wait for it. */
  bool burst = l->run_tail && rl_now_us() - l->run_tail->pushed_us < S_BURST_US;
  s_run_push(cw, l, t);
  if (packed != 0) { /* as a push the socket refused: its lease's end retries it */
    rl_log(RL_LOG_WARN, "could not push task %s: %s", t->name, err);
    return;
  }
  if ((burst ? rl_msg_send_batched(l->peer->sock, NULL, &b, cw) : rl_msg_send(l->peer->sock, NULL, &b)) != 0)
    rl_log(RL_LOG_WARN, "could not push task %s to %s", t->name, l->endpoint);
}

void rl_sub_take_back(rl_cw_t *cw, rl_task_t *t) {
  s_off_lease(cw, t);
  if (t->cancelled) {
    s_task_free(cw, t); /* its returns failed when it was cancelled */
    return;
  }
  rl_ev_task(cw, t, RL_TS_SUBMITTED, NULL);
  rl_dispatch_enqueue(t, true);
}

/* Tasks of c wait for a worker: the idle workers other classes keep for their next
 * tasks go back now (the node may need them for c's; a worker is not kept idle while
 * a task waits). */
static void s_return_idle_others(rl_cw_t *cw, rl_class_t *c) {
  for (rl_class_t *o = cw->classes; o; o = o->next)
    for (rl_lease_t *l = o == c || o->actor ? NULL : o->leases, *next; l; l = next) {
      next = l->next;
      if (rl_dispatch_idle(o, l, false, false, 0) == RL_IDLE_RETURN) rl_sub_return_lease(cw, o, l, false);
    }
}

/* Pushes c's queued tasks to the leases dispatch.c picks, then asks for another worker
 * or has an idle one steal, as it decides. */
static void s_dispatch(rl_cw_t *cw, rl_class_t *c) {
  while (c->queue_head) {
    if (c->actor && c->queue_head->unresolved) break; /* calls run in order */
    if (c->actor && c->actor->killed) break;         /* calls wait for the restart */
    rl_lease_t *l = rl_dispatch_pick(c, cw->polled_us);
    if (!l) break;
    rl_task_t *t = rl_dispatch_dequeue(c);
    if (!s_resolve_args(cw, t)) continue;
    s_push(cw, t, l);
  }
  if (c->actor) return; /* an actor's one worker is leased when it is created */
  if (rl_dispatch_wants_lease(c)) {
    if (c->queue_head) s_return_idle_others(cw, c);
    rl_sub_request_lease(cw, c, false, NULL);
  }
  if (!c->queue_head) rl_sub_steal(cw, c); /* if one of its workers is idle */
}

void rl_sub_tick(rl_cw_t *cw) {
  if (cw->actors_out_of_scope) rl_actor_retire(cw);
  int64_t now = rl_now_ms();
  bool check_idle = now - cw->last_lease_check_ms >= 100;
  if (check_idle) cw->last_lease_check_ms = now;
  if (check_idle) s_args_lost_check(cw);
  for (rl_class_t *c = cw->classes; c; c = c->next) {
    s_dispatch(cw, c);
    if (!check_idle || c->actor || !c->leases) continue;
    bool can_steal = rl_sub_can_steal(cw, c);
    for (rl_lease_t *l = c->leases, *next; l; l = next) {
      next = l->next;
      if (rl_dispatch_idle(c, l, can_steal, true, now) == RL_IDLE_RETURN) rl_sub_return_lease(cw, c, l, false);
    }
  }
  rl_ev_tick(cw, now); /* last: with what this tick changed */
}

static rl_lease_t *s_find_lease(rl_cw_t *cw, const rl_id_t *worker, rl_class_t **cls) {
  for (rl_class_t *c = cw->classes; c; c = c->next)
    for (rl_lease_t *l = c->leases; l; l = l->next)
      if (rl_id_eq(&l->worker_id, worker)) {
        *cls = c;
        return l;
      }
  return NULL;
}

static void s_worker_died(rl_cw_t *cw, const rl_id_t *worker, int pid, const char *reason, const char *endpoint,
                          const char *error_type, rl_retry_cause_t cause);

void rl_sub_handle_worker_died(rl_cw_t *cw, rl_msg_t *m) {
  rl_nm_worker_died_msg_t d;
  if (!rl_nm_worker_died_msg_read(m, &d)) return;
  /* Relayed from the head's list of dead clients (no endpoint): what it owned and we
   * borrowed fails; leases and actors, if any, hear of it from its node manager. */
  if (!d.endpoint[0]) {
    rl_obj_owner_gone(cw, &d.worker_id);
    return;
  }
  char reason[300];
  size_t n = d.reason.n < sizeof reason ? d.reason.n : sizeof reason - 1; /* cut to fit */
  snprintf(reason, sizeof reason, "%.*s", (int)n, n ? d.reason.p : "");
  /* Only these two: the type names what the caller's tasks fail with. */
  const char *type = strcmp(d.error_type, "OutOfMemoryError") ? "WorkerCrashedError" : "OutOfMemoryError";
  s_worker_died(cw, &d.worker_id, (int)d.pid, reason, d.endpoint, type, RL_RETRY_WORKER_DIED);
}

void rl_sub_handle_node_died(rl_cw_t *cw, rl_msg_t *m) {
  rl_nm_node_died_msg_t d;
  if (!rl_nm_node_died_msg_read(m, &d)) return;
  const char *node = d.node_endpoint;
  rl_log(RL_LOG_WARN, "node %s died", node);
  rl_obj_node_died(cw, node);
  rl_sub_leases_node_died(cw, node); /* first: the retries below may need a new lease */
  s_args_lost_check(cw);
  /* Every worker leased there died with it. */
  for (;;) {
    rl_lease_t *found = NULL;
    for (rl_class_t *c = cw->classes; c && !found; c = c->next)
      for (rl_lease_t *l = c->leases; l && !found; l = l->next)
        if (l->node && !strcmp(l->node->endpoint, node)) found = l;
    if (!found) break;
    char endpoint[RL_ENDPOINT_MAX];
    rl_id_t worker = found->worker_id;
    int pid = (int)found->pid;
    snprintf(endpoint, sizeof endpoint, "%s", found->endpoint);
    s_worker_died(cw, &worker, pid, "its node died", endpoint, "WorkerCrashedError", RL_RETRY_NODE_DIED);
  }
  for (rl_peer_t *p = cw->peers; p; p = p->next)
    if (!strcmp(p->endpoint, node)) p->registered = false; /* if it comes back, register again */
}

/* t was lost with its worker (pid, reason) and is not retried: it fails with
 * error_type, or is freed if it was cancelled (its returns failed then). */
static void s_lost_for_good(rl_cw_t *cw, rl_task_t *t, int pid, const char *reason, const char *error_type) {
  if (t->cancelled) {
    s_task_free(cw, t);
    return;
  }
  char msg[600];
  snprintf(msg, sizeof msg, "the worker (pid %d) running task '%s' died: %s%s", pid, t->name, reason,
           t->attempt ? " (after retries; raise max_retries to retry more)" : "");
  s_task_fail(cw, t, error_type, msg);
}

/* Lease l of c is gone with its worker (pid, reason): no task runs on it any more.
 * The tasks that were on it are retried (after cause) ahead of the queue, in the order
 * they were pushed, or are lost for good. */
static void s_lease_lost(rl_cw_t *cw, rl_class_t *c, rl_lease_t *l, int pid, const char *reason,
                         const char *error_type, rl_retry_cause_t cause) {
  rl_task_t *t = l->run_tail;
  for (rl_task_t *u = t; u; u = u->run_prev) u->lease = NULL;
  l->run_head = l->run_tail = NULL;
  rl_sub_return_lease(cw, c, l, true);
  char why[400];
  snprintf(why, sizeof why, "worker pid %d died: %s", pid, reason);
  while (t) { /* last first: each goes to the front of the queue */
    rl_task_t *prev = t->run_prev;
    t->run_prev = t->run_next = NULL;
    if (!rl_sub_retry(cw, t, cause, why)) s_lost_for_good(cw, t, pid, reason, error_type);
    t = prev;
  }
}

/* The worker (at endpoint) is gone: what it owned is lost, what ran there is retried
 * or fails (with error_type), an actor there restarts or dies. */
static void s_worker_died(rl_cw_t *cw, const rl_id_t *worker, int pid, const char *reason, const char *endpoint,
                          const char *error_type, rl_retry_cause_t cause) {
  rl_obj_owner_died(cw, endpoint, pid, reason);
  rl_obj_borrower_died(cw, endpoint);
  rl_actor_owner_died(cw, endpoint, pid, reason);
  rl_class_t *c;
  rl_lease_t *l = s_find_lease(cw, worker, &c);
  if (!l) return;
  if (c->actor) rl_actor_worker_died(cw, c, pid, reason);
  else s_lease_lost(cw, c, l, pid, reason, error_type, cause);
  rl_sub_tick(cw);
}

/* Refs inside a task's results stay alive while any of its return objects does: the
 * worker made us a borrower of those it owns before replying. */
static void s_attach_contained(rl_cw_t *cw, rl_task_t *t, const rl_cw_task_done_msg_t *done) {
  uint32_t n = done->borrowed.n;
  if (n == 0) return;
  for (int r = 0; r < t->opts.num_returns; r++) {
    rl_id_t rid = rl_id_for_object(t->id, (uint32_t)r + 1);
    rl_object_t *o = rl_obj_find(cw, &rid);
    if (!o || o->contained) continue;
    o->contained = rl_xcalloc(n, sizeof *o->contained);
    for (uint32_t i = 0; i < n; i++) {
      const rl_wire_borrow_t *e = &done->borrowed.v[i];
      rid = e->object_id;
      rl_cw_ref_add(cw, &rid, e->owner_endpoint);
      o->contained[o->ncontained++] = rid;
    }
  }
}

/* The worker at endpoint still holds these refs of ours (TASK_DONE's last field). */
static void s_note_borrowers(rl_cw_t *cw, const rl_cw_task_done_msg_t *done, const char *endpoint) {
  for (uint32_t i = 0; done->has_held && i < done->held.n; i++) {
    rl_object_t *o = rl_obj_find(cw, &done->held.v[i]);
    if (o && o->owned) rl_obj_add_borrower(cw, o, endpoint);
  }
}

void rl_sub_handle_task_done(rl_cw_t *cw, rl_msg_t *m, rl_peer_t *from) {
  (void)from;
  rl_cw_task_done_msg_t done;
  if (!rl_cw_task_done_msg_read(m, &done)) return;
  uint64_t status = done.status;
  rl_task_t *t = rl_task_table_find(cw->tasks, &done.task_id);
  if (!t || t->finished) return; /* finished: kept as lineage; a late duplicate */
  if (t->lease) {
    s_note_borrowers(cw, &done, t->lease->endpoint);
    if (done.has_start_us && done.has_end_us && done.start_us > 0)
      rl_ev_task_span(cw, t, t->lease, (int64_t)done.start_us, (int64_t)done.end_us, status != RL_TASK_OK);
    rl_dispatch_done(t->lease, t, rl_now_us());
    s_run_remove(cw, t);
  } else {
    /* Its worker was declared dead and the task queued again, then this result of the
     * attempt that finished after all arrived: it is the task's result, and the retry
     * leaves the queue (freeing t while queued would leave the queue pointing at it). */
    s_off_queue(t);
  }
  if (t->cancelled) {
    s_task_free(cw, t);
    return;
  }
  if (t->kind == RL_KIND_ACTOR_CREATE) {
    const char *data = done.returns.n ? done.returns.v[0].data.p : NULL;
    size_t len = done.returns.n ? done.returns.v[0].data.n : 0;
    rl_actor_created(cw, t, status != RL_TASK_OK, data, len);
    s_task_complete(cw, t, status != RL_TASK_OK ? RL_RET_ERROR : RL_RET_INLINE, data, len);
    return;
  }
  if (status == RL_TASK_ARG_LOST && s_arg_lost(cw, t)) return;
  if (status != RL_TASK_OK && rl_sub_retry(cw, t, RL_RETRY_EXCEPTION, "it raised an error (retry_exceptions)")) return;
  uint32_t n = done.returns.n;
  s_attach_contained(cw, t, &done);
  for (uint32_t i = 0; i < n && i < (uint32_t)t->opts.num_returns; i++) {
    const rl_wire_task_arg_t *r = &done.returns.v[i];
    uint64_t kind = r->kind, size = r->size;
    const char *data = r->data.p;
    size_t len = r->data.n;
    if (kind == RL_RET_ERROR) {
      s_task_complete(cw, t, RL_RET_ERROR, data, len);
      return;
    }
    rl_id_t rid = rl_id_for_object(t->id, i + 1);
    rl_object_t *o = rl_obj_find(cw, &rid);
    if (o && o->state == RL_OBJ_PENDING) {
      if (kind == RL_RET_STORE) rl_obj_set_stored(cw, o, size, data, len);
      else rl_obj_set_value(cw, o, (int)kind, data, len);
    }
  }
  if (n < (uint32_t)t->opts.num_returns) {
    s_task_fail(cw, t, "TaskError", "the task returned fewer values than num_returns");
    return;
  }
  rl_ev_task(cw, t, RL_TS_FINISHED, NULL);
  s_task_succeeded(cw, t);
}

int rl_cw_cancel(rl_cw_t *cw, const rl_id_t *id, bool force, bool recursive) {
  RL_CW_HOLD(cw);
  rl_id_t tid = rl_id_task_of(*id);
  rl_task_t *t = rl_task_table_find(cw->tasks, &tid);
  if (!t || t->finished) return -1;
  if (t->cancelled) return 0;
  t->cancelled = true;
  const char *msg = "the task was cancelled (rayl.cancel) before it finished";
  if (!t->lease) {
    s_off_queue(t); /* it stops waiting for its arguments as it is freed */
    s_task_fail(cw, t, "TaskCancelledError", msg);
    return 0;
  }
  rl_cw_cancel_msg_t c = {.task_id = t->id, .force = force, .has_recursive = true, .recursive = recursive};
  rl_cw_cancel_msg_send(t->lease->peer->sock, NULL, &c);
  rl_ev_task(cw, t, RL_TS_FAILED, "TaskCancelledError");
  /* The returns fail now; whatever the worker sends later is dropped. */
  for (int i = 0; i < t->opts.num_returns; i++) {
    rl_id_t rid = rl_id_for_object(t->id, (uint32_t)i + 1);
    rl_object_t *o = rl_obj_find(cw, &rid);
    if (o && o->state == RL_OBJ_PENDING) rl_obj_fail(cw, o, "TaskCancelledError", msg);
  }
  return 0;
}

void rl_sub_cancel_children(rl_cw_t *cw, bool force) {
  size_t cur = 0, n = 0;
  rl_task_t *t, **all = rl_xmalloc((rl_task_table_size(cw->tasks) + 1) * sizeof *all);
  while ((t = rl_task_table_next(cw->tasks, &cur)))
    if (t->kind == RL_KIND_TASK && !t->finished && !t->cancelled) all[n++] = t;
  for (size_t i = 0; i < n; i++) {
    rl_id_t ret = rl_id_for_object(all[i]->id, 1);
    rl_cw_cancel(cw, &ret, force, true);
  }
  free(all);
}

void rl_sub_destroy_all(rl_cw_t *cw) {
  rl_task_table_destroy(&cw->tasks);
  for (rl_class_t *c = cw->classes, *next; c; c = next) {
    next = c->next;
    for (rl_lease_t *l = c->leases, *ln; l; l = ln) {
      ln = l->next;
      free(l->fn_sent);
      free(l);
    }
    free(c->runtime_env);
    free(c);
  }
  cw->classes = NULL;
  for (rl_fn_t *f = cw->fns, *next; f; f = next) {
    next = f->next;
    free(f->key);
    free(f->blob);
    free(f);
  }
  cw->fns = NULL;
}

void rl_sub_task_fail(rl_cw_t *cw, rl_task_t *t, int kind, const char *data, size_t len) {
  if (t->lease) s_off_lease(cw, t);
  else s_off_queue(t);
  s_task_complete(cw, t, kind, data, len);
}

rl_task_t **rl_sub_inflight(rl_cw_t *cw, const rl_class_t *c, size_t *n) {
  (void)cw;
  size_t count = 0;
  for (const rl_lease_t *l = c->leases; l; l = l->next)
    for (rl_task_t *t = l->run_head; t; t = t->run_next) count++;
  rl_task_t **out = rl_xmalloc((count + 1) * sizeof *out);
  *n = 0;
  for (const rl_lease_t *l = c->leases; l; l = l->next)
    for (rl_task_t *t = l->run_head; t; t = t->run_next) out[(*n)++] = t;
  return out;
}
