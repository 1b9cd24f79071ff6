/* dash_call.h: what the dashboard's files share (not for outside head/): the dashboard's
 * state, one request's context, its routes, and the helpers that write common JSON. */
#ifndef RL_HEAD_DASH_CALL_H
#define RL_HEAD_DASH_CALL_H
#include <stdbool.h>
#include <stdint.h>

#include "head/dash_fetch.h"
#include "head/dashboard.h"
#include "http/http.h"
#include "http/json.h"

#define RL_DASH_NTASK_STATES 4
#define RL_DASH_NACTOR_STATES 4
#define RL_DASH_MAX_NODES 256 /* live nodes a page that asks each of them covers */

/* State names as the API spells them, indexed by the head's codes. */
extern const char *const rl_dash_task_states[RL_DASH_NTASK_STATES];
extern const char *const rl_dash_task_types[3];
extern const char *const rl_dash_actor_states[RL_DASH_NACTOR_STATES];

struct rl_dashboard_t {
  rl_dashboard_tables_t t;
  rl_http_t *http;
  rl_dash_fetch_t *fetch; /* started at the first page that needs other processes */
  char url[96];
};

/* One request: a route writes its JSON (or text) into j, or calls rl_http_error on out. */
typedef struct {
  rl_dashboard_t *d;
  const rl_http_req_t *req;
  const char *rest; /* the path after the route's prefix */
  rl_json_t *j;
  rl_http_reply_t *out;
} rl_dash_call_t;

/* ---- routes (dashboard.c maps paths to them) ---- */

void rl_dash_api_cluster(rl_dash_call_t *c);  /* dash_tables.c: the overview's numbers */
void rl_dash_api_nodes(rl_dash_call_t *c);    /* dash_tables.c */
void rl_dash_api_tasks(rl_dash_call_t *c);    /* dash_tables.c */
void rl_dash_api_actors(rl_dash_call_t *c);   /* dash_tables.c */
void rl_dash_api_jobs(rl_dash_call_t *c);     /* dash_tables.c: also the one POST route */
void rl_dash_api_pgs(rl_dash_call_t *c);      /* dash_tables.c */
void rl_dash_api_objects(rl_dash_call_t *c);  /* dash_tables.c */
void rl_dash_api_logs(rl_dash_call_t *c);     /* dash_logs.c */
void rl_dash_api_memory(rl_dash_call_t *c);   /* dash_logs.c: asked of every live node */
void rl_dash_api_timeline(rl_dash_call_t *c); /* dash_activity.c */
void rl_dash_api_pending(rl_dash_call_t *c);  /* dash_activity.c */
void rl_dash_metrics(rl_dash_call_t *c);      /* dash_metrics.c: Prometheus text */

/* ---- helpers (dash_call.c) ---- */

/* key: the id in hex, or null for NULL or the nil id. */
void rl_dash_id(rl_json_t *j, const char *key, const rl_id_t *id);
/* key: {name: amount, ...} in whole units. */
void rl_dash_resources(rl_json_t *j, const char *key, const rl_resources_t *r);
/* Milliseconds since the epoch (wall clock, for the pages' "time_ms"). */
int64_t rl_dash_wall_ms(void);
/* A query argument as a whole number in [lo, hi] (dflt when absent). Returns false and
 * fills a 400 reply when it is something else. */
bool rl_dash_arg_int(rl_dash_call_t *c, const char *name, long lo, long hi, long dflt, long *out);
/* A query argument naming one of names (any case); -1 when absent. Returns false and
 * fills a 400 reply when it names none of them. */
bool rl_dash_arg_enum(rl_dash_call_t *c, const char *name, const char *const *names, int n, int *out);
/* Counts by state, as a JSON object under key. */
void rl_dash_counts(rl_json_t *j, const char *key, const char *const *names, const size_t *counts, int n);
/* "stats": a node's (or the cluster's summed) numbers. */
void rl_dash_node_stats(rl_json_t *j, const rl_node_stats_t *s);

/* The cluster's totals over live nodes: resources and node stats. */
typedef struct {
  int alive, dead;
  rl_resources_t total, available;
  rl_node_stats_t s;
} rl_dash_totals_t;
void rl_dash_totals(const rl_dashboard_t *d, rl_dash_totals_t *t);

/* Replies with the last `lines` lines (query argument) of the log file at path holding
 * `search` (query argument; none: any), as JSON under name; a file that does not exist
 * is empty with missing_ok, else a 404 (dash_logs.c). */
void rl_dash_tail(rl_dash_call_t *c, const char *path, const char *name, bool missing_ok);

#endif
