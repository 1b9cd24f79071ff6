/* events.c: what the state API (`rayl list`) knows of tasks and actors comes from their
 * owners: each state change is recorded here and sent to the head in one batch at most
 * about once a second (RL_GCS_STATE_REPORT). Recording is a copy into an array; a
 * task whose event still waits in the batch is updated in place, so a short task costs
 * one event, not one per state. */
#include "common/selftest.h"

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

#define S_FLUSH_MS 1000
#define S_MAX_ACTORS 10000 /* actor events in one batch (actors change state rarely) */
#define S_MAX_NODES 64     /* distinct nodes one batch names; others are "not known" */
#define S_KEEP_TASKS 1024  /* task event slots kept after a batch is sent */

static void s_copy(char *dst, size_t n, const char *src) { rl_str_copy(dst, n, src ? src : ""); }

/* The event slot for t: its event in the waiting batch, or a new one. NULL if none
 * (not reported, or out of memory). */
static rl_task_event_t *s_task_slot(rl_cw_t *cw, rl_task_t *t, bool first) {
  rl_events_t *ev = &cw->ev;
  if (first) {
    t->ev_on = ev->ntasks < RL_EV_MAX_TASKS;
    if (!t->ev_on) {
      ev->dropped++;
      return NULL;
    }
  } else if (!t->ev_on) {
    return NULL;
  } else if (t->ev_gen == ev->gen && t->ev_slot < ev->ntasks && rl_id_eq(&ev->tasks[t->ev_slot].id, &t->id)) {
    return &ev->tasks[t->ev_slot];
  }
  /* Events of tasks already reported are always kept: the head must see them end. */
  if (ev->ntasks == ev->captasks) {
    size_t cap = ev->captasks ? 2 * ev->captasks : 256;
    ev->tasks = rl_xrealloc(ev->tasks, cap * sizeof *ev->tasks);
    ev->captasks = cap;
  }
  rl_task_event_t *e = &ev->tasks[ev->ntasks];
  t->ev_gen = ev->gen;
  t->ev_slot = (uint32_t)ev->ntasks++;
  e->id = t->id;
  memset(&e->actor_id, 0, sizeof e->actor_id);
  if (t->cls && t->cls->actor) e->actor_id = t->cls->actor->id;
  e->node = NULL;
  e->pid = 0;
  e->kind = (uint8_t)t->kind;
  memcpy(e->name, t->name, sizeof e->name);
  e->error[0] = 0;
  e->detail = NULL;
  return e;
}

void rl_ev_task_new(rl_cw_t *cw, rl_task_t *t) {
  rl_task_event_t *e = s_task_slot(cw, t, true);
  if (!e) return;
  e->state = RL_TS_SUBMITTED;
  e->attempt = 0;
}

void rl_ev_task(rl_cw_t *cw, rl_task_t *t, int state, const char *error_type) {
  rl_task_event_t *e = s_task_slot(cw, t, false);
  if (!e) return;
  e->state = (uint8_t)state;
  e->attempt = (uint32_t)t->attempt;
  if (error_type) s_copy(e->error, sizeof e->error, error_type);
  if (state != RL_TS_FAILED) { /* retried: the last failure's text is no longer the news */
    free(e->detail);
    e->detail = NULL;
  }
}

void rl_ev_task_running(rl_cw_t *cw, rl_task_t *t, const rl_lease_t *l) {
  rl_task_event_t *e = s_task_slot(cw, t, false);
  if (!e) return;
  e->state = RL_TS_RUNNING;
  e->attempt = (uint32_t)t->attempt;
  free(e->detail);
  e->detail = NULL;
  e->node = l->node_endpoint;
  e->pid = l->pid;
}

/* The type of an encoded error: the "type" field of a rayl error table (a CLASS-tagged
 * map), or the "Type: message" prefix of a plain string; "Error" if neither. */
static void s_error_type(const char *data, size_t len, char *out, size_t n) {
  s_copy(out, n, "Error");
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  size_t off = 0;
  for (int i = 0; i < 4 && msgpack_unpack_next(&up, data, len, &off) == MSGPACK_UNPACK_SUCCESS; i++) {
    const msgpack_object *o = &up.data;
    if (o->type == MSGPACK_OBJECT_EXT) continue; /* a tag for the next object */
    if (o->type == MSGPACK_OBJECT_STR) {
      const char *colon = memchr(o->via.str.ptr, ':', o->via.str.size);
      size_t k = colon ? (size_t)(colon - o->via.str.ptr) : 0;
      if (k > 0 && k < n && !memchr(o->via.str.ptr, ' ', k)) snprintf(out, n, "%.*s", (int)k, o->via.str.ptr);
    } else if (o->type == MSGPACK_OBJECT_MAP) {
      for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object *key = &o->via.map.ptr[k].key, *val = &o->via.map.ptr[k].val;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == 4 && !memcmp(key->via.str.ptr, "type", 4) &&
            val->type == MSGPACK_OBJECT_STR && val->via.str.size < n)
          snprintf(out, n, "%.*s", (int)val->via.str.size, val->via.str.ptr);
      }
    }
    break;
  }
  msgpack_unpacked_destroy(&up);
}

/* The string value of key in map o, or NULL (length in *n). */
static const char *s_map_str(const msgpack_object *o, const char *key, size_t *n) {
  size_t klen = strlen(key);
  for (uint32_t k = 0; k < o->via.map.size; k++) {
    const msgpack_object *kk = &o->via.map.ptr[k].key, *v = &o->via.map.ptr[k].val;
    if (kk->type == MSGPACK_OBJECT_STR && kk->via.str.size == klen && !memcmp(kk->via.str.ptr, key, klen) &&
        v->type == MSGPACK_OBJECT_STR) {
      *n = v->via.str.size;
      return v->via.str.ptr;
    }
  }
  return NULL;
}

/* A failure's text for the dashboard: the error's message and remote traceback (or the
 * string raised), at most RL_TASK_ERROR_MAX bytes; NULL if there is none. Malloc'd. */
static char *s_error_detail(const char *data, size_t len) {
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  size_t off = 0;
  char *out = NULL;
  for (int i = 0; i < 4 && msgpack_unpack_next(&up, data, len, &off) == MSGPACK_UNPACK_SUCCESS; i++) {
    const msgpack_object *o = &up.data;
    if (o->type == MSGPACK_OBJECT_EXT) continue;
    const char *msg = NULL, *tb = NULL;
    size_t mlen = 0, tlen = 0;
    if (o->type == MSGPACK_OBJECT_STR) msg = o->via.str.ptr, mlen = o->via.str.size;
    else if (o->type == MSGPACK_OBJECT_MAP) {
      msg = s_map_str(o, "message", &mlen);
      tb = s_map_str(o, "traceback", &tlen);
    }
    if (msg || tb) {
      out = rl_xmalloc(RL_TASK_ERROR_MAX + 1);
      snprintf(out, RL_TASK_ERROR_MAX + 1, "%.*s%s%.*s", (int)mlen, msg ? msg : "", tb && tlen ? "\nremote traceback:" : "",
               (int)tlen, tb ? tb : "");
    }
    break;
  }
  msgpack_unpacked_destroy(&up);
  return out;
}

void rl_ev_task_span(rl_cw_t *cw, const rl_task_t *t, const rl_lease_t *l, int64_t start_us, int64_t end_us,
                     bool failed) {
  rl_events_t *ev = &cw->ev;
  if (ev->nspans >= RL_EV_MAX_TASKS) {
    ev->spans_dropped++;
    return;
  }
  if (ev->nspans == ev->capspans) {
    size_t cap = ev->capspans ? 2 * ev->capspans : 256;
    ev->spans = rl_xrealloc(ev->spans, cap * sizeof *ev->spans);
    ev->capspans = cap;
  }
  rl_span_event_t *e = &ev->spans[ev->nspans++];
  e->id = t->id;
  memset(&e->actor_id, 0, sizeof e->actor_id);
  if (t->cls && t->cls->actor) e->actor_id = t->cls->actor->id;
  e->node = l->node_endpoint;
  e->pid = l->pid;
  e->kind = (uint8_t)t->kind;
  e->failed = failed;
  e->start_us = start_us;
  e->end_us = end_us < start_us ? start_us : end_us;
  memcpy(e->name, t->name, sizeof e->name);
}

void rl_ev_task_failed(rl_cw_t *cw, rl_task_t *t, const char *data, size_t len) {
  if (!t->ev_on) return;
  char type[32];
  s_error_type(data, len, type, sizeof type);
  rl_ev_task(cw, t, RL_TS_FAILED, type);
  rl_task_event_t *e = s_task_slot(cw, t, false);
  if (!e) return;
  free(e->detail);
  e->detail = s_error_detail(data, len);
}

void rl_ev_actor(rl_cw_t *cw, rl_actor_t *a, int state, const char *cause) {
  rl_events_t *ev = &cw->ev;
  if (!a->owned || ev->nactors >= S_MAX_ACTORS) return;
  if (ev->nactors == ev->capactors) {
    size_t cap = ev->capactors ? 2 * ev->capactors : 16;
    ev->actors = rl_xrealloc(ev->actors, cap * sizeof *ev->actors);
    ev->capactors = cap;
  }
  rl_actor_event_t *e = &ev->actors[ev->nactors++];
  memset(e, 0, sizeof *e);
  e->id = a->id;
  e->state = (uint8_t)state;
  e->detached = a->detached;
  e->restarts = a->restarts;
  s_copy(e->class_name, sizeof e->class_name, a->name);
  s_copy(e->name, sizeof e->name, a->user_name);
  s_copy(e->ns, sizeof e->ns, a->ns);
  s_copy(e->cause, sizeof e->cause, cause);
  const rl_lease_t *l = a->cls ? a->cls->leases : NULL;
  if (state == RL_AS_ALIVE && l) {
    e->worker_id = l->worker_id;
    e->node = l->node_endpoint;
    e->pid = l->pid;
  }
}

/* 1 + the index of node in nodes (added if new), or 0 if not known. */
static uint64_t s_node_index(const char **nodes, int *n, const char *node) {
  if (!node) return 0;
  for (int i = 0; i < *n; i++)
    if (nodes[i] == node || !strcmp(nodes[i], node)) return (uint64_t)i + 1;
  if (*n == S_MAX_NODES) return 0;
  nodes[(*n)++] = node;
  return (uint64_t)*n;
}

void rl_ev_flush(rl_cw_t *cw) {
  rl_events_t *ev = &cw->ev;
  ev->last_flush_ms = rl_now_ms();
  if (!ev->ntasks && !ev->nactors && !ev->nspans && !ev->dropped && !ev->spans_dropped) return;
  void *sock = rl_cw_gcs_socket(cw);
  const char *nodes[S_MAX_NODES];
  int nnodes = 0;
  uint64_t *task_node = NULL;
  /* Node indices first: the node list comes before the rows that refer to it. */
  if (!sock) goto done;
  task_node = rl_xmalloc((ev->ntasks + ev->nactors + ev->nspans + 1) * sizeof *task_node);
  for (size_t i = 0; i < ev->ntasks; i++) task_node[i] = s_node_index(nodes, &nnodes, ev->tasks[i].node);
  for (size_t i = 0; i < ev->nactors; i++)
    task_node[ev->ntasks + i] = s_node_index(nodes, &nnodes, ev->actors[i].node);
  for (size_t i = 0; i < ev->nspans; i++)
    task_node[ev->ntasks + ev->nactors + i] = s_node_index(nodes, &nnodes, ev->spans[i].node);
  rl_gcs_state_report_msg_t r = {
      .worker_id = cw->worker_id,
      .pid = (uint64_t)getpid(),
      .nodes = {(uint32_t)nnodes, rl_xcalloc((size_t)nnodes + 1, sizeof(rl_wire_bytes_t))},
      .tasks = {(uint32_t)ev->ntasks, rl_xcalloc(ev->ntasks + 1, sizeof(rl_wire_task_event_t))},
      .actors = {(uint32_t)ev->nactors, rl_xcalloc(ev->nactors + 1, sizeof(rl_wire_actor_event_t))},
      .dropped = ev->dropped,
      .spans = {(uint32_t)ev->nspans, rl_xcalloc(ev->nspans + 1, sizeof(rl_wire_span_t))},
      .has_spans = true,
      .spans_dropped = ev->spans_dropped,
      .has_spans_dropped = true,
  };
  for (int i = 0; i < nnodes; i++) r.nodes.v[i] = rl_wire_str(nodes[i]);
  for (size_t i = 0; i < ev->ntasks; i++) {
    const rl_task_event_t *e = &ev->tasks[i];
    r.tasks.v[i] = (rl_wire_task_event_t){.task_id = e->id, .state = e->state, .attempt = e->attempt,
                                          .name = rl_wire_str(e->name), .kind = e->kind, .actor_id = e->actor_id,
                                          .has_actor_id = !rl_id_is_nil(&e->actor_id), .node = task_node[i],
                                          .worker_pid = e->pid, .error_type = rl_wire_str(e->error),
                                          .has_error_type = e->error[0] != 0, .error = rl_wire_str(e->detail),
                                          .has_error = e->detail != NULL};
  }
  for (size_t i = 0; i < ev->nactors; i++) {
    const rl_actor_event_t *e = &ev->actors[i];
    r.actors.v[i] = (rl_wire_actor_event_t){.actor_id = e->id, .state = e->state,
                                            .class_name = rl_wire_str(e->class_name), .name = rl_wire_str(e->name),
                                            .namespace_ = rl_wire_str(e->ns), .detached = e->detached,
                                            .node = task_node[ev->ntasks + i], .pid = e->pid,
                                            .worker_id = e->worker_id, .has_worker_id = !rl_id_is_nil(&e->worker_id),
                                            .death_cause = rl_wire_str(e->cause), .has_death_cause = e->cause[0] != 0,
                                            .restarts = e->restarts, .has_restarts = true};
  }
  for (size_t i = 0; i < ev->nspans; i++) {
    const rl_span_event_t *e = &ev->spans[i];
    r.spans.v[i] = (rl_wire_span_t){.task_id = e->id, .name = rl_wire_str(e->name), .kind = e->kind,
                                    .actor_id = e->actor_id, .has_actor_id = !rl_id_is_nil(&e->actor_id),
                                    .node = task_node[ev->ntasks + ev->nactors + i], .pid = e->pid,
                                    .start_us = (uint64_t)e->start_us, .end_us = (uint64_t)e->end_us,
                                    .failed = e->failed};
  }
  if (rl_gcs_state_report_msg_send(sock, NULL, &r) != 0) rl_log(RL_LOG_DEBUG, "could not send task events to the head");
  free(r.nodes.v);
  free(r.tasks.v);
  free(r.actors.v);
  free(r.spans.v);
done:
  /* Sent or not, this batch is over: a new one starts (and slots are not reused). */
  free(task_node);
  for (size_t i = 0; i < ev->ntasks; i++) free(ev->tasks[i].detail);
  if (ev->captasks > S_KEEP_TASKS) { /* a burst's array is not kept for an idle process */
    free(ev->tasks);
    ev->tasks = NULL;
    ev->captasks = 0;
  }
  ev->ntasks = ev->nactors = ev->nspans = 0;
  ev->dropped = ev->spans_dropped = 0;
  ev->gen++;
}

void rl_ev_tick(rl_cw_t *cw, int64_t now_ms) {
  if (now_ms - cw->ev.last_flush_ms < S_FLUSH_MS ||
      (!cw->ev.ntasks && !cw->ev.nactors && !cw->ev.nspans && !cw->ev.dropped && !cw->ev.spans_dropped))
    return;
  rl_ev_flush(cw);
}

void rl_ev_leaving(rl_cw_t *cw) {
  char cause[160];
  snprintf(cause, sizeof cause, "its owner (pid %d) exited", (int)getpid());
  for (rl_actor_t *a = cw->actors; a; a = a->next)
    if (a->owned && !a->detached && a->state != RL_ACTOR_DEAD) rl_ev_actor(cw, a, RL_AS_DEAD, cause);
  size_t cur = 0;
  rl_task_t *t;
  while (cw->tasks && (t = rl_task_table_next(cw->tasks, &cur)))
    if (!t->finished && !t->cancelled) rl_ev_task(cw, t, RL_TS_FAILED, "OwnerDiedError");
  rl_ev_flush(cw);
}

void rl_ev_destroy(rl_cw_t *cw) {
  for (size_t i = 0; i < cw->ev.ntasks; i++) free(cw->ev.tasks[i].detail);
  free(cw->ev.tasks);
  free(cw->ev.actors);
  free(cw->ev.spans);
  memset(&cw->ev, 0, sizeof cw->ev);
}
