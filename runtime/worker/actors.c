/* actors.c: actors as seen by their owner (creation, restarts, death, kill) and by
 * any caller (locating the actor's worker through its owner). An actor's calls are a
 * scheduling class whose one lease is the actor's dedicated worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/result.h"
#include "common/xalloc.h"
#include "wire/proto.h"
#include "worker/cw_internal.h"
#include "worker/head_client.h"

/* How long calls made back to back go without reading what came (a death notice). */
#define S_CALL_POLL_US 1000

static rl_actor_t *s_find(rl_cw_t *cw, const rl_id_t *id) {
  for (rl_actor_t *a = cw->actors; a; a = a->next)
    if (rl_id_eq(&a->id, id)) return a;
  return NULL;
}

static rl_actor_t *s_new(rl_cw_t *cw, const rl_id_t *id, bool owned, const char *owner) {
  rl_actor_t *a = rl_xcalloc(1, sizeof *a);
  rl_class_t *c = rl_xcalloc(1, sizeof *c);
  a->id = *id;
  a->owned = owned;
  snprintf(a->owner, sizeof a->owner, "%s", owner);
  a->cls = c;
  c->actor = a;
  c->next = cw->classes;
  cw->classes = c;
  a->next = cw->actors;
  cw->actors = a;
  return a;
}

/* The owner a handle names when the head resolves the actor (a detached one). */
static bool s_head_owned(const rl_actor_t *a) { return !strcmp(a->owner, RL_ACTOR_OWNER_HEAD); }

/* The node manager the actor's worker runs on ("" if not known). */
static const char *s_actor_node(rl_cw_t *cw, const rl_actor_t *a) {
  const rl_lease_t *l = a->cls->leases;
  if (l && l->node_endpoint) return l->node_endpoint;
  if (l && l->node) return l->node->endpoint;
  return l ? cw->node_endpoint : "";
}

/* Tells the head how a detached actor we own is doing (RL_GCS_ACTOR_UPDATE): it
 * answers callers with it and takes the actor over once we are gone. */
static void s_head_update(rl_cw_t *cw, rl_actor_t *a, int state, const char *message) {
  static const rl_id_t nil;
  void *gcs = a->owned && a->detached ? rl_cw_gcs_socket(cw) : NULL;
  if (!gcs) return;
  bool alive = state == RL_AS_ALIVE;
  int max = a->opts.max_restarts;
  rl_gcs_actor_update_msg_t u = {
      .actor_id = a->id,
      .state = (uint64_t)state,
      .restarts_used = max > 0 && a->restarts_left >= 0 ? (uint64_t)(max - a->restarts_left) : 0,
      .worker_id = alive ? a->worker_id : nil,
      .message = rl_wire_str(message ? message : ""),
  };
  snprintf(u.endpoint, sizeof u.endpoint, "%s", alive ? a->endpoint : "");
  snprintf(u.node_endpoint, sizeof u.node_endpoint, "%s", alive ? s_actor_node(cw, a) : "");
  rl_gcs_actor_update_msg_send(gcs, NULL, &u);
}

/* Gives the head a detached actor's spec (RL_GCS_ACTOR_REGISTER), so that it can create
 * the actor again once we, its owner, are gone. */
static void s_head_register(rl_cw_t *cw, rl_actor_t *a) {
  void *gcs = rl_cw_gcs_socket(cw);
  if (!gcs) {
    rl_log(RL_LOG_WARN, "cannot reach the head: detached actor %s is not restarted after this process exits",
           a->name);
    return;
  }
  bool refs = false;
  uint32_t inline_args = 0;
  for (size_t i = 0; i < a->ninit; i++) {
    bool by_value = !a->init_args[i].is_ref && !a->init_args[i].ncontained;
    refs = refs || !by_value;
    inline_args += by_value;
  }
  rl_wire_task_arg_t *args = rl_xcalloc(inline_args + 1, sizeof *args);
  for (size_t i = 0, j = 0; !refs && i < a->ninit; i++)
    args[j++] = (rl_wire_task_arg_t){.kind = RL_RET_INLINE,
                                     .data = rl_wire_bytes(a->init_args[i].data, a->init_args[i].len),
                                     .size = a->init_args[i].len};
  rl_gcs_actor_register_msg_t r = {
      .actor_id = a->id,
      .class_name = rl_wire_str(a->name),
      .name_key = rl_wire_str(a->name_key),
      .function_key = rl_wire_bytes(a->class_fn->key, a->class_fn->key_len),
      .function = rl_wire_bytes(a->class_fn->blob, a->class_fn->len),
      .args = {refs ? 0 : inline_args, args},
      .args_have_refs = refs,
      .resources = a->cls->resources,
      .placement = a->opts.placement,
      .strategy = a->cls->sched,
      .runtime_env = rl_wire_str(a->cls->runtime_env),
      .max_restarts = a->opts.max_restarts,
      .owner_id = cw->worker_id,
  };
  snprintf(r.owner_endpoint, sizeof r.owner_endpoint, "%s", cw->endpoint);
  snprintf(r.owner_node, sizeof r.owner_node, "%s", cw->node_endpoint);
  rl_gcs_actor_register_msg_send(gcs, NULL, &r);
  free(args);
}

static void s_locate_reply(rl_cw_t *cw, const zmq_msg_t *identity, uint64_t request, rl_actor_t *a) {
  bool alive = a->state == RL_ACTOR_ALIVE;
  rl_cw_actor_location_msg_t r = {.request = request, .actor_id = a->id, .alive = alive,
                                  .cause = rl_wire_bytes(alive ? NULL : a->cause, alive ? 0 : a->cause_len)};
  if (alive) {
    r.worker_id = a->worker_id;
    snprintf(r.endpoint, sizeof r.endpoint, "%s", a->endpoint);
  }
  rl_cw_actor_location_msg_send(cw->router, identity, &r);
}

/* Answers the callers waiting to learn where the actor runs (alive on a new worker,
 * or dead). */
static void s_answer_locates(rl_cw_t *cw, rl_actor_t *a) {
  if (a->state == RL_ACTOR_ALIVE && rl_id_eq(&a->worker_id, &a->dead_worker)) return;
  for (rl_waiter_t *w = a->locate_waiters, *next; w; w = next) {
    next = w->next;
    s_locate_reply(cw, &w->identity, w->request, a);
    zmq_msg_close(&w->identity);
    free(w);
  }
  a->locate_waiters = NULL;
}

/* A dead actor's name is free again (and an owner leaving takes its names along). */
static void s_forget_name(rl_cw_t *cw, rl_actor_t *a) {
  if (!a->owned || !a->name_key[0]) return;
  /* Only if the name still means this actor (a new one may have taken it since). */
  rl_head_t h;
  rl_gcs_kv_reply_msg_t kv;
  rl_msg_t reply;
  char hex[RL_ID_HEX], err[300];
  rl_head_init_cw(&h, cw);
  if (rl_head_kv(&h, RL_GCS_KV_GET, a->name_key, NULL, 0, &kv, &reply, 500, err, sizeof err) != 0) {
    rl_log(RL_LOG_DEBUG, "actor %s keeps its name: %s", a->name, err);
    return;
  }
  bool ours = kv.has_value && kv.value.n >= 32 && !memcmp(kv.value.p, rl_id_hex(&a->id, hex), 32);
  rl_msg_close(&reply);
  if (ours && rl_head_kv(&h, RL_GCS_KV_PUT, a->name_key, NULL, 0, &kv, &reply, 500, err, sizeof err) == 0)
    rl_msg_close(&reply);
  a->name_key[0] = 0;
}

/* The actor is gone for good: every queued and in-flight call fails with cause. */
static void s_make_dead(rl_cw_t *cw, rl_actor_t *a, const char *message) {
  if (a->state == RL_ACTOR_DEAD) return;
  if (!a->cause) a->cause = rl_cw_encode_error(cw, "ActorDiedError", message, &a->cause_len);
  a->state = RL_ACTOR_DEAD;
  rl_ev_actor(cw, a, RL_AS_DEAD, message);
  s_head_update(cw, a, RL_AS_DEAD, message);
  s_forget_name(cw, a);
  rl_log(RL_LOG_INFO, "actor %s is dead: %s", a->name, message);
  size_t n;
  rl_task_t **inflight = rl_sub_inflight(cw, a->cls, &n);
  for (size_t i = 0; inflight && i < n; i++) rl_sub_task_fail(cw, inflight[i], RL_RET_ERROR, a->cause, a->cause_len);
  free(inflight);
  while (a->cls->queue_head) rl_sub_task_fail(cw, a->cls->queue_head, RL_RET_ERROR, a->cause, a->cause_len);
  rl_sub_drop_lease(cw, a->cls, a->owned);
  s_answer_locates(cw, a);
}

static void s_make_dead_with(rl_cw_t *cw, rl_actor_t *a, const char *cause, size_t len, const char *message) {
  if (cause && len) {
    free(a->cause);
    a->cause = rl_xmalloc(len); /* an encoded error: under RL_INLINE_MAX */
    memcpy(a->cause, cause, len);
    a->cause_len = len;
  }
  s_make_dead(cw, a, message);
}

/* Queues the creation (first run, or a restart) and asks for a dedicated worker. */
static int s_start_creation(rl_cw_t *cw, rl_actor_t *a, char *err, size_t errlen) {
  rl_task_opts_t o = {.max_retries = 0, .num_returns = 1, .name = a->name};
  rl_id_t ret;
  if (!rl_sub_task_new(cw, a->cls, RL_KIND_ACTOR_CREATE, NULL, a->class_fn, a->init_args, a->ninit, &o, &ret, true,
                       err, errlen))
    return -1;
  rl_cw_ref_drop(cw, &ret); /* nobody waits on the creation's own result */
  rl_sub_request_lease(cw, a->cls, true, &a->opts.placement);
  return 0;
}

int rl_cw_actor_create(rl_cw_t *cw, const void *key, size_t key_len, const void *cls, size_t cls_len,
                       const rl_task_arg_t *args, size_t nargs, const rl_actor_opts_t *opts, rl_id_t *id_out,
                       char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  rl_id_t id = rl_id_random();
  rl_actor_t *a = s_new(cw, &id, true, cw->endpoint);
  a->opts = *opts;
  a->opts.name = NULL;
  a->opts.runtime_env = NULL;
  a->opts.name_key = NULL; /* copied below */
  snprintf(a->name, sizeof a->name, "%s", opts->name ? opts->name : "actor");
  a->restarts_left = opts->max_restarts;
  a->cls->resources = opts->resources;
  a->cls->sched = opts->sched;
  a->cls->detached = opts->detached;
  free(a->cls->runtime_env);
  a->cls->runtime_env = rl_xstrdup(opts->runtime_env ? opts->runtime_env : "");
  a->detached = opts->detached;
  snprintf(a->name_key, sizeof a->name_key, "%s", opts->name_key ? opts->name_key : "");
  snprintf(a->user_name, sizeof a->user_name, "%s", opts->actor_name ? opts->actor_name : "");
  snprintf(a->ns, sizeof a->ns, "%s", opts->actor_name && opts->ns ? opts->ns : "");
  a->opts.actor_name = a->opts.ns = NULL;
  a->class_fn = rl_sub_function(cw, key, key_len, cls, cls_len);
  if (!a->class_fn) {
    snprintf(err, errlen, "out of memory: no room to keep the actor's class (%zu bytes)", cls_len);
    return RL_ENOMEM;
  }
  a->init_args = rl_xcalloc(nargs ? nargs : 1, sizeof *a->init_args);
  /* Keep the __init arguments for restarts (refs stay alive as task refs of each
   * creation). */
  for (size_t i = 0; i < nargs; i++) {
    a->init_args[i] = args[i];
    if (!args[i].is_ref) {
      void *copy = malloc(args[i].len ? args[i].len : 1); /* user-sized */
      if (!copy) {
        snprintf(err, errlen, "out of memory: no room to keep __init argument %zu (%zu bytes) for restarts", i + 1,
                 args[i].len);
        return RL_ENOMEM;
      }
      memcpy(copy, args[i].data, args[i].len);
      a->init_args[i].data = copy;
      a->init_args[i].contained = NULL; /* nested refs are held by the first creation only */
      a->init_args[i].contained_owner = NULL;
      a->init_args[i].ncontained = 0;
    }
  }
  a->ninit = nargs;
  rl_task_arg_t *first = rl_xcalloc(nargs ? nargs : 1, sizeof *first);
  memcpy(first, args, nargs * sizeof *first);
  rl_task_opts_t o = {.max_retries = 0, .num_returns = 1, .name = a->name};
  rl_id_t ret;
  bool ok = rl_sub_task_new(cw, a->cls, RL_KIND_ACTOR_CREATE, NULL, a->class_fn, first, nargs, &o, &ret, true, err,
                            errlen) != NULL;
  free(first);
  if (!ok) return -1;
  rl_cw_ref_drop(cw, &ret);
  rl_sub_request_lease(cw, a->cls, true, &a->opts.placement);
  rl_ev_actor(cw, a, RL_AS_PENDING, NULL);
  if (a->detached) s_head_register(cw, a);
  *id_out = id;
  return 0;
}

static void s_send_locate(rl_cw_t *cw, rl_actor_t *a) {
  if (s_head_owned(a)) {
    void *gcs = rl_cw_gcs_socket(cw);
    if (!gcs) {
      s_make_dead(cw, a, "cannot reach the head, which knows where the actor runs");
      return;
    }
    rl_gcs_actor_locate_msg_t q = {.request = rl_cw_request_id(cw), .actor_id = a->id, .dead_worker = a->dead_worker};
    rl_gcs_actor_locate_msg_send(gcs, NULL, &q);
    a->state = RL_ACTOR_LOCATING;
    return;
  }
  rl_peer_t *peer = rl_cw_peer(cw, a->owner);
  if (!peer) {
    s_make_dead(cw, a, "cannot reach the actor's owner");
    return;
  }
  rl_cw_actor_locate_msg_t q = {.request = rl_cw_request_id(cw), .actor_id = a->id, .dead_worker = a->dead_worker};
  rl_cw_actor_locate_msg_send(peer->sock, NULL, &q);
  a->state = RL_ACTOR_LOCATING;
}

int rl_cw_actor_call(rl_cw_t *cw, const rl_id_t *id, const char *owner, const char *method,
                     const rl_task_arg_t *args, size_t nargs, const rl_task_opts_t *opts, rl_id_t *ids_out,
                     char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  /* Notice a death that has already arrived, so this call waits for the restart
   * instead of going to a worker known to be gone. Calls made back to back look at
   * most every S_CALL_POLL_US (a poll would also send the calls batched so far). */
  if (rl_now_us() - cw->polled_us >= S_CALL_POLL_US) rl_cw_poll(cw, 0);
  else rl_io_polled(cw->io);
  rl_actor_t *a = s_find(cw, id);
  if (!a) {
    if (!strcmp(owner, cw->endpoint)) {
      snprintf(err, errlen, "this actor is unknown to its owner (it was never created here)");
      return -1;
    }
    a = s_new(cw, id, false, owner);
    snprintf(a->name, sizeof a->name, "%s", opts->name ? opts->name : "actor");
    s_send_locate(cw, a);
  }
  rl_task_opts_t o = *opts;
  if (a->owned) o.max_retries = a->opts.max_task_retries;
  rl_task_t *t = rl_sub_task_new(cw, a->cls, RL_KIND_ACTOR_METHOD, method, NULL, args, nargs, &o, ids_out, false, err,
                                 errlen);
  if (!t) return -1;
  if (a->state == RL_ACTOR_DEAD) rl_sub_task_fail(cw, t, RL_RET_ERROR, a->cause, a->cause_len);
  rl_sub_tick(cw);
  return 0;
}

void rl_cw_actor_kill(rl_cw_t *cw, const rl_id_t *id, const char *owner, bool no_restart) {
  RL_CW_HOLD(cw);
  rl_actor_t *a = s_find(cw, id);
  if (!a ? !strcmp(owner, RL_ACTOR_OWNER_HEAD) : !a->owned && s_head_owned(a)) {
    /* The head tells its worker (and its owner, through the worker's exit). */
    void *gcs = rl_cw_gcs_socket(cw);
    if (!gcs) return;
    rl_gcs_actor_kill_msg_t k = {.actor_id = *id, .no_restart = no_restart};
    rl_gcs_actor_kill_msg_send(gcs, NULL, &k);
    return;
  }
  if (!a || !a->owned) {
    /* Ask its owner. */
    const char *to = a ? a->owner : owner;
    rl_peer_t *peer = to ? rl_cw_peer(cw, to) : NULL;
    if (!peer) return;
    rl_cw_kill_actor_msg_t k = {.actor_id = *id, .no_restart = no_restart};
    rl_cw_kill_actor_msg_send(peer->sock, NULL, &k);
    return;
  }
  if (a->state == RL_ACTOR_DEAD) return;
  a->killed = true;
  a->no_restart = a->no_restart || no_restart;
  if (a->cls->leases) {
    /* The node manager kills the worker; its death notice decides the rest. */
    rl_lease_t *l = a->cls->leases;
    rl_nm_return_msg_t r = {.worker_id = l->worker_id, .worker_failed = true};
    rl_nm_return_msg_send(l->node ? l->node->sock : cw->nm, NULL, &r);
  } else if (a->no_restart) {
    s_make_dead(cw, a, "the actor was killed by rayl.kill before it started");
  }
}

int rl_cw_actor_tie(rl_cw_t *cw, const rl_id_t *actor, const rl_id_t *handle_ref) {
  RL_CW_HOLD(cw);
  rl_actor_t *a = s_find(cw, actor);
  rl_object_t *o = rl_obj_find(cw, handle_ref);
  if (!a || !a->owned || !o || !o->owned) return -1;
  o->ties_actor = true;
  o->actor = *actor;
  return 0;
}

void rl_actor_out_of_scope(rl_cw_t *cw, const rl_id_t *id) {
  rl_actor_t *a = s_find(cw, id);
  if (!a || !a->owned || a->detached || a->name_key[0] || a->out_of_scope || a->state == RL_ACTOR_DEAD) return;
  a->out_of_scope = true;
  cw->actors_out_of_scope++;
  rl_actor_retire(cw);
}

void rl_actor_retire(rl_cw_t *cw) {
  for (rl_actor_t *a = cw->actors; a; a = a->next) {
    if (!a->out_of_scope || a->retired) continue;
    if (a->state == RL_ACTOR_DEAD || (a->killed && a->no_restart)) { /* gone anyway */
      cw->actors_out_of_scope--;
      a->retired = true;
      continue;
    }
    bool busy = a->cls->queue_head != NULL || a->state != RL_ACTOR_ALIVE;
    for (rl_lease_t *l = a->cls->leases; l && !busy; l = l->next) busy = l->inflight > 0;
    if (busy) continue; /* its calls (and its creation) finish first */
    cw->actors_out_of_scope--;
    a->retired = true;
    rl_log(RL_LOG_INFO, "actor %s has no handle left: freeing it", a->name);
    rl_cw_actor_kill(cw, &a->id, NULL, true);
  }
}

const char *rl_cw_actor_state(rl_cw_t *cw, const rl_id_t *id) {
  RL_CW_HOLD(cw);
  static const char *names[] = {"pending", "alive", "restarting", "locating", "dead"};
  rl_actor_t *a = s_find(cw, id);
  return a ? names[a->state] : "unknown";
}

void rl_actor_lease_granted(rl_cw_t *cw, rl_class_t *c) {
  rl_actor_t *a = c->actor;
  rl_lease_t *l = c->leases;
  if (!l) return;
  if (a->state == RL_ACTOR_DEAD) {
    rl_sub_drop_lease(cw, c, true);
    return;
  }
  /* Our own calls follow the creation on this connection; others learn where the
   * actor runs once its __init has run (rl_actor_created). */
  a->worker_id = l->worker_id;
  snprintf(a->endpoint, sizeof a->endpoint, "%s", l->endpoint);
}

void rl_actor_created(rl_cw_t *cw, rl_task_t *t, bool failed, const char *data, size_t len) {
  rl_actor_t *a = t->cls->actor;
  if (!a || a->state == RL_ACTOR_DEAD) return;
  if (!failed) {
    a->state = RL_ACTOR_ALIVE;
    rl_ev_actor(cw, a, RL_AS_ALIVE, NULL);
    s_head_update(cw, a, RL_AS_ALIVE, NULL);
    s_answer_locates(cw, a);
    return;
  }
  /* The worker sent an ActorDiedError carrying what __init raised. */
  a->no_restart = true;
  s_make_dead_with(cw, a, data, len, "its __init raised an error");
}

void rl_actor_unplaceable(rl_cw_t *cw, rl_class_t *c, const char *message) {
  rl_actor_t *a = c->actor;
  if (!a || a->state == RL_ACTOR_DEAD) return;
  a->no_restart = true;
  s_make_dead(cw, a, message);
}

static int s_by_id_desc(const void *x, const void *y) {
  const rl_task_t *a = *(rl_task_t *const *)x, *b = *(rl_task_t *const *)y;
  return -memcmp(a->id.b, b->id.b, RL_ID_SIZE);
}

void rl_actor_worker_died(rl_cw_t *cw, rl_class_t *c, int pid, const char *reason) {
  rl_actor_t *a = c->actor;
  bool exited = strstr(reason, "exited with code 0") != NULL;
  bool restart = a->owned && !a->no_restart && a->restarts_left != 0 && !exited;
  bool goes_on = restart || !a->owned;
  char msg[400];
  snprintf(msg, sizeof msg, "the actor %s died while this call was in flight: its worker (pid %d) died: %s%s", a->name,
           pid, a->killed ? "it was killed by rayl.kill" : reason,
           goes_on ? "; raise max_task_retries to retry such calls" : "");
  size_t n;
  rl_task_t **inflight = rl_sub_inflight(cw, c, &n);
  if (inflight) qsort(inflight, n, sizeof *inflight, s_by_id_desc);
  for (size_t i = 0; inflight && i < n; i++) {
    rl_task_t *t = inflight[i]; /* its creation is never retried (the actor restarts) */
    if (!goes_on || !rl_sub_retry(cw, t, RL_RETRY_ACTOR_DIED, "its actor's worker died")) {
      size_t len;
      char *cause = rl_cw_encode_error(cw, "ActorDiedError", msg, &len);
      rl_sub_task_fail(cw, t, RL_RET_ERROR, cause, len);
      free(cause);
    }
  }
  free(inflight);
  a->dead_worker = a->worker_id;
  rl_sub_drop_lease(cw, c, false);
  if (!a->owned) {
    s_send_locate(cw, a);
    return;
  }
  if (restart) {
    if (a->restarts_left > 0) a->restarts_left--;
    a->restarts++;
    a->state = RL_ACTOR_RESTARTING;
    rl_ev_actor(cw, a, RL_AS_RESTARTING, NULL);
    s_head_update(cw, a, RL_AS_RESTARTING, NULL);
    a->killed = false;
    rl_log(RL_LOG_INFO, "restarting actor %s (its worker pid %d %s)", a->name, pid, reason);
    char err[200];
    if (s_start_creation(cw, a, err, sizeof err) != 0) s_make_dead(cw, a, err);
    return;
  }
  if (a->out_of_scope)
    snprintf(msg, sizeof msg, "the actor %s was freed: no handle of it was left", a->name);
  else if (a->killed) snprintf(msg, sizeof msg, "the actor %s was killed by rayl.kill", a->name);
  else if (exited) snprintf(msg, sizeof msg, "the actor %s exited (rayl.exit_actor)", a->name);
  else
    snprintf(msg, sizeof msg, "the actor %s died: its worker (pid %d) died: %s%s", a->name, pid, reason,
             a->opts.max_restarts ? " (no restarts left)" : "; set max_restarts to restart it");
  s_make_dead(cw, a, msg);
}

void rl_actor_handle_locate(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_actor_locate_msg_t q;
  if (!rl_cw_actor_locate_msg_read(m, &q)) return;
  uint64_t request = q.request;
  rl_id_t id = q.actor_id, dead = q.dead_worker;
  rl_actor_t *a = s_find(cw, &id);
  if (!a || !a->owned) {
    rl_actor_t gone = {.id = id, .state = RL_ACTOR_DEAD};
    gone.cause = rl_cw_encode_error(cw, "ActorDiedError", "the actor is unknown to its owner", &gone.cause_len);
    s_locate_reply(cw, &m->identity, request, &gone);
    free(gone.cause);
    return;
  }
  if (a->state == RL_ACTOR_DEAD || (a->state == RL_ACTOR_ALIVE && !rl_id_eq(&a->worker_id, &dead))) {
    s_locate_reply(cw, &m->identity, request, a);
    return;
  }
  rl_waiter_t *w = rl_waiter_new(&m->identity, request);
  if (!w) return;
  w->next = a->locate_waiters;
  a->locate_waiters = w;
  a->dead_worker = dead;
}

/* The node manager of another node an actor runs on, registered with as a remote client
 * so that we hear of its workers' deaths (and its own, through the lease's node); NULL
 * for ours or an unknown one. */
static rl_peer_t *s_node_peer(rl_cw_t *cw, const char *node) {
  if (!*node || !strcmp(node, cw->node_endpoint)) return NULL;
  return rl_cw_remote_node(cw, node);
}

void rl_actor_handle_location(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_actor_location_msg_t r;
  if (!rl_cw_actor_location_msg_read(m, &r)) return;
  rl_id_t worker = r.worker_id;
  bool alive = r.alive;
  const char *endpoint = r.endpoint, *cause = r.cause.p;
  size_t len = r.cause.n;
  rl_actor_t *a = s_find(cw, &r.actor_id);
  if (!a || a->owned || a->state != RL_ACTOR_LOCATING) return;
  char message[300] = "the actor is dead";
  const char *node = r.has_node_endpoint ? r.node_endpoint : "";
  if (r.has_message) { /* from the head */
    size_t n = r.message.n < sizeof message ? r.message.n : sizeof message - 1;
    snprintf(message, sizeof message, "%.*s", (int)n, n ? r.message.p : "");
  }
  if (!alive) {
    s_make_dead_with(cw, a, cause, len, message);
    return;
  }
  rl_sub_add_lease(cw, a->cls, &worker, endpoint, s_node_peer(cw, node));
  a->state = RL_ACTOR_ALIVE;
  a->worker_id = worker;
  snprintf(a->endpoint, sizeof a->endpoint, "%s", endpoint);
}

void rl_actor_handle_kill(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_kill_actor_msg_t k;
  if (!rl_cw_kill_actor_msg_read(m, &k)) return;
  rl_id_t id = k.actor_id;
  bool no_restart = k.no_restart;
  rl_actor_t *a = s_find(cw, &id);
  if (a && a->owned) {
    rl_cw_actor_kill(cw, &id, cw->endpoint, no_restart);
  } else if (rl_id_eq(&id, &cw->hosted_actor)) {
    /* We are the actor: an owner alive kills us through our node manager; this path
     * serves actors whose owner has exited (detached). */
    if (!a) {
      rl_log(RL_LOG_INFO, "actor killed by rayl.kill");
      _exit(0);
    }
  }
}

void rl_actor_owner_died(rl_cw_t *cw, const char *endpoint, int pid, const char *reason) {
  for (rl_actor_t *a = cw->actors; a; a = a->next) {
    if (a->owned || strcmp(a->owner, endpoint) || a->state == RL_ACTOR_DEAD) continue;
    char msg[300];
    snprintf(msg, sizeof msg, "the actor %s died with its owner (pid %d, which %s)", a->name, pid, reason);
    s_make_dead(cw, a, msg);
  }
}

void rl_actor_forget_names(rl_cw_t *cw) {
  for (rl_actor_t *a = cw->actors; a; a = a->next)
    if (!a->detached) s_forget_name(cw, a);
}

void rl_actor_destroy_all(rl_cw_t *cw) {
  for (rl_actor_t *a = cw->actors, *next; a; a = next) {
    next = a->next;
    for (size_t i = 0; i < a->ninit; i++)
      if (!a->init_args[i].is_ref) free((void *)a->init_args[i].data);
    free(a->init_args);
    for (rl_waiter_t *w = a->locate_waiters, *wn; w; w = wn) {
      wn = w->next;
      zmq_msg_close(&w->identity);
      free(w);
    }
    free(a->cause);
    free(a);
  }
  cw->actors = NULL;
}
