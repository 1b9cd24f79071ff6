/* pack.c: the C API's msgpack helpers (rayl_buf writer, rayl_reader) and the check
 * that splits a job's argument array. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"
#include "embed/embed_int.h"

/* ---- writing ---- */

void rayl_buf_init(rayl_buf *b) {
  if (b) memset(b, 0, sizeof *b);
}

void rayl_buf_reset(rayl_buf *b) {
  if (!b) return;
  b->len = 0;
  b->failed = 0;
}

void rayl_buf_free(rayl_buf *b) {
  if (!b) return;
  free(b->data);
  memset(b, 0, sizeof *b);
}

static int s_write(rayl_buf *b, const void *p, size_t n) {
  if (!b) return rl_embed_fail(RAYL_E_ARG, "rayl_pack_*: the buffer is NULL");
  if (b->failed) return rl_embed_fail(RAYL_E_NOMEM, "rayl_pack_*: an earlier write to this buffer ran out of memory");
  if (n > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < n) {
      if (cap > SIZE_MAX / 2) goto oom;
      cap *= 2;
    }
    unsigned char *grown = realloc(b->data, cap);
    if (!grown) goto oom;
    b->data = grown;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return RAYL_OK;
oom:
  b->failed = 1;
  return rl_embed_fail(RAYL_E_NOMEM, "rayl_pack_*: out of memory growing the buffer past %zu bytes", b->len);
}

int rl_embed_buf_raw(rayl_buf *b, const void *p, size_t n) { return s_write(b, p, n); }

/* A type byte followed by v in `width` big-endian bytes. */
static int s_head_out(rayl_buf *b, unsigned char type, uint64_t v, int width) {
  unsigned char h[9];
  h[0] = type;
  for (int i = 0; i < width; i++) h[1 + i] = (unsigned char)(v >> (8 * (width - 1 - i)));
  return s_write(b, h, (size_t)width + 1);
}

int rayl_pack_nil(rayl_buf *b) { return s_head_out(b, 0xc0, 0, 0); }
int rayl_pack_bool(rayl_buf *b, int v) { return s_head_out(b, v ? 0xc3 : 0xc2, 0, 0); }

int rayl_pack_int(rayl_buf *b, int64_t v) {
  if (v >= 0) {
    uint64_t u = (uint64_t)v;
    if (u < 128) return s_head_out(b, (unsigned char)u, 0, 0);
    if (u <= UINT8_MAX) return s_head_out(b, 0xcc, u, 1);
    if (u <= UINT16_MAX) return s_head_out(b, 0xcd, u, 2);
    if (u <= UINT32_MAX) return s_head_out(b, 0xce, u, 4);
    return s_head_out(b, 0xcf, u, 8);
  }
  if (v >= -32) return s_head_out(b, (unsigned char)(int8_t)v, 0, 0);
  if (v >= INT8_MIN) return s_head_out(b, 0xd0, (uint8_t)(int8_t)v, 1);
  if (v >= INT16_MIN) return s_head_out(b, 0xd1, (uint16_t)(int16_t)v, 2);
  if (v >= INT32_MIN) return s_head_out(b, 0xd2, (uint32_t)(int32_t)v, 4);
  return s_head_out(b, 0xd3, (uint64_t)v, 8);
}

int rayl_pack_double(rayl_buf *b, double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return s_head_out(b, 0xcb, u, 8);
}

int rayl_pack_lstr(rayl_buf *b, const void *s, size_t n) {
  if (!s && n) return rl_embed_fail(RAYL_E_ARG, "rayl_pack_lstr: s is NULL but n is %zu", n);
  if (n > UINT32_MAX) return rl_embed_fail(RAYL_E_ARG, "rayl_pack_lstr: %zu bytes is more than msgpack holds", n);
  int rc = n < 32 ? s_head_out(b, (unsigned char)(0xa0 | n), 0, 0)
           : n <= UINT8_MAX  ? s_head_out(b, 0xd9, n, 1)
           : n <= UINT16_MAX ? s_head_out(b, 0xda, n, 2)
                             : s_head_out(b, 0xdb, n, 4);
  return rc ? rc : s_write(b, s, n);
}

int rayl_pack_str(rayl_buf *b, const char *s) { return s ? rayl_pack_lstr(b, s, strlen(s)) : rayl_pack_nil(b); }

int rayl_pack_array(rayl_buf *b, uint32_t n) {
  return n < 16 ? s_head_out(b, (unsigned char)(0x90 | n), 0, 0)
         : n <= UINT16_MAX ? s_head_out(b, 0xdc, n, 2)
                           : s_head_out(b, 0xdd, n, 4);
}

int rayl_pack_map(rayl_buf *b, uint32_t n) {
  return n < 16 ? s_head_out(b, (unsigned char)(0x80 | n), 0, 0)
         : n <= UINT16_MAX ? s_head_out(b, 0xde, n, 2)
                           : s_head_out(b, 0xdf, n, 4);
}

int rayl_pack_handle(rayl_buf *b, rayl_handle h) {
  if (h == RAYL_NO_HANDLE) return rl_embed_fail(RAYL_E_HANDLE, "rayl_pack_handle: the handle is RAYL_NO_HANDLE (0)");
  unsigned char e[10] = {0xd7, RL_EMBED_EXT_HANDLE};
  for (int i = 0; i < 8; i++) e[2 + i] = (unsigned char)(h >> (8 * (7 - i)));
  return s_write(b, e, sizeof e);
}

/* ---- reading ---- */

/* The header of the next value: its type, header size (type byte, lengths, ext type),
 * and n: payload bytes (str, ext, numbers) or element count (array, map). */
typedef struct {
  int type;
  size_t hdr;
  uint64_t n;
  int ext_type;
} s_head_t;

static uint64_t s_be(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* Reads the header at p. Returns 0, or -1 if it is malformed or does not fit before
 * end (payloads are checked too; array and map elements are not). */
static int s_head(const unsigned char *p, const unsigned char *end, s_head_t *h) {
  if (p >= end) return -1;
  size_t avail = (size_t)(end - p);
  unsigned c = p[0];
  int width = 0; /* bytes of length after the type byte */
  h->hdr = 1;
  h->n = 0;
  h->ext_type = 0;
  if (c <= 0x7f || c >= 0xe0) {
    h->type = RAYL_T_INT;
    return 0;
  }
  if (c <= 0x8f) {
    h->type = RAYL_T_MAP;
    h->n = c & 0x0f;
    return 0;
  }
  if (c <= 0x9f) {
    h->type = RAYL_T_ARRAY;
    h->n = c & 0x0f;
    return 0;
  }
  if (c <= 0xbf) {
    h->type = RAYL_T_STR;
    h->n = c & 0x1f;
    return h->n + 1 <= avail ? 0 : -1;
  }
  switch (c) {
    case 0xc0: h->type = RAYL_T_NIL; return 0;
    case 0xc2:
    case 0xc3: h->type = RAYL_T_BOOL; return 0;
    case 0xc4: case 0xc5: case 0xc6: h->type = RAYL_T_STR; width = 1 << (c - 0xc4); break;
    case 0xc7: case 0xc8: case 0xc9: h->type = RAYL_T_EXT; width = 1 << (c - 0xc7); break;
    case 0xca: h->type = RAYL_T_FLOAT; h->n = 4; break;
    case 0xcb: h->type = RAYL_T_FLOAT; h->n = 8; break;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: h->type = RAYL_T_INT; h->n = 1u << (c - 0xcc); break;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: h->type = RAYL_T_INT; h->n = 1u << (c - 0xd0); break;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
      h->type = RAYL_T_EXT;
      h->n = 1u << (c - 0xd4);
      h->hdr = 2;
      break;
    case 0xd9: case 0xda: case 0xdb: h->type = RAYL_T_STR; width = 1 << (c - 0xd9); break;
    case 0xdc: case 0xdd: h->type = RAYL_T_ARRAY; width = c == 0xdc ? 2 : 4; break;
    case 0xde: case 0xdf: h->type = RAYL_T_MAP; width = c == 0xde ? 2 : 4; break;
    default: return -1; /* 0xc1: never used */
  }
  if (width) {
    h->hdr = 1 + (size_t)width + (h->type == RAYL_T_EXT);
    if (h->hdr > avail) return -1;
    h->n = s_be(p + 1, width);
  }
  if (h->hdr > avail) return -1;
  if (h->type == RAYL_T_EXT) h->ext_type = (signed char)p[h->hdr - 1];
  if (h->type == RAYL_T_ARRAY || h->type == RAYL_T_MAP) return 0;
  return h->n <= avail - h->hdr ? 0 : -1;
}

/* Moves *pp past one whole value. Returns 0, or -1 if malformed, truncated, or nested
 * deeper than RL_EMBED_MAX_DEPTH. */
static int s_skip(const unsigned char **pp, const unsigned char *end, int depth) {
  s_head_t h;
  if (s_head(*pp, end, &h) != 0) return -1;
  *pp += h.hdr;
  if (h.type != RAYL_T_ARRAY && h.type != RAYL_T_MAP) {
    *pp += h.n;
    return 0;
  }
  if (depth >= RL_EMBED_MAX_DEPTH) return -1;
  uint64_t count = h.type == RAYL_T_MAP ? 2 * h.n : h.n;
  for (uint64_t i = 0; i < count; i++)
    if (s_skip(pp, end, depth + 1) != 0) return -1;
  return 0;
}

void rayl_reader_init(rayl_reader *r, const void *data, size_t len) {
  if (!r) return;
  r->p = data;
  r->end = data ? r->p + len : NULL;
}

int rayl_read_type(const rayl_reader *r) {
  if (!r || !r->p || r->p >= r->end) return RAYL_T_END;
  s_head_t h;
  return s_head(r->p, r->end, &h) == 0 ? h.type : RAYL_T_BAD;
}

static const char *s_type_name(int type) {
  static const char *names[] = {"nothing", "nil", "a boolean", "an integer", "a float", "a string",
                                "an array", "a map", "an ext value", "a malformed value"};
  return type >= 0 && type <= RAYL_T_BAD ? names[type] : "?";
}

/* Reads the next header for fn, expecting `want` (or also `alt`). Returns 0, or a code
 * (with the message set) and leaves r where it was. */
static int s_expect(rayl_reader *r, const char *fn, int want, int alt, s_head_t *h) {
  if (!r || !r->p) return rl_embed_fail(RAYL_E_ARG, "%s: the reader is NULL or empty", fn);
  if (r->p >= r->end) return rl_embed_fail(RAYL_E_ARG, "%s: no value left to read", fn);
  if (s_head(r->p, r->end, h) != 0) return rl_embed_fail(RAYL_E_ARG, "%s: the value is malformed or truncated", fn);
  if (h->type != want && h->type != alt)
    return rl_embed_fail(RAYL_E_TYPE, "%s: the next value is %s, not %s", fn, s_type_name(h->type),
                         s_type_name(want));
  return 0;
}

int rayl_read_nil(rayl_reader *r) {
  s_head_t h;
  int rc = s_expect(r, "rayl_read_nil", RAYL_T_NIL, RAYL_T_NIL, &h);
  if (rc) return rc;
  r->p += h.hdr;
  return RAYL_OK;
}

int rayl_read_bool(rayl_reader *r, int *v) {
  s_head_t h;
  if (!v) return rl_embed_fail(RAYL_E_ARG, "rayl_read_bool: v is NULL");
  int rc = s_expect(r, "rayl_read_bool", RAYL_T_BOOL, RAYL_T_BOOL, &h);
  if (rc) return rc;
  *v = r->p[0] == 0xc3;
  r->p += h.hdr;
  return RAYL_OK;
}

static double s_float(const unsigned char *p) {
  if (p[0] == 0xca) {
    uint32_t u = (uint32_t)s_be(p + 1, 4);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
  }
  uint64_t u = s_be(p + 1, 8);
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* The integer at p (an RAYL_T_INT header); sets *big if it exceeds INT64_MAX. */
static int64_t s_int(const unsigned char *p, bool *big) {
  unsigned c = p[0];
  *big = false;
  if (c <= 0x7f) return c;
  if (c >= 0xe0) return (int8_t)c;
  if (c >= 0xcc && c <= 0xcf) {
    uint64_t u = s_be(p + 1, 1 << (c - 0xcc));
    *big = u > INT64_MAX;
    return (int64_t)u;
  }
  int width = 1 << (c - 0xd0);
  uint64_t u = s_be(p + 1, width);
  if (width < 8 && (u >> (8 * width - 1)) & 1) u |= ~0ull << (8 * width); /* sign-extend */
  return (int64_t)u;
}

int rayl_read_int(rayl_reader *r, int64_t *v) {
  s_head_t h;
  if (!v) return rl_embed_fail(RAYL_E_ARG, "rayl_read_int: v is NULL");
  int rc = s_expect(r, "rayl_read_int", RAYL_T_INT, RAYL_T_FLOAT, &h);
  if (rc) return rc;
  if (h.type == RAYL_T_FLOAT) {
    double d = s_float(r->p);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
      return rl_embed_fail(RAYL_E_TYPE, "rayl_read_int: the next value is %.17g, not an integer in int64's range", d);
    *v = (int64_t)d;
  } else {
    bool big;
    int64_t i = s_int(r->p, &big);
    if (big) return rl_embed_fail(RAYL_E_TYPE, "rayl_read_int: the next value is above INT64_MAX");
    *v = i;
  }
  r->p += h.hdr + h.n;
  return RAYL_OK;
}

int rayl_read_double(rayl_reader *r, double *v) {
  s_head_t h;
  if (!v) return rl_embed_fail(RAYL_E_ARG, "rayl_read_double: v is NULL");
  int rc = s_expect(r, "rayl_read_double", RAYL_T_FLOAT, RAYL_T_INT, &h);
  if (rc) return rc;
  if (h.type == RAYL_T_FLOAT) {
    *v = s_float(r->p);
  } else {
    bool big;
    int64_t i = s_int(r->p, &big);
    *v = big ? (double)(uint64_t)i : (double)i;
  }
  r->p += h.hdr + h.n;
  return RAYL_OK;
}

int rayl_read_str(rayl_reader *r, const char **s, size_t *n) {
  s_head_t h;
  if (!s || !n) return rl_embed_fail(RAYL_E_ARG, "rayl_read_str: s or n is NULL");
  int rc = s_expect(r, "rayl_read_str", RAYL_T_STR, RAYL_T_STR, &h);
  if (rc) return rc;
  *s = (const char *)r->p + h.hdr;
  *n = (size_t)h.n;
  r->p += h.hdr + h.n;
  return RAYL_OK;
}

static int s_read_count(rayl_reader *r, uint32_t *n, int type, const char *fn) {
  s_head_t h;
  if (!n) return rl_embed_fail(RAYL_E_ARG, "%s: n is NULL", fn);
  int rc = s_expect(r, fn, type, type, &h);
  if (rc) return rc;
  *n = (uint32_t)h.n;
  r->p += h.hdr;
  return RAYL_OK;
}

int rayl_read_array(rayl_reader *r, uint32_t *n) { return s_read_count(r, n, RAYL_T_ARRAY, "rayl_read_array"); }
int rayl_read_map(rayl_reader *r, uint32_t *n) { return s_read_count(r, n, RAYL_T_MAP, "rayl_read_map"); }

int rayl_read_skip(rayl_reader *r) {
  if (!r || !r->p) return rl_embed_fail(RAYL_E_ARG, "rayl_read_skip: the reader is NULL or empty");
  if (r->p >= r->end) return rl_embed_fail(RAYL_E_ARG, "rayl_read_skip: no value left to read");
  const unsigned char *p = r->p;
  if (s_skip(&p, r->end, 0) != 0)
    return rl_embed_fail(RAYL_E_ARG, "rayl_read_skip: the value is malformed, truncated or nested too deeply");
  r->p = p;
  return RAYL_OK;
}

/* ---- job arguments ---- */

/* Checks one value inside an argument: plain msgpack only (no ext), nesting bounded. */
static int s_check_plain(const unsigned char **pp, const unsigned char *end, int depth, size_t arg, char *err,
                         size_t errlen) {
  s_head_t h;
  if (s_head(*pp, end, &h) != 0) {
    snprintf(err, errlen, "argument %zu is malformed or truncated msgpack", arg);
    return -1;
  }
  if (h.type == RAYL_T_EXT) {
    if (h.ext_type == RL_EMBED_EXT_HANDLE)
      snprintf(err, errlen, "argument %zu holds a handle inside an array or map; a handle must be a whole argument",
               arg);
    else
      snprintf(err, errlen, "argument %zu holds a msgpack ext value (type %d); only plain values travel", arg,
               h.ext_type);
    return -1;
  }
  *pp += h.hdr;
  if (h.type != RAYL_T_ARRAY && h.type != RAYL_T_MAP) {
    *pp += h.n;
    return 0;
  }
  if (depth >= RL_EMBED_MAX_DEPTH) {
    snprintf(err, errlen, "argument %zu is nested more than %d levels deep", arg, RL_EMBED_MAX_DEPTH);
    return -1;
  }
  uint64_t count = h.type == RAYL_T_MAP ? 2 * h.n : h.n;
  for (uint64_t i = 0; i < count; i++)
    if (s_check_plain(pp, end, depth + 1, arg, err, errlen) != 0) return -1;
  return 0;
}

int rl_embed_split_args(const void *args, size_t len, rl_embed_arg_t **out, size_t *n, char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  if (!args) {
    if (len == 0) return 0;
    snprintf(err, errlen, "args is NULL but args_len is %zu", len);
    return -1;
  }
  if (len == 0) return 0;
  const unsigned char *p = args, *end = p + len;
  s_head_t h;
  if (s_head(p, end, &h) != 0 || h.type != RAYL_T_ARRAY) {
    snprintf(err, errlen, "args must be one msgpack array of the arguments (rayl_pack_array first), not %s",
             s_type_name(s_head(p, end, &h) != 0 ? RAYL_T_BAD : h.type));
    return -1;
  }
  if (h.n > RL_EMBED_MAX_ARGS) {
    snprintf(err, errlen, "%llu arguments is more than the %d a job may have; pass a table instead",
             (unsigned long long)h.n, RL_EMBED_MAX_ARGS);
    return -1;
  }
  p += h.hdr;
  rl_embed_arg_t *a = calloc(h.n ? h.n : 1, sizeof *a);
  if (!a) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < h.n; i++) {
    s_head_t e;
    a[i].p = p;
    if (s_head(p, end, &e) == 0 && e.type == RAYL_T_EXT && e.ext_type == RL_EMBED_EXT_HANDLE && e.n == 8) {
      a[i].is_handle = true;
      a[i].handle = s_be(p + e.hdr, 8);
      p += e.hdr + e.n;
    } else if (s_check_plain(&p, end, 1, i + 1, err, errlen) != 0) {
      free(a);
      return -1;
    }
    a[i].len = (size_t)(p - a[i].p);
  }
  if (p != end) {
    snprintf(err, errlen, "args has %zu bytes after its array of %llu arguments", (size_t)(end - p),
             (unsigned long long)h.n);
    free(a);
    return -1;
  }
  *out = a;
  *n = (size_t)h.n;
  return 0;
}
