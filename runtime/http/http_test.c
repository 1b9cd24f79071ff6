/* http_test.c: http.c's selftest, built into rl_selftest only (not librayl). */
#include "http/http.c" /* the code under test, with its file-local helpers */

/* ---- selftest: a real server on a loopback port, spoken to over a socket ---- */

#define S_CHECK(c) RL_CHECK_GOTO(c)

static void s_echo(void *ctx, const rl_http_req_t *req, rl_http_reply_t *out) {
  (*(int *)ctx)++;
  rl_json_t j;
  rl_json_init(&j);
  rl_json_obj(&j);
  rl_json_kstr(&j, "path", req->path);
  rl_json_kstr(&j, "q", rl_http_arg(req, "q"));
  rl_json_kbool(&j, "auth", req->authorized);
  rl_json_end(&j);
  out->body = rl_json_take(&j, &out->len);
}

/* Sends raw request text to the server on port and runs it until the reply is read;
 * the status code, or -1. */
static int s_roundtrip(rl_http_t *h, const char *text, char *reply, size_t n) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  size_t len = strlen(text), sent = 0;
  size_t got = 0;
  reply[0] = 0;
  for (int i = 0; i < 400; i++) {
    if (sent < len) {
      ssize_t w = send(fd, text + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w > 0) sent += (size_t)w;
    }
    rl_http_run(h);
    ssize_t r = recv(fd, reply + got, n - 1 - got, MSG_DONTWAIT);
    if (r > 0) {
      got += (size_t)r;
      reply[got] = 0;
    } else if (r == 0) break;
    if (got && strstr(reply, "\r\n\r\n") && strstr(reply, "}")) break;
    usleep(5000);
  }
  close(fd);
  int status = -1;
  if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1) return -1;
  return status;
}

int rl_http_selftest(void) {
  int calls = 0;
  char err[200], reply[8192], big[48 << 10];
  rl_http_opts_t o = {.host = "127.0.0.1", .port = 18265 + (getpid() % 2000), .port_tries = 50, .token = "tok123"};
  rl_http_t *h = rl_http_new(&o, s_echo, &calls, err, sizeof err), *h2 = NULL;
  S_CHECK(h && rl_http_fd(h) >= 0);
  /* A second server on the same port moves on to the next one. */
  o.port = h->port;
  h2 = rl_http_new(&o, s_echo, &calls, err, sizeof err);
  S_CHECK(h2 && h2->port > h->port);
  rl_http_destroy(&h2);
  o.port_tries = 1;
  S_CHECK(!rl_http_new(&o, s_echo, &calls, err, sizeof err) && strstr(err, "cannot listen"));

  S_CHECK(s_roundtrip(h, "GET /x?q=a%20b HTTP/1.1\r\nHost: l\r\n\r\n", reply, sizeof reply) == 200);
  S_CHECK(strstr(reply, "\"path\":\"/x\"") && strstr(reply, "\"q\":\"a b\"") && strstr(reply, "\"auth\":false"));
  S_CHECK(s_roundtrip(h, "GET /x?token=tok123 HTTP/1.1\r\nHost: l\r\n\r\n", reply, sizeof reply) == 200);
  S_CHECK(strstr(reply, "\"auth\":true") && strstr(reply, "Set-Cookie: rayl_token=tok123"));
  /* Changes need the token in a header; junk methods are refused; the handler never sees them. */
  int before = calls;
  S_CHECK(s_roundtrip(h, "POST /x HTTP/1.1\r\nHost: l\r\nContent-Length: 0\r\n\r\n", reply, sizeof reply) == 403);
  S_CHECK(s_roundtrip(h, "POST /x?token=tok123 HTTP/1.1\r\nHost: l\r\nContent-Length: 0\r\n\r\n", reply,
                      sizeof reply) == 403);
  S_CHECK(s_roundtrip(h, "BREW /x HTTP/1.1\r\nHost: l\r\n\r\n", reply, sizeof reply) == 405);
  S_CHECK(calls == before);
  S_CHECK(s_roundtrip(h, "POST /x HTTP/1.1\r\nHost: l\r\nX-Rayl-Token: tok123\r\nContent-Length: 2\r\n\r\n{}", reply,
                      sizeof reply) == 200);
  S_CHECK(calls == before + 1);
  /* Headers beyond the connection's memory. */
  snprintf(big, sizeof big, "GET /x HTTP/1.1\r\nHost: l\r\nX-Big: ");
  size_t at = strlen(big);
  memset(big + at, 'a', sizeof big - at - 8);
  memcpy(big + sizeof big - 8, "\r\n\r\n", 5);
  int st = s_roundtrip(h, big, reply, sizeof reply);
  S_CHECK(st == 431 || st == 413 || st == -1);
  S_CHECK(s_roundtrip(h, "GET /y HTTP/1.1\r\nHost: l\r\n\r\n", reply, sizeof reply) == 200); /* still serving */
  rl_http_destroy(&h);

  /* Bound beyond localhost: every request needs the token. */
  o.port_tries = 50;
  o.token_for_reads = true;
  S_CHECK((h = rl_http_new(&o, s_echo, &calls, err, sizeof err)));
  S_CHECK(s_roundtrip(h, "GET /x HTTP/1.1\r\nHost: l\r\n\r\n", reply, sizeof reply) == 401);
  S_CHECK(s_roundtrip(h, "GET /x HTTP/1.1\r\nHost: l\r\nAuthorization: Bearer tok123\r\n\r\n", reply, sizeof reply) ==
          200);
  S_CHECK(s_roundtrip(h, "GET /x HTTP/1.1\r\nHost: l\r\nCookie: rayl_token=tok123\r\n\r\n", reply, sizeof reply) ==
          200);
  S_CHECK(s_roundtrip(h, "GET /x HTTP/1.1\r\nHost: l\r\nX-Rayl-Token: tok12\r\n\r\n", reply, sizeof reply) == 401);
  rl_http_destroy(&h);
  rl_http_destroy(&h);

  const unsigned char *data;
  size_t len;
  const char *type;
  S_CHECK(rl_http_asset("/", &data, &len, &type) && len > 0 && !strcmp(type, "text/html; charset=utf-8"));
  S_CHECK(rl_http_asset("/chart.js", &data, &len, &type) && len > 1000);
  S_CHECK(!rl_http_asset("/../etc/passwd", &data, &len, &type));
  return 0;
fail:
  rl_http_destroy(&h);
  rl_http_destroy(&h2);
  return 1;
}
