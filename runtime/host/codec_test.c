/* codec_test.c: codec.c's selftest, built into rl_selftest only (not librayl). */
#include "host/codec.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

#include "common/log.h"

static int s_fails;
#define S_CHECK(c) RL_CHECK_COUNT(c, s_fails)

lua_State *rl_codec_test_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  rl_codec_open(L);
  lua_setglobal(L, "rayl");
  return L;
}

/* Runs src (chunk "@x.lua") in L and leaves its one result on top; -1 on error. */
int rl_codec_test_run(lua_State *L, const char *src) {
  if (luaL_loadbuffer(L, src, strlen(src), "@x.lua") || rl_lua_pcall(L, 0, 1)) {
    rl_log(RL_LOG_ERROR, "codec selftest: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  return 0;
}

/* Hooks for ObjectRefs: ref_out counts, ref_in makes a new ObjectRef userdata. */
static void s_ref_out(void *ctx, const rl_id_t *id, const char *owner) {
  (void)id;
  (void)owner;
  (*(int *)ctx)++;
}

static int s_ref_in(lua_State *L, void *ctx, const rl_id_t *id, const char *owner) {
  (void)ctx;
  rl_objref_t *r = lua_newuserdata(L, sizeof *r);
  r->id = *id;
  rl_str_copy(r->owner, sizeof r->owner, owner);
  luaL_newmetatable(L, RL_OBJREF_MT);
  lua_setmetatable(L, -2);
  return 0;
}

/* Encodes A's top value (popped), decodes it into B as global v (through a keeper
 * userdata if keeper), and runs check in B, which must return true. */
static void s_rt_top(lua_State *A, lua_State *B, const char *check, int keeper, const rl_codec_hooks_t *hk) {
  char err[256];
  rl_encoded_t *e = rl_codec_encode(A, -1, "argument 1", hk, err, sizeof err);
  lua_pop(A, 1);
  if (!e) rl_log(RL_LOG_ERROR, "codec selftest: %s (for %s)", err, check);
  S_CHECK(e != NULL);
  if (!e) return;
  size_t n = rl_encoded_size(e);
  int top = lua_gettop(B);
  unsigned char *buf = lua_newuserdata(B, n + 64);
  buf = (unsigned char *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
  rl_encoded_copy(e, buf);
  rl_encoded_destroy(&e);
  S_CHECK(e == NULL);
  if (rl_codec_decode(B, buf, n, keeper ? -1 : 0, hk) != 0) {
    rl_log(RL_LOG_ERROR, "codec selftest: %s (for %s)", lua_tostring(B, -1), check);
    s_fails++;
    lua_settop(B, top);
    return;
  }
  lua_setglobal(B, "v");
  lua_settop(B, top);
  lua_gc(B, LUA_GCCOLLECT, 0); /* views must keep the keeper alive by themselves */
  lua_pushlightuserdata(B, buf);
  lua_setglobal(B, "kbuf");
  lua_pushnumber(B, (lua_Number)n);
  lua_setglobal(B, "klen");
  if (rl_codec_test_run(B, check) != 0 || !lua_toboolean(B, -1)) {
    rl_log(RL_LOG_ERROR, "codec selftest: check failed: %s", check);
    s_fails++;
  }
  lua_settop(B, top);
}

static void s_rt(lua_State *A, lua_State *B, const char *make, const char *check, int keeper) {
  if (rl_codec_test_run(A, make) != 0) {
    s_fails++;
    return;
  }
  s_rt_top(A, B, check, keeper, NULL);
}

/* Encodes A's top (popped) into a malloc'd buffer (*n bytes); NULL on failure. */
unsigned char *rl_codec_test_encode(lua_State *A, size_t *n) {
  char err[256];
  rl_encoded_t *e = rl_codec_encode(A, -1, "x", NULL, err, sizeof err);
  lua_pop(A, 1);
  if (!e) return NULL;
  *n = rl_encoded_size(e);
  unsigned char *b = malloc(*n);
  if (b) rl_encoded_copy(e, b);
  rl_encoded_destroy(&e);
  return b;
}

/* Tensors (faked: FFI structs a test describer describes) through the codec. */
static void s_tensor_tests(lua_State *A, lua_State *B) {
  /* As rayl.torch describes them, faked here with FFI structs): a header, their
   * elements as an array (copied when the describer made a temporary copy), identity kept;
   * the receiver's decoder makes the tensor. */
  S_CHECK(rl_codec_test_run(A, "local ffi = require 'ffi' ffi.cdef 'typedef struct { int k; } fake_tensor;'"
                               " keep = {} debug.getregistry()['" RL_CDATA_DESCRIBER "'] = function(t)"
                               "   local k = keep[t.k] if k.fail then error(k.fail, 0) end local a = k.tmp or k.a"
                               "   return 'tensor', k.dtype, k.shape, tonumber(ffi.cast('uintptr_t', a:ptr())),"
                               "     a:bytes(), k.flags, k.tmp end"
                               " function fake(k, a, dtype, shape, flags, tmp) keep[k] = {a = a, dtype = dtype,"
                               "   shape = shape, flags = flags, tmp = tmp} return ffi.new('fake_tensor', k) end"
                               " return true") == 0);
  lua_pop(A, 1);
  S_CHECK(rl_codec_test_run(B, "debug.getregistry()['" RL_TENSOR_DECODER "'] = function(a, dtype, shape, flags)"
                               " return {a = a, dtype = dtype, shape = shape, flags = flags} end return true") == 0);
  lua_pop(B, 1);
  s_rt(A, B, "local t = fake(1, rayl.array('float32', {1, 2, 3, 4, 5, 6}), 1, {2, 3}, 1) return {t, t, 5}",
       "local t = v[1] return v[2] == t and v[3] == 5 and t.dtype == 1 and #t.shape == 2 and t.shape[1] == 2"
       " and t.shape[2] == 3 and t.flags == 1 and t.a.dtype == 'float32' and #t.a == 6 and t.a[6] == 6", 0);
  s_rt(A, B, "local a = rayl.array('float64', 20000) a[20000] = 7 return fake(2, a, 2, {100, 200}, 0)",
       "local p = tonumber(tostring(v.a:ptr()):match('0x%x+')) local k = tonumber(tostring(kbuf):match('0x%x+'))"
       " return v.a[20000] == 7 and p >= k and p < k + klen and v.shape[2] == 200 and v.flags == 0", 1);
  s_rt(A, B, "local a = rayl.array('float32', 30000) a[1] = 3 return fake(3, a, 1, {30000}, 0, a:copy())",
       "return v.a[1] == 3 and #v.a == 30000", 0);
  s_rt(A, B, "return fake(4, rayl.array('uint8', {1, 0}), 6, {2}, 0)",
       "return v.dtype == 6 and v.a.dtype == 'uint8' and v.a[1] == 1 and v.a[2] == 0", 0);
  s_rt(A, B, "return fake(5, rayl.array('float32', 0), 1, {0, 4}, 0)", "return #v.a == 0 and v.shape[2] == 4", 0);
  S_CHECK(rl_codec_test_run(A, "return fake(6, rayl.array('float32', 3), 1, {2, 2}, 0)") == 0);
  char err0[256];
  rl_encoded_t *e0 = rl_codec_encode(A, -1, "argument 1", NULL, err0, sizeof err0);
  S_CHECK(!e0 && strstr(err0, "tensor whose size does not match its shape"));
  lua_pop(A, 1);
  S_CHECK(rl_codec_test_run(A, "local t = fake(8, rayl.array('float32', 1), 1, {1}, 0) keep[8].fail = 'no such dtype'"
                               " return {t}") == 0);
  e0 = rl_codec_encode(A, -1, "argument 1", NULL, err0, sizeof err0);
  S_CHECK(!e0 && !strcmp(err0, "cannot serialize argument 1[1]: cdata: no such dtype"));
  lua_pop(A, 1);
  S_CHECK(rl_codec_test_run(A, "return fake(7, rayl.array('float32', 1), 1, {}, 0)") == 0);
  size_t n = 0;
  unsigned char *tb = rl_codec_test_encode(A, &n);
  lua_State *C0 = rl_codec_test_state();
  S_CHECK(tb && tb[0] == 0xc7 && tb[1] == 3 && tb[2] == RL_EXT_TENSOR && tb[5] == 0);
  if (tb) {
    S_CHECK(rl_codec_decode(C0, tb, n, 0, NULL) == -1 && strstr(lua_tostring(C0, -1), "rayl.torch is not set up"));
    lua_settop(C0, 0);
    tb[6] = 0xc0; /* the elements replaced by nil */
    S_CHECK(rl_codec_decode(B, tb, n, 0, NULL) == -1 && strstr(lua_tostring(B, -1), "tensor without its elements"));
    lua_settop(B, 0);
  }
  free(tb);
  lua_close(C0);
}

int rl_codec_selftest(void) {
  s_fails = 0;
  lua_State *A = rl_codec_test_state(), *B = rl_codec_test_state();
  /* Numbers: integral values as ints, the rest as float64, all come back exactly. */
  static const char *const nums[][2] = {
      {"0", "v == 0 and 1/v > 0"}, {"-1", "v == -1"}, {"2^53", "v == 2^53"}, {"1.5", "v == 1.5"},
      {"1e308", "v == 1e308"}, {"0/0", "v ~= v"}, {"1/0", "v == math.huge"}, {"-1/0", "v == -math.huge"},
      {"-0.0", "v == 0 and 1/v < 0"}, {"2^63", "v == 2^63"}, {"-2^63", "v == -2^63"},
      {"2^64 + 2^12", "v == 2^64 + 2^12"}, {"-2^53 - 2", "v == -2^53 - 2"}, {"0.1", "v == 0.1"}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    char make[64], check[96];
    snprintf(make, sizeof make, "return %s", nums[i][0]);
    snprintf(check, sizeof check, "return type(v) == 'number' and %s", nums[i][1]);
    s_rt(A, B, make, check, 0);
  }
  size_t n = 0;
  unsigned char *b;
  lua_pushnumber(A, 1);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n == 1 && b[0] == 1);
  free(b);
  lua_pushnumber(A, 1.5);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b && n == 9 && b[0] == 0xcb);
  free(b);
  /* Strings, nested tables, shared sub-tables, cycles. */
  s_rt(A, B, "return 'a\\0b\\0'", "return v == 'a\\0b\\0' and #v == 4", 0);
  s_rt(A, B, "return string.rep('xy', 100000)", "return #v == 200000 and v:sub(1, 4) == 'xyxy'", 0);
  s_rt(A, B, "return {}", "return type(v) == 'table' and next(v) == nil", 0);
  s_rt(A, B, "return {1, 2, {a = {b = {c = 'd'}}}, x = true, [1.5] = 'f', [false] = 0, [-3] = 'n'}",
       "return v[1] == 1 and v[2] == 2 and v[3].a.b.c == 'd' and v.x == true and v[1.5] == 'f'"
       " and v[false] == 0 and v[-3] == 'n'", 0);
  s_rt(A, B, "return {1, nil, 3}", "return v[1] == 1 and v[2] == nil and v[3] == 3", 0);
  s_rt(A, B, "local s = {1} return {a = s, b = s, c = {s}}",
       "return v.a == v.b and v.c[1] == v.a and v.a[1] == 1", 0);
  s_rt(A, B, "local t = {} t.self = t t[t] = 'k' return t", "return v.self == v and v[v] == 'k'", 0);
  /* Closures, recursion, shared upvalues, modules by name, globals rebound. */
  s_rt(A, B, "local a, b = 10, {x = 2} return function(y) return a + b.x + y end", "return v(3) == 15", 0);
  s_rt(A, B, "local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end return fact",
       "return v(5) == 120", 0);
  s_rt(A, B, "local n = 0 local function inc() n = n + 1 end local function get() return n end"
             " return {inc = inc, get = get}",
       "v.inc() v.inc() return v.get() == 2", 0);
  s_rt(A, B, "local n, f, g = 5 function f() n = n + 1 return g end function g() return n, f end return f",
       "local g = v() local n, f = g() return n == 6 and f == v and select(1, v()()) == 7", 0);
  s_rt(A, B, "local floor, s = math.floor, string return function(x) return floor(x) .. s.rep('a', 2) end",
       "return v(2.5) == '2aa' and select(2, debug.getupvalue(v, 1)) == math.floor"
       " and select(2, debug.getupvalue(v, 2)) == string", 0);
  s_rt(A, B, "return {m = math, g = _G, f = string.format, p = print}",
       "return v.m == math and v.g == _G and v.f == string.format and v.p == print", 0);
  s_rt(A, B, "function gf(x) return x * 2 end return gf", "return gf == nil and v(2) == 4", 0);
  s_rt(A, B, "return function() return math.max(1, seen_global or 2) end",
       "seen_global = 7 return v() == 7 and getfenv(v) == _G", 0);
  s_rt(A, B, "return function() error('boom') end",
       "local ok, e = pcall(v) return not ok and e:find('x.lua:1: boom', 1, true) ~= nil", 0);
  /* Arrays: copies, views into the keeper, identity, alignment. */
  s_rt(A, B, "local a = rayl.array('float64', {1.5, 2.5, 3.5}) return {a, a, 'x'}",
       "v[1][1] = 9 return v[1] == v[2] and v[1][1] == 9 and v[1][2] == 2.5 and #v[1] == 3", 0);
  s_rt(A, B, "local a = rayl.array('int32', 100000) for i = 1, #a do a[i] = i end"
             " return {pad = 'abc', a = a, b = rayl.array('uint8', {7}), c = rayl.array('float32', {0.5})}",
       "local ok, e = pcall(function() v.a[1] = 0 end)"
       " local p = tonumber(tostring(v.a:ptr()):match('0x%x+')) local k = tonumber(tostring(kbuf):match('0x%x+'))"
       " return v.a[100000] == 100000 and not ok and e:find('read%-only view') and v.a:copy()[5] == 5"
       " and p >= k and p + v.a:bytes() <= k + klen and (p - k) % 16 == 0 and v.b[1] == 7 and v.c[1] == 0.5", 1);
  s_tensor_tests(A, B);
  /* Registered classes, module metatables. */
  const char *cls = "local P = {} P.__index = P function P.sum(self) return self.x + self.y end"
                    " package.loaded.modmt = {__index = {hi = function() return 'hi' end}} return P";
  lua_State *C = rl_codec_test_state();
  S_CHECK(rl_codec_test_run(A, cls) == 0 && rl_codec_test_run(B, cls) == 0 && rl_codec_test_run(C, cls) == 0);
  rl_codec_register_class(A, "Point", -1);
  rl_codec_register_class(B, "Point", -1);
  lua_setglobal(A, "P");
  lua_setglobal(B, "P");
  lua_setglobal(C, "P");
  s_rt(A, B, "return {setmetatable({x = 1, y = 2}, P), setmetatable({}, package.loaded.modmt)}",
       "return getmetatable(v[1]) == P and v[1]:sum() == 3 and v[2].hi() == 'hi'", 0);
  S_CHECK(rl_codec_test_run(A, "return setmetatable({x = 1}, P)") == 0);
  b = rl_codec_test_encode(A, &n);
  S_CHECK(b != NULL);
  S_CHECK(b && rl_codec_decode(C, b, n, 0, NULL) == -1 && strstr(lua_tostring(C, -1), "unknown class 'Point'"));
  lua_settop(C, 0);
  free(b);
  lua_close(C);
  /* ObjectRefs go through the hooks. */
  int outs = 0;
  rl_codec_hooks_t hk = {s_ref_out, s_ref_in, &outs};
  rl_objref_t *r = lua_newuserdata(A, sizeof *r);
  memset(r, 0, sizeof *r);
  r->id.b[0] = 42;
  snprintf(r->owner, sizeof r->owner, "tcp://10.0.0.1:5555");
  luaL_newmetatable(A, RL_OBJREF_MT);
  lua_setmetatable(A, -2);
  lua_setglobal(A, "ref");
  S_CHECK(rl_codec_test_run(A, "return {ref, ref}") == 0);
  s_rt_top(A, B, "return getmetatable(v[1]) == getmetatable(v[2]) and v[1] ~= nil", 0, &hk);
  S_CHECK(outs == 2);
  char err[256];
  S_CHECK(rl_codec_test_run(A, "return {r = ref}") == 0);
  rl_encoded_t *e = rl_codec_encode(A, -1, "argument 1", NULL, err, sizeof err);
  S_CHECK(e == NULL && strcmp(err, "cannot serialize argument 1.r: ObjectRef (not allowed here)") == 0);
  lua_pop(A, 1);
  S_CHECK(lua_gettop(A) == 0 && lua_gettop(B) == 0);
  lua_close(A);
  lua_close(B);
  return s_fails ? 1 : 0;
}
