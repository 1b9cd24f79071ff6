/* dash_logs.c: the dashboard's log pages (the session's files, or another node's through
 * its node manager) and what it asks of other processes (/api/memory, dash_fetch.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "head/dash_call.h"
#include "head/log_tail.h"
#include "node/log_service.h"

#define S_LOG_READ_MAX ((size_t)8 << 20) /* a log's tail read for one request */
#define S_LOG_LINES_DEFAULT 200

/* ---- /api/logs ---- */

/* The last `lines` lines of path holding `search` (NULL: any), as JSON; a file that
 * does not exist is empty with missing_ok, else 404. */
void rl_dash_tail(rl_dash_call_t *c, const char *path, const char *name, bool missing_ok) {
  long lines;
  if (!rl_dash_arg_int(c, "lines", 1, 100000, S_LOG_LINES_DEFAULT, &lines)) return;
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
static void s_fetched(rl_dash_call_t *c, const char *query, const char *const *eps, int n) {
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
void rl_dash_api_memory(rl_dash_call_t *c) {
  const char *eps[RL_DASH_MAX_NODES];
  int n = s_live_endpoints(c->d, eps, RL_DASH_MAX_NODES);
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
static void s_node_logs(rl_dash_call_t *c, const char *node) {
  const char *ep = s_node_endpoint(c->d, node);
  if (!ep) return rl_http_error(c->out, 404, "no live node with that id (see /api/nodes)");
  if (!*c->rest) return s_fetched(c, "files", &ep, 1);
  const char *name = c->rest + 1;
  long lines;
  const char *search = rl_http_arg(c->req, "search");
  if (c->rest[0] != '/' || !rl_log_name_ok(name)) return rl_http_error(c->out, 400, "bad log file name");
  if (!rl_dash_arg_int(c, "lines", 1, 100000, S_LOG_LINES_DEFAULT, &lines)) return;
  if (search && (strlen(search) > 200 || strchr(search, '\n')))
    return rl_http_error(c->out, 400, "query argument 'search' must be one line of at most 200 characters");
  char query[512];
  snprintf(query, sizeof query, "tail\n%s\n%ld\n%s", name, lines, search ? search : "");
  s_fetched(c, query, &ep, 1);
}

/* /api/logs (the session's log files) and /api/logs/NAME?lines=N&search=S; with
 * ?node=ID another node's (s_node_logs). */
void rl_dash_api_logs(rl_dash_call_t *c) {
  char dir[PATH_MAX], path[PATH_MAX + 256];
  const char *node = rl_http_arg(c->req, "node");
  if (node && *node) return s_node_logs(c, node);
  if (!c->d->t.session_dir) return rl_http_error(c->out, 404, "this head keeps no session folder, so no logs");
  snprintf(dir, sizeof dir, "%s/logs", c->d->t.session_dir);
  if (*c->rest) {
    const char *name = c->rest + 1;
    if (c->rest[0] != '/' || !rl_log_name_ok(name)) return rl_http_error(c->out, 400, "bad log file name");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return rl_dash_tail(c, path, name, false);
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
