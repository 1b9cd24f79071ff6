/* dashboard.h: the head's dashboard: the JSON API under /api/, Prometheus metrics at
 * /metrics and the embedded pages, read from the head's own tables in the head's loop
 * (no copies, no locks). */
#ifndef RL_DASHBOARD_H
#define RL_DASHBOARD_H
#include <stdbool.h>
#include <stddef.h>

#include "gcs/jobs.h"
#include "gcs/node_table.h"
#include "gcs/pg_service.h"
#include "gcs/state_table.h"
#include "gcs/timeline_table.h"
#include "wire/wire.h"

#define RL_DASHBOARD_DEFAULT_PORT 8265
#define RL_DASHBOARD_PORT_TRIES 50 /* the default port busy: the next ones are tried */
#define RL_DASHBOARD_KV_KEY "__rayl_dashboard" /* "URL\nTOKEN\nERROR" for `rayl dashboard` */
#define RL_DASHBOARD_TOKEN_LEN 32

/* What the dashboard reads: the head's tables (borrowed, used only in the head's loop). */
typedef struct {
  rl_node_table_t *nodes;
  rl_state_table_t *state;
  rl_jobs_t *jobs;
  rl_pg_service_t *pgs;
  rl_timeline_table_t *timeline;
  /* A live node's waiting demands as it last reported them (borrowed until the next
   * message): false when it reported none. */
  bool (*demands)(void *ctx, const rl_id_t *node, const rl_wire_demand_t **d, uint32_t *n);
  void *demands_ctx;
  const char *session_dir; /* its logs/ folder is listed; NULL: no logs */
} rl_dashboard_tables_t;

typedef struct {
  const char *host; /* IPv4 address to bind */
  int port;         /* 0: RL_DASHBOARD_DEFAULT_PORT, then the next ones if busy */
  const char *token;
} rl_dashboard_opts_t;

typedef struct rl_dashboard_t rl_dashboard_t;

/* The access token: derived from the held cluster key (BLAKE2b keyed with its secret
 * half), or random when none is held. out gets RL_DASHBOARD_TOKEN_LEN hex digits. */
void rl_dashboard_token(char out[RL_DASHBOARD_TOKEN_LEN + 1]);

/* A dashboard serving t as o says. Bound beyond 127.0.0.1 every request needs the
 * token; on loopback only changes do. Returns NULL with err (e.g. the port is busy). */
rl_dashboard_t *rl_dashboard_new(const rl_dashboard_tables_t *t, const rl_dashboard_opts_t *o, char *err,
                                 size_t errlen);
void rl_dashboard_destroy(rl_dashboard_t **p);
/* Its URL, e.g. "http://127.0.0.1:8265" (borrowed). */
const char *rl_dashboard_url(const rl_dashboard_t *d);
/* The loop's side: poll rl_dashboard_fd for input, call rl_dashboard_run when it is
 * readable and at least every rl_dashboard_timeout_ms (-1: no deadline). */
int rl_dashboard_fd(const rl_dashboard_t *d);
void rl_dashboard_run(rl_dashboard_t *d);
long rl_dashboard_timeout_ms(rl_dashboard_t *d);

#endif
