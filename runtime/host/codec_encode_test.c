/* codec_encode_test.c: codec_encode.c's selftest, built into rl_selftest only (not librayl). */
#include "host/codec_encode.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#include "common/log.h"

static int s_fails;
#define S_CHECK(c) RL_CHECK_COUNT(c, s_fails)

/* Encoding the top of A (popped) must fail with exactly `expect`. */
static void s_err_top(lua_State *A, const char *what, const char *expect) {
  char err[256];
  int top = lua_gettop(A);
  rl_encoded_t *e = rl_codec_encode(A, -1, what, NULL, err, sizeof err);
  S_CHECK(lua_gettop(A) == top);
  lua_pop(A, 1);
  S_CHECK(e == NULL);
  rl_encoded_destroy(&e);
  if (strcmp(err, expect) != 0) {
    rl_log(RL_LOG_ERROR, "codec selftest: got '%s', expected '%s'", err, expect);
    s_fails++;
  }
}

static void s_err(lua_State *A, const char *make, const char *what, const char *expect) {
  if (rl_codec_test_run(A, make) == 0) s_err_top(A, what, expect);
  else s_fails++;
}

static int s_dummy(lua_State *L) {
  (void)L;
  return 0;
}

int rl_codec_encode_selftest(void) {
  s_fails = 0;
  lua_State *A = rl_codec_test_state();
  size_t n = 0;
  unsigned char *b;
  lua_pushnumber(A, 1);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n == 1 && b[0] == 1);
  free(b);
  lua_pushnumber(A, -2);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n == 1 && b[0] == 0xfe);
  free(b);
  lua_pushnumber(A, 1.5);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n == 9 && b[0] == 0xcb);
  free(b);
  lua_pushnumber(A, -0.0);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n == 9 && b[0] == 0xcb);
  free(b);
  /* Errors name the path. */
  s_err(A, "local co = coroutine.create(function() end)\nreturn function() return co end", NULL,
        "cannot serialize upvalue 'co' of function at x.lua:2: coroutine");
  s_err(A, "return {conn = io.stdout}", "argument 1", "cannot serialize argument 1.conn: userdata");
  s_err(A, "local sock = io.stdout\nreturn {1, {f = function() return sock end}}", "the value passed to put",
        "cannot serialize the value passed to put[2].f: upvalue 'sock' of function at x.lua:2: userdata");
  s_err(A, "local cfg = {conn = {io.stdout}}\nreturn function() return cfg end", "argument 2",
        "cannot serialize argument 2: upvalue 'cfg.conn[1]' of function at x.lua:2: userdata");
  s_err(A, "return {[coroutine.create(print)] = 1}", "argument 1", "cannot serialize argument 1: a key: coroutine");
  s_err(A, "return {['a b'] = setmetatable({}, {})}", "argument 1",
        "cannot serialize argument 1[\"a b\"]: table with a metatable that is not a registered class");
  lua_newtable(A);
  lua_pushcfunction(A, s_dummy);
  lua_setfield(A, -2, "f");
  s_err_top(A, "argument 1", "cannot serialize argument 1.f: C function (not found in any loaded module)");
  char err[256];
  S_CHECK(rl_codec_test_run(A, "local t = {} local r = t for i = 1, 300 do t.x = {} t = t.x end return r") == 0);
  rl_encoded_t *e = rl_codec_encode(A, -1, "argument 1", NULL, err, sizeof err);
  S_CHECK(e == NULL && strstr(err, "argument 1.x.x.x") && strstr(err, ": value nested too deeply"));
  lua_pop(A, 1);
  S_CHECK(lua_gettop(A) == 0);
  lua_close(A);
  return s_fails ? 1 : 0;
}
