/* pcall.c: the one protected call from C into Lua, with a traceback (as lua.c's docall). */
#include "host/pcall.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdbool.h>
#include <string.h>

#include "common/selftest.h"

static lua_Hook s_interrupt_hook;

void rl_lua_set_interrupt_hook(lua_Hook hook) { s_interrupt_hook = hook; }

/* True if the error object at idx is a table whose `user_facing` field is set. */
static bool s_user_facing(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return false;
  lua_getfield(L, idx, "user_facing");
  bool yes = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}

int rl_lua_traceback(lua_State *L) {
  if (s_interrupt_hook && lua_gethook(L) == s_interrupt_hook) lua_sethook(L, NULL, 0, 0);
  if (!lua_isstring(L, 1)) {
    bool brief = s_user_facing(L, 1);
    if (lua_isnoneornil(L, 1) || !luaL_callmeta(L, 1, "__tostring") || !lua_isstring(L, -1)) return 1;
    lua_remove(L, 1);
    if (brief) return 1;
  }
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

int rl_lua_pcall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg; /* the function's index */
  lua_pushcfunction(L, rl_lua_traceback);
  lua_insert(L, base);
  int status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  return status;
}

typedef struct {
  lua_CFunction f;
  void *ud;
} s_cp_t;

/* Runs under lua_cpcall: every push here is protected. */
static int s_cp_trampoline(lua_State *L) {
  s_cp_t *cp = lua_touserdata(L, 1);
  lua_pushcfunction(L, cp->f);
  lua_pushlightuserdata(L, cp->ud);
  int status = rl_lua_pcall(L, 1, 0);
  if (status != 0) lua_error(L); /* the error object, traceback included, passes through */
  return 0;
}

int rl_lua_cpcall(lua_State *L, lua_CFunction f, void *ud) {
  s_cp_t cp = {f, ud};
  return lua_cpcall(L, s_cp_trampoline, &cp);
}

const char *rl_lua_errtext(lua_State *L) {
  if (lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1);
  if (lua_isnil(L, -1)) return "(error object is nil)";
  if (lua_type(L, -1) == LUA_TNUMBER) return "(error object is a number)";
  if (lua_istable(L, -1)) return "(error object is a table without __tostring)";
  return "(error object is not a string)";
}
