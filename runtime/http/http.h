/* http.h: a small HTTP server over libmicrohttpd, run from its owner's event loop (no
 * thread of its own): one handler for every request, a token for access, static files
 * embedded in the binary (http/assets.h). Knows nothing of what it serves. */
#ifndef RL_HTTP_H
#define RL_HTTP_H
#include <stdbool.h>
#include <stddef.h>

#define RL_HTTP_TOKEN_MAX 64 /* characters of a token */

typedef struct rl_http_t rl_http_t;

/* A request, valid during the handler's call. */
typedef struct {
  const char *method; /* "GET", "HEAD" or "POST" (others are refused before the handler) */
  const char *path;   /* the URL's path, e.g. "/api/tasks" */
  bool authorized;    /* a valid token came with it (header, cookie or ?token=) */
  bool token_header;  /* ... in a header (X-Rayl-Token or Authorization: Bearer), which a
                       * page of another site cannot send: safe for changes */
  void *conn;         /* the connection, for rl_http_arg */
} rl_http_req_t;

/* The reply a handler fills: status (200 if left 0), content type (borrowed, static),
 * body (malloc'd; the server frees it) of len bytes. */
typedef struct {
  int status;
  const char *type;
  char *body;
  size_t len;
} rl_http_reply_t;

typedef void(rl_http_handler_fn)(void *ctx, const rl_http_req_t *req, rl_http_reply_t *out);

typedef struct {
  const char *host; /* IPv4 address to bind, e.g. "127.0.0.1" or "0.0.0.0" */
  int port;         /* 1..65535 */
  int port_tries;   /* ports port, port+1, ... tried when one is busy (>= 1) */
  const char *token; /* the access token (copied; at most RL_HTTP_TOKEN_MAX characters) */
  bool token_for_reads; /* every request needs the token, not only POSTs */
} rl_http_opts_t;

/* A server listening as o says, calling fn(ctx, ...) for each request. POSTs need the
 * token in a header and reads need it with token_for_reads, else 401/403 without
 * calling fn; methods other than GET, HEAD and POST get 405, bodies over 64 KiB 413,
 * oversized headers 431. Returns NULL with err (e.g. every port tried is in use). */
rl_http_t *rl_http_new(const rl_http_opts_t *o, rl_http_handler_fn *fn, void *ctx, char *err, size_t errlen);
/* Closes every connection and frees the server; nulls *p, safe on NULL and twice. */
void rl_http_destroy(rl_http_t **p);
/* The port it listens on. */
int rl_http_port(const rl_http_t *h);
/* A file descriptor that becomes readable when the server has work: poll it, then call
 * rl_http_run. */
int rl_http_fd(const rl_http_t *h);
/* Handles what is ready (accepts, reads, calls the handler, writes, times out idle
 * connections); never blocks. Call it when rl_http_fd is readable and at least every
 * rl_http_timeout_ms. */
void rl_http_run(rl_http_t *h);
/* Milliseconds until rl_http_run must be called at the latest (-1: no deadline). */
long rl_http_timeout_ms(rl_http_t *h);

/* The value of the URL's query argument name, or NULL. Borrowed, valid during the call. */
const char *rl_http_arg(const rl_http_req_t *req, const char *name);

/* Fills out with a JSON error {"error": msg} and status. */
void rl_http_error(rl_http_reply_t *out, int status, const char *msg);

/* The embedded static file at path ("/" is "/index.html"): its bytes, length and
 * content type; false if there is none. */
bool rl_http_asset(const char *path, const unsigned char **data, size_t *len, const char **type);

#endif
