/* dashboard.c: the head's dashboard: its HTTP server and token, and the routing table
 * (each /api/ route is one small function in a dash_*.c file reading the head's tables
 * into JSON; /metrics writes Prometheus text); any other GET is an embedded file. */
#include "common/selftest.h"
#include "head/dashboard.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "head/dash_call.h"
#include "http/http.h"
#include "http/json.h"
#include "net/key.h"

/* ---- routing ---- */

typedef void(s_route_fn)(rl_dash_call_t *c);

/* A route: the path, exact or as a prefix followed by "/..." (the rest is passed on as
 * c->rest). A new route is one function rl_dash_api_x(rl_dash_call_t *c) that writes
 * JSON into c->j (or calls rl_http_error on c->out), and one row here. Only
 * rl_dash_api_jobs takes a POST (which the server lets through only with the token in a
 * header). */
static const struct {
  const char *path;
  bool prefix;
  s_route_fn *fn;
} s_routes[] = {
    {"/api/cluster", false, rl_dash_api_cluster},
    {"/api/nodes", false, rl_dash_api_nodes},
    {"/api/jobs", true, rl_dash_api_jobs},
    {"/api/actors", false, rl_dash_api_actors},
    {"/api/tasks", false, rl_dash_api_tasks},
    {"/api/objects", false, rl_dash_api_objects},
    {"/api/placement_groups", false, rl_dash_api_pgs},
    {"/api/logs", true, rl_dash_api_logs},
    {"/api/timeline", true, rl_dash_api_timeline},
    {"/api/pending", false, rl_dash_api_pending},
    {"/api/memory", false, rl_dash_api_memory},
    {"/metrics", false, rl_dash_metrics},
};

static void s_handle(void *ctx, const rl_http_req_t *req, rl_http_reply_t *out) {
  rl_dashboard_t *d = ctx;
  rl_json_t j;
  rl_json_init(&j);
  rl_dash_call_t c = {.d = d, .req = req, .rest = "", .j = &j, .out = out};
  for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
    size_t n = strlen(s_routes[i].path);
    if (strncmp(req->path, s_routes[i].path, n)) continue;
    if (req->path[n] && !(s_routes[i].prefix && req->path[n] == '/')) continue;
    c.rest = req->path + n;
    bool post = !strcmp(req->method, "POST");
    if (post && s_routes[i].fn != rl_dash_api_jobs) {
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
