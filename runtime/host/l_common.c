/* l_common.c: the checks and conversions the rayl.core binding files share. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "host/host.h"
#include "sched/bundles.h"
#include "sched/resources.h"
#include "wire/res_pack.h"
#include "wire/wire.h"

rl_cw_t *rl_host_cw(lua_State *L) {
  if (!rl_host.cw) luaL_error(L, "rayl is not initialized (call rayl.init first)");
  return rl_host.cw;
}

rl_id_t rl_host_check_id(lua_State *L, int idx, const char *what) {
  rl_id_t id;
  if (rl_id_parse(luaL_checkstring(L, idx), &id) != 0) luaL_argerror(L, idx, what);
  return id;
}

int rl_host_check_timeout_ms(lua_State *L, int idx, const char *what) {
  if (lua_isnoneornil(L, idx)) return -1;
  double t = luaL_checknumber(L, idx);
  if (isnan(t) || t < 0)
    return rl_host_raise(L, "ValueError", "%s: timeout must be a number of seconds >= 0, got %g", what, t);
  return t > 2e6 ? 2000000000 : (int)ceil(t * 1000); /* math.huge: as good as forever */
}

/* Describes the Lua value at idx for a message: numbers and booleans as Lua prints
 * them, strings quoted (cut at 40 bytes), other values by type. */
static void s_describe(lua_State *L, int idx, char *out, size_t len) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER: snprintf(out, len, "%.14g", lua_tonumber(L, idx)); break;
    case LUA_TBOOLEAN: snprintf(out, len, "%s", lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      snprintf(out, len, "\"%.*s\"%s", (int)(n > 40 ? 40 : n), s, n > 40 ? "..." : "");
      break;
    }
    default: snprintf(out, len, "a %s", luaL_typename(L, idx)); break;
  }
}

/* Reads the entry (key at -2, value at -1) into res. Returns 0, or -1 with err set on
 * every path. */
static int s_read_resource(lua_State *L, rl_resources_t *res, char *err, size_t errlen) {
  char shown[64];
  if (lua_type(L, -2) != LUA_TSTRING) {
    s_describe(L, -2, shown, sizeof shown);
    snprintf(err, errlen, "the resource name %s is a %s, not a string", shown, luaL_typename(L, -2));
    return -1;
  }
  const char *name = lua_tostring(L, -2);
  if (lua_type(L, -1) != LUA_TNUMBER) {
    s_describe(L, -1, shown, sizeof shown);
    snprintf(err, errlen, "resource '%.64s': the amount %s is not a number", name, shown);
    return -1;
  }
  if (strlen(name) != lua_objlen(L, -2)) {
    snprintf(err, errlen, "resource name '%.64s...' has a NUL byte", name);
    return -1;
  }
  return rl_res_set(res, name, lua_tonumber(L, -1), err, errlen);
}

void rl_host_read_resources(lua_State *L, int idx, const char *what, rl_resources_t *res) {
  char err[300];
  rl_res_clear(res);
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1; /* stays put while we push */
  if (!lua_istable(L, idx)) return;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (s_read_resource(L, res, err, sizeof err) != 0)
      rl_host_raise(L, "ValueError", "bad resource in %s: %s", what, err);
    lua_pop(L, 1);
  }
}

void rl_host_read_sched(lua_State *L, int idx, rl_wire_sched_t *out) {
  static const char *const kinds[] = {"DEFAULT", "SPREAD", "NODE", "PG", NULL};
  memset(out, 0, sizeof *out);
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  if (lua_isnil(L, idx)) return; /* RL_SCHED_DEFAULT */
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "kind");
  out->kind = (uint64_t)luaL_checkoption(L, -1, NULL, kinds);
  lua_getfield(L, idx, out->kind == RL_SCHED_PG ? "pg_id" : "node_id");
  const char *hex = lua_tostring(L, -1);
  rl_id_t *id = out->kind == RL_SCHED_PG ? &out->pg_id : &out->node_id;
  if ((out->kind == RL_SCHED_NODE || out->kind == RL_SCHED_PG) && (!hex || rl_id_parse(hex, id) != 0))
    rl_host_raise(L, "ValueError", "strategy %s: %s is not an id (32 hex digits)", kinds[out->kind], hex ? hex : "nil");
  out->has_node_id = out->kind == RL_SCHED_NODE;
  out->has_pg_id = out->has_bundle = out->kind == RL_SCHED_PG;
  lua_getfield(L, idx, "soft");
  out->soft = lua_toboolean(L, -1);
  out->has_soft = out->kind == RL_SCHED_NODE;
  lua_getfield(L, idx, "bundle");
  out->bundle = out->kind == RL_SCHED_PG ? (int64_t)luaL_checkinteger(L, -1) : 0;
  if (out->kind == RL_SCHED_PG && (out->bundle < -1 || out->bundle >= RL_PG_MAX_BUNDLES))
    rl_host_raise(L, "ValueError", "strategy PG: bundle %lld out of range", (long long)out->bundle);
  lua_pop(L, 4);
}

void rl_host_push_resources(lua_State *L, const rl_resources_t *r) {
  lua_createtable(L, 0, r->n);
  for (int i = 0; i < r->n; i++) {
    lua_pushnumber(L, (double)r->r[i].amount / RL_RES_UNIT);
    lua_setfield(L, -2, r->r[i].name);
  }
}

void rl_host_setfield_id(lua_State *L, const char *k, const rl_id_t *id) {
  char hex[RL_ID_HEX];
  lua_pushstring(L, rl_id_hex(id, hex));
  lua_setfield(L, -2, k);
}

void rl_host_setfield_str(lua_State *L, const char *k, const char *p, size_t n) {
  lua_pushlstring(L, p, n);
  lua_setfield(L, -2, k);
}

void rl_host_setfield_num(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}
