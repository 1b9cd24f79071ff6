/* dash_call.c: the dashboard's shared helpers: state names, query arguments checked into
 * 400 replies, and the JSON pieces several routes write (ids, resources, node stats). */
#include "head/dash_call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *const rl_dash_task_states[RL_DASH_NTASK_STATES] = {"SUBMITTED", "RUNNING", "FINISHED", "FAILED"};
const char *const rl_dash_task_types[3] = {"NORMAL_TASK", "ACTOR_CREATION_TASK", "ACTOR_TASK"};
const char *const rl_dash_actor_states[RL_DASH_NACTOR_STATES] = {"PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD"};

void rl_dash_id(rl_json_t *j, const char *key, const rl_id_t *id) {
  char hex[RL_ID_HEX];
  rl_json_key(j, key);
  if (!id || rl_id_is_nil(id)) rl_json_null(j);
  else rl_json_str(j, rl_id_hex(id, hex));
}

void rl_dash_resources(rl_json_t *j, const char *key, const rl_resources_t *r) {
  rl_json_key(j, key);
  rl_json_obj(j);
  for (int i = 0; i < r->n; i++) rl_json_knum(j, r->r[i].name, (double)r->r[i].amount / RL_RES_UNIT);
  rl_json_end(j);
}

int64_t rl_dash_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A query argument as a whole number in [lo, hi] (dflt when absent). Returns false and
 * fills a 400 reply when it is something else. */
bool rl_dash_arg_int(rl_dash_call_t *c, const char *name, long lo, long hi, long dflt, long *out) {
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
bool rl_dash_arg_enum(rl_dash_call_t *c, const char *name, const char *const *names, int n, int *out) {
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

void rl_dash_node_stats(rl_json_t *j, const rl_node_stats_t *s) {
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

/* Counts by state, as a JSON object under key. */
void rl_dash_counts(rl_json_t *j, const char *key, const char *const *names, const size_t *counts, int n) {
  rl_json_key(j, key);
  rl_json_obj(j);
  for (int i = 0; i < n; i++) rl_json_kint(j, names[i], (int64_t)counts[i]);
  rl_json_end(j);
}

void rl_dash_totals(const rl_dashboard_t *d, rl_dash_totals_t *t) {
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
