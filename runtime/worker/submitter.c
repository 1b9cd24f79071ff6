/* submitter.c: tasks this process submits: dependency resolution, dispatch to leased
 * workers per scheduling class (pipelined), results, retries and cancellation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "wire/proto.h"
#include "worker/cw_internal.h"

/* How many tasks to push to one leased worker before its results come back. A task
 * waits its turn behind another on a worker only when its class is known to be short
 * (then the wait is shorter than getting another worker, and pipelining hides the
 * round trip); a task of unknown or long run time stays here until a worker is free,
 * so that it never queues behind a long one while another worker could run it. */
static int s_pipeline_depth(const rl_class_t *c) {
  if (!strcmp(c->strategy, "SPREAD")) return 1; /* more leases, on more nodes */
  if (c->service_us <= 0 || c->service_us >= 2000) return 1;
  if (c->service_us < 200) return 128;
  return 16;
}
/* How much longer than its class's tasks usually take a task may run before the tasks
 * behind it on its worker count as held up (twice the usual time, plus this). */
#define S_STALL_SLACK_US 2000
/* A push this soon after the one before it on the same worker is batched with it. */
#define S_BURST_US 200
/* A lease with nothing to do is given back after this long. */
#define S_IDLE_LEASE_MS 500

static uint64_t s_hash(const void *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
  return h;
}

static rl_fn_t *s_function(rl_cw_t *cw, const void *key, size_t key_len, const void *blob, size_t len) {
  uint64_t hash = s_hash(key, key_len);
  for (rl_fn_t *f = cw->fns; f; f = f->next)
    if (f->hash == hash && f->key_len == key_len && !memcmp(f->key, key, key_len)) return f;
  rl_fn_t *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->hash = hash;
  f->key = malloc(key_len);
  f->blob = malloc(len ? len : 1);
  if (!f->key || !f->blob) {
    free(f->key);
    free(f->blob);
    free(f);
    return NULL;
  }
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
static rl_class_t *s_class(rl_cw_t *cw, const rl_resources_t *res, const char *strategy, const char *runtime_env,
                           const rl_fn_t *fn) {
  if (!strategy) strategy = "";
  if (!runtime_env) runtime_env = "";
  for (rl_class_t *c = cw->classes; c; c = c->next)
    if (!c->actor && c->fn == fn && rl_res_equal(&c->resources, res) && !strcmp(c->strategy, strategy) &&
        !strcmp(c->runtime_env, runtime_env))
      return c;
  rl_class_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (!(c->runtime_env = strdup(runtime_env))) {
    free(c);
    return NULL;
  }
  c->fn = fn;
  c->resources = *res;
  snprintf(c->strategy, sizeof c->strategy, "%s", strategy);
  c->next = cw->classes;
  cw->classes = c;
  return c;
}

static void s_enqueue(rl_task_t *t, bool front) {
  rl_class_t *c = t->cls;
  t->lease = NULL;
  if (front) {
    t->next = c->queue_head;
    c->queue_head = t;
    if (!c->queue_tail) c->queue_tail = t;
  } else {
    t->next = NULL;
    if (c->queue_tail) c->queue_tail->next = t;
    else c->queue_head = t;
    c->queue_tail = t;
  }
  c->queued++;
  c->spare_unused = false;
}

static void s_unqueue(rl_task_t *t) {
  rl_class_t *c = t->cls;
  for (rl_task_t **pp = &c->queue_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
    if (*pp != t) continue;
    *pp = t->next;
    if (c->queue_tail == t) c->queue_tail = prev;
    c->queued--;
    return;
  }
}

/* Tasks pushed to a lease run in push order (one at a time in a task worker): the
 * first still on it runs now, the others wait their turn. */
static void s_run_push(rl_cw_t *cw, rl_lease_t *l, rl_task_t *t) {
  t->run_prev = l->run_tail;
  t->run_next = NULL;
  if (l->run_tail) l->run_tail->run_next = t;
  else l->run_head = t;
  l->run_tail = t;
  if (l->run_head != t) return;
  l->head_since_us = t->pushed_us;
  rl_ev_task_running(cw, t, l);
}

/* Takes t off its lease (t->lease is cleared); the next one there runs now. */
static void s_run_remove(rl_cw_t *cw, rl_task_t *t) {
  rl_lease_t *l = t->lease;
  if (!l) return;
  bool was_running = l->run_head == t;
  if (t->run_prev) t->run_prev->run_next = t->run_next;
  else if (l->run_head == t) l->run_head = t->run_next;
  if (t->run_next) t->run_next->run_prev = t->run_prev;
  else if (l->run_tail == t) l->run_tail = t->run_prev;
  t->run_prev = t->run_next = NULL;
  t->lease = NULL;
  if (!was_running || !l->run_head) return;
  l->steal_dry = false;
  l->head_since_us = rl_now_us();
  rl_ev_task_running(cw, l->run_head, l);
}

/* The one retry path: counts another attempt of t (which is on no lease now and may
 * be retried), says why, and queues it ahead of tasks submitted after it (once its
 * arguments are ready; an actor's call at once, to keep the calls' order). */
static void s_retry(rl_cw_t *cw, rl_task_t *t, const char *why) {
  if (t->retries_left > 0) t->retries_left--;
  t->attempt++;
  rl_ev_task(cw, t, RL_TS_SUBMITTED, NULL);
  rl_log(RL_LOG_INFO, "retrying task %s (attempt %d): %s", t->name, t->attempt + 1, why);
  if (t->unresolved == 0 || t->cls->actor) s_enqueue(t, true);
}

static void s_drop_dependent(rl_cw_t *cw, rl_task_t *t, const rl_id_t *id) {
  rl_object_t *o = rl_obj_find(cw, id);
  if (!o) return;
  for (size_t i = 0; i < o->ndependents; i++) {
    if (o->dependents[i] != t) continue;
    o->dependents[i] = o->dependents[--o->ndependents];
    break;
  }
}

/* Frees a finished task and drops the references it held. */
static void s_task_free(rl_cw_t *cw, rl_task_t *t) {
  s_run_remove(cw, t);
  rl_idmap_remove(cw->tasks, &t->id);
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
    free(a->data);
    free(a->rdata);
    free(a->contained);
  }
  free(t->args);
  free(t);
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
  rl_object_t **rets = calloc((size_t)n, sizeof *rets);
  if (!rets) {
    s_task_free(cw, t);
    return;
  }
  bool keep = t->kind == RL_KIND_TASK && t->retries_left != 0;
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
  t->finished = true;
  t->lineage_refs = kept;
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
  if (--t->lineage_refs == 0 && t->finished) s_task_free(cw, t);
}

bool rl_sub_reconstruct(rl_cw_t *cw, rl_object_t *o) {
  rl_task_t *t = o->lineage;
  if (!t || (t->finished && t->retries_left == 0)) return false;
  o->producer = t;
  if (!t->finished) return true; /* already running again for another of its results */
  t->finished = false;
  /* Arguments are resolved again: one may itself be being made again. */
  for (size_t i = 0; i < t->nargs; i++) {
    rl_arg_t *a = &t->args[i];
    if (!a->is_ref) continue;
    free(a->rdata);
    a->rdata = NULL;
    rl_object_t *arg = rl_obj_find(cw, &a->ref);
    if (!arg || arg->state != RL_OBJ_PENDING) continue;
    if (arg->ndependents == arg->capdependents) {
      size_t cap = arg->capdependents ? 2 * arg->capdependents : 4;
      void *grown = realloc(arg->dependents, cap * sizeof *arg->dependents);
      if (!grown) continue; /* resolved as it is: fails if it is gone */
      arg->dependents = grown;
      arg->capdependents = cap;
    }
    arg->dependents[arg->ndependents++] = t;
    t->unresolved++;
  }
  char hex[RL_ID_HEX], why[100];
  snprintf(why, sizeof why, "rebuilding its lost result %s", rl_id_hex(&o->id, hex));
  s_retry(cw, t, why);
  return true;
}

static void s_task_fail(rl_cw_t *cw, rl_task_t *t, const char *type, const char *message) {
  size_t len;
  char *data = rl_cw_encode_error(cw, type, message, &len);
  s_task_complete(cw, t, RL_RET_ERROR, data, len);
  free(data);
}

size_t rl_cw_task_count(const rl_cw_t *cw) {
  RL_CW_HOLD(cw);
  return rl_idmap_size(cw->tasks);
}

int rl_cw_submit(rl_cw_t *cw, const void *fn_key, size_t fn_key_len, const void *fn, size_t fn_len,
                 const rl_task_arg_t *args, size_t nargs, const rl_task_opts_t *opts, rl_id_t *ids_out,
                 char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  rl_fn_t *f = s_function(cw, fn_key, fn_key_len, fn, fn_len);
  rl_class_t *c = f ? s_class(cw, &opts->resources, opts->strategy, opts->runtime_env, f) : NULL;
  if (!f || !c) {
    snprintf(err, errlen, "out of memory while submitting a task");
    return -1;
  }
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
  rl_task_t *t = calloc(1, sizeof *t);
  if (!t) goto oom;
  t->id = rl_id_for_task(cw->worker_id, ++cw->seq);
  t->fn = fn;
  t->kind = kind;
  rl_str_copy(t->method, sizeof t->method, method ? method : "");
  t->opts = *opts;
  t->opts.name = NULL;
  rl_str_copy(t->name, sizeof t->name, opts->name ? opts->name : "task");
  t->retries_left = opts->max_retries;
  t->cls = cls;
  t->args = calloc(nargs ? nargs : 1, sizeof *t->args);
  if (!t->args) goto oom;
  t->nargs = nargs;
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
      if (o && rl_cw_object_state(cw, &a->ref) == RL_OBJ_PENDING) {
        if (o->ndependents == o->capdependents) {
          size_t cap = o->capdependents ? 2 * o->capdependents : 4;
          void *grown = realloc(o->dependents, cap * sizeof *o->dependents);
          if (!grown) goto oom;
          o->dependents = grown;
          o->capdependents = cap;
        }
        o->dependents[o->ndependents++] = t;
        t->unresolved++;
      }
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
      a->data = malloc(args[i].len ? args[i].len : 1);
      if (!a->data) goto oom;
      memcpy(a->data, args[i].data, args[i].len);
      a->len = args[i].len;
      if (args[i].ncontained) {
        a->contained = malloc(args[i].ncontained * sizeof *a->contained);
        if (!a->contained) goto oom;
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
    if (!o) goto oom;
    o->local_refs = 1;
    o->producer = t;
  }
  rl_idmap_put(cw->tasks, &t->id, t);
  rl_ev_task_new(cw, t);
  /* An actor's calls keep their order: they queue at once and wait at the head of
   * the queue for their arguments. */
  if (t->unresolved == 0 || cls->actor) s_enqueue(t, front);
  return t;
oom:
  snprintf(err, errlen, "out of memory while submitting a task");
  return NULL; /* a partly built task is leaked here; out of memory is not survivable anyway */
}

/* Fills in the value of a resolved ref argument; fails the task if it failed. */
static bool s_resolve_args(rl_cw_t *cw, rl_task_t *t) {
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
      a->rdata = malloc(RL_ID_SIZE + loclen);
      if (a->rdata) {
        memcpy(a->rdata, o->id.b, RL_ID_SIZE);
        memcpy(a->rdata + RL_ID_SIZE, o->location, loclen);
      }
      a->rdata_len = RL_ID_SIZE + loclen;
      a->rlen = o->len;
    } else {
      a->rdata = malloc(o->len ? o->len : 1);
      if (a->rdata) memcpy(a->rdata, o->data, o->len);
      a->rdata_len = a->rlen = o->len;
    }
  }
  return true;
}

void rl_sub_object_ready(rl_cw_t *cw, rl_object_t *o) {
  if (!o->ndependents) return;
  rl_task_t **deps = o->dependents;
  size_t n = o->ndependents;
  o->dependents = NULL;
  o->ndependents = o->capdependents = 0;
  for (size_t i = 0; i < n; i++) {
    rl_task_t *t = deps[i];
    if (--t->unresolved == 0 && !t->cancelled && !t->cls->actor) s_enqueue(t, false);
  }
  free(deps);
  rl_obj_maybe_free(cw, o);
}

static bool s_lease_has_fn(rl_lease_t *l, uint64_t hash) {
  for (size_t i = 0; i < l->nfn; i++)
    if (l->fn_sent[i] == hash) return true;
  if (l->nfn == l->capfn) {
    size_t cap = l->capfn ? 2 * l->capfn : 8;
    void *grown = realloc(l->fn_sent, cap * sizeof *l->fn_sent);
    if (!grown) return false;
    l->fn_sent = grown;
    l->capfn = cap;
  }
  l->fn_sent[l->nfn++] = hash;
  return false;
}

static void s_push(rl_cw_t *cw, rl_task_t *t, rl_lease_t *l) {
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_CW_PUSH_TASK, t->kind == RL_KIND_TASK ? 9 : 12);
  rl_pack_id(&b.pk, &t->id);
  rl_pack_id(&b.pk, &cw->worker_id);
  rl_pack_str(&b.pk, cw->endpoint);
  if (!t->fn) {
    rl_pack_bin(&b.pk, NULL, 0);
    msgpack_pack_nil(&b.pk);
  } else {
    rl_pack_bin(&b.pk, t->fn->key, t->fn->key_len);
    if (s_lease_has_fn(l, t->fn->hash)) msgpack_pack_nil(&b.pk);
    else rl_pack_bin(&b.pk, t->fn->blob, t->fn->len);
  }
  msgpack_pack_array(&b.pk, (uint32_t)t->nargs);
  for (size_t i = 0; i < t->nargs; i++) {
    rl_arg_t *a = &t->args[i];
    msgpack_pack_array(&b.pk, 3);
    if (a->is_ref) {
      msgpack_pack_uint64(&b.pk, (uint64_t)a->kind);
      rl_pack_bin(&b.pk, a->rdata, a->rdata_len);
      msgpack_pack_uint64(&b.pk, a->rlen);
    } else {
      msgpack_pack_uint64(&b.pk, RL_RET_INLINE);
      rl_pack_bin(&b.pk, a->data, a->len);
      msgpack_pack_uint64(&b.pk, a->len);
    }
  }
  msgpack_pack_uint64(&b.pk, (uint64_t)t->opts.num_returns);
  msgpack_pack_uint64(&b.pk, (uint64_t)t->attempt);
  rl_pack_str(&b.pk, t->name);
  if (t->kind != RL_KIND_TASK) {
    msgpack_pack_uint64(&b.pk, (uint64_t)t->kind);
    rl_pack_str(&b.pk, t->method);
    rl_pack_id(&b.pk, &t->cls->actor->id);
  }
  t->lease = l;
  t->pushed_us = rl_now_us();
  /* Tasks pushed back to back (the one before still on the worker, pushed moments ago)
   * are batched: they wake the worker once, sent at our next wait. A lone one goes at
   * once, so that a round trip does not wait for it. */
  bool burst = l->run_tail && t->pushed_us - l->run_tail->pushed_us < S_BURST_US;
  l->inflight++;
  l->steal_dry = false;
  l->pushed_since_steal = true;
  s_run_push(cw, l, t); /* after pushed_us: the time the task starts if l was idle */
  if ((burst ? rl_msg_send_batched(l->peer->sock, NULL, &b, cw) : rl_msg_send(l->peer->sock, NULL, &b)) != 0)
    rl_log(RL_LOG_WARN, "could not push task %s to %s", t->name, l->endpoint);
}

bool rl_sub_stalled(const rl_cw_t *cw, const rl_lease_t *l) {
  return l->inflight > 0 && cw->polled_us - l->head_since_us > 2 * l->cls->service_us + S_STALL_SLACK_US;
}

/* The lease to push c's next task to: an idle one, else (an actor's, or a short class)
 * the least loaded one below the pipeline depth whose running task is not held up.
 * NULL: the task waits here for a worker. */
static rl_lease_t *s_pick_lease(rl_cw_t *cw, rl_class_t *c) {
  rl_lease_t *best = NULL;
  int depth = c->actor ? INT32_MAX : s_pipeline_depth(c);
  for (rl_lease_t *l = c->leases; l; l = l->next) {
    if (l->inflight >= depth || (best && l->inflight >= best->inflight)) continue;
    if (!c->actor && rl_sub_stalled(cw, l)) continue;
    best = l;
    if (l->inflight == 0) break;
  }
  return best;
}

void rl_sub_take_back(rl_cw_t *cw, rl_task_t *t) {
  if (--t->lease->inflight == 0) t->lease->idle_since_ms = rl_now_ms();
  s_run_remove(cw, t);
  if (t->cancelled) {
    s_task_free(cw, t); /* its returns failed when it was cancelled */
    return;
  }
  rl_ev_task(cw, t, RL_TS_SUBMITTED, NULL);
  s_enqueue(t, true);
}

/* Tasks of c wait for a worker: the idle workers other classes keep for their next
 * tasks go back now (the node may need them for c's; a worker is not kept idle while
 * a task waits). */
static void s_return_idle_others(rl_cw_t *cw, rl_class_t *c) {
  for (rl_class_t *o = cw->classes; o; o = o->next)
    for (rl_lease_t *l = o == c || o->actor || o->queue_head ? NULL : o->leases, *next; l; l = next) {
      next = l->next;
      if (l->inflight == 0) rl_sub_return_lease(cw, o, l, false);
    }
}

static void s_dispatch(rl_cw_t *cw, rl_class_t *c) {
  while (c->queue_head) {
    if (c->actor && c->queue_head->unresolved) break; /* calls run in order */
    if (c->actor && c->actor->killed) break;         /* calls wait for the restart */
    rl_lease_t *best = s_pick_lease(cw, c);
    if (!best) break;
    rl_task_t *t = c->queue_head;
    c->queue_head = t->next;
    if (!c->queue_head) c->queue_tail = NULL;
    c->queued--;
    if (!s_resolve_args(cw, t)) continue;
    s_push(cw, t, best);
  }
  if (c->actor) return; /* an actor's one worker is leased when it is created */
  /* Queued tasks want a worker; tasks waiting behind others on a pipelined lease do
   * too, for the ones submitted next, while no lease of ours is idle. */
  bool backlog = c->queue_head != NULL, idle = false;
  for (rl_lease_t *l = c->leases; l; l = l->next) idle = idle || l->inflight == 0;
  for (rl_lease_t *l = c->leases; l && !backlog && !idle && !c->spare_unused; l = l->next) backlog = l->inflight > 1;
  if (backlog && !c->lease_request) {
    if (c->queue_head) s_return_idle_others(cw, c);
    rl_sub_request_lease(cw, c, false, NULL);
  }
  if (!c->queue_head && idle) rl_sub_steal(cw, c);
}

void rl_sub_tick(rl_cw_t *cw) {
  if (cw->actors_out_of_scope) rl_actor_retire(cw);
  int64_t now = rl_now_ms();
  bool check_idle = now - cw->last_lease_check_ms >= 100;
  if (check_idle) cw->last_lease_check_ms = now;
  for (rl_class_t *c = cw->classes; c; c = c->next) {
    s_dispatch(cw, c);
    if (!check_idle || c->actor) continue;
    for (rl_lease_t *l = c->leases, *next; l; l = next) {
      next = l->next;
      if (l->inflight == 0 && !c->queue_head && now - l->idle_since_ms >= S_IDLE_LEASE_MS)
        rl_sub_return_lease(cw, c, l, false);
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
                          const char *error_type);

void rl_sub_handle_worker_died(rl_cw_t *cw, rl_msg_t *m) {
  rl_id_t worker;
  uint64_t pid;
  char reason[300], endpoint[RL_ENDPOINT_MAX], type[32] = "WorkerCrashedError";
  if (!rl_field_id(m, 0, &worker) || !rl_field_u64(m, 1, &pid) || !rl_field_strcpy(m, 2, reason, sizeof reason) ||
      !rl_field_strcpy(m, 3, endpoint, sizeof endpoint) ||
      (rl_field(m, 4) && !rl_field_strcpy(m, 4, type, sizeof type))) {
    rl_log(RL_LOG_WARN, "dropped a malformed worker death notice");
    return;
  }
  /* Only these two: the type names what the caller's tasks fail with. */
  if (strcmp(type, "OutOfMemoryError")) snprintf(type, sizeof type, "WorkerCrashedError");
  s_worker_died(cw, &worker, (int)pid, reason, endpoint, type);
}

void rl_sub_handle_node_died(rl_cw_t *cw, rl_msg_t *m) {
  char node[RL_ENDPOINT_MAX];
  if (!rl_field_strcpy(m, 0, node, sizeof node)) {
    rl_log(RL_LOG_WARN, "dropped a malformed node death notice");
    return;
  }
  rl_log(RL_LOG_WARN, "node %s died", node);
  rl_obj_node_died(cw, node);
  rl_sub_leases_node_died(cw, node); /* first: the retries below may need a new lease */
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
    s_worker_died(cw, &worker, pid, "its node died", endpoint, "WorkerCrashedError");
  }
  for (rl_peer_t *p = cw->peers; p; p = p->next)
    if (!strcmp(p->endpoint, node)) p->registered = false; /* if it comes back, register again */
}

/* The worker (at endpoint) is gone: what it owned is lost, what ran there is retried
 * or fails (with error_type), an actor there restarts or dies. */
static void s_worker_died(rl_cw_t *cw, const rl_id_t *worker, int pid, const char *reason, const char *endpoint,
                          const char *error_type) {
  rl_obj_owner_died(cw, endpoint, pid, reason);
  rl_obj_borrower_died(cw, endpoint);
  rl_actor_owner_died(cw, endpoint, pid, reason);
  rl_class_t *c;
  rl_lease_t *l = s_find_lease(cw, worker, &c);
  if (!l) return;
  if (c->actor) {
    rl_actor_worker_died(cw, c, (int)pid, reason);
    rl_sub_tick(cw);
    return;
  }
  /* Collect the tasks that were on it, then retry or fail each. */
  size_t cur = 0, n = 0;
  rl_task_t *t, **lost = malloc((rl_idmap_size(cw->tasks) + 1) * sizeof *lost);
  if (!lost) return;
  while ((t = rl_idmap_next(cw->tasks, &cur, NULL)))
    if (t->lease == l) lost[n++] = t;
  for (size_t i = n; i-- > 0;) {
    t = lost[i];
    t->lease = NULL; /* the lease goes with the worker: no other task runs on it */
    t->run_prev = t->run_next = NULL;
    if (t->cancelled) {
      s_task_free(cw, t);
    } else if (t->retries_left != 0) {
      char why[400];
      snprintf(why, sizeof why, "worker pid %llu died: %s", (unsigned long long)pid, reason);
      s_retry(cw, t, why);
    } else {
      char msg[600];
      snprintf(msg, sizeof msg, "the worker (pid %llu) running task '%s' died: %s%s", (unsigned long long)pid,
               t->name, reason, t->attempt ? " (after retries; raise max_retries to retry more)" : "");
      s_task_fail(cw, t, error_type, msg);
    }
  }
  free(lost);
  rl_sub_return_lease(cw, c, l, true);
  rl_sub_tick(cw);
}

/* Refs inside a task's results stay alive while any of its return objects does: the
 * worker made us a borrower of those it owns before replying. */
static void s_attach_contained(rl_cw_t *cw, rl_task_t *t, const msgpack_object *list) {
  if (!list || list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size == 0) return;
  uint32_t n = list->via.array.size;
  for (int r = 0; r < t->opts.num_returns; r++) {
    rl_id_t rid = rl_id_for_object(t->id, (uint32_t)r + 1);
    rl_object_t *o = rl_obj_find(cw, &rid);
    if (!o || o->contained) continue;
    o->contained = calloc(n, sizeof *o->contained);
    if (!o->contained) continue;
    for (uint32_t i = 0; i < n; i++) {
      const msgpack_object *e = &list->via.array.ptr[i];
      char owner[RL_ENDPOINT_MAX];
      const char *p;
      size_t len;
      if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 || !rl_obj_id(&e->via.array.ptr[0], &rid) ||
          !rl_obj_bytes(&e->via.array.ptr[1], &p, &len) || len >= sizeof owner)
        continue;
      memcpy(owner, p, len);
      owner[len] = 0;
      rl_cw_ref_add(cw, &rid, owner);
      o->contained[o->ncontained++] = rid;
    }
  }
}

/* The worker at endpoint still holds these refs of ours (TASK_DONE's last field). */
static void s_note_borrowers(rl_cw_t *cw, const msgpack_object *held, const char *endpoint) {
  if (!held || held->type != MSGPACK_OBJECT_ARRAY) return;
  for (uint32_t i = 0; i < held->via.array.size; i++) {
    rl_id_t oid;
    rl_object_t *o = rl_obj_id(&held->via.array.ptr[i], &oid) ? rl_obj_find(cw, &oid) : NULL;
    if (o && o->owned) rl_obj_add_borrower(cw, o, endpoint);
  }
}

void rl_sub_handle_task_done(rl_cw_t *cw, rl_msg_t *m, rl_peer_t *from) {
  (void)from;
  rl_id_t id;
  uint64_t status;
  const msgpack_object *rets = rl_field(m, 2);
  if (!rl_field_id(m, 0, &id) || !rl_field_u64(m, 1, &status) || !rets || rets->type != MSGPACK_OBJECT_ARRAY) {
    rl_log(RL_LOG_WARN, "dropped a malformed task result");
    return;
  }
  rl_task_t *t = rl_idmap_get(cw->tasks, &id);
  if (!t || t->finished) return; /* finished: kept as lineage; a late duplicate */
  if (t->lease) s_note_borrowers(cw, rl_field(m, 4), t->lease->endpoint);
  if (t->lease) {
    rl_lease_t *l = t->lease;
    int64_t now = rl_now_us(), start = t->pushed_us > l->last_done_us ? t->pushed_us : l->last_done_us;
    double service = (double)(now - start);
    t->cls->service_us = t->cls->service_us > 0 ? 0.8 * t->cls->service_us + 0.2 * service : service;
    l->last_done_us = now;
    if (--l->inflight == 0) l->idle_since_ms = now / 1000;
    s_run_remove(cw, t);
  }
  if (t->cancelled) {
    s_task_free(cw, t);
    return;
  }
  if (t->kind == RL_KIND_ACTOR_CREATE) {
    const msgpack_object *r = rets->via.array.size ? &rets->via.array.ptr[0] : NULL;
    const char *data = NULL;
    size_t len = 0;
    if (r && r->type == MSGPACK_OBJECT_ARRAY && r->via.array.size >= 2) rl_obj_bytes(&r->via.array.ptr[1], &data, &len);
    rl_actor_created(cw, t, status != RL_TASK_OK, data, len);
    s_task_complete(cw, t, status != RL_TASK_OK ? RL_RET_ERROR : RL_RET_INLINE, data, len);
    return;
  }
  if (status != RL_TASK_OK && t->opts.retry_exceptions && t->retries_left != 0) {
    s_retry(cw, t, "it raised an error (retry_exceptions)");
    return;
  }
  uint32_t n = rets->via.array.size;
  s_attach_contained(cw, t, rl_field(m, 3));
  for (uint32_t i = 0; i < n && i < (uint32_t)t->opts.num_returns; i++) {
    const msgpack_object *r = &rets->via.array.ptr[i];
    uint64_t kind, size;
    const char *data;
    size_t len;
    if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size < 3 || !rl_obj_u64(&r->via.array.ptr[0], &kind) ||
        kind > RL_RET_ERROR || !rl_obj_bytes(&r->via.array.ptr[1], &data, &len) ||
        !rl_obj_u64(&r->via.array.ptr[2], &size))
      continue;
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
  rl_task_t *t = rl_idmap_get(cw->tasks, &tid);
  if (!t || t->finished) return -1;
  if (t->cancelled) return 0;
  t->cancelled = true;
  const char *msg = "the task was cancelled (rayl.cancel) before it finished";
  if (!t->lease) {
    if (t->unresolved) {
      for (size_t i = 0; i < t->nargs; i++)
        if (t->args[i].is_ref) s_drop_dependent(cw, t, &t->args[i].ref);
    } else {
      s_unqueue(t);
    }
    s_task_fail(cw, t, "TaskCancelledError", msg);
    return 0;
  }
  rl_msgbuf_t b;
  rl_msgbuf_init(&b, RL_CW_CANCEL, 3);
  rl_pack_id(&b.pk, &t->id);
  if (force) msgpack_pack_true(&b.pk);
  else msgpack_pack_false(&b.pk);
  if (recursive) msgpack_pack_true(&b.pk);
  else msgpack_pack_false(&b.pk);
  rl_msg_send(t->lease->peer->sock, NULL, &b);
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
  rl_task_t *t, **all = malloc((rl_idmap_size(cw->tasks) + 1) * sizeof *all);
  if (!all) return;
  while ((t = rl_idmap_next(cw->tasks, &cur, NULL)))
    if (t->kind == RL_KIND_TASK && !t->finished && !t->cancelled) all[n++] = t;
  for (size_t i = 0; i < n; i++) {
    rl_id_t ret = rl_id_for_object(all[i]->id, 1);
    rl_cw_cancel(cw, &ret, force, true);
  }
  free(all);
}

void rl_sub_destroy_all(rl_cw_t *cw) {
  if (cw->tasks) {
    size_t cur = 0;
    rl_task_t *t;
    while ((t = rl_idmap_next(cw->tasks, &cur, NULL))) {
      for (size_t i = 0; i < t->nargs; i++) {
        free(t->args[i].data);
        free(t->args[i].rdata);
        free(t->args[i].contained);
      }
      free(t->args);
      free(t);
    }
  }
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
  if (t->lease) {
    t->lease->inflight--;
    s_run_remove(cw, t);
  } else if (t->unresolved == 0 || t->cls->actor) {
    s_unqueue(t);
  }
  s_task_complete(cw, t, kind, data, len);
}

rl_task_t **rl_sub_inflight(rl_cw_t *cw, const rl_class_t *c, size_t *n) {
  size_t cur = 0;
  rl_task_t *t, **out = malloc((rl_idmap_size(cw->tasks) + 1) * sizeof *out);
  *n = 0;
  if (!out) return NULL;
  while ((t = rl_idmap_next(cw->tasks, &cur, NULL)))
    if (t->cls == c && t->lease) out[(*n)++] = t;
  return out;
}

void rl_sub_requeue(rl_cw_t *cw, rl_task_t *t) {
  if (t->lease) {
    t->lease->inflight--;
    s_run_remove(cw, t);
  }
  s_retry(cw, t, "its actor's worker died");
}

/* ---- selftest: where tasks go (no sockets: leases and classes built by hand) ---- */
#include "common/selftest.h"

int rl_submitter_selftest(void) {
  rl_cw_t cw = {0};
  rl_class_t c = {0};
  rl_lease_t a = {0}, b = {0};
  a.cls = b.cls = &c;
  c.leases = &a;
  a.next = &b;
  cw.polled_us = 1000000;
  /* Run time unknown: a task waits here rather than behind a busy worker. */
  a.inflight = 1;
  a.head_since_us = cw.polled_us;
  RL_CHECK_RETURN(s_pipeline_depth(&c) == 1);
  RL_CHECK_RETURN(s_pick_lease(&cw, &c) == &b); /* the idle one */
  b.inflight = 1;
  b.head_since_us = cw.polled_us;
  RL_CHECK_RETURN(s_pick_lease(&cw, &c) == NULL);
  /* Long tasks (10 ms): never pipelined either. */
  c.service_us = 10000;
  RL_CHECK_RETURN(s_pick_lease(&cw, &c) == NULL);
  /* Short tasks (50 us) pipeline deep, onto the least loaded worker... */
  c.service_us = 50;
  RL_CHECK_RETURN(s_pipeline_depth(&c) == 128);
  a.inflight = 5;
  RL_CHECK_RETURN(s_pick_lease(&cw, &c) == &b);
  /* ... but not behind a task that has run far longer than they do. */
  b.head_since_us = cw.polled_us - 3000;
  RL_CHECK_RETURN(rl_sub_stalled(&cw, &b) && !rl_sub_stalled(&cw, &a));
  RL_CHECK_RETURN(s_pick_lease(&cw, &c) == &a);
  /* SPREAD: one task per worker, for more workers. */
  snprintf(c.strategy, sizeof c.strategy, "SPREAD");
  RL_CHECK_RETURN(s_pick_lease(&cw, &c) == NULL);
  c.strategy[0] = 0;
  return 0;
}
