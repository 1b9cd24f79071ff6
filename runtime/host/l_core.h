/* l_core.h: the rayl.core Lua C module (the core worker bound to Lua). */
#ifndef RL_L_CORE_H
#define RL_L_CORE_H
#include <lua.h>

/* require "rayl.core": returns the module table. */
int luaopen_rayl_core(lua_State *L);

#endif
