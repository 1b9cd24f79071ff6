/* executor.c: tasks pushed to this worker: queued in arrival order, handed to the host
 * one at a time, results sent straight back to their owner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xalloc.h"
#include "wire/proto.h"
#include "worker/cw_internal.h"

static void s_incoming_free(rl_incoming_t *in) {
  free(in->held);
  msgpack_unpacked_destroy(&in->up);
  zmq_msg_close(&in->frame);
  zmq_msg_close(&in->identity);
  free(in);
}

void rl_exec_handle_push(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_push_task_msg_t p; /* its arrays live in m's zone, kept with the task below */
  if (!rl_cw_push_task_msg_read(m, &p)) return;
  if (p.num_returns < 1 || p.num_returns > 1024) {
    rl_log(RL_LOG_WARN, "dropped CW_PUSH_TASK: field 'num_returns' %llu not in 1..1024", (unsigned long long)p.num_returns);
    return;
  }
  for (uint32_t i = 0; i < p.args.n; i++) {
    const rl_wire_task_arg_t *a = &p.args.v[i];
    if (a->kind > RL_RET_STORE || (a->kind == RL_RET_STORE && (a->data.n < RL_ID_SIZE || a->data.n >= RL_ID_SIZE + RL_ENDPOINT_MAX))) {
      rl_log(RL_LOG_WARN, "dropped CW_PUSH_TASK: field 'args[%u]' is not an inline or stored value", i);
      return;
    }
  }
  rl_incoming_t *in = rl_xcalloc(1, sizeof *in);
  in->pub.task_id = p.task_id;
  in->owner_id = p.owner_id;
  rl_str_copy(in->owner, sizeof in->owner, p.owner_endpoint);
  const char *name = p.name.p;
  size_t name_len = p.name.n;
  in->pub.fn_key = p.function_key.p;
  in->pub.fn_key_len = p.function_key.n;
  in->pub.fn = p.has_function ? p.function.p : NULL;
  in->pub.fn_len = p.has_function ? p.function.n : 0;
  in->pub.nargs = p.args.n;
  in->pub.num_returns = (int)p.num_returns;
  size_t shown = name_len < sizeof in->name ? name_len : sizeof in->name - 1;
  memcpy(in->name, name, shown); /* as snprintf "%.*s", without its cost on every task */
  in->name[shown] = 0;
  in->pub.name = in->name;
  in->args = p.args.v;
  uint64_t kind = p.has_kind ? p.kind : RL_KIND_TASK;
  const char *method = p.has_method ? p.method.p : "";
  size_t method_len = p.has_method ? p.method.n : 0;
  if (method_len >= sizeof in->method) {
    rl_log(RL_LOG_WARN, "dropped CW_PUSH_TASK: field 'method' longer than %zu bytes", sizeof in->method - 1);
    free(in);
    return;
  }
  in->pub.kind = (int)kind;
  in->pub.num_cpus = p.has_num_cpus && p.num_cpus >= 0 ? p.num_cpus : -1;
  if (kind != RL_KIND_TASK && p.has_actor_id) cw->hosted_actor = p.actor_id;
  if (method_len) memcpy(in->method, method, method_len);
  in->method[method_len] = 0;
  in->pub.method = in->method;
  /* Keep the message: the pointers above point into it. */
  in->frame = m->frame;
  in->identity = m->identity;
  in->up = m->up;
  zmq_msg_init(&m->frame);
  zmq_msg_init(&m->identity);
  msgpack_unpacked_init(&m->up);
  if (cw->in_tail) cw->in_tail->next = in;
  else cw->in_head = in;
  cw->in_tail = in;
}

/* Results go out batched (wire/msg.h): a worker running queued tasks back to back sends
 * theirs together once its queue is empty (or the batch is full or old, or it waits). */
static void s_reply(rl_cw_t *cw, rl_incoming_t *in, rl_msgbuf_t *b) {
  if (rl_msg_send_batched(cw->router, &in->identity, b, cw) != 0)
    rl_log(RL_LOG_WARN, "could not send the result of task %s to its owner %s", in->name, in->owner);
}

static void s_reply_error(rl_cw_t *cw, rl_incoming_t *in, const char *type, const char *message) {
  size_t len;
  char *data = rl_cw_encode_error(cw, type, message, &len);
  rl_wire_task_arg_t ret = {.kind = RL_RET_ERROR, .data = rl_wire_bytes(data, len), .size = len};
  rl_cw_task_done_msg_t done = {.task_id = in->pub.task_id, .status = RL_TASK_FAILED, .returns = {1, &ret},
                                .has_held = true, .has_start_us = true, .has_end_us = true,
                                .start_us = (uint64_t)(in->start_us > 0 ? in->start_us : 0),
                                .end_us = (uint64_t)rl_wall_us()};
  if (rl_cw_task_done_msg_send_batched(cw->router, &in->identity, &done, cw) != 0)
    rl_log(RL_LOG_WARN, "could not send the result of task %s to its owner %s", in->name, in->owner);
  free(data);
}

void rl_exec_handle_cancel(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_cancel_msg_t c;
  if (!rl_cw_cancel_msg_read(m, &c)) return;
  rl_id_t id = c.task_id;
  bool force = c.force, recursive = c.has_recursive && c.recursive;
  for (rl_incoming_t *in = cw->active; in; in = in->next_active) {
    if (!rl_id_eq(&in->pub.task_id, &id) || in->pub.kind != RL_KIND_TASK) continue;
    /* A task runs alone on its worker: what this process submitted is its children. */
    if (recursive) rl_sub_cancel_children(cw, force);
    if (force) {
      rl_log(RL_LOG_INFO, "task %s force-cancelled: exiting", in->name);
      _exit(1);
    }
    in->cancelled = true; /* its next wait in rayl raises; the owner drops its result */
    return;
  }
  /* A queued task stays queued, marked: it may carry the function later tasks need,
   * so the host still loads that before reporting it cancelled. */
  for (rl_incoming_t *in = cw->in_head; in; in = in->next)
    if (rl_id_eq(&in->pub.task_id, &id)) in->pub.cancelled = true;
}

/* A queued task the owner that sent `identity` may take back: a plain task of that
 * owner, not cancelled, not carrying a function body (tasks queued before it may use it). */
static bool s_stealable(rl_incoming_t *in, zmq_msg_t *identity) {
  size_t n = zmq_msg_size(identity);
  return in->pub.kind == RL_KIND_TASK && !in->pub.cancelled && !in->pub.fn && n == zmq_msg_size(&in->identity) &&
         !memcmp(zmq_msg_data(identity), zmq_msg_data(&in->identity), n);
}

void rl_exec_handle_steal(rl_cw_t *cw, rl_msg_t *m) {
  rl_cw_steal_tasks_msg_t q;
  if (!rl_cw_steal_tasks_msg_read(m, &q)) return;
  uint64_t max = q.max;
  size_t n = 0, keep;
  for (rl_incoming_t *in = cw->in_head; in; in = in->next) n++;
  rl_incoming_t **queue = rl_xmalloc(n * sizeof *queue);
  n = 0;
  for (rl_incoming_t *in = cw->in_head; in; in = in->next) queue[n++] = in;
  /* From the tail: the tasks that would wait longest here. */
  for (keep = n; keep > 0 && n - keep < max && s_stealable(queue[keep - 1], &m->identity);) keep--;
  rl_log(RL_LOG_DEBUG, "steal: asked for %llu, %zu queued, giving back %zu", (unsigned long long)max, n, n - keep);
  rl_cw_stolen_msg_t given = {.task_ids = {(uint32_t)(n - keep), rl_xcalloc(n - keep + 1, sizeof(rl_id_t))}};
  for (size_t i = keep; i < n; i++) given.task_ids.v[i - keep] = queue[i]->pub.task_id;
  int sent = rl_cw_stolen_msg_send(cw->router, &m->identity, &given);
  free(given.task_ids.v);
  if (sent != 0) {
    rl_log(RL_LOG_WARN, "could not give tasks back to their owner");
    free(queue);
    return; /* they run here after all */
  }
  if (keep == 0) cw->in_head = cw->in_tail = NULL;
  else {
    queue[keep - 1]->next = NULL;
    cw->in_tail = queue[keep - 1];
  }
  for (size_t i = keep; i < n; i++) s_incoming_free(queue[i]);
  free(queue);
}

/* Whether messages wait on our own socket (pushes, steal requests). */
static bool s_router_readable(rl_cw_t *cw) {
  int events = 0;
  size_t len = sizeof events;
  return zmq_getsockopt(cw->router, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

const rl_cw_task_t *rl_cw_next_task(rl_cw_t *cw) {
  RL_CW_HOLD(cw);
  /* Before tasks that waited their turn here start, their owner may have taken some
   * back for an idle worker: read what came (only when more than one waits: the next
   * one starts now, taking it back would gain nothing). */
  if (cw->in_head && cw->in_head->next && cw->in_head->pub.kind == RL_KIND_TASK && s_router_readable(cw))
    rl_cw_poll(cw, 0);
  if (!cw->in_head) return NULL;
  rl_incoming_t *in = cw->in_head;
  cw->in_head = in->next;
  if (!cw->in_head) cw->in_tail = NULL;
  in->next = NULL;
  in->next_active = cw->active;
  cw->active = in;
  cw->running = in;
  in->start_us = rl_wall_us();
  return &in->pub;
}

void rl_cw_set_current(rl_cw_t *cw, const rl_cw_task_t *t) {
  RL_CW_HOLD(cw);
  cw->running = (rl_incoming_t *)t;
}

bool rl_cw_running_cancelled(rl_cw_t *cw) {
  RL_CW_HOLD(cw);
  return cw->running && cw->running->cancelled;
}

int rl_cw_task_arg(rl_cw_t *cw, const rl_cw_task_t *t, size_t i, rl_cw_value_t *v, char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  memset(v, 0, sizeof *v);
  rl_incoming_t *in = (rl_incoming_t *)t; /* pub is its first member */
  if (!in || i >= in->pub.nargs) {
    snprintf(err, errlen, "no argument %zu", i + 1);
    return -1;
  }
  uint64_t kind = in->args[i].kind;
  const char *p = in->args[i].data.p;
  size_t n = in->args[i].data.n;
  v->state = RL_OBJ_READY;
  if (kind == RL_RET_STORE) {
    rl_id_t id;
    char location[RL_ENDPOINT_MAX];
    memcpy(id.b, p, RL_ID_SIZE);
    memcpy(location, p + RL_ID_SIZE, n - RL_ID_SIZE);
    location[n - RL_ID_SIZE] = 0;
    int reason;
    if (rl_obj_store_pin(cw, &id, location, v, &reason, err, errlen) == 0) return 0;
    in->arg_lost = true;
    return -1;
  }
  v->data = p;
  v->len = n;
  return 0;
}

/* TASK_DONE's writer: the k-th reserved member is the k-th inline result, encoded by the
 * host straight into the message (wire.h's rl_wire_reserve). */
typedef struct {
  rl_cw_copy_fn copy;
  void *ctx;
  const uint32_t *value; /* value[k]: which result the k-th reserved member holds */
} s_results_t;

static int s_write_result(void *arg, uint32_t k, char *dst, size_t n) {
  const s_results_t *r = arg;
  (void)n;
  r->copy(r->ctx, r->value[k], dst);
  return 0;
}

/* TASK_DONE's results and their writer: large values sealed in this node's store first,
 * the others reserved in the message. Returns 0, or -1 with err (a value could not be
 * stored). rets and value have room for n. */
static int s_results(rl_cw_t *cw, rl_incoming_t *in, bool failed, const size_t *lens, size_t n, rl_cw_copy_fn copy,
                     void *ctx, rl_wire_task_arg_t *rets, uint32_t *value, char *err, size_t errlen) {
  uint32_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!failed && lens[i] >= RL_INLINE_MAX) {
      rl_id_t oid = rl_id_for_object(in->pub.task_id, (uint32_t)i + 1);
      if (rl_obj_store_write(cw, &oid, &in->owner_id, lens[i], copy, ctx, i, err, errlen) != 0) return -1;
      rets[i] = (rl_wire_task_arg_t){.kind = RL_RET_STORE, .data = rl_wire_str(cw->node_endpoint), .size = lens[i]};
      continue;
    }
    /* Inline: encoded by copy into the message itself, once (no copy after). */
    rets[i] = (rl_wire_task_arg_t){.kind = failed ? RL_RET_ERROR : RL_RET_INLINE, .data = rl_wire_reserve(lens[i]),
                                   .size = lens[i]};
    value[k++] = (uint32_t)i;
  }
  return 0;
}

int rl_cw_task_finish(rl_cw_t *cw, const rl_cw_task_t *t, bool failed, const size_t *lens, size_t n,
                      rl_cw_copy_fn copy, void *ctx, const rl_id_t *contained,
                      const char (*contained_owner)[RL_ENDPOINT_MAX], size_t ncontained, char *err, size_t errlen) {
  RL_CW_HOLD(cw);
  rl_incoming_t *in = (rl_incoming_t *)t;
  if (!in) {
    snprintf(err, errlen, "no task is running");
    return -1;
  }
  /* Most tasks return one value and no refs: their arrays live on the stack. */
  rl_wire_task_arg_t rets_here[4];
  uint32_t value_here[4];
  rl_wire_borrow_t borrowed_here[1];
  rl_wire_task_arg_t *rets = n <= 4 ? rets_here : rl_xmalloc(n * sizeof *rets);
  uint32_t *value = n <= 4 ? value_here : rl_xmalloc(n * sizeof *value);
  rl_wire_borrow_t *borrowed = ncontained <= 1 ? borrowed_here : rl_xmalloc(ncontained * sizeof *borrowed);
  int rc = s_results(cw, in, failed, lens, n, copy, ctx, rets, value, err, errlen);
  if (rc != 0) {
    char msg[400];
    snprintf(msg, sizeof msg, "could not store the result of task '%s': %s", in->name, err);
    s_reply_error(cw, in, "OutOfMemoryError", msg);
  } else {
    for (size_t i = 0; i < ncontained; i++) {
      rl_object_t *o = rl_obj_find(cw, &contained[i]);
      if (o && o->owned) rl_obj_add_borrower(cw, o, in->owner);
      borrowed[i].object_id = contained[i];
      memcpy(borrowed[i].owner_endpoint, contained_owner[i], RL_ENDPOINT_MAX);
    }
    /* Refs of the owner this run borrowed and still holds: the owner counts us as a
     * borrower before it drops the task's own hold on them (our ADD_BORROWER travels on
     * another connection and may come later). */
    size_t held = 0;
    for (size_t i = 0; i < in->nheld; i++) {
      rl_object_t *o = rl_obj_find(cw, &in->held[i]);
      if (o && !o->owned && o->local_refs > 0) in->held[held++] = in->held[i];
    }
    rl_cw_task_done_msg_t done = {
        .task_id = in->pub.task_id,
        .status = !failed ? RL_TASK_OK : in->arg_lost ? RL_TASK_ARG_LOST : RL_TASK_FAILED,
        .returns = {(uint32_t)n, rets}, .borrowed = {(uint32_t)ncontained, borrowed},
        .has_held = true, .held = {(uint32_t)held, in->held},
        .has_start_us = true, .start_us = (uint64_t)(in->start_us > 0 ? in->start_us : 0),
        .has_end_us = true, .end_us = (uint64_t)rl_wall_us()};
    s_results_t results = {copy, ctx, value};
    rl_msgbuf_t b;
    char why[300];
    if (rl_cw_task_done_msg_pack_with(&done, &b, s_write_result, &results, why, sizeof why) == 0) {
      s_reply(cw, in, &b);
    } else { /* the owner learns why rather than waiting forever */
      char msg[sizeof why + sizeof in->name + 64];
      snprintf(msg, sizeof msg, "could not send the result of task '%s': %s", in->name, why);
      rl_log(RL_LOG_WARN, "%s", msg);
      s_reply_error(cw, in, "ValueError", msg);
    }
  }
  if (rets != rets_here) free(rets);
  if (value != value_here) free(value);
  if (borrowed != borrowed_here) free(borrowed);
  if (cw->running == in) cw->running = NULL;
  for (rl_incoming_t **pp = &cw->active; *pp; pp = &(*pp)->next_active)
    if (*pp == in) {
      *pp = in->next_active;
      break;
    }
  s_incoming_free(in);
  /* Nothing queued here runs next: the results batched so far go now, not after what
   * the host does before it waits (a collection, say). */
  if (!cw->in_head) rl_msg_flush(cw);
  rl_sub_return_idle_leases(cw);
  return rc;
}

void rl_exec_destroy_all(rl_cw_t *cw) {
  for (rl_incoming_t *in = cw->in_head, *next; in; in = next) {
    next = in->next;
    s_incoming_free(in);
  }
  cw->in_head = cw->in_tail = NULL;
  for (rl_incoming_t *in = cw->active, *next; in; in = next) {
    next = in->next_active;
    s_incoming_free(in);
  }
  cw->active = cw->running = NULL;
}
