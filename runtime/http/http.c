/* http.c: the HTTP server (http.h) on libmicrohttpd in external-epoll mode: its epoll fd
 * is polled by the owner's loop, which calls rl_http_run; access is checked here, before
 * the handler sees a request. */
#include "common/selftest.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "http/json.h"

#define S_BODY_MAX (64 << 10)   /* request bodies (POSTs carry none we read) */
#define S_CONN_MEMORY (32 << 10) /* per connection: headers beyond it get 431 */
#define S_CONN_LIMIT 128
#define S_CONN_TIMEOUT_S 15

/* libmicrohttpd, opened with dlopen when a dashboard starts: only the head loads it (and
 * the GnuTLS it brings), so workers forked from the same program stay small. After the
 * table, the MHD_ names below call through it. */
#define S_MHD_LIB "libmicrohttpd.so.12"
static struct {
  __typeof__(MHD_start_daemon) *start_daemon;
  __typeof__(MHD_stop_daemon) *stop_daemon;
  __typeof__(MHD_run) *run;
  __typeof__(MHD_get_timeout) *get_timeout;
  __typeof__(MHD_get_daemon_info) *get_daemon_info;
  __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
  __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
  __typeof__(MHD_add_response_header) *add_response_header;
  __typeof__(MHD_queue_response) *queue_response;
  __typeof__(MHD_destroy_response) *destroy_response;
} s_mhd;

/* Loads libmicrohttpd once. Returns 0, or -1 with err. */
static int s_mhd_load(char *err, size_t errlen) {
  if (s_mhd.run) return 0;
  void *lib = dlopen(S_MHD_LIB, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(err, errlen, "the dashboard needs %s (Debian's libmicrohttpd12): %s", S_MHD_LIB, dlerror());
    return -1;
  }
  struct { void **slot; const char *name; } syms[] = {
    {(void **)&s_mhd.start_daemon, "MHD_start_daemon"},
    {(void **)&s_mhd.stop_daemon, "MHD_stop_daemon"},
    {(void **)&s_mhd.get_timeout, "MHD_get_timeout"},
    {(void **)&s_mhd.get_daemon_info, "MHD_get_daemon_info"},
    {(void **)&s_mhd.lookup_connection_value, "MHD_lookup_connection_value"},
    {(void **)&s_mhd.create_response_from_buffer, "MHD_create_response_from_buffer"},
    {(void **)&s_mhd.add_response_header, "MHD_add_response_header"},
    {(void **)&s_mhd.queue_response, "MHD_queue_response"},
    {(void **)&s_mhd.destroy_response, "MHD_destroy_response"},
    {(void **)&s_mhd.run, "MHD_run"}, /* last: set means all are */
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    *syms[i].slot = dlsym(lib, syms[i].name);
    if (!*syms[i].slot) {
      snprintf(err, errlen, "%s has no %s", S_MHD_LIB, syms[i].name);
      memset(&s_mhd, 0, sizeof s_mhd);
      dlclose(lib);
      return -1;
    }
  }
  return 0;
}
#define MHD_start_daemon (*s_mhd.start_daemon)
#define MHD_stop_daemon (*s_mhd.stop_daemon)
#define MHD_run (*s_mhd.run)
#define MHD_get_timeout (*s_mhd.get_timeout)
#define MHD_get_daemon_info (*s_mhd.get_daemon_info)
#define MHD_lookup_connection_value (*s_mhd.lookup_connection_value)
#define MHD_create_response_from_buffer (*s_mhd.create_response_from_buffer)
#define MHD_add_response_header (*s_mhd.add_response_header)
#define MHD_queue_response (*s_mhd.queue_response)
#define MHD_destroy_response (*s_mhd.destroy_response)

struct rl_http_t {
  struct MHD_Daemon *d;
  int port;
  char token[RL_HTTP_TOKEN_MAX + 1];
  bool token_for_reads;
  rl_http_handler_fn *fn;
  void *ctx;
};

/* Per request: what the body added up to. */
typedef struct {
  size_t body;
} s_conn_t;

int rl_http_port(const rl_http_t *h) { return h->port; }

int rl_http_fd(const rl_http_t *h) {
  const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
  return i ? i->epoll_fd : -1;
}

void rl_http_run(rl_http_t *h) { MHD_run(h->d); }

long rl_http_timeout_ms(rl_http_t *h) {
  MHD_UNSIGNED_LONG_LONG t;
  if (MHD_get_timeout(h->d, &t) != MHD_YES) return -1;
  return t > 60000 ? 60000 : (long)t;
}

const char *rl_http_arg(const rl_http_req_t *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void rl_http_error(rl_http_reply_t *out, int status, const char *msg) {
  rl_json_t j;
  rl_json_init(&j);
  rl_json_obj(&j);
  rl_json_kstr(&j, "error", msg);
  rl_json_end(&j);
  free(out->body);
  out->body = rl_json_take(&j, &out->len);
  out->status = status;
  out->type = "application/json";
}

/* Compares without stopping at the first difference (the token is a secret). */
static bool s_same(const char *a, const char *b) {
  size_t n = strlen(b);
  if (!a || strlen(a) != n || n == 0) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < n; i++) diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

/* The token from the Cookie header's rayl_token=..., copied into out. */
static const char *s_cookie_token(struct MHD_Connection *c, char *out, size_t n) {
  const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "rayl_token");
  if (!v || strlen(v) >= n) return NULL;
  snprintf(out, n, "%s", v);
  return out;
}

/* Where a token came with the request: 2 in a header, 1 as cookie or ?token=, 0 none
 * (or a wrong one). */
static int s_token(rl_http_t *h, struct MHD_Connection *c) {
  const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Rayl-Token");
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (s_same(hdr, h->token)) return 2;
  if (auth && !strncmp(auth, "Bearer ", 7) && s_same(auth + 7, h->token)) return 2;
  char cookie[RL_HTTP_TOKEN_MAX + 2];
  if (s_same(s_cookie_token(c, cookie, sizeof cookie), h->token)) return 1;
  if (s_same(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"), h->token)) return 1;
  return 0;
}

static enum MHD_Result s_send(struct MHD_Connection *c, rl_http_reply_t *r, bool set_cookie, const char *token) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"", r->body ? MHD_RESPMEM_MUST_FREE
                                                                                     : MHD_RESPMEM_PERSISTENT);
  if (!resp) {
    free(r->body);
    return MHD_NO;
  }
  r->body = NULL;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type ? r->type : "application/json");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  if (set_cookie) {
    char cookie[RL_HTTP_TOKEN_MAX + 80];
    snprintf(cookie, sizeof cookie, "rayl_token=%s; Path=/; HttpOnly; SameSite=Strict", token);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
  }
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)(r->status ? r->status : 200), resp);
  MHD_destroy_response(resp);
  return ok;
}

static enum MHD_Result s_refuse(struct MHD_Connection *c, int status, const char *msg) {
  rl_http_reply_t r = {0};
  rl_http_error(&r, status, msg);
  return s_send(c, &r, false, NULL);
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)version;
  (void)upload;
  rl_http_t *h = cls;
  s_conn_t *st = *con_cls;
  if (!st) { /* headers only so far */
    st = rl_xcalloc(1, sizeof *st);
    *con_cls = st;
    return MHD_YES;
  }
  if (*upload_size) { /* a body: counted, not kept */
    st->body += *upload_size;
    *upload_size = 0;
    return MHD_YES;
  }
  if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST"))
    return s_refuse(c, 405, "method not allowed: use GET, or POST for changes");
  if (st->body > S_BODY_MAX) return s_refuse(c, 413, "request body too large");
  int token = s_token(h, c);
  bool post = !strcmp(method, "POST");
  if (h->token_for_reads && !token)
    return s_refuse(c, 401, "this dashboard needs its token: open the URL `rayl dashboard` prints");
  if (post && token < 2)
    return s_refuse(c, 403, "changes need the dashboard's token in an X-Rayl-Token header (`rayl dashboard` "
                            "prints it)");
  rl_http_req_t req = {.method = method, .path = url, .authorized = token > 0, .token_header = token == 2,
                       .conn = c};
  rl_http_reply_t r = {0};
  h->fn(h->ctx, &req, &r);
  /* A page opened with ?token= keeps it as a cookie for the files it loads next. */
  const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
  return s_send(c, &r, token == 1 && q && s_same(q, h->token), h->token);
}

static void s_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
  (void)cls;
  (void)c;
  (void)why;
  free(*con_cls);
  *con_cls = NULL;
}

static void s_logger(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n && line[n - 1] == '\n') line[--n] = 0;
  rl_log(RL_LOG_DEBUG, "http: %s", line);
}

/* Resolves host (an IPv4 address or a name) into addr. */
static int s_resolve(const char *host, struct sockaddr_in *addr, char *err, size_t errlen) {
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  if (inet_pton(AF_INET, host, &addr->sin_addr) == 1) return 0;
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res) {
    snprintf(err, errlen, "cannot resolve dashboard host '%s': %s", host, gai_strerror(rc));
    return -1;
  }
  addr->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
  freeaddrinfo(res);
  return 0;
}

rl_http_t *rl_http_new(const rl_http_opts_t *o, rl_http_handler_fn *fn, void *ctx, char *err, size_t errlen) {
  struct sockaddr_in addr;
  if (!o->token || strlen(o->token) > RL_HTTP_TOKEN_MAX || o->port < 1 || o->port > 65535) {
    snprintf(err, errlen, "bad dashboard options (port %d)", o->port);
    return NULL;
  }
  if (s_resolve(o->host, &addr, err, errlen) != 0 || s_mhd_load(err, errlen) != 0) return NULL;
  rl_http_t *h = rl_xcalloc(1, sizeof *h);
  snprintf(h->token, sizeof h->token, "%s", o->token);
  h->token_for_reads = o->token_for_reads;
  h->fn = fn;
  h->ctx = ctx;
  int tries = o->port_tries > 0 ? o->port_tries : 1;
  for (int i = 0; i < tries && !h->d && o->port + i <= 65535; i++) {
    addr.sin_port = htons((uint16_t)(o->port + i));
    errno = 0;
    h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, s_access, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
                            MHD_OPTION_EXTERNAL_LOGGER, s_logger, NULL, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)S_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)S_CONN_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)S_CONN_MEMORY, MHD_OPTION_END);
    if (h->d) h->port = o->port + i;
  }
  if (!h->d) {
    int e = errno;
    if (tries > 1)
      snprintf(err, errlen, "cannot listen on %s ports %d-%d: %s", o->host, o->port, o->port + tries - 1,
               e ? strerror(e) : "in use");
    else snprintf(err, errlen, "cannot listen on %s:%d: %s", o->host, o->port, e ? strerror(e) : "in use");
    free(h);
    return NULL;
  }
  return h;
}

void rl_http_destroy(rl_http_t **p) {
  if (!p || !*p) return;
  MHD_stop_daemon((*p)->d);
  free(*p);
  *p = NULL;
}
