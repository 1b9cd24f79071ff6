/* json.c: the JSON text builder (json.h). */
#include "common/selftest.h"
#include "http/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rl_json_init(rl_json_t *j) {
  memset(j, 0, sizeof *j);
  j->first[0] = true;
}

void rl_json_free(rl_json_t *j) {
  free(j->buf);
  j->buf = NULL;
  j->len = j->cap = 0;
}

char *rl_json_take(rl_json_t *j, size_t *len) {
  char *s = j->oom ? NULL : j->buf;
  if (j->oom) free(j->buf);
  if (s && !s[0] && !j->len) s = NULL;
  *len = s ? j->len : 0;
  j->buf = NULL;
  j->len = j->cap = 0;
  return s;
}

/* Room for n more bytes and a NUL. */
static bool s_room(rl_json_t *j, size_t n) {
  if (j->oom) return false;
  if (j->len + n + 1 <= j->cap) return true;
  size_t cap = j->cap ? j->cap : 4096;
  while (cap < j->len + n + 1) cap *= 2;
  char *b = realloc(j->buf, cap);
  if (!b) {
    j->oom = true;
    return false;
  }
  j->buf = b;
  j->cap = cap;
  return true;
}

void rl_json_raw(rl_json_t *j, const char *s, size_t n) {
  if (!s_room(j, n)) return;
  memcpy(j->buf + j->len, s, n);
  j->len += n;
  j->buf[j->len] = 0;
}

void rl_json_rawf(rl_json_t *j, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !s_room(j, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(j->buf + j->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  j->len += (size_t)n;
}

/* The comma before a value, unless it follows a key or opens its container. */
static void s_sep(rl_json_t *j) {
  if (j->after_key) {
    j->after_key = false;
    return;
  }
  if (!j->first[j->depth]) rl_json_raw(j, ",", 1);
  j->first[j->depth] = false;
}

static void s_open(rl_json_t *j, char c) {
  s_sep(j);
  rl_json_raw(j, &c, 1);
  if (j->depth + 1 < RL_JSON_DEPTH) j->depth++;
  else j->oom = true; /* too deep: refuse rather than write wrong text */
  j->first[j->depth] = true;
  j->close[j->depth] = c == '{' ? '}' : ']';
}

void rl_json_obj(rl_json_t *j) { s_open(j, '{'); }
void rl_json_arr(rl_json_t *j) { s_open(j, '['); }

void rl_json_end(rl_json_t *j) {
  char close = j->close[j->depth] ? j->close[j->depth] : '}';
  rl_json_raw(j, &close, 1);
  if (j->depth > 0) j->depth--;
  j->after_key = false;
}

void rl_json_key(rl_json_t *j, const char *key) {
  rl_json_str(j, key);
  rl_json_raw(j, ":", 1);
  j->after_key = true;
}

size_t rl_json_utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (!len || len > n) return 0;
  for (size_t k = 1; k < len; k++)
    if ((s[k] & 0xc0) != 0x80) return 0;
  if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
      (c == 0xf4 && s[1] > 0x8f))
    return 0;
  return len;
}

void rl_json_strn(rl_json_t *j, const char *s, size_t n) {
  s_sep(j);
  if (!s_room(j, n + 2)) return;
  rl_json_raw(j, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      rl_json_raw(j, e, 2);
    } else if (c == '\n') rl_json_raw(j, "\\n", 2);
    else if (c == '\t') rl_json_raw(j, "\\t", 2);
    else if (c < 0x20 || c == 0x7f) rl_json_rawf(j, "\\u%04x", c);
    else if (c < 0x80) rl_json_raw(j, (const char *)&c, 1);
    else { /* UTF-8 kept if well formed, else each byte becomes U+FFFD */
      size_t len = rl_json_utf8_len((const unsigned char *)s + i, n - i);
      if (len) {
        rl_json_raw(j, s + i, (size_t)len);
        i += (size_t)len - 1;
      } else rl_json_raw(j, "\xef\xbf\xbd", 3);
    }
  }
  rl_json_raw(j, "\"", 1);
}

void rl_json_str(rl_json_t *j, const char *s) {
  if (!s) rl_json_null(j);
  else rl_json_strn(j, s, strlen(s));
}

void rl_json_num(rl_json_t *j, double v) {
  s_sep(j);
  if (!isfinite(v)) rl_json_raw(j, "null", 4);
  else if (v == floor(v) && fabs(v) < 9e15) rl_json_rawf(j, "%.0f", v);
  else rl_json_rawf(j, "%.17g", v);
}

void rl_json_int(rl_json_t *j, int64_t v) {
  s_sep(j);
  rl_json_rawf(j, "%lld", (long long)v);
}

void rl_json_bool(rl_json_t *j, bool v) {
  s_sep(j);
  rl_json_raw(j, v ? "true" : "false", v ? 4 : 5);
}

void rl_json_null(rl_json_t *j) {
  s_sep(j);
  rl_json_raw(j, "null", 4);
}

void rl_json_kstr(rl_json_t *j, const char *key, const char *s) {
  rl_json_key(j, key);
  rl_json_str(j, s);
}
void rl_json_knum(rl_json_t *j, const char *key, double v) {
  rl_json_key(j, key);
  rl_json_num(j, v);
}
void rl_json_kint(rl_json_t *j, const char *key, int64_t v) {
  rl_json_key(j, key);
  rl_json_int(j, v);
}
void rl_json_kbool(rl_json_t *j, const char *key, bool v) {
  rl_json_key(j, key);
  rl_json_bool(j, v);
}
