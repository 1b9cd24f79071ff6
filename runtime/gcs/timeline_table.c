/* timeline_table.c: the head's timeline of task runs: a ring of the last max_events
 * spans that owners report (see timeline_table.h). */
#include "gcs/timeline_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"
#include "common/xalloc.h"
#include "wire/proto.h"

struct rl_timeline_table_t {
  rl_timeline_event_t *ring;
  size_t max, first, n;
  uint64_t evicted, dropped;
};

rl_timeline_table_t *rl_timeline_table_new(size_t max_events) {
  if (max_events == 0) return NULL;
  rl_timeline_table_t *t = rl_xcalloc(1, sizeof *t);
  t->max = max_events;
  return t;
}

void rl_timeline_table_destroy(rl_timeline_table_t **p) {
  if (!p || !*p) return;
  free((*p)->ring);
  free(*p);
  *p = NULL;
}

/* The slot for a new event: the ring grows up to max, then the oldest is replaced. */
static rl_timeline_event_t *s_push(rl_timeline_table_t *t) {
  if (!t->ring) t->ring = rl_xmalloc(t->max * sizeof *t->ring);
  if (t->n == t->max) {
    t->first = (t->first + 1) % t->max;
    t->n--;
    t->evicted++;
  }
  return &t->ring[(t->first + t->n++) % t->max];
}

/* Checks one span; NULL if good, else what is wrong. */
static const char *s_check(const rl_wire_span_t *o, uint32_t nnodes) {
  if (o->node > nnodes) return "a span's node is not an index into nodes";
  if (o->pid > UINT32_MAX) return "a span's pid is not a pid";
  if (o->end_us < o->start_us) return "a span's times are not start <= end";
  return NULL;
}

int rl_timeline_table_report(rl_timeline_table_t *t, const rl_gcs_state_report_msg_t *r, rl_state_node_fn *resolve,
                             void *ctx, char *err, size_t errlen) {
  uint64_t dropped = r->has_spans_dropped ? r->spans_dropped : 0;
  if (!r->has_spans) {
    t->dropped += dropped;
    return 0;
  }
  for (uint32_t i = 0; i < r->spans.n; i++) {
    const char *why = s_check(&r->spans.v[i], r->nodes.n);
    if (why) {
      snprintf(err, errlen, "%s", why);
      return -1;
    }
  }
  t->dropped += dropped;
  for (uint32_t i = 0; i < r->spans.n; i++) {
    const rl_wire_span_t *f = &r->spans.v[i];
    rl_timeline_event_t *e = s_push(t);
    if (!e) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    memset(e, 0, sizeof *e);
    e->task_id = f->task_id;
    snprintf(e->name, sizeof e->name, "%.*s", (int)(f->name.n < sizeof e->name ? f->name.n : sizeof e->name),
             f->name.p ? f->name.p : "");
    e->kind = (uint8_t)f->kind;
    if (f->has_actor_id) e->actor_id = f->actor_id;
    if (f->node > 0 && resolve) resolve(ctx, r->nodes.v[f->node - 1].p, r->nodes.v[f->node - 1].n, &e->node_id);
    e->pid = (uint32_t)f->pid;
    e->start_us = (int64_t)f->start_us;
    e->end_us = (int64_t)f->end_us;
    e->failed = f->failed;
    e->owner_id = r->worker_id;
    e->owner_pid = (uint32_t)r->pid;
  }
  return 0;
}

void rl_timeline_table_each(const rl_timeline_table_t *t, bool (*fn)(void *ctx, const rl_timeline_event_t *e),
                            void *ctx) {
  for (size_t i = 0; i < t->n; i++)
    if (!fn(ctx, &t->ring[(t->first + i) % t->max])) return;
}

static bool s_row(void *ctx, const rl_timeline_event_t *e) {
  rl_wire_timeline_event_t **out = ctx;
  *(*out)++ = (rl_wire_timeline_event_t){.task_id = e->task_id, .name = rl_wire_str(e->name), .kind = e->kind,
                                         .actor_id = e->actor_id, .has_actor_id = !rl_id_is_nil(&e->actor_id),
                                         .node_id = e->node_id, .has_node_id = !rl_id_is_nil(&e->node_id),
                                         .pid = e->pid, .start_us = (uint64_t)e->start_us,
                                         .end_us = (uint64_t)e->end_us, .failed = e->failed,
                                         .owner_id = e->owner_id, .owner_pid = e->owner_pid};
  return true;
}

void rl_timeline_table_rows(const rl_timeline_table_t *t, rl_wire_timeline_event_t *out) {
  rl_timeline_table_each(t, s_row, &out);
}

size_t rl_timeline_table_count(const rl_timeline_table_t *t) { return t->n; }
uint64_t rl_timeline_table_evicted(const rl_timeline_table_t *t) { return t->evicted; }
uint64_t rl_timeline_table_dropped(const rl_timeline_table_t *t) { return t->dropped; }
