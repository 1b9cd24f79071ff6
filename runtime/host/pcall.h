/* pcall.h: the one protected call from C into Lua, with a traceback (as lua.c's docall). */
#ifndef RL_PCALL_H
#define RL_PCALL_H
#include <lua.h>

/* The message handler rl_lua_pcall installs: a string error (or a table's __tostring)
 * becomes the message plus "stack traceback:..."; a table whose `user_facing` field is
 * set gets only its __tostring text (an error about the user's set-up, where rayl's
 * insides would be noise). Other error objects pass through unchanged. */
int rl_lua_traceback(lua_State *L);

/* Calls the function below its narg arguments in protected mode with rl_lua_traceback
 * as message handler. Returns the lua_pcall status (0, LUA_ERRRUN, LUA_ERRMEM,
 * LUA_ERRERR); on success nres results (LUA_MULTRET: all) replace the function and its
 * arguments, on an error the error object does. The stack is otherwise balanced. Every
 * call from C into Lua goes through here (or rl_lua_cpcall). */
int rl_lua_pcall(lua_State *L, int narg, int nres);

/* Runs f(L) with ud as its only argument (a light userdata) in protected mode, as
 * lua_cpcall, but with rl_lua_traceback as message handler; pushing f itself is
 * protected too, so it is safe on a fresh state or one out of memory. Returns the
 * status; f's results are dropped; on an error the error object is left on top. */
int rl_lua_cpcall(lua_State *L, lua_CFunction f, void *ud);

/* A hook that raises an "interrupted" error (the CLI's Ctrl-C hook). If it is the hook
 * of the state that failed, rl_lua_traceback removes it first, so the interrupt cannot
 * raise a second error inside the handler. NULL: none. */
void rl_lua_set_interrupt_hook(lua_Hook hook);

/* The error object on top of L as text: the string, or a placeholder naming its type.
 * Never raises; the pointer is valid while the value stays on the stack. */
const char *rl_lua_errtext(lua_State *L);

#endif
