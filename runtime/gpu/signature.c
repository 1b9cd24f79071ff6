/* signature.c: reads a __global__ function's parameter list from CUDA C source (a small
 * tokenizer, not a C++ parser: comments, strings and directives are skipped, simple type
 * aliases resolved), so a launch can check its arguments before the kernel runs. */
#include "gpu/signature.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/selftest.h"

#define S_MAXTOK 48    /* longest identifier kept (longer ones are cut; they are not types) */
#define S_MAXALIAS 128 /* aliases read from the source */
#define S_MAXWORDS 8   /* words in one alias's type */
#define S_MAXEXPAND 64 /* words one parameter's type may expand to through aliases */

typedef enum { S_IDENT, S_NUM, S_STR, S_PUNCT } s_toktype_t;

typedef struct {
  s_toktype_t type;
  char text[S_MAXTOK]; /* an identifier, "\"C\"" for the string "C", one punctuation char */
} s_tok_t;

typedef struct {
  char name[S_MAXTOK];
  char words[S_MAXWORDS][S_MAXTOK];
  int nwords, ptr; /* ptr: pointer levels the alias adds (typedef float *fp;) */
} s_alias_t;

typedef struct {
  s_tok_t *t;
  size_t n, cap;
  s_alias_t *alias;
  int nalias;
} s_lex_t;

/* ---- tokens ---- */

static int s_push(s_lex_t *x, s_toktype_t type, const char *p, size_t len) {
  if (x->n == x->cap) {
    size_t ncap = x->cap ? x->cap * 2 : 256;
    s_tok_t *nt = realloc(x->t, ncap * sizeof *nt);
    if (!nt) return -1;
    x->t = nt;
    x->cap = ncap;
  }
  s_tok_t *t = &x->t[x->n++];
  t->type = type;
  if (len >= sizeof t->text) len = sizeof t->text - 1;
  memcpy(t->text, p, len);
  t->text[len] = 0;
  return 0;
}

static bool s_identch(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Skips a string or char literal starting at p (the quote); returns the char after it. */
static const char *s_skip_literal(const char *p) {
  char q = *p++;
  while (*p && *p != q && *p != '\n') {
    if (*p == '\\' && p[1]) p++;
    p++;
  }
  return *p == q ? p + 1 : p;
}

/* Skips a comment at p if there is one; returns where scanning goes on. */
static const char *s_skip_comment(const char *p) {
  if (p[0] == '/' && p[1] == '/') {
    while (*p && *p != '\n') p++;
    return p;
  }
  if (p[0] == '/' && p[1] == '*') {
    const char *e = strstr(p + 2, "*/");
    return e ? e + 2 : p + strlen(p);
  }
  return p;
}

static void s_alias_add(s_lex_t *x, const char *name, const s_tok_t *words, size_t nw, int ptr) {
  if (x->nalias == S_MAXALIAS || nw == 0 || nw > S_MAXWORDS) return;
  s_alias_t *a = &x->alias[x->nalias++];
  snprintf(a->name, sizeof a->name, "%s", name);
  a->nwords = (int)nw;
  a->ptr = ptr;
  for (size_t i = 0; i < nw; i++) snprintf(a->words[i], sizeof a->words[i], "%s", words[i].text);
}

/* Reads the type words and pointer stars of t[0..n) (identifiers and '*' only). Returns
 * the number of words, or -1 if anything else is there. */
static int s_type_words(const s_tok_t *t, size_t n, s_tok_t *words, int *ptr) {
  int nw = 0;
  *ptr = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i].type == S_PUNCT && t[i].text[0] == '*') (*ptr)++;
    else if (t[i].type == S_IDENT && nw < S_MAXWORDS) words[nw++] = t[i];
    else return -1;
  }
  return nw;
}

/* A #define line: `#define NAME type words` becomes an alias when its body is type words. */
static const char *s_directive(s_lex_t *x, const char *p) {
  const char *e = p;
  while (*e && *e != '\n') e += (*e == '\\' && e[1] == '\n') ? 2 : 1;
  const char *q = p + 1;
  while (q < e && (*q == ' ' || *q == '\t')) q++;
  if (e - q > 7 && strncmp(q, "define", 6) == 0 && isspace((unsigned char)q[6])) {
    s_lex_t sub = {0};
    char *body = strndup(q + 6, (size_t)(e - q - 6));
    for (char *c = body; c && *c; c++)
      if (*c == '\\' || *c == '\n') *c = ' ';
    for (const char *c = body; c && *c;) { /* a tiny tokenizer: words and stars only */
      if (isspace((unsigned char)*c)) c++;
      else if (s_identch(*c)) {
        const char *s = c;
        while (s_identch(*c)) c++;
        if (s_push(&sub, S_IDENT, s, (size_t)(c - s))) break;
      } else if (s_push(&sub, S_PUNCT, c++, 1)) break;
    }
    s_tok_t words[S_MAXWORDS];
    int ptr, nw = sub.n >= 2 && sub.t[0].type == S_IDENT ? s_type_words(sub.t + 1, sub.n - 1, words, &ptr) : -1;
    if (nw > 0) s_alias_add(x, sub.t[0].text, words, (size_t)nw, ptr);
    free(sub.t);
    free(body);
  }
  return e;
}

/* Tokenizes src into x (comments and directives dropped, string contents dropped except
 * "C"). Returns 0, or -1 out of memory. */
static int s_lex(s_lex_t *x, const char *src) {
  bool line_start = true;
  for (const char *p = src; *p;) {
    const char *c = s_skip_comment(p);
    if (c != p) {
      p = c;
      continue;
    }
    char ch = *p;
    if (ch == '\n') line_start = true, p++;
    else if (isspace((unsigned char)ch)) p++;
    else if (ch == '#' && line_start) p = s_directive(x, p);
    else if (ch == '"' || ch == '\'') {
      const char *e = s_skip_literal(p);
      bool is_c = ch == '"' && e - p == 3 && p[1] == 'C';
      if (s_push(x, S_STR, is_c ? "\"C\"" : "\"\"", is_c ? 3 : 2)) return -1;
      p = e, line_start = false;
    } else if (s_identch(ch)) {
      const char *s = p;
      while (s_identch(*p) || (isdigit((unsigned char)*s) && *p == '.')) p++;
      if (s_push(x, isdigit((unsigned char)*s) ? S_NUM : S_IDENT, s, (size_t)(p - s))) return -1;
      line_start = false;
    } else {
      if (s_push(x, S_PUNCT, p++, 1)) return -1;
      line_start = false;
    }
  }
  return 0;
}

static bool s_is(const s_tok_t *t, const char *text) { return strcmp(t->text, text) == 0; }
static bool s_punct(const s_tok_t *t, char c) { return t->type == S_PUNCT && t->text[0] == c; }

/* typedef T NAME; and using NAME = T; at any depth become aliases. */
static void s_find_aliases(s_lex_t *x) {
  for (size_t i = 0; i < x->n; i++) {
    if (x->t[i].type != S_IDENT) continue;
    bool td = s_is(&x->t[i], "typedef"), us = s_is(&x->t[i], "using");
    if (!td && !us) continue;
    size_t e = i + 1;
    while (e < x->n && !s_punct(&x->t[e], ';') && e - i < 16) e++;
    if (e >= x->n || !s_punct(&x->t[e], ';')) continue;
    s_tok_t words[S_MAXWORDS];
    int ptr, nw;
    if (td && e - i >= 3 && x->t[e - 1].type == S_IDENT) {
      nw = s_type_words(x->t + i + 1, e - i - 2, words, &ptr);
      if (nw > 0) s_alias_add(x, x->t[e - 1].text, words, (size_t)nw, ptr);
    } else if (us && e - i >= 4 && x->t[i + 1].type == S_IDENT && s_punct(&x->t[i + 2], '=')) {
      nw = s_type_words(x->t + i + 3, e - i - 3, words, &ptr);
      if (nw > 0) s_alias_add(x, x->t[i + 1].text, words, (size_t)nw, ptr);
    }
  }
}

/* ---- types ---- */

static const struct {
  const char *name;
  rl_sig_kind_t kind;
} s_named[] = {
    {"int8_t", RL_SIG_I8},     {"uint8_t", RL_SIG_U8},     {"int16_t", RL_SIG_I16},   {"uint16_t", RL_SIG_U16},
    {"int32_t", RL_SIG_I32},   {"uint32_t", RL_SIG_U32},   {"int64_t", RL_SIG_I64},   {"uint64_t", RL_SIG_U64},
    {"size_t", RL_SIG_U64},    {"ssize_t", RL_SIG_I64},    {"ptrdiff_t", RL_SIG_I64}, {"intptr_t", RL_SIG_I64},
    {"uintptr_t", RL_SIG_U64}, {"float", RL_SIG_F32},      {"double", RL_SIG_F64},    {"bool", RL_SIG_BOOL},
    {"void", RL_SIG_VOID},     {"uchar", RL_SIG_U8},       {"uint", RL_SIG_U32},      {"ushort", RL_SIG_U16},
    {"ulong", RL_SIG_U64},     {"longlong", RL_SIG_I64},   {"ulonglong", RL_SIG_U64},
};

static bool s_builtin_word(const char *w) {
  static const char *const kw[] = {"signed", "unsigned", "char", "short", "int", "long", NULL};
  for (int i = 0; kw[i]; i++)
    if (strcmp(w, kw[i]) == 0) return true;
  for (size_t i = 0; i < sizeof s_named / sizeof s_named[0]; i++)
    if (strcmp(w, s_named[i].name) == 0) return true;
  return false;
}

static const s_alias_t *s_alias_find(const s_lex_t *x, const char *w) {
  for (int i = x->nalias - 1; i >= 0; i--)
    if (strcmp(x->alias[i].name, w) == 0) return &x->alias[i];
  return NULL;
}

/* Words that qualify a parameter but do not change how it is passed. */
static bool s_ignorable(const char *w) {
  static const char *const q[] = {"volatile",         "__restrict__", "__restrict", "restrict", "register",
                                  "__grid_constant__", "std",          "__device__", NULL};
  for (int i = 0; q[i]; i++)
    if (strcmp(w, q[i]) == 0) return true;
  return false;
}

typedef struct {
  int sign, unsig, chr, shrt, intw, lng, other;
  rl_sig_kind_t named;
  int expanded; /* words visited, aliases' included */
} s_words_t;

/* Adds word w (an alias expands to its words; depth bounds alias chains, and
 * S_MAXEXPAND the words visited: aliases of several aliases each would otherwise take
 * 8^8 steps; a type that needs more is one rayl does not pass). */
static void s_word(const s_lex_t *x, const char *w, s_words_t *c, int *ptr, int depth) {
  if (++c->expanded > S_MAXEXPAND) {
    c->other++;
    return;
  }
  const s_alias_t *a = depth < 8 && !s_builtin_word(w) ? s_alias_find(x, w) : NULL;
  if (a) {
    *ptr += a->ptr;
    for (int i = 0; i < a->nwords; i++) s_word(x, a->words[i], c, ptr, depth + 1);
    return;
  }
  if (strcmp(w, "signed") == 0) c->sign++;
  else if (strcmp(w, "unsigned") == 0) c->unsig++;
  else if (strcmp(w, "char") == 0) c->chr++;
  else if (strcmp(w, "short") == 0) c->shrt++;
  else if (strcmp(w, "int") == 0) c->intw++;
  else if (strcmp(w, "long") == 0) c->lng++;
  else if (strcmp(w, "const") == 0 || s_ignorable(w)) return;
  else {
    for (size_t i = 0; i < sizeof s_named / sizeof s_named[0]; i++)
      if (strcmp(w, s_named[i].name) == 0) {
        if (c->named) c->other++;
        c->named = s_named[i].kind;
        return;
      }
    c->other++;
  }
}

static rl_sig_kind_t s_kind(const s_words_t *c) {
  int basic = c->sign + c->unsig + c->chr + c->shrt + c->intw + c->lng;
  if (c->other || (c->sign && c->unsig) || c->intw > 1 || c->chr > 1 || c->shrt > 1 || c->lng > 2) return RL_SIG_UNKNOWN;
  if (c->named) return basic ? RL_SIG_UNKNOWN : c->named;
  if (!basic) return RL_SIG_UNKNOWN;
  if (c->chr) return c->shrt || c->lng || c->intw ? RL_SIG_UNKNOWN : c->unsig ? RL_SIG_U8 : RL_SIG_I8;
  if (c->shrt) return c->lng ? RL_SIG_UNKNOWN : c->unsig ? RL_SIG_U16 : RL_SIG_I16;
  if (c->lng) return c->unsig ? RL_SIG_U64 : RL_SIG_I64; /* long is 64-bit on Linux, host and device */
  return c->unsig ? RL_SIG_U32 : RL_SIG_I32;
}

/* ---- parameters ---- */

static void s_append(char *dst, size_t cap, const char *s) {
  size_t n = strlen(dst);
  if (n + 1 < cap) snprintf(dst + n, cap - n, "%s", s);
}

/* Reads one parameter from t[0..n). */
static void s_param(const s_lex_t *x, const s_tok_t *t, size_t n, rl_sig_param_t *p) {
  memset(p, 0, sizeof *p);
  size_t end = 0;
  while (end < n && !s_punct(&t[end], '=')) end++; /* a default value is not part of the type */
  int ptr = 0, nwords = 0, ref = 0, arrays = 0, ptr_at_const = -1, depth = 0;
  const char *wordv[24];
  for (size_t i = 0; i < end; i++) {
    const s_tok_t *k = &t[i];
    if (s_punct(k, '[')) arrays++, depth++;
    else if (s_punct(k, ']') || s_punct(k, ')') || s_punct(k, '>')) depth--;
    else if (s_punct(k, '(') || s_punct(k, '<')) depth++, ref = 1; /* function pointers, templates */
    else if (depth > 0) continue;
    else if (s_punct(k, '*')) ptr++;
    else if (s_punct(k, '&')) ref = 1;
    else if (s_punct(k, ':')) continue;
    else if (k->type != S_IDENT) ref = 1;
    else if (s_is(k, "const")) {
      if (ptr_at_const < 0) ptr_at_const = ptr;
    } else if (s_is(k, "struct") || s_is(k, "class") || s_is(k, "enum") || s_is(k, "union")) ref = 1;
    else if (!s_ignorable(k->text) && nwords < 24) wordv[nwords++] = k->text;
  }
  /* The last word names the parameter when it is not itself a type word. */
  if (nwords >= 2 && !s_builtin_word(wordv[nwords - 1]) && !s_alias_find(x, wordv[nwords - 1])) {
    snprintf(p->name, sizeof p->name, "%s", wordv[nwords - 1]);
    nwords--;
  }
  s_words_t c = {0};
  int aptr = 0;
  for (int i = 0; i < nwords; i++) s_word(x, wordv[i], &c, &aptr, 0);
  rl_sig_kind_t base = s_kind(&c);
  int levels = ptr + aptr + arrays;
  bool cst = ptr_at_const >= 0 && ptr_at_const == 0;
  if (cst) s_append(p->type, sizeof p->type, "const ");
  for (int i = 0; i < nwords; i++) {
    if (i) s_append(p->type, sizeof p->type, " ");
    s_append(p->type, sizeof p->type, wordv[i]);
  }
  if (ptr + arrays) s_append(p->type, sizeof p->type, " ");
  for (int i = 0; i < ptr + arrays; i++) s_append(p->type, sizeof p->type, "*");
  if (ref || nwords == 0) {
    p->kind = RL_SIG_UNKNOWN;
  } else if (levels > 0) {
    p->kind = RL_SIG_PTR;
    p->pointee = levels == 1 ? base : RL_SIG_UNKNOWN;
    p->is_const = cst && levels == 1;
  } else {
    p->kind = base == RL_SIG_VOID ? RL_SIG_UNKNOWN : base;
  }
}

/* Reads the parameters between the parens at t[open] and t[close]. */
static int s_params(const s_lex_t *x, size_t open, size_t close, rl_sig_t *out, char *err, size_t errlen) {
  out->nparams = 0;
  if (close == open + 2 && s_is(&x->t[open + 1], "void")) return 0;
  size_t start = open + 1;
  int depth = 0;
  for (size_t i = open + 1; i <= close; i++) {
    const s_tok_t *k = &x->t[i];
    if (s_punct(k, '(') || s_punct(k, '<') || s_punct(k, '[') || s_punct(k, '{')) depth++;
    else if ((s_punct(k, ')') || s_punct(k, '>') || s_punct(k, ']') || s_punct(k, '}')) && i < close) depth--;
    if (!(i == close || (depth == 0 && s_punct(k, ',')))) continue;
    if (i == start && i == close) break; /* () */
    if (out->nparams == RL_SIG_MAXPARAMS) {
      snprintf(err, errlen, "more than %d parameters", RL_SIG_MAXPARAMS);
      return -1;
    }
    s_param(x, x->t + start, i - start, &out->params[out->nparams++]);
    start = i + 1;
  }
  return 0;
}

/* The index of the paren closing the one at t[open], or 0 if none. */
static size_t s_match(const s_lex_t *x, size_t open) {
  int depth = 0;
  for (size_t i = open; i < x->n; i++) {
    if (s_punct(&x->t[i], '(')) depth++;
    else if (s_punct(&x->t[i], ')') && --depth == 0) return i;
  }
  return 0;
}

/* Whether the declaration ending at t[i] (the name) is __global__ and extern "C". Walks
 * back to the previous ';', '{' or '}', over balanced parens (__launch_bounds__(...)). */
static bool s_is_global(const s_lex_t *x, size_t i, bool *extern_c) {
  bool global = false;
  *extern_c = false;
  int depth = 0;
  while (i-- > 0) {
    const s_tok_t *k = &x->t[i];
    if (s_punct(k, ')')) depth++;
    else if (s_punct(k, '(')) depth--;
    else if (depth == 0 && (s_punct(k, ';') || s_punct(k, '{') || s_punct(k, '}'))) break;
    else if (depth == 0 && s_is(k, "__global__")) global = true;
    else if (depth == 0 && k->type == S_STR && s_is(k, "\"C\"") && i > 0 && s_is(&x->t[i - 1], "extern"))
      *extern_c = true;
  }
  return global;
}

/* Whether t[i] lies in an extern "C" { ... } block. */
static bool s_in_extern_c_block(const s_lex_t *x, size_t i) {
  uint64_t flags = 0; /* one bit per open brace (the innermost 64) */
  int depth = 0;
  for (size_t j = 0; j < i; j++) {
    if (s_punct(&x->t[j], '{')) {
      bool ec = j >= 2 && s_is(&x->t[j - 1], "\"C\"") && s_is(&x->t[j - 2], "extern");
      if (depth < 64) flags = ec ? flags | (1ull << depth) : flags & ~(1ull << depth);
      depth++;
    } else if (s_punct(&x->t[j], '}') && depth > 0) {
      depth--;
    }
  }
  uint64_t mask = depth >= 64 ? ~0ull : (1ull << depth) - 1;
  return (flags & mask) != 0;
}

int rl_sig_parse(const char *source, const char *name, rl_sig_t *out, char *err, size_t errlen) {
  s_lex_t x = {0};
  int rc = -1;
  x.alias = calloc(S_MAXALIAS, sizeof *x.alias);
  if (!x.alias || s_lex(&x, source) != 0) {
    snprintf(err, errlen, "out of memory reading the source");
    goto done;
  }
  s_find_aliases(&x);
  for (size_t i = 0; i + 1 < x.n; i++) {
    if (x.t[i].type != S_IDENT || !s_is(&x.t[i], name) || !s_punct(&x.t[i + 1], '(')) continue;
    bool ec;
    if (!s_is_global(&x, i, &ec)) continue;
    size_t close = s_match(&x, i + 1);
    if (!close) {
      snprintf(err, errlen, "the parameter list of '%s' is not closed", name);
      goto done;
    }
    out->extern_c = ec || s_in_extern_c_block(&x, i);
    rc = s_params(&x, i + 1, close, out, err, errlen);
    goto done;
  }
  snprintf(err, errlen, "no '__global__ void %s(...)' in the source", name);
done:
  free(x.t);
  free(x.alias);
  return rc;
}

size_t rl_sig_kind_size(rl_sig_kind_t k) {
  switch (k) {
  case RL_SIG_BOOL:
  case RL_SIG_I8:
  case RL_SIG_U8: return 1;
  case RL_SIG_I16:
  case RL_SIG_U16: return 2;
  case RL_SIG_I32:
  case RL_SIG_U32:
  case RL_SIG_F32: return 4;
  case RL_SIG_I64:
  case RL_SIG_U64:
  case RL_SIG_F64:
  case RL_SIG_PTR: return 8;
  default: return 0;
  }
}

const char *rl_sig_kind_name(rl_sig_kind_t k) {
  static const char *const names[] = {
      [RL_SIG_UNKNOWN] = "an unsupported type", [RL_SIG_BOOL] = "bool",
      [RL_SIG_I8] = "signed char",              [RL_SIG_U8] = "unsigned char",
      [RL_SIG_I16] = "short",                   [RL_SIG_U16] = "unsigned short",
      [RL_SIG_I32] = "int",                     [RL_SIG_U32] = "unsigned int",
      [RL_SIG_I64] = "long long",               [RL_SIG_U64] = "unsigned long long",
      [RL_SIG_F32] = "float",                   [RL_SIG_F64] = "double",
      [RL_SIG_VOID] = "void",                   [RL_SIG_PTR] = "a pointer",
  };
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "an unsupported type";
}
