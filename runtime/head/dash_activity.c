/* dash_activity.c: what the cluster is doing: /api/timeline (task runs per worker, also
 * as a Chrome trace) and /api/pending (why demands wait, as `rayl status`). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "head/dash_call.h"
#include "wire/proto.h"
#include "worker/cluster_client.h"

#define S_TIMELINE_DEFAULT 2000 /* runs in one /api/timeline answer */

/* ---- /api/timeline: task runs per worker ---- */

static const char *const s_kinds_short[] = {"task", "actor_creation", "actor_method"};

typedef struct {
  rl_json_t *j;
  size_t skip;     /* the oldest ones left out */
  int64_t since;   /* runs that ended before it left out */
  bool trace;      /* as a Chrome trace */
} s_timeline_query_t;

static bool s_timeline_visit(void *ctx, const rl_timeline_event_t *e) {
  s_timeline_query_t *q = ctx;
  if (q->skip) {
    q->skip--;
    return true;
  }
  if (e->end_us < q->since) return true;
  rl_json_t *j = q->j;
  char hex[RL_ID_HEX], where[40], who[40];
  rl_json_obj(j);
  rl_json_kstr(j, "name", e->name);
  if (q->trace) { /* a complete event: pid the node, tid the worker (as rayl timeline) */
    snprintf(where, sizeof where, "node %.12s", rl_id_is_nil(&e->node_id) ? "?" : rl_id_hex(&e->node_id, hex));
    snprintf(who, sizeof who, "worker %u", (unsigned)e->pid);
    rl_json_kstr(j, "cat", e->kind == RL_KIND_TASK ? "task" : "actor");
    rl_json_kstr(j, "ph", "X");
    rl_json_kstr(j, "pid", where);
    rl_json_kstr(j, "tid", who);
    rl_json_kint(j, "ts", e->start_us);
    rl_json_kint(j, "dur", e->end_us > e->start_us ? e->end_us - e->start_us : 0);
    rl_json_key(j, "args");
    rl_json_obj(j);
  }
  rl_dash_id(j, "task_id", &e->task_id);
  rl_dash_id(j, "actor_id", &e->actor_id);
  rl_json_kstr(j, "type", e->kind < 3 ? rl_dash_task_types[e->kind] : "?");
  rl_json_kbool(j, "failed", e->failed);
  rl_json_kint(j, "owner_pid", e->owner_pid);
  if (!q->trace) {
    rl_json_kstr(j, "kind", e->kind < 3 ? s_kinds_short[e->kind] : "?");
    rl_dash_id(j, "node_id", &e->node_id);
    rl_json_kint(j, "pid", e->pid);
    rl_json_kint(j, "start_us", e->start_us);
    rl_json_kint(j, "end_us", e->end_us);
  } else {
    rl_json_end(j);
  }
  rl_json_end(j);
  return true;
}

/* /api/timeline?limit=N&since_us=T: the newest N runs (that ended at T or later),
 * oldest first; /api/timeline/trace.json: every kept run as a Chrome trace. */
void rl_dash_api_timeline(rl_dash_call_t *c) {
  const rl_timeline_table_t *t = c->d->t.timeline;
  if (!t) return rl_http_error(c->out, 404, "this head keeps no timeline");
  size_t count = rl_timeline_table_count(t);
  s_timeline_query_t q = {.j = c->j};
  if (!strcmp(c->rest, "/trace.json")) {
    q.trace = true;
    rl_json_arr(c->j);
    rl_timeline_table_each(t, s_timeline_visit, &q);
    rl_json_end(c->j);
    return;
  }
  if (*c->rest) return rl_http_error(c->out, 404, "no such route (try /api/timeline/trace.json)");
  long limit, since;
  if (!rl_dash_arg_int(c, "limit", 0, RL_TIMELINE_MAX_EVENTS, S_TIMELINE_DEFAULT, &limit) ||
      !rl_dash_arg_int(c, "since_us", 0, LONG_MAX, 0, &since))
    return;
  q.skip = count > (size_t)limit ? count - (size_t)limit : 0;
  q.since = since;
  rl_json_obj(c->j);
  rl_json_kint(c->j, "time_us", rl_dash_wall_ms() * 1000);
  rl_json_key(c->j, "events");
  rl_json_arr(c->j);
  rl_timeline_table_each(t, s_timeline_visit, &q);
  rl_json_end(c->j);
  rl_json_kint(c->j, "kept", (int64_t)count);
  rl_json_kint(c->j, "evicted", (int64_t)rl_timeline_table_evicted(t));
  rl_json_kint(c->j, "dropped", (int64_t)rl_timeline_table_dropped(t));
  rl_json_end(c->j);
}

/* ---- /api/pending: why demands wait (as `rayl status`) ---- */

void rl_dash_api_pending(rl_dash_call_t *c) {
  rl_json_t *j = c->j;
  const rl_resources_t *totals[RL_DASH_MAX_NODES];
  int nt = 0;
  size_t cur = 0;
  for (const rl_node_t *n; nt < RL_DASH_MAX_NODES && (n = rl_node_table_next(c->d->t.nodes, &cur));)
    if (n->alive) totals[nt++] = &n->total;
  rl_json_obj(j);
  rl_json_key(j, "groups");
  rl_json_arr(j);
  cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(c->d->t.nodes, &cur));) {
    const rl_wire_demand_t *reported;
    uint32_t nreported;
    if (!n->alive || !c->d->t.demands || !c->d->t.demands(c->d->t.demands_ctx, &n->id, &reported, &nreported))
      continue;
    rl_demand_t demands[64];
    int nd = 0;
    rl_cluster_add_demands(reported, nreported, demands, 64, &nd);
    for (int i = 0; i < nd; i++) {
      char missing[400], blocker[600];
      rl_json_obj(j);
      rl_dash_id(j, "node_id", &n->id);
      rl_dash_resources(j, "shape", &demands[i].shape);
      rl_json_kint(j, "count", (int64_t)demands[i].count);
      rl_json_kbool(j, "infeasible", demands[i].infeasible);
      rl_json_kstr(j, "waiting_for", rl_demand_waiting_for(&demands[i]));
      if (demands[i].infeasible) {
        rl_demand_missing(&demands[i], totals, nt, missing, sizeof missing);
        if (*missing) snprintf(blocker, sizeof blocker, "infeasible: no node has %s", missing);
        else snprintf(blocker, sizeof blocker, "infeasible: no single node has all of it");
        rl_json_kstr(j, "missing", missing);
      } else {
        snprintf(blocker, sizeof blocker, "waiting for %s", rl_demand_waiting_for(&demands[i]));
      }
      rl_json_kstr(j, "blocker", blocker);
      rl_json_end(j);
    }
  }
  rl_json_end(j);
  rl_json_end(j);
}
