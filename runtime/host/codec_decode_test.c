/* codec_decode_test.c: codec_decode.c's selftest, built into rl_selftest only (not librayl). */
#include "host/codec_decode.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#include "common/log.h"

static int s_fails;
#define S_CHECK(c) RL_CHECK_COUNT(c, s_fails)

/* Decoding data into B must fail with a message containing `expect`. */
static void s_bad(lua_State *B, const void *data, size_t n, const char *expect) {
  int top = lua_gettop(B);
  int rc = rl_codec_decode(B, data, n, 0, NULL);
  S_CHECK(rc == -1 && lua_gettop(B) == top + 1);
  const char *msg = lua_tostring(B, -1);
  if (rc != -1 || !msg || !strstr(msg, expect)) {
    rl_log(RL_LOG_ERROR, "codec selftest: decode gave '%s', expected '%s'", rc ? msg : "success", expect);
    s_fails++;
  }
  lua_settop(B, top);
}

/* Every prefix of the encoding of make must fail to decode (cleanly); with mutate, also
 * decodes copies with random bytes changed (the result does not matter, only safety). */
static void s_prefixes(lua_State *A, lua_State *B, const char *make, int mutate) {
  size_t n = 0;
  unsigned char *b = rl_codec_test_run(A, make) == 0 ? rl_codec_test_encode(A, &n) : NULL;
  S_CHECK(b != NULL);
  if (!b) return;
  int top = lua_gettop(B);
  for (size_t i = 0; i < n; i++) {
    unsigned char *p = malloc(i + 1); /* exact size, so ASan sees any overread */
    memcpy(p, b, i);
    int rc = rl_codec_decode(B, p, i, 0, NULL);
    S_CHECK(rc == -1 && lua_gettop(B) == top + 1);
    lua_settop(B, top);
    free(p);
  }
  uint32_t seed = 12345;
  for (int round = 0; mutate && round < 3000; round++) {
    unsigned char *p = malloc(n);
    memcpy(p, b, n);
    for (int k = 0; k < 1 + round % 3; k++) {
      seed = seed * 1103515245u + 12345u;
      p[(seed >> 8) % n] = (unsigned char)(seed >> 20);
    }
    int rc = rl_codec_decode(B, p, n, 0, NULL);
    S_CHECK(lua_gettop(B) == top + 1);
    (void)rc;
    lua_settop(B, top);
    free(p);
  }
  free(b);
}

int rl_codec_decode_selftest(void) {
  s_fails = 0;
  lua_State *A = rl_codec_test_state(), *B = rl_codec_test_state();
  size_t n = 0;
  unsigned char *b;
  const char *cls = "P = {} return P";
  S_CHECK(rl_codec_test_run(A, cls) == 0 && rl_codec_test_run(B, cls) == 0);
  rl_codec_register_class(A, "Point", -1);
  rl_codec_register_class(B, "Point", -1);
  lua_pop(A, 1);
  lua_pop(B, 1);
  /* A function from another LuaJIT is refused. */
  S_CHECK(rl_codec_test_run(A, "return function() return 1 end") == 0);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n > 10 && b[0] == 0xc7 && b[1] == RL_FUNC_HDR && b[2] == RL_EXT_FUNC);
  if (b) {
    b[6] ^= 1;
    s_bad(B, b, n, "function was compiled by a different LuaJIT (LuaJIT 2.1.1");
  }
  free(b);
  /* Malformed input fails cleanly. */
  s_bad(B, "\xd6\x01\x00\x00\x00\x05", 6, "bad back-reference");
  s_bad(B, "\xdd\xff\xff\xff\xff", 5, "truncated");
  s_bad(B, "\xdb\xff\xff\xff\xff", 5, "truncated");
  s_bad(B, "\x81\xc0\x01", 3, "table key is nil or NaN");
  s_bad(B, "\x01\x01", 2, "trailing bytes");
  s_bad(B, "\xc1", 1, "bad byte");
  s_bad(B, "", 0, "truncated");
  s_bad(B, "\xd4\x07\x00", 3, "unexpected ext type 7");
  s_bad(B, "\xd6\x08\x00\x00\x00\x00", 6, "ObjectRef not allowed here");
  unsigned char deep[400];
  memset(deep, 0x91, 300);
  deep[300] = 0xc0;
  s_bad(B, deep, 301, "value nested too deeply");
  s_prefixes(A, B, "local s = {1, 'two', 3.5} local function f(x) return s[x] end"
                   " return {s, s, f = f, a = rayl.array('int64', {1, 2}), p = setmetatable({x = 1}, P), m = math}", 0);
  s_prefixes(A, B, "local s = {1, 'two', 3.5, true} return {s, s, {s, {x = s}}, a = rayl.array('int64', {1, 2}),"
                   " p = setmetatable({x = 1}, P), m = math.floor, [0.5] = -7, [s] = 'key'}", 1);
  S_CHECK(lua_gettop(A) == 0 && lua_gettop(B) == 0);
  lua_close(A);
  lua_close(B);
  return s_fails ? 1 : 0;
}
