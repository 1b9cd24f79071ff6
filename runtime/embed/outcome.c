/* outcome.c: error values between the C API and Lua: made for the core worker, read
 * back into a job's code, message and traceback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"
#include "embed/embed_int.h"

#define S_CLASS_EXT 2 /* the codec's CLASS ext: a registered class name, then the table */
#define S_ERROR_CLASS "rayl.Error"

void *rl_embed_encode_error(void *ctx, const char *type, const char *message, size_t *len) {
  (void)ctx;
  rayl_buf b;
  rayl_buf_init(&b);
  size_t cn = strlen(S_ERROR_CLASS);
  unsigned char ext[3] = {0xc7, (unsigned char)cn, S_CLASS_EXT};
  rl_embed_buf_raw(&b, ext, sizeof ext);
  rl_embed_buf_raw(&b, S_ERROR_CLASS, cn);
  rayl_pack_map(&b, 2);
  rayl_pack_str(&b, "type");
  rayl_pack_str(&b, type);
  rayl_pack_str(&b, "message");
  rayl_pack_str(&b, message);
  if (b.failed) {
    rayl_buf_free(&b);
    *len = 0;
    return NULL;
  }
  *len = b.len;
  return b.data;
}

typedef struct {
  const char *p;
  size_t n;
} s_str_t;

static bool s_is(s_str_t s, const char *lit) { return s.p && s.n == strlen(lit) && !memcmp(s.p, lit, s.n); }

/* The job's code for an error of this type (and `missing` field, set by rayl.embed on
 * the worker when the module or function does not exist). */
static int s_code(s_str_t type, s_str_t missing) {
  static const char *system[] = {"WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError",
                                 "ActorDiedError", "ActorUnavailableError"};
  if (missing.p) return RAYL_E_NOT_FOUND;
  if (s_is(type, "TaskCancelledError")) return RAYL_E_CANCELLED;
  if (s_is(type, "OutOfMemoryError")) return RAYL_E_NOMEM;
  for (size_t i = 0; i < sizeof system / sizeof *system; i++)
    if (s_is(type, system[i])) return RAYL_E_SYSTEM;
  return RAYL_E_TASK;
}

static char *s_dup(const char *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, p, n);
  s[n] = 0;
  return s;
}

int rl_embed_decode_error(const void *data, size_t len, char **error, char **traceback) {
  s_str_t type = {0}, message = {0}, tb = {0}, missing = {0};
  rayl_reader r;
  rayl_reader_init(&r, data, len);
  if (rayl_read_type(&r) == RAYL_T_EXT) rayl_read_skip(&r); /* the class tag */
  uint32_t n;
  if (rayl_read_type(&r) == RAYL_T_STR) {
    /* Without a host encoder the core worker writes "Type: message". */
    rayl_read_str(&r, &message.p, &message.n);
    const char *colon = memchr(message.p, ':', message.n);
    if (colon) {
      type = (s_str_t){message.p, (size_t)(colon - message.p)};
      message.n -= type.n + 1;
      message.p = colon + 1;
      while (message.n && *message.p == ' ') message.p++, message.n--;
    }
  } else if (rayl_read_map(&r, &n) == RAYL_OK) {
    for (uint32_t i = 0; i < n; i++) {
      s_str_t key = {0}, value = {0};
      if (rayl_read_str(&r, &key.p, &key.n) != RAYL_OK && rayl_read_skip(&r) != RAYL_OK) break;
      if (rayl_read_type(&r) == RAYL_T_STR) rayl_read_str(&r, &value.p, &value.n);
      else if (rayl_read_skip(&r) != RAYL_OK) break;
      if (s_is(key, "type")) type = value;
      else if (s_is(key, "message")) message = value;
      else if (s_is(key, "traceback")) tb = value;
      else if (s_is(key, "missing")) missing = value;
    }
  }
  if (!type.p) type = (s_str_t){"TaskError", 9};
  if (!message.p) message = (s_str_t){"the job failed with an error value that is not a rayl error", 59};
  size_t total = type.n + 2 + message.n + 1;
  *error = malloc(total);
  if (*error) snprintf(*error, total, "%.*s: %.*s", (int)type.n, type.p, (int)message.n, message.p);
  *traceback = tb.p && tb.n ? s_dup(tb.p, tb.n) : NULL;
  return s_code(type, missing);
}
