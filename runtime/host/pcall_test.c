/* pcall_test.c: pcall.c's selftest, built into rl_selftest only (not librayl). */
#include "host/pcall.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

static int s_raise_in_c(lua_State *L) {
  int *ran = lua_touserdata(L, 1);
  *ran = 1;
  return luaL_error(L, "raised in C");
}

static int s_collect(lua_State *L) {
  (void)L;
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}

int rl_pcall_selftest(void) {
  lua_State *L = luaL_newstate();
  RL_CHECK_RETURN(L);
  luaL_openlibs(L);
  int fails = 0;
  /* A Lua error: the message and a traceback naming the function, the stack balanced. */
  lua_pushinteger(L, 42); /* something below, to see the stack stays balanced */
  luaL_loadstring(L, "local function inner() error('boom') end inner()");
  int status = rl_lua_pcall(L, 0, 0);
  RL_CHECK_COUNT(status == LUA_ERRRUN, fails);
  const char *msg = lua_tostring(L, -1);
  RL_CHECK_COUNT(msg && strstr(msg, "boom") && strstr(msg, "stack traceback:") && strstr(msg, "inner"), fails);
  lua_pop(L, 1);
  RL_CHECK_COUNT(lua_gettop(L) == 1 && lua_tointeger(L, 1) == 42, fails);
  /* Results pass through. */
  luaL_loadstring(L, "return 1, 2");
  RL_CHECK_COUNT(rl_lua_pcall(L, 0, LUA_MULTRET) == 0 && lua_gettop(L) == 3 && lua_tointeger(L, 3) == 2, fails);
  lua_settop(L, 1);
  /* A table error with __tostring becomes its text plus a traceback; user_facing: text only. */
  luaL_loadstring(L, "error(setmetatable({}, {__tostring = function() return 'TableErr' end}))");
  RL_CHECK_COUNT(rl_lua_pcall(L, 0, 0) == LUA_ERRRUN, fails);
  msg = lua_tostring(L, -1);
  RL_CHECK_COUNT(msg && !strncmp(msg, "TableErr", 8) && strstr(msg, "stack traceback:"), fails);
  lua_pop(L, 1);
  luaL_loadstring(L, "error(setmetatable({user_facing = true}, {__tostring = function() return 'Brief' end}))");
  RL_CHECK_COUNT(rl_lua_pcall(L, 0, 0) == LUA_ERRRUN, fails);
  msg = lua_tostring(L, -1);
  RL_CHECK_COUNT(msg && !strcmp(msg, "Brief"), fails);
  lua_pop(L, 1);
  /* A table without __tostring passes through unchanged. */
  luaL_loadstring(L, "error({code = 7})");
  RL_CHECK_COUNT(rl_lua_pcall(L, 0, 0) == LUA_ERRRUN && lua_istable(L, -1), fails);
  RL_CHECK_COUNT(!strcmp(rl_lua_errtext(L), "(error object is a table without __tostring)"), fails);
  lua_pop(L, 1);
  /* A C function under rl_lua_cpcall: its error is caught and carries a traceback. */
  int ran = 0;
  RL_CHECK_COUNT(rl_lua_cpcall(L, s_raise_in_c, &ran) == LUA_ERRRUN && ran, fails);
  msg = lua_tostring(L, -1);
  RL_CHECK_COUNT(msg && strstr(msg, "raised in C") && strstr(msg, "stack traceback:"), fails);
  lua_pop(L, 1);
  /* An error in a __gc finalizer during a collection (unprotected, LuaJIT panics and
   * aborts the process) comes back as an error. */
  RL_CHECK_COUNT(luaL_dostring(L, "local p = newproxy(true) getmetatable(p).__gc = function() error('boom in __gc') end"
                                  " p = nil") == 0,
                 fails);
  RL_CHECK_COUNT(rl_lua_cpcall(L, s_collect, NULL) == LUA_ERRRUN, fails);
  msg = lua_tostring(L, -1);
  RL_CHECK_COUNT(msg && strstr(msg, "boom in __gc"), fails);
  lua_pop(L, 1);
  RL_CHECK_COUNT(lua_gettop(L) == 1, fails);
  lua_close(L);
  return fails ? 1 : 0;
}
