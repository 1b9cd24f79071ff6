/* fuzz_json.c: libFuzzer harness for JSON from and to users: the CLI's decoder
 * (lua/rayl/json.lua, --runtime-env-json) on arbitrary text in LuaJIT, and the dashboard's
 * builder (http/json.c) on arbitrary strings, whose text must decode back to them. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/json.h"

static lua_State *s_L;
static int s_decode; /* registry ref: function(text) -> ok, value-or-error, error */

/* Whether all n bytes at s are well-formed UTF-8 (the sequences rl_json_strn keeps). */
static bool s_utf8_valid(const unsigned char *s, size_t n) {
  for (size_t i = 0, k; i < n; i += k)
    if (!(k = rl_json_utf8_len(s + i, n - i))) return false;
  return true;
}

/* Closes the state at exit: lua-cjson's buffers live in malloc'd memory held only from
 * LuaJIT's heap, which LeakSanitizer does not scan. */
static void s_close(void) {
  lua_close(s_L);
  s_L = NULL;
}

static void s_setup(void) {
  s_L = luaL_newstate();
  atexit(s_close);
  luaL_openlibs(s_L);
  static const char src[] =
      "package.path = ... .. '/lua/?.lua;' .. package.path\n"
      "local json = require 'rayl.json'\n"
      "return function(text)\n"
      "  local ok, v, err = pcall(json.decode, text)\n"
      "  return ok, v, err\n"
      "end\n";
  if (luaL_loadstring(s_L, src)) abort();
  lua_pushstring(s_L, RL_SOURCE_DIR);
  if (lua_pcall(s_L, 1, 1, 0)) abort();
  s_decode = luaL_ref(s_L, LUA_REGISTRYINDEX);
}

/* Decodes text with json.lua: it returns a value, or nil and a message; it never raises. */
static int s_lua_decode(const char *text, size_t n) {
  lua_rawgeti(s_L, LUA_REGISTRYINDEX, s_decode);
  lua_pushlstring(s_L, text, n);
  if (lua_pcall(s_L, 1, 3, 0)) abort();
  if (!lua_toboolean(s_L, -3)) {
    fprintf(stderr, "json.decode raised: %s\n", lua_tostring(s_L, -2));
    abort();
  }
  if (lua_isnil(s_L, -2) && !lua_isstring(s_L, -1)) abort(); /* nil without a message */
  return lua_gettop(s_L) - 1; /* the value's index */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!s_L) s_setup();
  /* The CLI's input. */
  s_lua_decode((const char *)data, size);
  lua_settop(s_L, 0);
  /* The dashboard's output: {"<data>": ["<data>", <number>]} */
  rl_json_t j;
  rl_json_init(&j);
  rl_json_obj(&j);
  rl_json_key(&j, size ? "k" : "");
  rl_json_arr(&j);
  rl_json_strn(&j, (const char *)data, size);
  double num = 0;
  if (size >= sizeof num) memcpy(&num, data, sizeof num);
  rl_json_num(&j, num);
  rl_json_end(&j);
  rl_json_end(&j);
  size_t len;
  char *text = rl_json_take(&j, &len);
  if (!text) abort();
  if (!s_utf8_valid((const unsigned char *)text, len)) abort(); /* browsers read it as UTF-8 */
  int v = s_lua_decode(text, len);
  if (!lua_istable(s_L, v)) abort(); /* the builder wrote invalid JSON */
  lua_getfield(s_L, v, size ? "k" : "");
  lua_rawgeti(s_L, -1, 1);
  size_t got;
  const char *s = lua_tolstring(s_L, -1, &got);
  if (!s) abort();
  if (s_utf8_valid(data, size) && (got != size || memcmp(s, data, size) != 0)) abort(); /* text kept exactly */
  lua_settop(s_L, 0);
  free(text);
  return 0;
}
