/* array_test.c: array.c's selftest, built into rl_selftest only (not librayl). */
#include "host/array.c" /* the code under test, with its file-local helpers */

/* ---- selftest ---- */

/* Runs Lua code that must return true; 0 on success. */
static int s_check_lua(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) || rl_lua_pcall(L, 0, 1)) {
    lua_pop(L, 1);
    return 1;
  }
  int ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return ok ? 0 : 1;
}

int rl_array_selftest(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  rl_array_open(L);
  lua_getfield(L, -1, "array");
  lua_setglobal(L, "array");
  lua_pop(L, 1);
  int fails = 0;
  fails += s_check_lua(L, "local a = array('float64', 3) return #a == 3 and a[1] == 0 and a.n == 3"
                          " and a.dtype == 'float64' and tostring(a) == 'rayl.array(float64, 3)'");
  fails += s_check_lua(L, "local a = array('int32', {1, -2, 3}) a[2] = 7 local t = a:totable()"
                          " return t[1] == 1 and t[2] == 7 and t[3] == 3 and a:bytes() == 12");
  fails += s_check_lua(L, "local a = array('uint8', 2) local ok, e = pcall(function() a[3] = 1 end)"
                          " return not ok and e:find('index 3 out of range %(length 2%)') ~= nil");
  fails += s_check_lua(L, "local a = array('uint8', 2) local ok, e = pcall(function() return a[0] end)"
                          " return not ok and e:find('index 0 out of range') ~= nil");
  fails += s_check_lua(L, "local a = array('uint8', 2) return not pcall(function() a[1] = 256 end)"
                          " and not pcall(function() a[1] = 1.5 end) and pcall(function() a[1] = 255 end)");
  fails += s_check_lua(L, "local a = array('float32', {1.5, 2}) local b = a:copy() b[1] = 3"
                          " return a[1] == 1.5 and b[1] == 3 and type(a:ptr()) == 'userdata'");
  fails += s_check_lua(L, "return not pcall(array, 'complex', 3) and not pcall(array, 'int64', -1)"
                          " and not pcall(array, 'int64', {1, 'x'})");
  fails += s_check_lua(L, "local a = array('int64', {2^53}) return a[1] == 2^53");
  /* A view: read-only, copy() writable. */
  static const double vals[4] = {1, 2, 3, 4};
  lua_newtable(L);
  rl_array_push_view(L, RL_DT_FLOAT64, 4, vals, -1);
  lua_setglobal(L, "v");
  lua_pop(L, 1);
  fails += s_check_lua(L, "local ok, e = pcall(function() v[1] = 5 end) local c = v:copy() c[1] = 5"
                          " return v[4] == 4 and not ok and e:find('read%-only view') ~= nil and c[1] == 5"
                          " and v.readonly == true and c.readonly == false");
  lua_close(L);
  return fails ? 1 : 0;
}
