/* fuzz_codec.c: libFuzzer harness for the Lua value codec's decoder (host/codec_decode.c):
 * arbitrary bytes decoded in a real LuaJIT state, copied and as views into a keeper. */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "host/codec.h"
#include "host/codec_int.h"

#include "seeds.h"

/* host/codec.c's test helpers: a state with rayl.array; a chunk's result; its encoding. */
lua_State *rl_codec_test_state(void);
int rl_codec_test_run(lua_State *L, const char *src);
unsigned char *rl_codec_test_encode(lua_State *A, size_t *n);

static lua_State *s_L;
/* The codec's scratch, malloc'd and held by a Lua userdata: LeakSanitizer does not scan
 * LuaJIT's own heap, so this pointer keeps it (and what it holds) reachable. */
static rl_codec_ctx_t *volatile s_cx;

static void s_close(void) {
  lua_close(s_L);
  s_L = NULL;
  s_cx = NULL;
}

/* ObjectRefs decode to a table {id, owner}: the host's own hook needs a running worker. */
static int s_ref_in(lua_State *L, void *ctx, const rl_id_t *id, const char *owner) {
  (void)ctx;
  lua_createtable(L, 2, 0);
  lua_pushlstring(L, (const char *)id->b, RL_ID_SIZE);
  lua_rawseti(L, -2, 1);
  lua_pushstring(L, owner);
  lua_rawseti(L, -2, 2);
  return 0;
}

static const rl_codec_hooks_t s_hooks = {NULL, s_ref_in, NULL};

/* One decode: the stack grows by exactly one value, and a failure is a message that
 * says what could not be decoded. Anything else is a decoder bug. */
static void s_decode(const uint8_t *data, size_t size, int keeper) {
  int top = lua_gettop(s_L);
  int rc = rl_codec_decode(s_L, data, size, keeper, &s_hooks);
  if (lua_gettop(s_L) != top + 1) abort();
  if (rc != 0) {
    const char *msg = lua_tostring(s_L, -1);
    if (rc != -1 || !msg || strncmp(msg, "cannot decode value: ", 21) != 0) abort();
  }
  lua_settop(s_L, top);
}

/* Values as tasks send them: arguments, results, closures with upvalues, classes. */
static void s_write_seeds(lua_State *L) {
  static const struct {
    const char *name, *src;
  } values[] = {
      {"number", "return 42"},
      {"float", "return 3.25"},
      {"string", "return 'hello, rayl'"},
      {"args", "return {1, 'two', 3.5, true, n = 4}"},
      {"nested", "return {a = {b = {c = {1, 2, 3}}}, list = {'x', 'y'}}"},
      {"shared", "local s = {1, 2} return {s, s, {s}}"},
      {"cycle", "local t = {} t.self = t return t"},
      {"closure", "local k = 3 return function(x) return x * k end"},
      {"upjoin", "local n = 0 local function a() n = n + 1 end local function b() return n end return {a, b}"},
      {"array", "return rayl.array('float64', {1.5, 2.5, 3.5})"},
      {"int_array", "return {rayl.array('int32', {1, 2, 3}), rayl.array('uint8', {255})}"},
      {"module", "return {math.floor, string, os.time}"},
      {"class", "return setmetatable({x = 1, y = 2}, P)"},
      {"big_string", "return string.rep('ab', 5000)"},
      {"keys", "return {[0.5] = -7, [true] = 'yes', [-1] = 1e300}"},
  };
  char path[256];
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    size_t n = 0;
    unsigned char *b = rl_codec_test_run(L, values[i].src) == 0 ? rl_codec_test_encode(L, &n) : NULL;
    if (!b) abort();
    snprintf(path, sizeof path, "%s", values[i].name);
    rl_fuzz_seed(path, b, n);
    free(b);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!s_L) {
    rl_log_open("fuzz", "/dev/null");
    s_L = rl_codec_test_state();
    atexit(s_close);
    /* A module reference loads nothing here (require would search the disk for any name). */
    lua_pushnil(s_L);
    lua_setglobal(s_L, "require");
    static const char cls[] = "P = {} return P";
    if (luaL_loadstring(s_L, cls) || lua_pcall(s_L, 0, 1, 0)) abort();
    rl_codec_register_class(s_L, "Point", -1);
    lua_pop(s_L, 1);
    if (getenv("RL_FUZZ_SEEDS")) s_write_seeds(s_L);
    /* Functions are refused here, at the bytecode version check: LuaJIT's loader trusts
     * bytecode (lua_load of damaged bytecode corrupts memory), so only the cluster's own
     * authenticated processes may send functions, which are code to run anyway. */
    s_cx = rl_codec_ctx(s_L);
    s_cx->bc_version = -1;
  }
  s_decode(data, size, 0);
  /* As the store's objects are decoded: arrays become views into the keeper's bytes. */
  void *keep = lua_newuserdata(s_L, size ? size : 1);
  memcpy(keep, data, size);
  s_decode(keep, size, lua_gettop(s_L));
  lua_settop(s_L, 0);
  return 0;
}
