/* array.c: rayl.array, a typed numeric array userdata (owned, or a read-only view). */
#include "host/array.h"
#include "host/host.h"
#include "host/pcall.h"

#include <float.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Owned arrays live inside their userdata (so the GC sees their size) up to this many
 * bytes; LuaJIT refuses bigger userdata, so bigger ones are malloc'd. */
#define S_INLINE_MAX ((size_t)0x70000000)

static const char *const s_names[] = {NULL, "float32", "float64", "int32", "int64", "uint8"};
static const size_t s_sizes[] = {0, 4, 8, 4, 8, 1};

size_t rl_dtype_size(int dtype) {
  return dtype >= RL_DT_FLOAT32 && dtype <= RL_DT_UINT8 ? s_sizes[dtype] : 0;
}

const char *rl_dtype_name(int dtype) {
  return dtype >= RL_DT_FLOAT32 && dtype <= RL_DT_UINT8 ? s_names[dtype] : NULL;
}

int rl_dtype_parse(const char *name) {
  for (int i = RL_DT_FLOAT32; i <= RL_DT_UINT8; i++)
    if (strcmp(name, s_names[i]) == 0) return i;
  return 0;
}

rl_array_t *rl_array_test(lua_State *L, int idx) {
  return (rl_array_t *)luaL_testudata(L, idx, RL_ARRAY_MT);
}

static rl_array_t *s_check(lua_State *L, int idx) {
  return (rl_array_t *)luaL_checkudata(L, idx, RL_ARRAY_MT);
}

rl_array_t *rl_array_push(lua_State *L, int dtype, size_t n, int zero) {
  size_t esz = rl_dtype_size(dtype);
  if (esz == 0) luaL_error(L, "rayl.array: bad dtype %d", dtype);
  if (n > ((size_t)1 << 48) / esz) luaL_error(L, "rayl.array: too many elements (%f)", (double)n);
  size_t bytes = n * esz;
  rl_array_t *a;
  if (bytes <= S_INLINE_MAX) {
    a = (rl_array_t *)lua_newuserdata(L, sizeof(rl_array_t) + 63 + bytes);
    uintptr_t p = ((uintptr_t)(a + 1) + 63) & ~(uintptr_t)63;
    a->data = (void *)p;
    a->malloced = 0;
  } else {
    a = (rl_array_t *)lua_newuserdata(L, sizeof(rl_array_t));
    a->data = NULL;
    a->malloced = 0;
    a->n = 0;
    a->dtype = (uint8_t)dtype;
    a->view = 0;
    rl_array_pushmt(L);
    lua_setmetatable(L, -2); /* so __gc frees the block even if an error follows */
    a->data = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!a->data) luaL_error(L, "rayl.array: out of memory for %f bytes", (double)bytes);
    a->malloced = 1;
  }
  a->n = n;
  a->dtype = (uint8_t)dtype;
  a->view = 0;
  if (zero) memset(a->data, 0, bytes);
  if (!a->malloced) {
    rl_array_pushmt(L);
    lua_setmetatable(L, -2);
  }
  return a;
}

rl_array_t *rl_array_push_view(lua_State *L, int dtype, size_t n, const void *data, int env) {
  env = env < 0 && env > LUA_REGISTRYINDEX ? lua_gettop(L) + env + 1 : env;
  rl_array_t *a = (rl_array_t *)lua_newuserdata(L, sizeof(rl_array_t));
  a->data = (void *)data;
  a->n = n;
  a->dtype = (uint8_t)dtype;
  a->view = 1;
  a->malloced = 0;
  rl_array_pushmt(L);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, env);
  lua_setfenv(L, -2);
  return a;
}

/* Checks that Lua index i (any number) is an integer in 1..n; returns it 0-based. */
static size_t s_index(lua_State *L, const rl_array_t *a, lua_Number i) {
  if (!(i == floor(i)) || i < 1 || i > (lua_Number)a->n) {
    if (i == floor(i))
      luaL_error(L, "rayl.array index %d out of range (length %d)", (int)fmax(fmin(i, 2e9), -2e9),
                 (int)a->n);
    luaL_error(L, "rayl.array index must be an integer, got %f", i);
  }
  return (size_t)i - 1;
}

static void s_pushelem(lua_State *L, const rl_array_t *a, size_t i) {
  switch (a->dtype) {
  case RL_DT_FLOAT32: lua_pushnumber(L, ((const float *)a->data)[i]); break;
  case RL_DT_FLOAT64: lua_pushnumber(L, ((const double *)a->data)[i]); break;
  case RL_DT_INT32: lua_pushnumber(L, ((const int32_t *)a->data)[i]); break;
  case RL_DT_INT64: lua_pushnumber(L, (lua_Number)((const int64_t *)a->data)[i]); break;
  default: lua_pushnumber(L, ((const uint8_t *)a->data)[i]); break;
  }
}

/* Stores d at element i, raising if it does not fit the dtype. */
static void s_store(lua_State *L, rl_array_t *a, size_t i, lua_Number d) {
  double lo = 0, hi = 0;
  switch (a->dtype) {
  case RL_DT_FLOAT32:
    if (d > FLT_MAX) d = INFINITY;
    else if (d < -FLT_MAX) d = -INFINITY;
    ((float *)a->data)[i] = (float)d;
    return;
  case RL_DT_FLOAT64: ((double *)a->data)[i] = d; return;
  case RL_DT_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
  case RL_DT_INT64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;
  default: lo = 0, hi = 255; break;
  }
  if (!(d == floor(d) && d >= lo && d <= hi))
    luaL_error(L, "rayl.array: value %f cannot be stored in a %s array", d, s_names[a->dtype]);
  if (a->dtype == RL_DT_INT32) ((int32_t *)a->data)[i] = (int32_t)d;
  else if (a->dtype == RL_DT_INT64) ((int64_t *)a->data)[i] = (int64_t)d;
  else ((uint8_t *)a->data)[i] = (uint8_t)d;
}

static int l_array_new(lua_State *L) {
  const char *dname = luaL_checkstring(L, 1);
  int dt = rl_dtype_parse(dname);
  if (!dt)
    return rl_host_raise(L, "ValueError", "rayl.array: unknown dtype '%s' (expected float32, float64, int32, int64 or uint8)",
                         dname);
  if (lua_type(L, 2) == LUA_TTABLE) {
    size_t n = lua_objlen(L, 2);
    rl_array_t *a = rl_array_push(L, dt, n, 0);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, 2, (int)i + 1);
      if (lua_type(L, -1) != LUA_TNUMBER)
        return rl_host_raise(L, "ValueError", "rayl.array: element %d is a %s, expected a number", (int)i + 1,
                             luaL_typename(L, -1));
      s_store(L, a, i, lua_tonumber(L, -1));
      lua_pop(L, 1);
    }
    return 1;
  }
  if (lua_type(L, 2) != LUA_TNUMBER)
    return rl_host_raise(L, "ValueError", "rayl.array: expected a length or a table of numbers as argument 2, got %s",
                         luaL_typename(L, 2));
  lua_Number n = lua_tonumber(L, 2);
  if (!(n >= 0 && n == floor(n) && n < 281474976710656.0))
    return rl_host_raise(L, "ValueError", "rayl.array: the length must be a whole number from 0 to 2^48, got %g", n);
  rl_array_push(L, dt, (size_t)n, 1);
  return 1;
}

static int l_array_index(lua_State *L) {
  rl_array_t *a = s_check(L, 1);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    s_pushelem(L, a, s_index(L, a, lua_tonumber(L, 2)));
    return 1;
  }
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "n") == 0) {
    lua_pushnumber(L, (lua_Number)a->n);
  } else if (k && strcmp(k, "dtype") == 0) {
    lua_pushstring(L, s_names[a->dtype]);
  } else if (k && strcmp(k, "readonly") == 0) {
    lua_pushboolean(L, a->view);
  } else {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
  }
  return 1;
}

static int l_array_newindex(lua_State *L) {
  rl_array_t *a = s_check(L, 1);
  if (lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "rayl.array: cannot set a %s key (only numeric indices)", luaL_typename(L, 2));
  size_t i = s_index(L, a, lua_tonumber(L, 2));
  if (a->view) return luaL_error(L, "array is a read-only view of a shared object; copy it with a:copy()");
  if (lua_type(L, 3) != LUA_TNUMBER)
    return luaL_error(L, "rayl.array: cannot store a %s (expected a number)", luaL_typename(L, 3));
  s_store(L, a, i, lua_tonumber(L, 3));
  return 0;
}

static int l_array_len(lua_State *L) {
  lua_pushnumber(L, (lua_Number)s_check(L, 1)->n);
  return 1;
}

static int l_array_tostring(lua_State *L) {
  rl_array_t *a = s_check(L, 1);
  lua_pushfstring(L, "rayl.array(%s, %d)", s_names[a->dtype], (int)a->n);
  return 1;
}

static int l_array_gc(lua_State *L) {
  rl_array_t *a = s_check(L, 1);
  if (a->malloced) free(a->data);
  a->malloced = 0;
  a->data = NULL;
  a->n = 0;
  return 0;
}

static int l_array_totable(lua_State *L) {
  rl_array_t *a = s_check(L, 1);
  if (a->n > 0x7ffffff0) return luaL_error(L, "rayl.array: too long for a table");
  lua_createtable(L, (int)a->n, 0);
  for (size_t i = 0; i < a->n; i++) {
    s_pushelem(L, a, i);
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

static int l_array_ptr(lua_State *L) {
  lua_pushlightuserdata(L, s_check(L, 1)->data);
  return 1;
}

static int l_array_bytes(lua_State *L) {
  rl_array_t *a = s_check(L, 1);
  lua_pushnumber(L, (lua_Number)(a->n * s_sizes[a->dtype]));
  return 1;
}

static int l_array_copy(lua_State *L) {
  rl_array_t *a = s_check(L, 1);
  rl_array_t *b = rl_array_push(L, a->dtype, a->n, 0);
  if (a->n) memcpy(b->data, a->data, a->n * s_sizes[a->dtype]);
  return 1;
}

void rl_array_pushmt(lua_State *L) {
  if (!luaL_newmetatable(L, RL_ARRAY_MT)) return;
  static const luaL_Reg methods[] = {{"totable", l_array_totable}, {"ptr", l_array_ptr},
                                     {"bytes", l_array_bytes},     {"copy", l_array_copy},
                                     {NULL, NULL}};
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushcclosure(L, l_array_index, 1);
  lua_setfield(L, -2, "__index");
  static const luaL_Reg meta[] = {{"__newindex", l_array_newindex}, {"__len", l_array_len},
                                  {"__tostring", l_array_tostring}, {"__gc", l_array_gc},
                                  {NULL, NULL}};
  luaL_setfuncs(L, meta, 0);
  lua_pushliteral(L, "rayl.array");
  lua_setfield(L, -2, "__metatable");
}

void rl_array_open(lua_State *L) {
  rl_array_pushmt(L);
  lua_pop(L, 1);
  lua_pushcfunction(L, l_array_new);
  lua_setfield(L, -2, "array");
}
