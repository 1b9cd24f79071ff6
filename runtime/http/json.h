/* json.h: a JSON text builder (objects, arrays, escaped strings, numbers) into one
 * growing buffer; commas are placed by it. */
#ifndef RL_JSON_H
#define RL_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_JSON_DEPTH 32

typedef struct {
  char *buf; /* NUL-terminated; malloc'd */
  size_t len, cap;
  bool oom;    /* an allocation failed: the text is incomplete */
  int depth;
  bool first[RL_JSON_DEPTH]; /* nothing written yet at this depth */
  char close[RL_JSON_DEPTH]; /* what closes the container open at this depth */
  bool after_key;
} rl_json_t;

/* Starts an empty builder (can't fail; allocations happen on writes). */
void rl_json_init(rl_json_t *j);
/* Frees the buffer. */
void rl_json_free(rl_json_t *j);
/* Hands the text over (the caller frees it); *len its length. NULL if an allocation
 * failed (the builder is freed either way). */
char *rl_json_take(rl_json_t *j, size_t *len);

void rl_json_obj(rl_json_t *j);   /* { */
void rl_json_arr(rl_json_t *j);   /* [ */
void rl_json_end(rl_json_t *j);   /* } or ], whichever is open */
void rl_json_key(rl_json_t *j, const char *key);
void rl_json_str(rl_json_t *j, const char *s);  /* NULL writes null */
void rl_json_strn(rl_json_t *j, const char *s, size_t n);
void rl_json_num(rl_json_t *j, double v);       /* NaN and infinities write null */
void rl_json_int(rl_json_t *j, int64_t v);
void rl_json_bool(rl_json_t *j, bool v);
void rl_json_null(rl_json_t *j);
/* key: value shorthands. */
void rl_json_kstr(rl_json_t *j, const char *key, const char *s);
void rl_json_knum(rl_json_t *j, const char *key, double v);
void rl_json_kint(rl_json_t *j, const char *key, int64_t v);
void rl_json_kbool(rl_json_t *j, const char *key, bool v);

/* Length of the well-formed UTF-8 sequence at s (n >= 1 bytes left): 1 for ASCII, 2 to 4
 * for a multi-byte one (shortest form, no surrogates, at most U+10FFFF, as RFC 3629
 * says), or 0 if there is none there. rl_json_strn keeps exactly these sequences and
 * writes U+FFFD for each other byte. */
size_t rl_json_utf8_len(const unsigned char *s, size_t n);

/* Appends raw bytes (no separator handling): for text formats other than JSON. */
void rl_json_raw(rl_json_t *j, const char *s, size_t n);
/* Appends printf-formatted raw text. */
void rl_json_rawf(rl_json_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
