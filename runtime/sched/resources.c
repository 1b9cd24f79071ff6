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

/* ---- selftest ---- */

#define S_CHECK(c) RL_CHECK_RETURN(c)

int rl_resources_selftest(void) {
  rl_resources_t a, b, c;
  char err[128], buf[256];
  rl_res_clear(&a);
  S_CHECK(a.n == 0 && rl_res_get(&a, "CPU") == 0);

  /* Fractions are exact: 0.1 + 0.2 CPU is 0.3 CPU, and ten 0.1s make 1. */
  S_CHECK(rl_res_set(&a, "CPU", 0.1, err, sizeof err) == 0);
  rl_res_clear(&b);
  S_CHECK(rl_res_set(&b, "CPU", 0.2, err, sizeof err) == 0);
  S_CHECK(rl_res_add(&a, &b) == 0);
  S_CHECK(rl_res_get(&a, "CPU") == 0.3 && a.r[0].amount == 3000);
  rl_res_clear(&a);
  rl_res_clear(&b);
  S_CHECK(rl_res_set(&b, "CPU", 0.1, NULL, 0) == 0);
  for (int i = 0; i < 10; i++) S_CHECK(rl_res_add(&a, &b) == 0);
  S_CHECK(rl_res_get(&a, "CPU") == 1.0);
  for (int i = 0; i < 10; i++) {
    S_CHECK(rl_res_fits(&a, &b));
    rl_res_sub(&a, &b);
  }
  S_CHECK(a.n == 0 && !rl_res_fits(&a, &b)); /* back to exactly nothing, not 1e-17 */
  /* Rounding to 1/10000. */
  S_CHECK(rl_res_set(&a, "GPU", 0.33333, err, sizeof err) == 0 && a.r[0].amount == 3333);
  S_CHECK(rl_res_fixed(&a, "GPU") == 3333 && rl_res_fixed(&a, "CPU") == 0);
  S_CHECK(rl_res_set(&a, "GPU", 0.00004, err, sizeof err) == 0 && a.n == 0); /* rounds to 0: removed */

  /* fits / sub / add over several names, with the 0-removes rule. */
  rl_res_clear(&a);
  S_CHECK(rl_res_set(&a, "CPU", 4, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&a, "GPU", 1, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&a, "memory", 1e9, err, sizeof err) == 0);
  rl_res_clear(&b);
  S_CHECK(rl_res_set(&b, "CPU", 1.5, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&b, "GPU", 0.25, err, sizeof err) == 0);
  S_CHECK(rl_res_fits(&a, &b));
  rl_res_sub(&a, &b);
  S_CHECK(rl_res_get(&a, "CPU") == 2.5 && rl_res_get(&a, "GPU") == 0.75 && rl_res_get(&a, "memory") == 1e9);
  S_CHECK(rl_res_set(&b, "GPU", 0.75, err, sizeof err) == 0);
  rl_res_sub(&a, &b); /* GPU reaches 0 and disappears */
  S_CHECK(a.n == 2 && rl_res_get(&a, "GPU") == 0 && rl_res_get(&a, "CPU") == 1);
  S_CHECK(!rl_res_fits(&a, &b)); /* needs GPU */
  S_CHECK(rl_res_add(&a, &b) == 0);
  S_CHECK(rl_res_get(&a, "GPU") == 0.75 && rl_res_get(&a, "CPU") == 2.5);
  rl_res_clear(&c);
  S_CHECK(rl_res_fits(&a, &c)); /* the empty request fits anywhere */
  S_CHECK(rl_res_set(&c, "sim", 1, err, sizeof err) == 0);
  S_CHECK(!rl_res_fits(&a, &c)); /* unknown custom resource */

  /* Equality ignores order. */
  rl_res_clear(&b);
  rl_res_clear(&c);
  S_CHECK(rl_res_set(&b, "x", 1, NULL, 0) == 0 && rl_res_set(&b, "y", 2, NULL, 0) == 0);
  S_CHECK(rl_res_set(&c, "y", 2, NULL, 0) == 0 && rl_res_set(&c, "x", 1, NULL, 0) == 0);
  S_CHECK(rl_res_equal(&b, &c));
  S_CHECK(rl_res_set(&c, "x", 1.0001, NULL, 0) == 0 && !rl_res_equal(&b, &c));
  S_CHECK(rl_res_set(&c, "x", 1, NULL, 0) == 0 && rl_res_set(&c, "z", 1, NULL, 0) == 0 && !rl_res_equal(&b, &c));

  /* Bad names and amounts are rejected with a message, and the map is untouched. */
  rl_res_clear(&a);
  S_CHECK(rl_res_set(&a, "CPU", 1, err, sizeof err) == 0);
  b = a;
  err[0] = 0;
  S_CHECK(rl_res_set(&a, "", 1, err, sizeof err) == -1 && strstr(err, "empty"));
  S_CHECK(rl_res_set(&a, NULL, 1, err, sizeof err) == -1);
  S_CHECK(rl_res_set(&a, "has space", 1, err, sizeof err) == -1 && strstr(err, "' '"));
  S_CHECK(rl_res_set(&a, "tab\there", 1, err, sizeof err) == -1 && strstr(err, "0x09"));
  S_CHECK(rl_res_set(&a, "abcdefghijabcdefghijabcdefghijab", 1, err, sizeof err) == -1 && strstr(err, "longer"));
  S_CHECK(rl_res_set(&a, "abcdefghijabcdefghijabcdefghija", 1, err, sizeof err) == 0); /* 31 chars: fine */
  S_CHECK(rl_res_set(&a, "abcdefghijabcdefghijabcdefghija", 0, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&a, "CPU", -1, err, sizeof err) == -1 && strstr(err, "negative"));
  S_CHECK(rl_res_set(&a, "CPU", NAN, err, sizeof err) == -1 && strstr(err, "finite"));
  S_CHECK(rl_res_set(&a, "CPU", INFINITY, err, sizeof err) == -1 && strstr(err, "finite"));
  S_CHECK(rl_res_set(&a, "CPU", 1.5e12, err, sizeof err) == -1 && strstr(err, "limit"));
  S_CHECK(rl_res_set(&a, "CPU", 1, NULL, 0) == 0 && rl_res_set(&a, "", 1, NULL, 0) == -1); /* NULL err ok */
  S_CHECK(rl_res_equal(&a, &b));
  S_CHECK(rl_res_set(&a, "node:10.0.0.1", 0.001, err, sizeof err) == 0);
  S_CHECK(rl_res_set(&a, "custom-A_b.c", 1e12, err, sizeof err) == 0);

  /* A full map refuses a new name but still updates existing ones; add is atomic. */
  rl_res_clear(&a);
  for (int i = 0; i < RL_RES_MAX; i++) {
    snprintf(buf, sizeof buf, "r%d", i);
    S_CHECK(rl_res_set(&a, buf, i + 1, err, sizeof err) == 0);
  }
  S_CHECK(a.n == RL_RES_MAX);
  S_CHECK(rl_res_set(&a, "one_more", 1, err, sizeof err) == -1 && strstr(err, "too many"));
  S_CHECK(rl_res_set(&a, "r3", 7, err, sizeof err) == 0 && rl_res_get(&a, "r3") == 7);
  rl_res_clear(&b);
  S_CHECK(rl_res_set(&b, "r0", 1, NULL, 0) == 0 && rl_res_set(&b, "extra", 1, NULL, 0) == 0);
  c = a;
  S_CHECK(rl_res_add(&a, &b) == -1 && memcmp(&a, &c, sizeof a) == 0);
  S_CHECK(rl_res_set(&a, "r5", 0, NULL, 0) == 0 && a.n == RL_RES_MAX - 1);
  S_CHECK(rl_res_add(&a, &b) == 0 && a.n == RL_RES_MAX && rl_res_get(&a, "r0") == 2);
  S_CHECK(strcmp(a.r[4].name, "r4") == 0 && strcmp(a.r[5].name, "r6") == 0); /* order kept */

  /* Format. */
  rl_res_clear(&a);
  rl_res_format(&a, buf, sizeof buf);
  S_CHECK(strcmp(buf, "(none)") == 0);
  S_CHECK(rl_res_set(&a, "CPU", 2, NULL, 0) == 0 && rl_res_set(&a, "GPU", 0.5, NULL, 0) == 0);
  S_CHECK(rl_res_set(&a, "sim", 4, NULL, 0) == 0 && rl_res_set(&a, "x", 1.0001, NULL, 0) == 0);
  S_CHECK(rl_res_set(&a, "big", 1e12, NULL, 0) == 0);
  rl_res_format(&a, buf, sizeof buf);
  S_CHECK(strcmp(buf, "CPU: 2, GPU: 0.5, sim: 4, x: 1.0001, big: 1000000000000") == 0);
  char small[8];
  rl_res_format(&a, small, sizeof small);
  S_CHECK(strlen(small) == 7 && strncmp(small, "CPU: 2,", 7) == 0); /* truncated, terminated */

  return 0;
}
