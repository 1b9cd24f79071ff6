/* dashboard.c: the head's dashboard routes: each /api/ route is one small function in
 * s_routes reading the head's tables into JSON; /metrics writes Prometheus text; any
 * other GET is an embedded file. */
#include "common/selftest.h"
#include "head/dashboard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "gcs/pg_table.h"
#include "head/dash_fetch.h"
#include "head/log_tail.h"
#include "http/http.h"
#include "http/json.h"
#include "net/key.h"
#include "node/log_service.h"
#include "wire/proto.h"
#include "worker/cluster_client.h"

#define S_LIMIT_DEFAULT 100
#define S_LIMIT_MAX 10000
#define S_LOG_READ_MAX ((size_t)8 << 20) /* a log's tail read for one request */
#define S_LOG_LINES_DEFAULT 200
#define S_HEAD_RESOURCE "node:__internal_head__"
#define S_TIMELINE_DEFAULT 2000 /* runs in one /api/timeline answer */
#define S_MAX_NODES 256

static const char *const s_task_states[] = {"SUBMITTED", "RUNNING", "FINISHED", "FAILED"};
static const char *const s_task_types[] = {"NORMAL_TASK", "ACTOR_CREATION_TASK", "ACTOR_TASK"};
static const char *const s_actor_states[] = {"PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD"};
#define S_NTASK_STATES 4
#define S_NACTOR_STATES 4

struct rl_dashboard_t {
  rl_dashboard_tables_t t;
  rl_http_t *http;
  rl_dash_fetch_t *fetch; /* started at the first page that needs other processes */
  char url[96];
};

typedef struct {
  rl_dashboard_t *d;
  const rl_http_req_t *req;
  const char *rest; /* the path after the route's prefix */
  rl_json_t *j;
  rl_http_reply_t *out;
} s_call_t;

/* ---- helpers ---- */

static void s_id(rl_json_t *j, const char *key, const rl_id_t *id) {
  char hex[RL_ID_HEX];
  rl_json_key(j, key);
  if (!id || rl_id_is_nil(id)) rl_json_null(j);
  else rl_json_str(j, rl_id_hex(id, hex));
}

static void s_resources(rl_json_t *j, const char *key, const rl_resources_t *r) {
  rl_json_key(j, key);
  rl_json_obj(j);
  for (int i = 0; i < r->n; i++) rl_json_knum(j, r->r[i].name, (double)r->r[i].amount / RL_RES_UNIT);
  rl_json_end(j);
}

static int64_t s_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A query argument as a whole number in [lo, hi] (dflt when absent). Returns false and
 * fills a 400 reply when it is something else. */
static bool s_arg_int(s_call_t *c, const char *name, long lo, long hi, long dflt, long *out) {
  const char *v = rl_http_arg(c->req, name);
  *out = dflt;
  if (!v) return true;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (!*v || *end || errno || n < lo || n > hi) {
    char msg[160];
    snprintf(msg, sizeof msg, "query argument '%s' must be a whole number in %ld..%ld", name, lo, hi);
    rl_http_error(c->out, 400, msg);
    return false;
  }
  *out = n;
  return true;
}

/* A query argument naming one of names (any case); -1 when absent. Returns false and
 * fills a 400 reply when it names none of them. */
static bool s_arg_enum(s_call_t *c, const char *name, const char *const *names, int n, int *out) {
  const char *v = rl_http_arg(c->req, name);
  *out = -1;
  if (!v || !*v) return true;
  for (int i = 0; i < n; i++)
    if (!strcasecmp(v, names[i])) {
      *out = i;
      return true;
    }
  char msg[300];
  int at = snprintf(msg, sizeof msg, "query argument '%s' must be one of", name);
  for (int i = 0; i < n && at < (int)sizeof msg; i++) at += snprintf(msg + at, sizeof msg - at, " %s", names[i]);
  rl_http_error(c->out, 400, msg);
  return false;
}

/* ---- /api/nodes ---- */

static void s_node_stats(rl_json_t *j, const rl_node_stats_t *s) {
  rl_json_key(j, "stats");
  rl_json_obj(j);
  rl_json_knum(j, "store_used", s->store_used);
  rl_json_knum(j, "store_capacity", s->store_capacity);
  rl_json_knum(j, "objects", s->objects);
  rl_json_knum(j, "spilled", s->spilled);
  rl_json_knum(j, "workers", s->workers);
  rl_json_knum(j, "workers_leased", s->workers_leased);
  rl_json_knum(j, "queued", s->queued);
  rl_json_knum(j, "mem_total", s->mem_total);
  rl_json_knum(j, "mem_available", s->mem_available);
  rl_json_knum(j, "load1", s->load1);
  rl_json_knum(j, "cpus", s->cpus);
  rl_json_end(j);
}

static void s_api_nodes(s_call_t *c) {
  rl_json_t *j = c->j;
  rl_json_arr(j);
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(c->d->t.nodes, &cur));) {
    rl_json_obj(j);
    s_id(j, "node_id", &n->id);
    rl_json_kstr(j, "address", n->endpoint);
    rl_json_kstr(j, "state", n->alive ? "ALIVE" : n->pending ? "PENDING" : "DEAD");
    rl_json_kbool(j, "is_head", rl_res_get(&n->total, S_HEAD_RESOURCE) > 0);
    rl_json_kint(j, "pid", (int64_t)n->pid);
    s_resources(j, "resources_total", &n->total);
    s_resources(j, "resources_available", &n->available);
    rl_json_kstr(j, "gpus", n->gpus);
    s_node_stats(j, &n->stats);
    rl_json_end(j);
  }
  rl_json_end(j);
}

/* ---- /api/cluster: the overview's numbers ---- */

/* Counts by state, as a JSON object under key. */
static void s_counts(rl_json_t *j, const char *key, const char *const *names, const size_t *counts, int n) {
  rl_json_key(j, key);
  rl_json_obj(j);
  for (int i = 0; i < n; i++) rl_json_kint(j, names[i], (int64_t)counts[i]);
  rl_json_end(j);
}

/* The cluster's totals over live nodes: resources and node stats. */
typedef struct {
  int alive, dead;
  rl_resources_t total, available;
  rl_node_stats_t s;
} s_totals_t;

static void s_totals(const rl_dashboard_t *d, s_totals_t *t) {
  memset(t, 0, sizeof *t);
  size_t cur = 0;
  for (const rl_node_t *n; (n = rl_node_table_next(d->t.nodes, &cur));) {
    if (!n->alive) {
      t->dead += !n->pending;
      continue;
    }
    t->alive++;
    rl_res_add(&t->total, &n->total);
    rl_res_add(&t->available, &n->available);
    const rl_node_stats_t *s = &n->stats;
    t->s.store_used += s->store_used, t->s.store_capacity += s->store_capacity, t->s.objects += s->objects;
    t->s.spilled += s->spilled, t->s.workers += s->workers, t->s.workers_leased += s->workers_leased;
    t->s.queued += s->queued, t->s.mem_total += s->mem_total, t->s.mem_available += s->mem_available;
    t->s.cpus += s->cpus;
  }
}

static void s_api_cluster(s_call_t *c) {
  rl_json_t *j = c->j;
  s_totals_t t;
  size_t tasks[S_NTASK_STATES] = {0}, actors[S_NACTOR_STATES] = {0};
  s_totals(c->d, &t);
  rl_state_table_counts(c->d->t.state, tasks, actors);
  rl_json_obj(j);
  rl_json_kint(j, "time_ms", s_wall_ms());
  rl_json_kint(j, "nodes_alive", t.alive);
  rl_json_kint(j, "nodes_dead", t.dead);
  s_resources(j, "resources_total", &t.total);
  s_resources(j, "resources_available", &t.available);
  s_node_stats(j, &t.s);
  s_counts(j, "tasks", s_task_states, tasks, S_NTASK_STATES);
  s_counts(j, "actors", s_actor_states, actors, S_NACTOR_STATES);
  rl_json_kint(j, "tasks_evicted", (int64_t)rl_state_table_evicted(c->d->t.state));
  rl_json_end(j);
}

/* ---- /api/tasks ---- */

typedef struct {
  rl_json_t *j;
  int state;        /* -1: any */
  const char *name; /* substring; NULL: any */
  long offset, limit;
  size_t matched;
  size_t counts[S_NTASK_STATES];
} s_task_query_t;

static void s_task_row(rl_json_t *j, const rl_task_view_t *v) {
  rl_json_obj(j);
  s_id(j, "task_id", v->id);
  rl_json_kstr(j, "name", v->name);
  rl_json_kstr(j, "state", v->state < S_NTASK_STATES ? s_task_states[v->state] : "?");
  rl_json_kstr(j, "type", v->kind < 3 ? s_task_types[v->kind] : "?");
  rl_json_kint(j, "attempt_number", v->attempt);
  s_id(j, "actor_id", v->actor_id);
  s_id(j, "node_id", v->node_id);
  rl_json_kint(j, "worker_pid", v->worker_pid);
  rl_json_key(j, "error_type");
  if (v->error_type[0]) rl_json_str(j, v->error_type);
  else rl_json_null(j);
  rl_json_kstr(j, "error_message", v->error); /* message and remote traceback, or null */
  s_id(j, "owner_id", v->owner_id);
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

static void s_api_tasks(s_call_t *c) {
  s_task_query_t q = {.j = c->j};
  if (!s_arg_enum(c, "state", s_task_states, S_NTASK_STATES, &q.state) ||
      !s_arg_int(c, "limit", 0, S_LIMIT_MAX, S_LIMIT_DEFAULT, &q.limit) ||
      !s_arg_int(c, "offset", 0, LONG_MAX / 2, 0, &q.offset))
    return;
  q.name = rl_http_arg(c->req, "name");
  if (q.name && !*q.name) q.name = NULL;
  rl_json_t *j = c->j;
  rl_json_obj(j);
  rl_json_key(j, "tasks");
  rl_json_arr(j);
  size_t actors[S_NACTOR_STATES];
  rl_state_table_counts(c->d->t.state, q.counts, actors);
  rl_state_table_each_task(c->d->t.state, s_task_visit, &q);
  if (!q.name) q.matched = q.state >= 0 ? q.counts[q.state] : rl_state_table_tasks(c->d->t.state);
  rl_json_end(j);
  rl_json_kint(j, "total", (int64_t)q.matched);
  rl_json_kint(j, "offset", q.offset);
  rl_json_kint(j, "limit", q.limit);
  s_counts(j, "counts", s_task_states, q.counts, S_NTASK_STATES);
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
  s_id(j, "actor_id", v->id);
  rl_json_kstr(j, "class_name", v->class_name);
  rl_json_kstr(j, "name", v->name);
  rl_json_kstr(j, "namespace", v->ns);
  rl_json_kstr(j, "state", v->state < S_NACTOR_STATES ? s_actor_states[v->state] : "?");
  s_id(j, "node_id", v->node_id);
  rl_json_kint(j, "pid", v->pid);
  rl_json_kbool(j, "is_detached", v->detached);
  rl_json_kint(j, "num_restarts", v->restarts);
  rl_json_key(j, "death_cause");
  if (v->cause[0]) rl_json_str(j, v->cause);
  else rl_json_null(j);
  s_id(j, "owner_id", v->owner_id);
  rl_json_kint(j, "owner_pid", v->owner_pid);
  rl_json_end(j);
  return true;
}

static void s_api_actors(s_call_t *c) {
  s_actor_query_t q = {.j = c->j};
  if (!s_arg_enum(c, "state", s_actor_states, S_NACTOR_STATES, &q.state) ||
      !s_arg_int(c, "limit", 0, S_LIMIT_MAX, S_LIMIT_DEFAULT, &q.limit) ||
      !s_arg_int(c, "offset", 0, LONG_MAX / 2, 0, &q.offset))
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

static void s_tail(s_call_t *c, const char *path, const char *name, bool missing_ok);

/* /api/jobs, /api/jobs/ID, GET /api/jobs/ID/logs, POST /api/jobs/ID/stop */
static void s_api_jobs(s_call_t *c) {
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
  if (!strcmp(what, "logs")) return s_tail(c, f.log_path, id, true); /* none yet: empty */
  if (*what) return rl_http_error(c->out, 404, "no such route");
  s_job_row(c->j, &f.v);
}

/* ---- /api/placement_groups ---- */

static void s_api_pgs(s_call_t *c) {
  rl_json_t *j = c->j;
  const rl_pg_table_t *t = rl_pg_service_table(c->d->t.pgs);
  rl_json_arr(j);
  for (rl_pg_t *pg = rl_pg_table_next(t, NULL); pg; pg = rl_pg_table_next(t, pg)) {
    rl_json_obj(j);
    s_id(j, "placement_group_id", &pg->id);
    rl_json_kstr(j, "name", pg->name);
    rl_json_kstr(j, "state", rl_pg_state_name(pg->state));
    rl_json_kstr(j, "strategy", rl_pg_strategy_name(pg->strategy));
    rl_json_kbool(j, "is_detached", pg->detached);
    rl_json_key(j, "bundles");
    rl_json_arr(j);
    for (int i = 0; i < pg->n; i++) {
      rl_json_obj(j);
      s_resources(j, "resources", &pg->bundles[i].resources);
      s_id(j, "node_id", pg->bundles[i].state == RL_BUNDLE_UNPLACED ? NULL : &pg->bundles[i].node);
      rl_json_end(j);
    }
    rl_json_end(j);
    rl_json_end(j);
  }
  rl_json_end(j);
}

/* ---- /api/objects: the nodes' stores ---- */

static void s_api_objects(s_call_t *c) {
  rl_json_t *j = c->j;
  s_totals_t t;
  s_totals(c->d, &t);
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
    s_id(j, "node_id", &n->id);
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

/* ---- /api/logs ---- */

/* The last `lines` lines of path holding `search` (NULL: any), as JSON; a file that
 * does not exist is empty with missing_ok, else 404. */
static void s_tail(s_call_t *c, const char *path, const char *name, bool missing_ok) {
  long lines;
  if (!s_arg_int(c, "lines", 1, 100000, S_LOG_LINES_DEFAULT, &lines)) return;
  const char *search = rl_http_arg(c->req, "search");
  if (search && !*search) search = NULL;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 && errno == ENOENT && missing_ok) {
    char empty[1];
    return rl_log_tail_json(c->j, name, 0, empty, 0, false, lines, search);
  }
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return rl_http_error(c->out, 404, "no such log file (see /api/logs)");
  }
  size_t size = (size_t)st.st_size, want = size < S_LOG_READ_MAX ? size : S_LOG_READ_MAX;
  char *buf = rl_xmalloc(want + 1); /* at most S_LOG_READ_MAX */
  ssize_t got = pread(fd, buf, want, (off_t)(size - want));
  close(fd);
  if (got < 0) {
    free(buf);
    return rl_http_error(c->out, 500, "cannot read the log file");
  }
  rl_log_tail_json(c->j, name, size, buf, (size_t)got, want < size, lines, search);
  free(buf);
}

static int s_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---- what other processes answer (dash_fetch.h) ---- */

/* The live nodes' endpoints (borrowed from the node table) into eps; their number. */
static int s_live_endpoints(const rl_dashboard_t *d, const char **eps, int max) {
  int n = 0;
  size_t cur = 0;
  for (const rl_node_t *node; n < max && (node = rl_node_table_next(d->t.nodes, &cur));)
    if (node->alive) eps[n++] = node->endpoint;
  return n;
}

/* Replies with the fetcher's latest answer to query (asked of the n endpoints), or
 * {"pending": true} while the first one is being made. */
static void s_fetched(s_call_t *c, const char *query, const char *const *eps, int n) {
  if (!c->d->fetch && !(c->d->fetch = rl_dash_fetch_new()))
    return rl_http_error(c->out, 503, "cannot start the thread that asks other processes");
  size_t len;
  int64_t age;
  char *body = rl_dash_fetch_get(c->d->fetch, query, eps, n, &len, &age);
  if (!body) {
    rl_json_obj(c->j);
    rl_json_kbool(c->j, "pending", true);
    rl_json_end(c->j);
    return;
  }
  c->out->body = body;
  c->out->len = len;
  c->out->type = "application/json";
  if (strncmp(body, "{\"error\":", 9) == 0) c->out->status = 502;
}

/* /api/memory: every object the drivers and workers own (as `rayl memory`). */
static void s_api_memory(s_call_t *c) {
  const char *eps[S_MAX_NODES];
  int n = s_live_endpoints(c->d, eps, S_MAX_NODES);
  s_fetched(c, "memory", eps, n);
}

/* The endpoint of the live node whose id (or its first 12+ hex digits) is hex. */
static const char *s_node_endpoint(const rl_dashboard_t *d, const char *hex) {
  size_t cur = 0, len = strlen(hex);
  if (len < 12 || len >= RL_ID_HEX) return NULL;
  for (const rl_node_t *node; (node = rl_node_table_next(d->t.nodes, &cur));) {
    char h[RL_ID_HEX];
    if (node->alive && !strncmp(rl_id_hex(&node->id, h), hex, len)) return node->endpoint;
  }
  return NULL;
}

/* /api/logs?node=ID and /api/logs/NAME?node=ID&lines=N&search=S: a node's logs, read
 * by its node manager (RL_NM_LOGS). */
static void s_node_logs(s_call_t *c, const char *node) {
  const char *ep = s_node_endpoint(c->d, node);
  if (!ep) return rl_http_error(c->out, 404, "no live node with that id (see /api/nodes)");
  if (!*c->rest) return s_fetched(c, "files", &ep, 1);
  const char *name = c->rest + 1;
  long lines;
  const char *search = rl_http_arg(c->req, "search");
  if (c->rest[0] != '/' || !rl_log_name_ok(name)) return rl_http_error(c->out, 400, "bad log file name");
  if (!s_arg_int(c, "lines", 1, 100000, S_LOG_LINES_DEFAULT, &lines)) return;
  if (search && (strlen(search) > 200 || strchr(search, '\n')))
    return rl_http_error(c->out, 400, "query argument 'search' must be one line of at most 200 characters");
  char query[512];
  snprintf(query, sizeof query, "tail\n%s\n%ld\n%s", name, lines, search ? search : "");
  s_fetched(c, query, &ep, 1);
}

/* /api/logs (the session's log files) and /api/logs/NAME?lines=N&search=S; with
 * ?node=ID another node's (s_node_logs). */
static void s_api_logs(s_call_t *c) {
  char dir[PATH_MAX], path[PATH_MAX + 256];
  const char *node = rl_http_arg(c->req, "node");
  if (node && *node) return s_node_logs(c, node);
  if (!c->d->t.session_dir) return rl_http_error(c->out, 404, "this head keeps no session folder, so no logs");
  snprintf(dir, sizeof dir, "%s/logs", c->d->t.session_dir);
  if (*c->rest) {
    const char *name = c->rest + 1;
    if (c->rest[0] != '/' || !rl_log_name_ok(name)) return rl_http_error(c->out, 400, "bad log file name");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return s_tail(c, path, name, false);
  }
  DIR *d = opendir(dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!rl_log_name_ok(e->d_name)) continue;
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 64;
      names = rl_xrealloc(names, ncap * sizeof *names);
      cap = ncap;
    }
    names[n++] = rl_xstrdup(e->d_name);
  }
  if (d) closedir(d);
  qsort(names, n, sizeof *names, s_cmp_str);
  rl_json_t *j = c->j;
  rl_json_arr(j);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      rl_json_obj(j);
      rl_json_kstr(j, "name", names[i]);
      rl_json_kint(j, "size", (int64_t)st.st_size);
      rl_json_kint(j, "modified", (int64_t)st.st_mtime * 1000);
      rl_json_end(j);
    }
    free(names[i]);
  }
  free(names);
  rl_json_end(j);
}

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
  s_id(j, "task_id", &e->task_id);
  s_id(j, "actor_id", &e->actor_id);
  rl_json_kstr(j, "type", e->kind < 3 ? s_task_types[e->kind] : "?");
  rl_json_kbool(j, "failed", e->failed);
  rl_json_kint(j, "owner_pid", e->owner_pid);
  if (!q->trace) {
    rl_json_kstr(j, "kind", e->kind < 3 ? s_kinds_short[e->kind] : "?");
    s_id(j, "node_id", &e->node_id);
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
static void s_api_timeline(s_call_t *c) {
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
  if (!s_arg_int(c, "limit", 0, RL_TIMELINE_MAX_EVENTS, S_TIMELINE_DEFAULT, &limit) ||
      !s_arg_int(c, "since_us", 0, LONG_MAX, 0, &since))
    return;
  q.skip = count > (size_t)limit ? count - (size_t)limit : 0;
  q.since = since;
  rl_json_obj(c->j);
  rl_json_kint(c->j, "time_us", s_wall_ms() * 1000);
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

static void s_api_pending(s_call_t *c) {
  rl_json_t *j = c->j;
  const rl_resources_t *totals[S_MAX_NODES];
  int nt = 0;
  size_t cur = 0;
  for (const rl_node_t *n; nt < S_MAX_NODES && (n = rl_node_table_next(c->d->t.nodes, &cur));)
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
      s_id(j, "node_id", &n->id);
      s_resources(j, "shape", &demands[i].shape);
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

/* ---- /metrics: Prometheus text ---- */

static void s_metric_head(rl_json_t *m, const char *name, const char *type, const char *help) {
  rl_json_rawf(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_metrics(s_call_t *c) {
  rl_json_t *m = c->j;
  size_t tasks[S_NTASK_STATES] = {0}, actors[S_NACTOR_STATES] = {0};
  rl_state_table_counts(c->d->t.state, tasks, actors);
  s_metric_head(m, "rayl_tasks", "gauge", "Tasks the head keeps, by state.");
  for (int i = 0; i < S_NTASK_STATES; i++) rl_json_rawf(m, "rayl_tasks{State=\"%s\"} %zu\n", s_task_states[i], tasks[i]);
  s_metric_head(m, "rayl_tasks_evicted_total", "counter", "Tasks forgotten to keep the head's table bounded.");
  rl_json_rawf(m, "rayl_tasks_evicted_total %llu\n", (unsigned long long)rl_state_table_evicted(c->d->t.state));
  s_metric_head(m, "rayl_actors", "gauge", "Actors, by state.");
  for (int i = 0; i < S_NACTOR_STATES; i++)
    rl_json_rawf(m, "rayl_actors{State=\"%s\"} %zu\n", s_actor_states[i], actors[i]);
  s_totals_t t;
  s_totals(c->d, &t);
  s_metric_head(m, "rayl_nodes", "gauge", "Nodes, by state.");
  rl_json_rawf(m, "rayl_nodes{State=\"ALIVE\"} %d\nrayl_nodes{State=\"DEAD\"} %d\n", t.alive, t.dead);
  static const struct {
    const char *name, *help;
    size_t off;
    bool counter;
  } per_node[] = {
      {"rayl_object_store_used_bytes", "Bytes allocated in the node's object store.",
       offsetof(rl_node_stats_t, store_used), false},
      {"rayl_object_store_capacity_bytes", "The node's object store size.", offsetof(rl_node_stats_t, store_capacity),
       false},
      {"rayl_object_store_objects", "Objects in the node's store (in memory or spilled).",
       offsetof(rl_node_stats_t, objects), false},
      {"rayl_object_store_spilled_objects", "Objects of the node's store spilled to disk.",
       offsetof(rl_node_stats_t, spilled), false},
      {"rayl_workers", "Worker processes of the node.", offsetof(rl_node_stats_t, workers), false},
      {"rayl_workers_leased", "Workers leased to run tasks or actors.", offsetof(rl_node_stats_t, workers_leased),
       false},
      {"rayl_scheduler_queued_leases", "Lease requests waiting in the node's scheduler queue.",
       offsetof(rl_node_stats_t, queued), false},
      {"rayl_node_mem_total_bytes", "The node's machine memory.", offsetof(rl_node_stats_t, mem_total), false},
      {"rayl_node_mem_available_bytes", "The node's machine memory available.",
       offsetof(rl_node_stats_t, mem_available), false},
      {"rayl_node_load1", "The node's machine load average over a minute.", offsetof(rl_node_stats_t, load1), false},
      {"rayl_node_cpus", "The node's machine CPUs.", offsetof(rl_node_stats_t, cpus), false},
  };
  for (size_t k = 0; k < sizeof per_node / sizeof per_node[0]; k++) {
    s_metric_head(m, per_node[k].name, "gauge", per_node[k].help);
    size_t cur = 0;
    for (const rl_node_t *n; (n = rl_node_table_next(c->d->t.nodes, &cur));) {
      if (!n->alive) continue;
      char hex[RL_ID_HEX];
      double v = *(const double *)((const char *)&n->stats + per_node[k].off);
      rl_json_rawf(m, "%s{NodeId=\"%s\"} %.17g\n", per_node[k].name, rl_id_hex(&n->id, hex), v);
    }
  }
  static const char *const res_names[] = {"CPU", "GPU", "memory"};
  for (int avail = 0; avail < 2; avail++) {
    const char *name = avail ? "rayl_resources_available" : "rayl_resources_total";
    s_metric_head(m, name, "gauge", avail ? "Resources of a node not in use." : "Resources a node offers.");
    size_t cur = 0;
    for (const rl_node_t *n; (n = rl_node_table_next(c->d->t.nodes, &cur));) {
      if (!n->alive) continue;
      char hex[RL_ID_HEX];
      rl_id_hex(&n->id, hex);
      for (size_t r = 0; r < 3; r++)
        rl_json_rawf(m, "%s{NodeId=\"%s\",Name=\"%s\"} %.17g\n", name, hex, res_names[r],
                     rl_res_get(avail ? &n->available : &n->total, res_names[r]));
    }
  }
  c->out->type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- routing ---- */

typedef void(s_route_fn)(s_call_t *c);

/* A route: the path, exact or as a prefix followed by "/..." (the rest is passed on as
 * c->rest). A new route is one function s_api_x(s_call_t *c) that writes JSON into
 * c->j (or calls rl_http_error on c->out), and one row here. Only s_api_jobs takes a
 * POST (which the server lets through only with the token in a header). */
static const struct {
  const char *path;
  bool prefix;
  s_route_fn *fn;
} s_routes[] = {
    {"/api/cluster", false, s_api_cluster},      {"/api/nodes", false, s_api_nodes},
    {"/api/jobs", true, s_api_jobs},             {"/api/actors", false, s_api_actors},
    {"/api/tasks", false, s_api_tasks},          {"/api/objects", false, s_api_objects},
    {"/api/placement_groups", false, s_api_pgs}, {"/api/logs", true, s_api_logs},
    {"/api/timeline", true, s_api_timeline},     {"/api/pending", false, s_api_pending},
    {"/api/memory", false, s_api_memory},
    {"/metrics", false, s_metrics},
};

static void s_handle(void *ctx, const rl_http_req_t *req, rl_http_reply_t *out) {
  rl_dashboard_t *d = ctx;
  rl_json_t j;
  rl_json_init(&j);
  s_call_t c = {.d = d, .req = req, .rest = "", .j = &j, .out = out};
  for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
    size_t n = strlen(s_routes[i].path);
    if (strncmp(req->path, s_routes[i].path, n)) continue;
    if (req->path[n] && !(s_routes[i].prefix && req->path[n] == '/')) continue;
    c.rest = req->path + n;
    bool post = !strcmp(req->method, "POST");
    if (post && s_routes[i].fn != s_api_jobs) {
      rl_http_error(out, 405, "this route only reads: use GET");
    } else {
      s_routes[i].fn(&c);
    }
    if (!out->body) { /* not an error: the JSON (or text) written */
      out->body = rl_json_take(&j, &out->len);
      if (!out->body) rl_http_error(out, 500, "out of memory");
      if (!out->type) out->type = "application/json";
    }
    rl_json_free(&j);
    return;
  }
  rl_json_free(&j);
  const unsigned char *data;
  size_t len;
  const char *type;
  if (!strcmp(req->method, "POST")) return rl_http_error(out, 405, "no such route to POST to");
  if (!rl_http_asset(req->path, &data, &len, &type)) return rl_http_error(out, 404, "no such page or route");
  out->body = rl_xmalloc(len);
  memcpy(out->body, data, len);
  out->len = len;
  out->type = type;
}

/* ---- the dashboard ---- */

void rl_dashboard_token(char out[RL_DASHBOARD_TOKEN_LEN + 1]) {
  unsigned char h[RL_DASHBOARD_TOKEN_LEN / 2];
  const char *secret = rl_net_key_secret();
  static const char msg[] = "rayl dashboard token";
  if (sodium_init() < 0 || !secret) randombytes_buf(h, sizeof h);
  else crypto_generichash(h, sizeof h, (const unsigned char *)msg, sizeof msg - 1, (const unsigned char *)secret,
                          strlen(secret));
  sodium_bin2hex(out, RL_DASHBOARD_TOKEN_LEN + 1, h, sizeof h);
}

rl_dashboard_t *rl_dashboard_new(const rl_dashboard_tables_t *t, const rl_dashboard_opts_t *o, char *err,
                                 size_t errlen) {
  rl_dashboard_t *d = rl_xcalloc(1, sizeof *d);
  d->t = *t;
  rl_http_opts_t ho = {.host = o->host,
                       .port = o->port ? o->port : RL_DASHBOARD_DEFAULT_PORT,
                       .port_tries = o->port ? 1 : RL_DASHBOARD_PORT_TRIES,
                       .token = o->token,
                       .token_for_reads = strcmp(o->host, "127.0.0.1") != 0 && strcmp(o->host, "localhost") != 0};
  if (!(d->http = rl_http_new(&ho, s_handle, d, err, errlen))) {
    free(d);
    return NULL;
  }
  snprintf(d->url, sizeof d->url, "http://%s:%d", o->host, rl_http_port(d->http));
  return d;
}

void rl_dashboard_destroy(rl_dashboard_t **p) {
  if (!p || !*p) return;
  rl_http_destroy(&(*p)->http);
  rl_dash_fetch_destroy(&(*p)->fetch);
  free(*p);
  *p = NULL;
}

const char *rl_dashboard_url(const rl_dashboard_t *d) { return d->url; }
int rl_dashboard_fd(const rl_dashboard_t *d) { return rl_http_fd(d->http); }
void rl_dashboard_run(rl_dashboard_t *d) { rl_http_run(d->http); }
long rl_dashboard_timeout_ms(rl_dashboard_t *d) { return rl_http_timeout_ms(d->http); }
