/* dash_tables.c: the dashboard's routes over the head's own tables: /api/cluster,
 * /api/nodes, /api/tasks, /api/actors, /api/jobs, /api/placement_groups, /api/objects. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "gcs/pg_table.h"
#include "head/dash_call.h"

#define S_LIMIT_DEFAULT 100
#define S_LIMIT_MAX 10000
#define S_HEAD_RESOURCE "node:__internal_head__"

/* ---- /api/cluster: the overview's numbers ---- */

void rl_dash_api_cluster(rl_dash_call_t *c) {
  rl_json_t *j = c->j;
  rl_dash_totals_t t;
  size_t tasks[RL_DASH_NTASK_STATES] = {0}, actors[RL_DASH_NACTOR_STATES] = {0};
  rl_dash_totals(c->d, &t);
  rl_state_table_counts(c->d->t.state, tasks, actors);
  rl_json_obj(j);
  rl_json_kint(j, "time_ms", rl_dash_wall_ms());
  rl_json_kint(j, "nodes_alive", t.alive);
  rl_json_kint(j, "nodes_dead", t.dead);
  rl_dash_resources(j, "resources_total", &t.total);
  rl_dash_resources(j, "resources_available", &t.available);
  rl_dash_node_stats(j, &t.s);
  rl_dash_counts(j, "tasks", rl_dash_task_states, tasks, RL_DASH_NTASK_STATES);
  rl_dash_counts(j, "actors", rl_dash_actor_states, actors, RL_DASH_NACTOR_STATES);
  rl_json_kint(j, "tasks_evicted", (int64_t)rl_state_table_evicted(c->d->t.state));
  rl_json_end(j);
}

/* ---- /api/nodes ---- */

void rl_dash_api_nodes(rl_dash_call_t *c) {
  rl_json_t *j = c->j;
  rl_json_arr(j);
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(c->d->t.nodes, &cur));) {
    rl_json_obj(j);
    rl_dash_id(j, "node_id", &n->id);
    rl_json_kstr(j, "address", n->endpoint);
    rl_json_kstr(j, "state", n->alive ? "ALIVE" : n->pending ? "PENDING" : "DEAD");
    rl_json_kbool(j, "is_head", rl_res_get(&n->total, S_HEAD_RESOURCE) > 0);
    rl_json_kint(j, "pid", (int64_t)n->pid);
    rl_dash_resources(j, "resources_total", &n->total);
    rl_dash_resources(j, "resources_available", &n->available);
    rl_json_kstr(j, "gpus", n->gpus);
    rl_dash_node_stats(j, &n->stats);
    rl_json_end(j);
  }
  rl_json_end(j);
}

/* ---- /api/tasks ---- */

typedef struct {
  rl_json_t *j;
  int state;        /* -1: any */
  const char *name; /* substring; NULL: any */
  long offset, limit;
  size_t matched;
  size_t counts[RL_DASH_NTASK_STATES];
} s_task_query_t;

static void s_task_row(rl_json_t *j, const rl_task_view_t *v) {
  rl_json_obj(j);
  rl_dash_id(j, "task_id", v->id);
  rl_json_kstr(j, "name", v->name);
  rl_json_kstr(j, "state", v->state < RL_DASH_NTASK_STATES ? rl_dash_task_states[v->state] : "?");
  rl_json_kstr(j, "type", v->kind < 3 ? rl_dash_task_types[v->kind] : "?");
  rl_json_kint(j, "attempt_number", v->attempt);
  rl_dash_id(j, "actor_id", v->actor_id);
  rl_dash_id(j, "node_id", v->node_id);
  rl_json_kint(j, "worker_pid", v->worker_pid);
  rl_json_key(j, "error_type");
  if (v->error_type[0]) rl_json_str(j, v->error_type);
  else rl_json_null(j);
  rl_json_kstr(j, "error_message", v->error); /* message and remote traceback, or null */
  rl_dash_id(j, "owner_id", v->owner_id);
  rl_json_kint(j, "owner_pid", v->owner_pid);
  rl_json_end(j);
}

/* Writes the rows of the page; scans on only while the total is not known otherwise (a
 * name filter needs every row). */
static bool s_task_visit(void *ctx, const rl_task_view_t *v) {
  s_task_query_t *q = ctx;
  if (q->state >= 0 && v->state != q->state) return true;
  if (q->name && !strstr(v->name, q->name)) return true;
  size_t k = q->matched++;
  if ((long)k >= q->offset && (long)k < q->offset + q->limit) s_task_row(q->j, v);
  return q->name || (long)q->matched < q->offset + q->limit;
}

void rl_dash_api_tasks(rl_dash_call_t *c) {
  s_task_query_t q = {.j = c->j};
  if (!rl_dash_arg_enum(c, "state", rl_dash_task_states, RL_DASH_NTASK_STATES, &q.state) ||
      !rl_dash_arg_int(c, "limit", 0, S_LIMIT_MAX, S_LIMIT_DEFAULT, &q.limit) ||
      !rl_dash_arg_int(c, "offset", 0, LONG_MAX / 2, 0, &q.offset))
    return;
  q.name = rl_http_arg(c->req, "name");
  if (q.name && !*q.name) q.name = NULL;
  rl_json_t *j = c->j;
  rl_json_obj(j);
  rl_json_key(j, "tasks");
  rl_json_arr(j);
  size_t actors[RL_DASH_NACTOR_STATES];
  rl_state_table_counts(c->d->t.state, q.counts, actors);
  rl_state_table_each_task(c->d->t.state, s_task_visit, &q);
  if (!q.name) q.matched = q.state >= 0 ? q.counts[q.state] : rl_state_table_tasks(c->d->t.state);
  rl_json_end(j);
  rl_json_kint(j, "total", (int64_t)q.matched);
  rl_json_kint(j, "offset", q.offset);
  rl_json_kint(j, "limit", q.limit);
  rl_dash_counts(j, "counts", rl_dash_task_states, q.counts, RL_DASH_NTASK_STATES);
  rl_json_kint(j, "evicted", (int64_t)rl_state_table_evicted(c->d->t.state));
  rl_json_end(j);
}

/* ---- /api/actors ---- */

typedef struct {
  rl_json_t *j;
  int state;
  long offset, limit;
  size_t matched;
} s_actor_query_t;

static bool s_actor_visit(void *ctx, const rl_actor_view_t *v) {
  s_actor_query_t *q = ctx;
  if (q->state >= 0 && v->state != q->state) return true;
  size_t k = q->matched++;
  if ((long)k < q->offset || (long)k >= q->offset + q->limit) return true;
  rl_json_t *j = q->j;
  rl_json_obj(j);
  rl_dash_id(j, "actor_id", v->id);
  rl_json_kstr(j, "class_name", v->class_name);
  rl_json_kstr(j, "name", v->name);
  rl_json_kstr(j, "namespace", v->ns);
  rl_json_kstr(j, "state", v->state < RL_DASH_NACTOR_STATES ? rl_dash_actor_states[v->state] : "?");
  rl_dash_id(j, "node_id", v->node_id);
  rl_json_kint(j, "pid", v->pid);
  rl_json_kbool(j, "is_detached", v->detached);
  rl_json_kint(j, "num_restarts", v->restarts);
  rl_json_key(j, "death_cause");
  if (v->cause[0]) rl_json_str(j, v->cause);
  else rl_json_null(j);
  rl_dash_id(j, "owner_id", v->owner_id);
  rl_json_kint(j, "owner_pid", v->owner_pid);
  rl_json_end(j);
  return true;
}

void rl_dash_api_actors(rl_dash_call_t *c) {
  s_actor_query_t q = {.j = c->j};
  if (!rl_dash_arg_enum(c, "state", rl_dash_actor_states, RL_DASH_NACTOR_STATES, &q.state) ||
      !rl_dash_arg_int(c, "limit", 0, S_LIMIT_MAX, S_LIMIT_DEFAULT, &q.limit) ||
      !rl_dash_arg_int(c, "offset", 0, LONG_MAX / 2, 0, &q.offset))
    return;
  rl_json_obj(c->j);
  rl_json_key(c->j, "actors");
  rl_json_arr(c->j);
  rl_state_table_each_actor(c->d->t.state, s_actor_visit, &q);
  rl_json_end(c->j);
  rl_json_kint(c->j, "total", (int64_t)q.matched);
  rl_json_end(c->j);
}

/* ---- /api/jobs ---- */

static void s_job_row(rl_json_t *j, const rl_job_view_t *v) {
  rl_json_obj(j);
  rl_json_kstr(j, "submission_id", v->id);
  rl_json_kstr(j, "status", v->status);
  rl_json_kstr(j, "entrypoint", v->entrypoint);
  rl_json_kstr(j, "message", v->message);
  rl_json_kint(j, "start_time", v->start_ms);
  rl_json_kint(j, "end_time", v->end_ms);
  rl_json_kint(j, "driver_pid", v->pid);
  rl_json_end(j);
}

static bool s_job_visit(void *ctx, const rl_job_view_t *v) {
  s_job_row(ctx, v);
  return true;
}

typedef struct {
  const char *id;
  rl_job_view_t v;
  char log_path[PATH_MAX];
  char status[16];
  bool found;
} s_job_find_t;

static bool s_job_find(void *ctx, const rl_job_view_t *v) {
  s_job_find_t *f = ctx;
  if (strcmp(v->id, f->id)) return true;
  f->found = true;
  f->v = *v;
  snprintf(f->log_path, sizeof f->log_path, "%s", v->log_path);
  snprintf(f->status, sizeof f->status, "%s", v->status);
  return false;
}

/* /api/jobs, /api/jobs/ID, GET /api/jobs/ID/logs, POST /api/jobs/ID/stop */
void rl_dash_api_jobs(rl_dash_call_t *c) {
  if (!*c->rest) {
    rl_json_arr(c->j);
    rl_jobs_each(c->d->t.jobs, s_job_visit, c->j);
    rl_json_end(c->j);
    return;
  }
  char id[80];
  const char *slash = strchr(c->rest + 1, '/');
  size_t n = slash ? (size_t)(slash - c->rest - 1) : strlen(c->rest + 1);
  const char *what = slash ? slash + 1 : "";
  if (c->rest[0] != '/' || n == 0 || n >= sizeof id) return rl_http_error(c->out, 404, "no such route");
  memcpy(id, c->rest + 1, n);
  id[n] = 0;
  s_job_find_t f = {.id = id};
  rl_jobs_each(c->d->t.jobs, s_job_find, &f);
  if (!f.found) return rl_http_error(c->out, 404, "no job with that submission id (see /api/jobs)");
  bool post = !strcmp(c->req->method, "POST");
  if (!strcmp(what, "stop")) {
    if (!post) return rl_http_error(c->out, 405, "stopping a job is a POST");
    rl_jobs_stop(c->d->t.jobs, id);
    rl_log(RL_LOG_INFO, "job %s: stop asked through the dashboard", id);
    f.found = false;
    rl_jobs_each(c->d->t.jobs, s_job_find, &f);
    s_job_row(c->j, &f.v);
    return;
  }
  if (post) return rl_http_error(c->out, 405, "only POST /api/jobs/ID/stop changes a job");
  if (!strcmp(what, "logs")) return rl_dash_tail(c, f.log_path, id, true); /* none yet: empty */
  if (*what) return rl_http_error(c->out, 404, "no such route");
  s_job_row(c->j, &f.v);
}

/* ---- /api/placement_groups ---- */

void rl_dash_api_pgs(rl_dash_call_t *c) {
  rl_json_t *j = c->j;
  const rl_pg_table_t *t = rl_pg_service_table(c->d->t.pgs);
  rl_json_arr(j);
  for (rl_pg_t *pg = rl_pg_table_next(t, NULL); pg; pg = rl_pg_table_next(t, pg)) {
    rl_json_obj(j);
    rl_dash_id(j, "placement_group_id", &pg->id);
    rl_json_kstr(j, "name", pg->name);
    rl_json_kstr(j, "state", rl_pg_state_name(pg->state));
    rl_json_kstr(j, "strategy", rl_pg_strategy_name(pg->strategy));
    rl_json_kbool(j, "is_detached", pg->detached);
    rl_json_key(j, "bundles");
    rl_json_arr(j);
    for (int i = 0; i < pg->n; i++) {
      rl_json_obj(j);
      rl_dash_resources(j, "resources", &pg->bundles[i].resources);
      rl_dash_id(j, "node_id", pg->bundles[i].state == RL_BUNDLE_UNPLACED ? NULL : &pg->bundles[i].node);
      rl_json_end(j);
    }
    rl_json_end(j);
    rl_json_end(j);
  }
  rl_json_end(j);
}

/* ---- /api/objects: the nodes' stores ---- */

void rl_dash_api_objects(rl_dash_call_t *c) {
  rl_json_t *j = c->j;
  rl_dash_totals_t t;
  rl_dash_totals(c->d, &t);
  rl_json_obj(j);
  rl_json_knum(j, "store_used", t.s.store_used);
  rl_json_knum(j, "store_capacity", t.s.store_capacity);
  rl_json_knum(j, "objects", t.s.objects);
  rl_json_knum(j, "spilled", t.s.spilled);
  rl_json_key(j, "nodes");
  rl_json_arr(j);
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(c->d->t.nodes, &cur));) {
    if (!n->alive) continue;
    rl_json_obj(j);
    rl_dash_id(j, "node_id", &n->id);
    rl_json_kstr(j, "address", n->endpoint);
    rl_json_knum(j, "store_used", n->stats.store_used);
    rl_json_knum(j, "store_capacity", n->stats.store_capacity);
    rl_json_knum(j, "objects", n->stats.objects);
    rl_json_knum(j, "spilled", n->stats.spilled);
    rl_json_end(j);
  }
  rl_json_end(j);
  rl_json_end(j);
}
