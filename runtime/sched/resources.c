/* resources.c: resource maps as exact fixed-point amounts (1/10000 unit), their
 * arithmetic, validation and text form (wire/res_pack.c packs them). */
#include "common/selftest.h"
#include "sched/resources.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define S_MAX_UNITS 1e12 /* largest amount accepted, in whole units */

static void s_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Index of name (n bytes, not NUL-terminated) in m, or -1. */
static int s_find(const rl_resources_t *m, const char *name, size_t n) {
  for (int i = 0; i < m->n; i++)
    if (strlen(m->r[i].name) == n && memcmp(m->r[i].name, name, n) == 0) return i;
  return -1;
}

/* Checks a name of n bytes. Returns 0, or -1 with a message. */
static int s_check_name(const char *name, size_t n, char *err, size_t errlen) {
  if (n == 0) {
    s_err(err, errlen, "resource name is empty");
    return -1;
  }
  if (n >= RL_RES_NAME) {
    s_err(err, errlen, "resource name '%.*s...' is longer than %d characters", 16, name, RL_RES_NAME - 1);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == ':' || c == '.' || c == '-';
    if (!ok) {
      if (c >= 0x20 && c < 0x7f)
        s_err(err, errlen, "resource name '%.*s' has the character '%c' (allowed: A-Z a-z 0-9 _ : . -)", (int)n,
              name, c);
      else
        s_err(err, errlen, "resource name has the byte 0x%02x at position %zu (allowed: A-Z a-z 0-9 _ : . -)", c,
              i);
      return -1;
    }
  }
  return 0;
}

/* Converts amount to fixed point. Returns 0, or -1 with a message. */
static int s_to_fixed(const char *name, size_t n, double amount, int64_t *out, char *err, size_t errlen) {
  if (!isfinite(amount)) {
    s_err(err, errlen, "resource '%.*s': amount %s is not a finite number", (int)n, name,
          isnan(amount) ? "nan" : amount > 0 ? "inf" : "-inf");
    return -1;
  }
  if (amount < 0) {
    s_err(err, errlen, "resource '%.*s': amount %g is negative", (int)n, name, amount);
    return -1;
  }
  if (amount > S_MAX_UNITS) {
    s_err(err, errlen, "resource '%.*s': amount %g is over the limit of 1e12", (int)n, name, amount);
    return -1;
  }
  *out = (int64_t)llround(amount * RL_RES_UNIT);
  return 0;
}

/* Sets name (n bytes, already checked) to a fixed-point amount; 0 removes it.
 * Keeps the order of the other names. Returns 0, or -1 if the map is full. */
static int s_set_fixed(rl_resources_t *m, const char *name, size_t n, int64_t v) {
  assert(v >= 0);
  int i = s_find(m, name, n);
  if (i >= 0) {
    if (v > 0) {
      m->r[i].amount = v;
    } else {
      memmove(&m->r[i], &m->r[i + 1], (size_t)(m->n - i - 1) * sizeof m->r[0]);
      m->n--;
    }
    return 0;
  }
  if (v == 0) return 0;
  if (m->n >= RL_RES_MAX) return -1;
  memcpy(m->r[m->n].name, name, n);
  m->r[m->n].name[n] = 0;
  m->r[m->n].amount = v;
  m->n++;
  return 0;
}

static int64_t s_get_fixed(const rl_resources_t *m, const char *name) {
  int i = s_find(m, name, strlen(name));
  return i < 0 ? 0 : m->r[i].amount;
}

void rl_res_clear(rl_resources_t *m) { memset(m, 0, sizeof *m); }

int rl_res_set_n(rl_resources_t *m, const char *name, size_t n, double amount, char *err, size_t errlen) {
  int64_t v;
  if (s_check_name(name, n, err, errlen) != 0 || s_to_fixed(name, n, amount, &v, err, errlen) != 0) return -1;
  if (s_set_fixed(m, name, n, v) != 0) {
    s_err(err, errlen, "resource '%.*s': too many resource names (at most %d)", (int)n, name, RL_RES_MAX);
    return -1;
  }
  return 0;
}

int rl_res_set(rl_resources_t *m, const char *name, double amount, char *err, size_t errlen) {
  if (!name) {
    s_err(err, errlen, "resource name is missing");
    return -1;
  }
  return rl_res_set_n(m, name, strnlen(name, RL_RES_NAME), amount, err, errlen);
}

double rl_res_get(const rl_resources_t *m, const char *name) {
  /* The division is correctly rounded, so 3000 gives exactly the double nearest 0.3. */
  return (double)s_get_fixed(m, name) / RL_RES_UNIT;
}

int64_t rl_res_fixed(const rl_resources_t *m, const char *name) { return s_get_fixed(m, name); }

bool rl_res_fits(const rl_resources_t *avail, const rl_resources_t *req) {
  for (int i = 0; i < req->n; i++)
    if (req->r[i].amount > s_get_fixed(avail, req->r[i].name)) return false;
  return true;
}

void rl_res_sub(rl_resources_t *avail, const rl_resources_t *req) {
  assert(rl_res_fits(avail, req));
  for (int i = 0; i < req->n; i++) {
    const char *name = req->r[i].name;
    int64_t left = s_get_fixed(avail, name) - req->r[i].amount;
    int rc = s_set_fixed(avail, name, strlen(name), left); /* lowering can't fill the map */
    assert(rc == 0);
    (void)rc;
  }
}

/* Adds atomically: on failure avail is unchanged. Also fails (rather than wrapping)
 * if an amount would overflow, which takes ~900000 additions of the largest amount. */
int rl_res_add(rl_resources_t *avail, const rl_resources_t *req) {
  rl_resources_t out = *avail;
  for (int i = 0; i < req->n; i++) {
    const char *name = req->r[i].name;
    int64_t have = s_get_fixed(&out, name);
    if (req->r[i].amount > INT64_MAX - have) return -1;
    if (s_set_fixed(&out, name, strlen(name), have + req->r[i].amount) != 0) return -1;
  }
  *avail = out;
  return 0;
}

bool rl_res_equal(const rl_resources_t *a, const rl_resources_t *b) {
  /* Neither map holds zero amounts, so equal maps have the same names. */
  if (a->n != b->n) return false;
  for (int i = 0; i < a->n; i++)
    if (a->r[i].amount != s_get_fixed(b, a->r[i].name)) return false;
  return true;
}

void rl_res_format(const rl_resources_t *m, char *buf, size_t n) {
  if (n == 0) return;
  buf[0] = 0;
  if (m->n == 0) {
    snprintf(buf, n, "(none)");
    return;
  }
  size_t used = 0;
  for (int i = 0; i < m->n && used < n; i++) {
    int64_t whole = m->r[i].amount / RL_RES_UNIT, frac = m->r[i].amount % RL_RES_UNIT;
    char fs[8] = "";
    if (frac) {
      snprintf(fs, sizeof fs, ".%04" PRId64, frac);
      for (size_t e = strlen(fs) - 1; fs[e] == '0'; e--) fs[e] = 0;
    }
    int w = snprintf(buf + used, n - used, "%s%s: %" PRId64 "%s", i ? ", " : "", m->r[i].name, whole, fs);
    if (w < 0) break;
    used += (size_t)w;
  }
}
