/* embed_test.c: the C API (include/rayl.h only) against a real private cluster: jobs by
 * module name and by chunk, put/get, callbacks within their budget, wait, cancel, and
 * every misuse the header documents. Built as C99 with -pedantic.
 *   rl_embed_test DIR     DIR holds embed_test_mod.lua (spec/c/lua) */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rayl.h"

static int s_failures;

#define CHECK(c)                                                                                     \
  do {                                                                                               \
    if (!(c)) {                                                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n  (last error: %s)\n", __FILE__, __LINE__, #c, \
              rayl_last_error());                                                                    \
      s_failures++;                                                                                  \
    }                                                                                                \
  } while (0)

static double s_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* What a callback saw. */
typedef struct {
  int calls;
  int code;
  rayl_handle handle;
  unsigned char data[512];
  size_t len;
  char error[2048];
  int has_traceback;
  char traceback[4096];
  int sleep_us;          /* the callback takes this long */
  int nested_rc[3];      /* rayl_update / rayl_wait / rayl_close from inside it */
  int try_nested;
} s_seen_t;

static void s_record(rayl_ctx *ctx, rayl_handle h, const rayl_result *r, void *user) {
  s_seen_t *s = user;
  s->calls++;
  s->code = r->code;
  s->handle = h;
  s->len = r->len;
  if (r->data && r->len <= sizeof s->data) memcpy(s->data, r->data, r->len);
  snprintf(s->error, sizeof s->error, "%s", r->error ? r->error : "");
  s->has_traceback = r->traceback != NULL;
  snprintf(s->traceback, sizeof s->traceback, "%s", r->traceback ? r->traceback : "");
  if (s->try_nested) {
    s->nested_rc[0] = rayl_update(ctx, 1000);
    s->nested_rc[1] = rayl_wait(ctx, h, 10);
    s->nested_rc[2] = rayl_close(ctx);
  }
  if (s->sleep_us) usleep((useconds_t)s->sleep_us);
}

/* Runs rayl_update until seen has been called or timeout_ms passed. */
static int s_pump(rayl_ctx *ctx, s_seen_t *seen, int calls, int timeout_ms) {
  double until = s_now_ms() + timeout_ms;
  while (seen->calls < calls && s_now_ms() < until) {
    rayl_update(ctx, 2000);
    usleep(200);
  }
  return seen->calls >= calls;
}

static int64_t s_int(const void *data, size_t len) {
  rayl_reader r;
  int64_t v = -999999;
  rayl_reader_init(&r, data, len);
  if (rayl_read_int(&r, &v) != RAYL_OK) fprintf(stderr, "not an integer: %s\n", rayl_last_error());
  return v;
}

/* A msgpack array of two integers. */
static void s_two_ints(rayl_buf *b, int64_t x, int64_t y) {
  rayl_buf_reset(b);
  rayl_pack_array(b, 2);
  rayl_pack_int(b, x);
  rayl_pack_int(b, y);
}

static void test_calls(rayl_ctx *ctx) {
  rayl_buf b;
  rayl_buf_init(&b);
  s_seen_t seen;
  memset(&seen, 0, sizeof seen);
  rayl_handle h = RAYL_NO_HANDLE;
  s_two_ints(&b, 2, 40);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "add", b.data, b.len, s_record, &seen, &h) == RAYL_OK);
  CHECK(h != RAYL_NO_HANDLE);
  CHECK(s_pump(ctx, &seen, 1, 30000));
  CHECK(seen.code == RAYL_OK && seen.handle == h && s_int(seen.data, seen.len) == 42);
  CHECK(rayl_status(ctx, h) == RAYL_E_HANDLE && strstr(rayl_last_error(), "stale"));

  /* Tables both ways: {x=1.5, name="bob", list={1,2,3}} -> {sum=6, name_len=3, x=1.5}. */
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_map(&b, 3);
  rayl_pack_str(&b, "x");
  rayl_pack_double(&b, 1.5);
  rayl_pack_str(&b, "name");
  rayl_pack_str(&b, "bob");
  rayl_pack_str(&b, "list");
  rayl_pack_array(&b, 3);
  rayl_pack_int(&b, 1);
  rayl_pack_int(&b, 2);
  rayl_pack_int(&b, 3);
  memset(&seen, 0, sizeof seen);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "describe", b.data, b.len, s_record, &seen, NULL) == RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 30000) && seen.code == RAYL_OK);
  rayl_reader r;
  uint32_t n = 0;
  int found = 0;
  rayl_reader_init(&r, seen.data, seen.len);
  CHECK(rayl_read_map(&r, &n) == RAYL_OK && n == 3);
  for (uint32_t i = 0; i < n; i++) {
    const char *key;
    size_t kn;
    int64_t iv;
    double dv;
    CHECK(rayl_read_str(&r, &key, &kn) == RAYL_OK);
    if (kn == 3 && !memcmp(key, "sum", 3)) found += rayl_read_int(&r, &iv) == RAYL_OK && iv == 6;
    else if (kn == 8 && !memcmp(key, "name_len", 8)) found += rayl_read_int(&r, &iv) == RAYL_OK && iv == 3;
    else if (kn == 1 && key[0] == 'x') found += rayl_read_double(&r, &dv) == RAYL_OK && dv == 1.5;
    else rayl_read_skip(&r);
  }
  CHECK(found == 3 && rayl_read_type(&r) == RAYL_T_END);

  /* Strings keep every byte; a function that returns nothing gives nil. */
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_lstr(&b, "a\0b", 3);
  memset(&seen, 0, sizeof seen);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "echo", b.data, b.len, s_record, &seen, NULL) == RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 30000) && seen.code == RAYL_OK);
  const char *s;
  size_t sn;
  rayl_reader_init(&r, seen.data, seen.len);
  CHECK(rayl_read_str(&r, &s, &sn) == RAYL_OK && sn == 3 && !memcmp(s, "a\0b", 3));
  memset(&seen, 0, sizeof seen);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "nothing", NULL, 0, s_record, &seen, NULL) == RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 30000) && seen.code == RAYL_OK);
  rayl_reader_init(&r, seen.data, seen.len);
  CHECK(rayl_read_nil(&r) == RAYL_OK);

  /* Polling instead of a callback: the handle lives until rayl_release. */
  s_two_ints(&b, 5, 6);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "add", b.data, b.len, NULL, NULL, &h) == RAYL_OK);
  CHECK(rayl_wait(ctx, h, 30000) == RAYL_OK);
  CHECK(rayl_status(ctx, h) == RAYL_OK);
  rayl_result res;
  CHECK(rayl_get_result(ctx, h, &res) == RAYL_OK && res.code == RAYL_OK && s_int(res.data, res.len) == 11);
  CHECK(res.error == NULL && res.traceback == NULL);
  const void *bytes;
  size_t blen;
  CHECK(rayl_get(ctx, h, &bytes, &blen) == RAYL_E_TYPE && strstr(rayl_last_error(), "not a string"));
  CHECK(rayl_release(ctx, h) == RAYL_OK);
  CHECK(rayl_release(ctx, h) == RAYL_E_HANDLE && strstr(rayl_last_error(), "stale"));
  rayl_buf_free(&b);
}

static void test_chunks(rayl_ctx *ctx) {
  rayl_buf b;
  rayl_buf_init(&b);
  s_seen_t seen;
  memset(&seen, 0, sizeof seen);
  s_two_ints(&b, 6, 7);
  CHECK(rayl_submit_chunk(ctx, "local a, b = ...\nreturn a * b", b.data, b.len, s_record, &seen, NULL) == RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 30000) && seen.code == RAYL_OK && s_int(seen.data, seen.len) == 42);

  memset(&seen, 0, sizeof seen);
  CHECK(rayl_submit_chunk(ctx, "return +", NULL, 0, s_record, &seen, NULL) == RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 30000) && seen.code == RAYL_E_TASK);
  CHECK(strstr(seen.error, "TaskError: the chunk does not compile") != NULL);

  memset(&seen, 0, sizeof seen);
  CHECK(rayl_submit_chunk(ctx, "local x = ...\nerror('boom ' .. x)", b.data, b.len, s_record, &seen, NULL) ==
        RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 30000) && seen.code == RAYL_E_TASK);
  CHECK(strstr(seen.error, "chunk:2: boom 6") != NULL);
  CHECK(seen.has_traceback && strstr(seen.traceback, "chunk:2") && !strstr(seen.traceback, "rayl/embed.lua"));
  rayl_buf_free(&b);
}

static void test_put_get(rayl_ctx *ctx) {
  rayl_buf b;
  rayl_buf_init(&b);
  for (int round = 0; round < 2; round++) {
    size_t n = round == 0 ? 1000 : 1 << 20; /* inline, then in the shared-memory store */
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(i * 7);
    rayl_handle h;
    CHECK(rayl_put(ctx, data, n, &h) == RAYL_OK);
    CHECK(rayl_status(ctx, h) == RAYL_OK);
    const void *got;
    size_t len;
    CHECK(rayl_get(ctx, h, &got, &len) == RAYL_OK && len == n && !memcmp(got, data, n));
    /* A job gets the object as a Lua string. */
    rayl_buf_reset(&b);
    rayl_pack_array(&b, 2);
    rayl_pack_handle(&b, h);
    rayl_pack_int(&b, 1000);
    s_seen_t seen;
    memset(&seen, 0, sizeof seen);
    CHECK(rayl_submit_call(ctx, "embed_test_mod", "len", b.data, b.len, s_record, &seen, NULL) == RAYL_OK);
    CHECK(s_pump(ctx, &seen, 1, 30000) && seen.code == RAYL_OK);
    rayl_reader r;
    uint32_t count;
    int64_t v1 = -1, v2 = -1;
    rayl_reader_init(&r, seen.data, seen.len);
    CHECK(rayl_read_array(&r, &count) == RAYL_OK && count == 2);
    CHECK(rayl_read_int(&r, &v1) == RAYL_OK && v1 == (int64_t)n);
    CHECK(rayl_read_int(&r, &v2) == RAYL_OK && v2 == (unsigned char)(999 * 7));
    CHECK(rayl_release(ctx, h) == RAYL_OK);
    free(data);
  }
  /* A job's result as another's argument: the second waits for the first. */
  rayl_handle first, second;
  s_two_ints(&b, 1, 2);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "add", b.data, b.len, NULL, NULL, &first) == RAYL_OK);
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 2);
  rayl_pack_handle(&b, first);
  rayl_pack_int(&b, 10);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "add", b.data, b.len, NULL, NULL, &second) == RAYL_OK);
  CHECK(rayl_release(ctx, first) == RAYL_OK); /* the second job still holds it */
  CHECK(rayl_wait(ctx, second, 30000) == RAYL_OK);
  rayl_result res;
  CHECK(rayl_get_result(ctx, second, &res) == RAYL_OK && res.code == RAYL_OK && s_int(res.data, res.len) == 13);
  rayl_release(ctx, second);
  /* A job that returns a large string: rayl_get reads it in place. */
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_int(&b, 300000);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "bytes", b.data, b.len, NULL, NULL, &first) == RAYL_OK);
  CHECK(rayl_wait(ctx, first, 30000) == RAYL_OK);
  const void *got;
  size_t len;
  CHECK(rayl_get(ctx, first, &got, &len) == RAYL_OK && len == 300000);
  CHECK(len == 300000 && ((const unsigned char *)got)[299999] == 299999 % 256);
  rayl_release(ctx, first);
  rayl_buf_free(&b);
}

static void test_update_budget(rayl_ctx *ctx) {
  enum { N = 30 };
  rayl_buf b;
  rayl_buf_init(&b);
  s_seen_t seen;
  memset(&seen, 0, sizeof seen);
  seen.sleep_us = 1000; /* each callback takes at least 1 ms */
  rayl_handle hs[N];
  for (int i = 0; i < N; i++) {
    s_two_ints(&b, i, i);
    CHECK(rayl_submit_call(ctx, "embed_test_mod", "add", b.data, b.len, s_record, &seen, &hs[i]) == RAYL_OK);
  }
  for (int i = 0; i < N; i++) CHECK(rayl_wait(ctx, hs[i], 30000) == RAYL_OK); /* runs no callback */
  CHECK(seen.calls == 0);
  CHECK(rayl_update(ctx, 0) == 0 && seen.calls == 0);
  /* A 5 ms budget fits at most 5 one-millisecond callbacks; the rest wait their turn. */
  int ran = rayl_update(ctx, 5000);
  CHECK(ran >= 1 && ran <= 5 && seen.calls == ran);
  int total = ran, updates = 1;
  while (total < N && updates < 1000) {
    int k = rayl_update(ctx, 5000);
    CHECK(k >= 0 && k <= 5);
    total += k;
    updates++;
  }
  CHECK(total == N && seen.calls == N);
  CHECK(rayl_update(ctx, 5000) == 0);

  /* rayl_update never waits for a job: a 2 s job in flight does not slow it. */
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_double(&b, 2.0);
  rayl_handle h;
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "sleep", b.data, b.len, NULL, NULL, &h) == RAYL_OK);
  double worst = 0;
  for (int i = 0; i < 100; i++) {
    double t0 = s_now_ms();
    CHECK(rayl_update(ctx, 1000) >= 0);
    double dt = s_now_ms() - t0;
    if (dt > worst) worst = dt;
    usleep(1000);
  }
  CHECK(rayl_status(ctx, h) == RAYL_PENDING);
  CHECK(worst < 100);
  rayl_release(ctx, h);
  rayl_buf_free(&b);
}

static void test_wait_cancel(rayl_ctx *ctx) {
  rayl_buf b;
  rayl_buf_init(&b);
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_double(&b, 0.5);
  rayl_handle h;
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "sleep", b.data, b.len, NULL, NULL, &h) == RAYL_OK);
  double t0 = s_now_ms();
  CHECK(rayl_wait(ctx, h, 50) == RAYL_E_TIMEOUT && strstr(rayl_last_error(), "50 ms"));
  double waited = s_now_ms() - t0;
  CHECK(waited >= 45 && waited < 450);
  CHECK(rayl_status(ctx, h) == RAYL_PENDING);
  rayl_result res;
  const void *d;
  size_t n;
  CHECK(rayl_get_result(ctx, h, &res) == RAYL_PENDING && rayl_get(ctx, h, &d, &n) == RAYL_PENDING);
  CHECK(rayl_wait(ctx, h, 30000) == RAYL_OK && rayl_status(ctx, h) == RAYL_OK);
  CHECK(rayl_cancel(ctx, h, 0) == RAYL_OK && rayl_status(ctx, h) == RAYL_OK); /* ended: no effect */
  rayl_release(ctx, h);

  /* Cancelled before it ran or while running: the callback still comes, with the code. */
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_double(&b, 3.0); /* short: a job already running when cancelled runs on */
  s_seen_t seen;
  memset(&seen, 0, sizeof seen);
  t0 = s_now_ms();
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "sleep", b.data, b.len, s_record, &seen, &h) == RAYL_OK);
  CHECK(rayl_cancel(ctx, h, 0) == RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 10000) && seen.code == RAYL_E_CANCELLED);
  CHECK(strstr(seen.error, "TaskCancelledError") != NULL && s_now_ms() - t0 < 2500);

  /* force: a job stuck in its code is stopped (its worker is killed). */
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_double(&b, 30.0);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "sleep", b.data, b.len, NULL, NULL, &h) == RAYL_OK);
  CHECK(rayl_wait(ctx, h, 300) == RAYL_E_TIMEOUT); /* now it runs */
  t0 = s_now_ms();
  CHECK(rayl_cancel(ctx, h, 1) == RAYL_OK);
  CHECK(rayl_wait(ctx, h, 10000) == RAYL_OK && rayl_status(ctx, h) == RAYL_E_CANCELLED);
  CHECK(s_now_ms() - t0 < 10000);
  rayl_release(ctx, h);
  rayl_buf_free(&b);
}

/* ---- misuse ---- */

typedef struct {
  rayl_ctx *ctx;
  rayl_handle h;
  int codes[9];
  int messages_ok;
} s_thread_t;

static void *s_other_thread(void *arg) {
  s_thread_t *t = arg;
  rayl_handle h2;
  const void *d;
  size_t n;
  t->codes[0] = rayl_submit_chunk(t->ctx, "return 1", NULL, 0, NULL, NULL, &h2);
  t->messages_ok = strstr(rayl_last_error(), "thread") != NULL;
  t->codes[1] = rayl_update(t->ctx, 1000);
  t->codes[2] = rayl_status(t->ctx, t->h);
  t->codes[3] = rayl_wait(t->ctx, t->h, 10);
  t->codes[4] = rayl_cancel(t->ctx, t->h, 0);
  t->codes[5] = rayl_get(t->ctx, t->h, &d, &n);
  t->codes[6] = rayl_put(t->ctx, "x", 1, &h2);
  t->codes[7] = rayl_release(t->ctx, t->h);
  t->codes[8] = rayl_close(t->ctx);
  return NULL;
}

static void s_expect_failure(rayl_ctx *ctx, const char *module, const char *fn, int code, const char *text) {
  s_seen_t seen;
  memset(&seen, 0, sizeof seen);
  CHECK(rayl_submit_call(ctx, module, fn, NULL, 0, s_record, &seen, NULL) == RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 30000));
  if (seen.code != code || !strstr(seen.error, text))
    fprintf(stderr, "%s.%s: code %d, error: %s\n", module, fn, seen.code, seen.error);
  CHECK(seen.code == code && strstr(seen.error, text) != NULL);
}

static void test_misuse(rayl_ctx *ctx) {
  rayl_buf b;
  rayl_buf_init(&b);
  rayl_handle h, out;
  CHECK(rayl_put(ctx, "abc", 3, &h) == RAYL_OK);

  /* Another thread: refused, nothing changes, and this thread's last error is its own. */
  rayl_put(NULL, "x", 1, &out);
  s_thread_t t;
  memset(&t, 0, sizeof t);
  t.ctx = ctx;
  t.h = h;
  pthread_t th;
  CHECK(pthread_create(&th, NULL, s_other_thread, &t) == 0);
  pthread_join(th, NULL);
  for (int i = 0; i < 9; i++) CHECK(t.codes[i] == RAYL_E_THREAD);
  CHECK(t.messages_ok);
  CHECK(strstr(rayl_last_error(), "ctx is NULL") != NULL);
  const void *d;
  size_t n;
  CHECK(rayl_get(ctx, h, &d, &n) == RAYL_OK && n == 3 && !memcmp(d, "abc", 3));

  /* NULL contexts and arguments. */
  CHECK(rayl_update(NULL, 0) == RAYL_E_ARG && strstr(rayl_last_error(), "ctx is NULL"));
  CHECK(rayl_status(NULL, h) == RAYL_E_ARG);
  CHECK(rayl_submit_call(NULL, "m", "f", NULL, 0, NULL, NULL, &out) == RAYL_E_ARG);
  CHECK(rayl_close(NULL) == RAYL_E_ARG);
  CHECK(rayl_open(NULL, NULL) == RAYL_E_ARG);
  CHECK(rayl_submit_call(ctx, NULL, "f", NULL, 0, NULL, NULL, &out) == RAYL_E_ARG && out == RAYL_NO_HANDLE);
  CHECK(rayl_submit_call(ctx, "m", "", NULL, 0, NULL, NULL, &out) == RAYL_E_ARG);
  CHECK(rayl_submit_chunk(ctx, NULL, NULL, 0, NULL, NULL, &out) == RAYL_E_ARG);
  CHECK(rayl_submit_chunk(ctx, "return 1", NULL, 0, NULL, NULL, NULL) == RAYL_E_ARG &&
        strstr(rayl_last_error(), "nothing could ever see"));
  CHECK(rayl_get(ctx, h, NULL, &n) == RAYL_E_ARG);
  CHECK(rayl_get_result(ctx, h, NULL) == RAYL_E_ARG);
  CHECK(rayl_put(ctx, NULL, 5, &out) == RAYL_E_ARG);
  CHECK(rayl_cancel(ctx, h, 0) == RAYL_E_ARG && strstr(rayl_last_error(), "not a job"));

  /* Malformed arguments: refused at once, nothing submitted. */
  CHECK(rayl_submit_chunk(ctx, "return 1", "\x05", 1, NULL, NULL, &out) == RAYL_E_ARG && out == RAYL_NO_HANDLE &&
        strstr(rayl_last_error(), "msgpack array"));
  CHECK(rayl_submit_chunk(ctx, "return 1", "\x92\x01", 2, NULL, NULL, &out) == RAYL_E_ARG &&
        strstr(rayl_last_error(), "argument 2"));
  CHECK(rayl_submit_chunk(ctx, "return 1", "\x91\x01\x01", 3, NULL, NULL, &out) == RAYL_E_ARG &&
        strstr(rayl_last_error(), "bytes after"));
  CHECK(rayl_submit_chunk(ctx, "return 1", NULL, 4, NULL, NULL, &out) == RAYL_E_ARG);
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_map(&b, 1);
  rayl_pack_str(&b, "k");
  rayl_pack_handle(&b, h);
  CHECK(rayl_submit_chunk(ctx, "return 1", b.data, b.len, NULL, NULL, &out) == RAYL_E_ARG &&
        strstr(rayl_last_error(), "whole argument"));

  /* Handles: 0, stale, never issued, another context's; also as arguments. */
  rayl_handle stale;
  CHECK(rayl_put(ctx, "z", 1, &stale) == RAYL_OK && rayl_release(ctx, stale) == RAYL_OK);
  CHECK(rayl_status(ctx, RAYL_NO_HANDLE) == RAYL_E_HANDLE && strstr(rayl_last_error(), "RAYL_NO_HANDLE"));
  CHECK(rayl_status(ctx, stale) == RAYL_E_HANDLE && strstr(rayl_last_error(), "stale"));
  CHECK(rayl_get(ctx, stale, &d, &n) == RAYL_E_HANDLE);
  CHECK(rayl_cancel(ctx, stale, 0) == RAYL_E_HANDLE);
  CHECK(rayl_wait(ctx, stale, 0) == RAYL_E_HANDLE);
  CHECK(rayl_status(ctx, (h & ~(rayl_handle)0xffffff) | 0xfffff0) == RAYL_E_HANDLE &&
        strstr(rayl_last_error(), "never issued"));
  CHECK(rayl_status(ctx, h + ((rayl_handle)1 << 48)) == RAYL_E_HANDLE && strstr(rayl_last_error(), "another"));
  CHECK(rayl_pack_handle(&b, RAYL_NO_HANDLE) == RAYL_E_HANDLE);
  rayl_buf_reset(&b);
  rayl_pack_array(&b, 1);
  rayl_pack_handle(&b, stale);
  CHECK(rayl_submit_call(ctx, "embed_test_mod", "echo", b.data, b.len, NULL, NULL, &out) == RAYL_E_HANDLE &&
        strstr(rayl_last_error(), "argument 1"));

  /* What does not exist on the workers ends the job with a code and a message. */
  s_expect_failure(ctx, "no_such_module", "f", RAYL_E_NOT_FOUND, "module 'no_such_module' was not found");
  s_expect_failure(ctx, "embed_test_mod", "nope", RAYL_E_NOT_FOUND, "has no function 'nope'");
  s_expect_failure(ctx, "embed_test_mod", "not_a_function", RAYL_E_NOT_FOUND, "is a number, not a function");
  s_expect_failure(ctx, "embed_broken_mod", "f", RAYL_E_TASK, "broken on purpose");
  s_expect_failure(ctx, "embed_test_mod", "fail", RAYL_E_TASK, "task embed_test_mod.fail failed");

  /* Inside a callback: no update, wait or close. */
  s_seen_t seen;
  memset(&seen, 0, sizeof seen);
  seen.try_nested = 1;
  CHECK(rayl_submit_chunk(ctx, "return 1", NULL, 0, s_record, &seen, NULL) == RAYL_OK);
  CHECK(s_pump(ctx, &seen, 1, 30000));
  CHECK(seen.nested_rc[0] == RAYL_E_STATE && seen.nested_rc[1] == RAYL_E_STATE && seen.nested_rc[2] == RAYL_E_STATE);
  rayl_release(ctx, h);
  rayl_buf_free(&b);
}

static void test_open_errors(const char *module_path) {
  rayl_ctx *ctx = (rayl_ctx *)1;
  rayl_config c;
  rayl_config_init(&c);
  c.num_cpus = -1;
  CHECK(rayl_open(&c, &ctx) == RAYL_E_ARG && ctx == NULL && strstr(rayl_last_error(), "num_cpus"));
  rayl_config_init(&c);
  c.address = "not-an-address";
  CHECK(rayl_open(&c, &ctx) == RAYL_E_CONNECT && strstr(rayl_last_error(), "HOST:PORT"));
  rayl_config_init(&c);
  c.rayl_program = "/nonexistent/rayl";
  c.module_path = module_path;
  CHECK(rayl_open(&c, &ctx) == RAYL_E_CONNECT && strstr(rayl_last_error(), "rayl_program"));
}

static void test_closed(rayl_ctx *ctx, rayl_handle h) {
  rayl_handle out;
  const void *d;
  size_t n;
  CHECK(rayl_submit_chunk(ctx, "return 1", NULL, 0, NULL, NULL, &out) == RAYL_E_CLOSED &&
        strstr(rayl_last_error(), "closed"));
  CHECK(rayl_update(ctx, 1000) == RAYL_E_CLOSED);
  CHECK(rayl_status(ctx, h) == RAYL_E_CLOSED);
  CHECK(rayl_get(ctx, h, &d, &n) == RAYL_E_CLOSED);
  CHECK(rayl_put(ctx, "x", 1, &out) == RAYL_E_CLOSED);
  CHECK(rayl_release(ctx, h) == RAYL_E_CLOSED);
  CHECK(rayl_close(ctx) == RAYL_E_CLOSED);
}

static int s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rl_embed_test DIR (the folder of embed_test_mod.lua)\n");
    return 2;
  }
  char tmp[] = "/tmp/rayl-embed-test-XXXXXX";
  if (!mkdtemp(tmp)) return 2;
  setenv("RAYL_TMPDIR", tmp, 1);
  char module_path[1024];
  snprintf(module_path, sizeof module_path, "%s/?.lua", argv[1]);

  CHECK(!strcmp(rayl_version(), RAYL_VERSION));
  CHECK(strstr(rayl_strerror(RAYL_E_THREAD), "thread") != NULL);
  test_open_errors(module_path);

  rayl_config c;
  rayl_config_init(&c);
  c.num_cpus = 2;
  c.module_path = module_path;
  rayl_ctx *ctx = NULL;
  double t0 = s_now_ms();
  int rc = rayl_open(&c, &ctx);
  CHECK(rc == RAYL_OK && ctx != NULL);
  if (rc != RAYL_OK) {
    fprintf(stderr, "rayl_open: %s\n", rayl_last_error());
    return 1;
  }
  printf("rayl_open: %.0f ms\n", s_now_ms() - t0);
  static const struct {
    const char *name;
    void (*fn)(rayl_ctx *);
  } tests[] = {{"calls", test_calls},           {"chunks", test_chunks},           {"put_get", test_put_get},
               {"update_budget", test_update_budget}, {"wait_cancel", test_wait_cancel}, {"misuse", test_misuse}};
  for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
    int before = s_failures;
    t0 = s_now_ms();
    tests[i].fn(ctx);
    printf("%s: %s (%.0f ms)\n", tests[i].name, s_failures == before ? "ok" : "FAILED", s_now_ms() - t0);
  }
  rayl_handle kept;
  CHECK(rayl_put(ctx, "kept", 4, &kept) == RAYL_OK); /* close frees what is still held */
  t0 = s_now_ms();
  CHECK(rayl_close(ctx) == RAYL_OK);
  printf("rayl_close: %.0f ms\n", s_now_ms() - t0);
  test_closed(ctx, kept);
  nftw(tmp, s_remove, 16, FTW_DEPTH | FTW_PHYS);
  printf("%s\n", s_failures ? "FAILED" : "OK");
  return s_failures ? 1 : 0;
}
