/* sim_source.c: reads CUDA C source for the CPU simulator: finds the barriers and asserts
 * it uses, rejects what cannot run on the host, rewrites extern __shared__ declarations. */
#include "gpu/sim_source.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/sim_abi.h"

typedef struct {
  char *p;
  size_t len, cap;
  bool oom;
} s_buf_t;

static void s_put(s_buf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void s_puts(s_buf_t *b, const char *s) { s_put(b, s, strlen(s)); }

static bool s_idchar(char c) { return isalnum((unsigned char)c) || c == '_'; }

static bool s_word(const char *s, size_t n, const char *w) { return strlen(w) == n && memcmp(s, w, n) == 0; }

/* The end of the comment, string or character literal starting at s[i], or i if none
 * starts there (a raw string is handled where its prefix is read). */
static size_t s_skip_literal(const char *s, size_t i) {
  if (s[i] == '/' && s[i + 1] == '/') {
    while (s[i] && s[i] != '\n') i++;
    return i;
  }
  if (s[i] == '/' && s[i + 1] == '*') {
    const char *e = strstr(s + i + 2, "*/");
    return e ? (size_t)(e - s) + 2 : strlen(s);
  }
  if (s[i] == '"' || s[i] == '\'') {
    char q = s[i++];
    while (s[i] && s[i] != q && s[i] != '\n') i += s[i] == '\\' && s[i + 1] ? 2 : 1;
    return s[i] == q ? i + 1 : i;
  }
  return i;
}

/* After identifier prefix s[a..b) and a quote at s[b]: the end of the raw string
 * R"delim( ... )delim" if the prefix makes one, else b. */
static size_t s_skip_raw(const char *s, size_t a, size_t b) {
  size_t n = b - a;
  if (s[b] != '"' || s[b - 1] != 'R' || n > 3) return b;
  if (n > 1 && !s_word(s + a, n - 1, "u8") && !s_word(s + a, n - 1, "u") && !s_word(s + a, n - 1, "U") &&
      !s_word(s + a, n - 1, "L"))
    return b;
  const char *open = strchr(s + b + 1, '(');
  if (!open || open - (s + b + 1) > 16) return b;
  char close[20];
  snprintf(close, sizeof close, ")%.*s\"", (int)(open - (s + b + 1)), s + b + 1);
  const char *e = strstr(open, close);
  return e ? (size_t)(e - s) + strlen(close) : strlen(s);
}

static unsigned s_lines(const char *s, size_t a, size_t b) {
  unsigned n = 0;
  for (size_t i = a; i < b; i++) n += s[i] == '\n';
  return n;
}

static void s_err(char *err, size_t errlen, unsigned line, const char *fmt, ...) {
  char what[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(err, errlen, "line %u: %s", line, what);
}

/* Appends s[a..b) without attributes (__align__(..), alignas(..), __attribute__((..))),
 * trimmed. */
static void s_put_type(s_buf_t *o, const char *s, size_t a, size_t b) {
  while (a < b && isspace((unsigned char)s[a])) a++;
  while (b > a && isspace((unsigned char)s[b - 1])) b--;
  for (size_t i = a; i < b;) {
    size_t j = i;
    while (j < b && s_idchar(s[j])) j++;
    if (j > i && (s_word(s + i, j - i, "__align__") || s_word(s + i, j - i, "alignas") ||
                  s_word(s + i, j - i, "__attribute__"))) {
      while (j < b && isspace((unsigned char)s[j])) j++;
      int depth = 0;
      for (; j < b; j++) {
        depth += s[j] == '(';
        depth -= s[j] == ')';
        if (depth == 0 && s[j] == ')') break;
      }
      i = j < b ? j + 1 : b;
      while (i < b && isspace((unsigned char)s[i])) i++;
      continue;
    }
    if (j == i) j++;
    s_put(o, s + i, j - i);
    i = j;
  }
}

/* Rewrites `extern __shared__ D;` whose D starts at s[d] (just after __shared__) as a
 * const pointer to the image's dynamic shared memory, keeping the line count of
 * s[from..the ';']. Returns the index after the ';', or 0 with err. */
static size_t s_extern_shared(s_buf_t *o, const char *s, size_t from, size_t d, unsigned line, char *err,
                              size_t errlen) {
  size_t end = d, lb = 0, rb = 0;
  int depth = 0;
  for (; s[end] && !(s[end] == ';' && depth == 0); end++) {
    size_t k = s_skip_literal(s, end);
    if (k != end) {
      end = k - 1;
      continue;
    }
    if (s[end] == '(' || s[end] == '[') {
      if (s[end] == '[' && depth == 0 && !lb) lb = end;
      depth++;
    } else if (s[end] == ')' || s[end] == ']') {
      depth--;
      if (s[end] == ']' && depth == 0 && lb && !rb) rb = end;
    } else if (s[end] == ',' && depth == 0) {
      s_err(err, errlen, line, "declare one variable per extern __shared__ declaration");
      return 0;
    }
  }
  if (!s[end] || !lb || !rb) {
    s_err(err, errlen, line, "the simulator reads extern __shared__ as `extern __shared__ T name[];`");
    return 0;
  }
  size_t ne = lb;
  while (ne > d && isspace((unsigned char)s[ne - 1])) ne--;
  size_t ns = ne;
  while (ns > d && s_idchar(s[ns - 1])) ns--;
  if (ns == ne || isdigit((unsigned char)s[ns])) {
    s_err(err, errlen, line, "the simulator reads extern __shared__ as `extern __shared__ T name[];`");
    return 0;
  }
  /* T (*const name)REST = reinterpret_cast<T (*)REST>(::rl_sim::dyn_smem); */
  s_put_type(o, s, d, ns);
  s_puts(o, " (*const ");
  s_put(o, s + ns, ne - ns);
  s_puts(o, ")");
  s_put_type(o, s, rb + 1, end);
  s_puts(o, " = reinterpret_cast<");
  s_put_type(o, s, d, ns);
  s_puts(o, " (*)");
  s_put_type(o, s, rb + 1, end);
  s_puts(o, ">(::rl_sim::dyn_smem);");
  for (unsigned n = s_lines(s, from, end); n > 0; n--) s_puts(o, "\n");
  return end + 1;
}

/* What an identifier means to the simulator: flags it sets, or an error. */
static int s_word_check(const char *w, size_t n, unsigned *flags, unsigned line, char *err, size_t errlen) {
  static const char *const sync[] = {"__syncthreads", "__syncthreads_count", "__syncthreads_and", "__syncthreads_or",
                                     "__syncwarp"};
  static const char *const trap[] = {"assert", "__trap", "__brkpt"};
  for (size_t k = 0; k < sizeof sync / sizeof *sync; k++)
    if (s_word(w, n, sync[k])) *flags |= RL_SIM_USES_SYNC;
  for (size_t k = 0; k < sizeof trap / sizeof *trap; k++)
    if (s_word(w, n, trap[k])) *flags |= RL_SIM_USES_TRAP;
  if (s_word(w, n, "asm") || s_word(w, n, "__asm__") || s_word(w, n, "__asm")) {
    s_err(err, errlen, line, "rayl's CPU simulator does not support inline assembly (%.*s): run this kernel on a GPU",
          (int)n, w);
    return -1;
  }
  return 0;
}

char *rl_sim_source_rewrite(const char *s, unsigned *flags, char *err, size_t errlen) {
  s_buf_t o = {0};
  unsigned line = 1;
  size_t prev = 0, prev_len = 0, prev_out = 0; /* the last identifier, if only space since */
  bool have_prev = false;
  *flags = 0;
  s_puts(&o, "");
  for (size_t i = 0; s[i];) {
    size_t k = s_skip_literal(s, i);
    if (k != i) {
      line += s_lines(s, i, k);
      s_put(&o, s + i, k - i);
      i = k;
      continue;
    }
    char c = s[i];
    if (isalpha((unsigned char)c) || c == '_') {
      size_t j = i;
      while (s_idchar(s[j])) j++;
      size_t r = s_skip_raw(s, i, j);
      if (r != j) {
        line += s_lines(s, i, r);
        s_put(&o, s + i, r - i);
        i = r;
        have_prev = false;
        continue;
      }
      if (s_word_check(s + i, j - i, flags, line, err, errlen) != 0) goto fail;
      if (s_word(s + i, j - i, "__shared__") && have_prev && s_word(s + prev, prev_len, "extern")) {
        o.len = prev_out;
        size_t next = s_extern_shared(&o, s, prev, j, line, err, errlen);
        if (!next) goto fail;
        line += s_lines(s, i, next);
        i = next;
        have_prev = false;
        continue;
      }
      if (s_word(s + i, j - i, "__shared__") && have_prev && s_word(s + prev, prev_len, "static"))
        memset(o.p + prev_out, ' ', prev_len);
      prev = i;
      prev_len = j - i;
      prev_out = o.len;
      have_prev = true;
      s_put(&o, s + i, j - i);
      i = j;
      continue;
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
      size_t j = i + 1;
      while (s_idchar(s[j]) || s[j] == '.' || (s[j] == '\'' && s_idchar(s[j + 1])) ||
             ((s[j] == '+' || s[j] == '-') && strchr("eEpP", s[j - 1])))
        j++;
      s_put(&o, s + i, j - i);
      i = j;
      have_prev = false;
      continue;
    }
    if (c == '<' && s[i + 1] == '<' && s[i + 2] == '<') {
      s_err(err, errlen, line,
            "rayl's CPU simulator does not support dynamic parallelism (a kernel launch with <<<...>>> in "
            "device code): run this kernel on a GPU");
      goto fail;
    }
    if (c == '\n') line++;
    if (!isspace((unsigned char)c)) have_prev = false;
    s_put(&o, s + i, 1);
    i++;
  }
  if (o.oom) {
    snprintf(err, errlen, "out of memory reading the kernel's source");
    goto fail;
  }
  return o.p;
fail:
  free(o.p);
  return NULL;
}
