/* dash_fetch.c: the dashboard's queries to other processes, answered by a thread
 * (dash_fetch.h): a few kept answers by query, each asked again when a page wants it
 * and it is more than a second old. */
#include "head/dash_fetch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "head/log_tail.h"
#include "http/json.h"
#include "node/log_service.h"
#include "wire/proto.h"
#include "wire/wire.h"
#include "worker/state_client.h"

#define S_SLOTS 16
#define S_ASK_MS 3000 /* how long a process may take to answer */

typedef struct {
  char *key;        /* the query and its endpoints, '\n'-separated; NULL: a free slot */
  char *answer;     /* the latest JSON, or NULL */
  size_t len;
  int64_t done_ms;  /* when answer was made */
  int64_t used_ms;  /* when a page last wanted it (the least used slot is reused) */
  bool wanted;      /* a fresh answer is asked for and not begun */
  bool busy;        /* the thread is making one */
} s_slot_t;

struct rl_dash_fetch_t {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  s_slot_t slots[S_SLOTS];
};

/* ---- the answers (run on the thread) ---- */

static char *s_error(const char *msg, size_t *len) {
  rl_json_t j;
  rl_json_init(&j);
  rl_json_obj(&j);
  rl_json_kstr(&j, "error", msg);
  rl_json_end(&j);
  return rl_json_take(&j, len);
}

static void s_id(rl_json_t *j, const char *key, const rl_id_t *id) {
  char hex[RL_ID_HEX];
  rl_json_key(j, key);
  if (id && !rl_id_is_nil(id)) rl_json_str(j, rl_id_hex(id, hex));
  else rl_json_null(j);
}

static void s_strn(rl_json_t *j, const char *key, rl_wire_bytes_t b) {
  rl_json_key(j, key);
  rl_json_strn(j, b.p ? b.p : "", b.n);
}

static const char *const s_kinds[] = {"driver", "worker", "remote"};

/* One process to ask: where it is and what it is. */
typedef struct {
  char endpoint[RL_ENDPOINT_MAX];
  uint64_t pid, kind;
  int node; /* index into the nodes' replies */
} s_proc_t;

/* "memory": every node's drivers and workers, then all of them at once. */
static char *s_memory(const char *const *eps, int n, size_t *len) {
  rl_msg_t *nodes = calloc(n ? (size_t)n : 1, sizeof *nodes);
  rl_nm_workers_msg_t *wk = calloc(n ? (size_t)n : 1, sizeof *wk);
  bool *got = calloc(n ? (size_t)n : 1, sizeof *got), *ok = calloc(n ? (size_t)n : 1, sizeof *ok);
  if (!nodes || !wk || !got || !ok) {
    free(nodes), free(wk), free(got), free(ok);
    return s_error("out of memory", len);
  }
  rl_state_ask_all(eps, n, RL_NM_LIST_WORKERS, RL_NM_WORKERS, nodes, got, S_ASK_MS);
  size_t np = 0;
  for (int i = 0; i < n; i++) {
    ok[i] = got[i] && rl_nm_workers_msg_read(&nodes[i], &wk[i]);
    if (ok[i]) np += wk[i].clients.n;
  }
  s_proc_t *procs = calloc(np ? np : 1, sizeof *procs);
  const char **peps = calloc(np ? np : 1, sizeof *peps);
  rl_msg_t *owned = calloc(np ? np : 1, sizeof *owned);
  bool *answered = calloc(np ? np : 1, sizeof *answered);
  np = 0;
  for (int i = 0; procs && peps && owned && answered && i < n; i++) {
    for (uint32_t k = 0; ok[i] && k < wk[i].clients.n; k++) {
      const rl_wire_client_info_t *c = &wk[i].clients.v[k];
      s_proc_t *p = &procs[np];
      p->pid = c->pid;
      p->kind = c->kind;
      memcpy(p->endpoint, c->endpoint, sizeof p->endpoint);
      p->node = i;
      peps[np] = p->endpoint;
      np++;
    }
  }
  int nanswered = procs && peps && owned && answered
                      ? rl_state_ask_all(peps, (int)np, RL_CW_LIST_OWNED, RL_CW_OWNED, owned, answered, S_ASK_MS)
                      : 0;
  double *bytes = calloc(n ? (size_t)n : 1, sizeof *bytes);
  size_t *count = calloc(n ? (size_t)n : 1, sizeof *count);
  rl_json_t j;
  rl_json_init(&j);
  rl_json_obj(&j);
  rl_json_key(&j, "objects");
  rl_json_arr(&j);
  for (size_t p = 0; bytes && count && p < np; p++) {
    rl_cw_owned_msg_t own;
    if (!answered[p] || !rl_cw_owned_msg_read(&owned[p], &own)) continue;
    const rl_id_t *node_id = &wk[procs[p].node].node_id;
    for (uint32_t i = 0; i < own.objects.n; i++) {
      const rl_wire_owned_info_t *o = &own.objects.v[i];
      rl_json_obj(&j);
      s_id(&j, "object_id", &o->object_id);
      rl_json_key(&j, "size");
      if (o->has_size) {
        rl_json_num(&j, (double)o->size);
        bytes[procs[p].node] += (double)o->size;
      } else {
        rl_json_null(&j);
      }
      count[procs[p].node]++;
      rl_json_kint(&j, "owner_pid", (int64_t)procs[p].pid);
      rl_json_kstr(&j, "owner_kind", s_kinds[procs[p].kind]);
      s_id(&j, "node_id", node_id);
      rl_json_kstr(&j, "address", eps[procs[p].node]);
      s_strn(&j, "refs", o->refs);
      s_strn(&j, "call_site", o->call_site);
      rl_json_kint(&j, "age_ms", (int64_t)o->age_ms);
      rl_json_end(&j);
    }
  }
  rl_json_end(&j);
  rl_json_key(&j, "nodes");
  rl_json_arr(&j);
  for (int i = 0; bytes && count && i < n; i++) {
    rl_json_obj(&j);
    s_id(&j, "node_id", ok[i] ? &wk[i].node_id : NULL);
    rl_json_kstr(&j, "address", eps[i]);
    rl_json_kbool(&j, "answered", got[i]);
    rl_json_kint(&j, "objects", (int64_t)count[i]);
    rl_json_knum(&j, "bytes", bytes[i]);
    rl_json_end(&j);
  }
  rl_json_end(&j);
  rl_json_kint(&j, "processes", (int64_t)np);
  rl_json_kint(&j, "unanswered", (int64_t)np - nanswered);
  rl_json_end(&j);
  for (size_t p = 0; answered && p < np; p++)
    if (answered[p]) rl_msg_close(&owned[p]);
  for (int i = 0; i < n; i++)
    if (got[i]) rl_msg_close(&nodes[i]);
  free(bytes), free(count), free(procs), free(peps), free(owned), free(answered), free(nodes), free(wk), free(got),
      free(ok);
  return rl_json_take(&j, len);
}

/* One RL_NM_LOGS request to ep: name NULL lists. Returns 0 with *reply (close it) read
 * into *data (which borrows from it), or -1 with err. */
static int s_logs_ask(const char *ep, const char *name, int64_t offset, rl_msg_t *reply, rl_nm_log_data_msg_t *data,
                      char *err, size_t errlen) {
  rl_nm_logs_msg_t q = {.request = 1};
  if (name) {
    q.name = rl_wire_str(name), q.has_name = true;
    q.offset = offset, q.has_offset = true;
    q.max = RL_LOG_READ_MAX, q.has_max = true;
  }
  rl_msgbuf_t b;
  if (rl_nm_logs_msg_pack(&q, &b, err, errlen) != 0) return -1;
  if (rl_state_request(ep, &b, 1, reply, S_ASK_MS, err, errlen) != 0) return -1;
  char why[200];
  if (reply->type != RL_NM_LOG_DATA || rl_nm_log_data_msg_unpack(reply, data, why, sizeof why) != 0) {
    snprintf(err, errlen, "the node manager at %s sent a malformed log reply", ep);
  } else if (data->error.n) {
    snprintf(err, errlen, "%.*s", (int)data->error.n, data->error.p);
  } else {
    return 0;
  }
  rl_msg_close(reply);
  return -1;
}

/* "files": the node's log files. */
static char *s_files(const char *ep, size_t *len) {
  rl_msg_t reply;
  rl_nm_log_data_msg_t d;
  char err[400];
  if (s_logs_ask(ep, NULL, 0, &reply, &d, err, sizeof err) != 0) return s_error(err, len);
  rl_json_t j;
  rl_json_init(&j);
  rl_json_obj(&j);
  s_id(&j, "node_id", &d.node_id);
  rl_json_key(&j, "files");
  rl_json_arr(&j);
  for (uint32_t i = 0; i < d.files.n; i++) {
    const rl_wire_log_file_t *f = &d.files.v[i];
    rl_json_obj(&j);
    s_strn(&j, "name", f->name);
    rl_json_kint(&j, "size", (int64_t)f->size);
    rl_json_kint(&j, "modified", (int64_t)f->modified_ms);
    rl_json_end(&j);
  }
  rl_json_end(&j);
  rl_json_end(&j);
  rl_msg_close(&reply);
  return rl_json_take(&j, len);
}

/* "tail\nNAME\nLINES\nSEARCH": a log's last lines, read by its node manager. */
static char *s_tail(const char *ep, const char *query, size_t *len) {
  char name[256], search[256] = "";
  long lines = 0;
  const char *p = query + 5, *nl = strchr(p, '\n');
  if (!nl || (size_t)(nl - p) >= sizeof name) return s_error("bad log query", len);
  memcpy(name, p, (size_t)(nl - p));
  name[nl - p] = 0;
  lines = strtol(nl + 1, NULL, 10);
  if ((nl = strchr(nl + 1, '\n'))) snprintf(search, sizeof search, "%s", nl + 1);
  rl_msg_t reply;
  rl_nm_log_data_msg_t d;
  char err[400];
  if (s_logs_ask(ep, name, -(int64_t)RL_LOG_READ_MAX, &reply, &d, err, sizeof err) != 0) return s_error(err, len);
  uint64_t size = d.files.n == 1 ? d.files.v[0].size : 0;
  size_t dlen = d.data.n;
  char *buf = malloc(dlen + 1);
  if (!buf) {
    rl_msg_close(&reply);
    return s_error("out of memory", len);
  }
  if (dlen) memcpy(buf, d.data.p, dlen);
  bool more = d.offset > 0;
  rl_msg_close(&reply);
  rl_json_t j;
  rl_json_init(&j);
  rl_log_tail_json(&j, name, size, buf, dlen, more, lines, search[0] ? search : NULL);
  free(buf);
  return rl_json_take(&j, len);
}

/* Answers key ("QUERY\n@EP\n@EP..."). */
static char *s_answer(const char *key, size_t *len) {
  const char *eps[256] = {NULL};
  int n = 0;
  char *copy = strdup(key);
  if (!copy) return s_error("out of memory", len);
  char *at = strstr(copy, "\n@");
  while (at && n < 256) {
    *at = 0;
    eps[n++] = at + 2;
    at = strstr(at + 2, "\n@");
  }
  char *out;
  if (!strcmp(copy, "memory")) out = s_memory(eps, n, len);
  else if (n < 1) out = s_error("no such node", len);
  else if (!strcmp(copy, "files")) out = s_files(eps[0], len);
  else if (!strncmp(copy, "tail\n", 5)) out = s_tail(eps[0], copy, len);
  else out = s_error("unknown query", len);
  free(copy);
  return out;
}

static void *s_main(void *arg) {
  rl_dash_fetch_t *f = arg;
  pthread_mutex_lock(&f->mu);
  while (!f->stop) {
    s_slot_t *s = NULL;
    for (int i = 0; i < S_SLOTS && !s; i++)
      if (f->slots[i].key && f->slots[i].wanted) s = &f->slots[i];
    if (!s) {
      pthread_cond_wait(&f->cv, &f->mu);
      continue;
    }
    s->wanted = false;
    s->busy = true;
    char *key = strdup(s->key);
    pthread_mutex_unlock(&f->mu);
    size_t len = 0;
    char *answer = key ? s_answer(key, &len) : NULL;
    pthread_mutex_lock(&f->mu);
    /* The slot may have been given to another query meanwhile: find it again. */
    s = NULL;
    for (int i = 0; i < S_SLOTS && !s && key; i++)
      if (f->slots[i].key && !strcmp(f->slots[i].key, key)) s = &f->slots[i];
    if (s) s->busy = false;
    if (s && answer) {
      free(s->answer);
      s->answer = answer, s->len = len, s->done_ms = rl_now_ms();
      answer = NULL;
    }
    free(answer);
    free(key);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

rl_dash_fetch_t *rl_dash_fetch_new(void) {
  rl_dash_fetch_t *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  if (pthread_create(&f->thread, NULL, s_main, f) != 0) {
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
    return NULL;
  }
  return f;
}

void rl_dash_fetch_destroy(rl_dash_fetch_t **p) {
  if (!p || !*p) return;
  rl_dash_fetch_t *f = *p;
  pthread_mutex_lock(&f->mu);
  f->stop = true;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->thread, NULL);
  for (int i = 0; i < S_SLOTS; i++) free(f->slots[i].key), free(f->slots[i].answer);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f);
  *p = NULL;
}

char *rl_dash_fetch_get(rl_dash_fetch_t *f, const char *query, const char *const *endpoints, int n, size_t *len,
                        int64_t *age_ms) {
  size_t klen = strlen(query) + 1;
  for (int i = 0; i < n; i++) klen += strlen(endpoints[i]) + 2;
  char *key = malloc(klen);
  if (!key) return NULL;
  size_t at = (size_t)snprintf(key, klen, "%s", query);
  for (int i = 0; i < n; i++) at += (size_t)snprintf(key + at, klen - at, "\n@%s", endpoints[i]);
  int64_t now = rl_now_ms();
  char *out = NULL;
  pthread_mutex_lock(&f->mu);
  s_slot_t *s = NULL, *lru = &f->slots[0];
  for (int i = 0; i < S_SLOTS && !s; i++) {
    if (f->slots[i].key && !strcmp(f->slots[i].key, key)) s = &f->slots[i];
    else if (!f->slots[i].key || (lru->key && f->slots[i].used_ms < lru->used_ms)) lru = &f->slots[i];
  }
  if (!s) {
    s = lru;
    free(s->key), free(s->answer);
    *s = (s_slot_t){.key = key};
    key = NULL;
  }
  s->used_ms = now;
  if (s->answer && (out = malloc(s->len + 1))) {
    memcpy(out, s->answer, s->len + 1);
    *len = s->len;
    *age_ms = now - s->done_ms;
  }
  if (!s->busy && (!s->answer || now - s->done_ms > RL_DASH_FETCH_MAX_AGE_MS)) {
    s->wanted = true;
    pthread_cond_signal(&f->cv);
  }
  pthread_mutex_unlock(&f->mu);
  free(key);
  return out;
}
