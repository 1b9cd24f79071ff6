/* l_cuda.c: the rayl.cuda bindings of the rayl.core module (core.cuda): device buffers,
 * kernels compiled through the kernel cache, and launches (their arguments are checked
 * against the kernel's signature by cuda_args.c). lua/rayl/cuda.lua makes them idiomatic. */
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/backend.h"
#include "gpu/kernel_cache.h"
#include "gpu/nvrtc.h"
#include "gpu/signature.h"
#include "common/clock.h"
#include "host/cuda_args.h"
#include "host/host.h"
#include "host/l_cuda.h"

#define S_FUNCTIONS "rayl.cuda.functions" /* registry: key -> Function (this process's) */
#define S_ERR RL_CUDA_ERR

static rl_kcache_t *s_cache;
static unsigned long s_fn_hits; /* compiles answered by this process's Functions */
static size_t s_live_bytes;     /* held by this process's device buffers */

/* ---- backends ---- */

/* The backend named at idx ("gpu" or "sim"); raises for anything else. */
static const rl_gpu_backend_t *s_backend(lua_State *L, int idx) {
  const char *mode = luaL_checkstring(L, idx);
  if (strcmp(mode, "gpu") == 0) return rl_gpu_cuda_backend();
  if (strcmp(mode, "sim") == 0) return rl_gpu_sim_backend();
  rl_host_raise(L, "ValueError", "unknown rayl.cuda mode '%s': expected \"gpu\" or \"sim\"", mode);
  return NULL;
}

/* core.cuda.available(mode) -> true | false, why */
static int l_cuda_available(lua_State *L) {
  const rl_gpu_backend_t *b = s_backend(L, 1);
  char why[S_ERR];
  bool ok = b->available(why, sizeof why);
  lua_pushboolean(L, ok);
  if (ok) return 1;
  lua_pushstring(L, why);
  return 2;
}

/* core.cuda.device_count(mode) -> n */
static int l_cuda_device_count(lua_State *L) {
  const rl_gpu_backend_t *b = s_backend(L, 1);
  lua_pushinteger(L, b->device_count());
  return 1;
}

/* core.cuda.arch(mode) -> "sm_90" (what images are built for) | nil */
static int l_cuda_arch(lua_State *L) {
  const char *a = s_backend(L, 1)->arch();
  if (a) lua_pushstring(L, a);
  else lua_pushnil(L);
  return 1;
}

/* core.cuda.synchronize(mode) */
static int l_cuda_synchronize(lua_State *L) {
  const rl_gpu_backend_t *b = s_backend(L, 1);
  char err[S_ERR];
  if (b->synchronize(err, sizeof err) != 0) return rl_host_raise(L, "CudaError", "%s", err);
  return 0;
}

/* ---- buffers ---- */

bool rl_cuda_buffer_test(lua_State *L, int idx) { return luaL_testudata(L, idx, RL_CUDA_BUF_MT) != NULL; }

static rl_cuda_buf_t *s_check_buf(lua_State *L, int idx) { return (rl_cuda_buf_t *)luaL_checkudata(L, idx, RL_CUDA_BUF_MT); }

/* Pushes a new buffer of n elements of dtype on b (contents undefined); raises CudaError
 * if the device has no room. */
static rl_cuda_buf_t *s_push_buf(lua_State *L, const rl_gpu_backend_t *b, size_t n, int dtype) {
  char err[S_ERR];
  size_t esz = rl_dtype_size(dtype);
  if (n > ((size_t)1 << 48) / esz) rl_host_raise(L, "ValueError", "a device buffer of %zu elements is too big", n);
  rl_cuda_buf_t *buf = lua_newuserdata(L, sizeof *buf);
  *buf = (rl_cuda_buf_t){b, 0, 0, (uint8_t)dtype};
  luaL_getmetatable(L, RL_CUDA_BUF_MT);
  lua_setmetatable(L, -2);
  if (n && b->alloc(n * esz, &buf->ptr, err, sizeof err) != 0) rl_host_raise(L, "CudaError", "%s", err);
  buf->n = n;
  s_live_bytes += n * esz;
  return buf;
}

static int s_check_dtype(lua_State *L, int idx) {
  const char *name = luaL_checkstring(L, idx);
  int dt = rl_dtype_parse(name);
  if (!dt) rl_host_raise(L, "ValueError", "unknown dtype '%s': expected float32, float64, int32, int64 or uint8", name);
  return dt;
}

/* Fills host memory with n ones of dtype. */
static void s_ones(void *p, size_t n, int dtype) {
  for (size_t i = 0; i < n; i++) switch (dtype) {
    case RL_DT_FLOAT32: ((float *)p)[i] = 1; break;
    case RL_DT_FLOAT64: ((double *)p)[i] = 1; break;
    case RL_DT_INT32: ((int32_t *)p)[i] = 1; break;
    case RL_DT_INT64: ((int64_t *)p)[i] = 1; break;
    default: ((uint8_t *)p)[i] = 1; break;
    }
}

/* core.cuda.alloc(mode, n, dtype, fill) -> Buffer; fill: "empty", "zeros" or "ones" */
static int l_cuda_alloc(lua_State *L) {
  const rl_gpu_backend_t *b = s_backend(L, 1);
  lua_Number nn = luaL_checknumber(L, 2);
  int dt = s_check_dtype(L, 3);
  const char *fill = luaL_checkstring(L, 4);
  if (!(nn >= 0 && nn <= 0x1p48 && nn == floor(nn)))
    return rl_host_raise(L, "ValueError", "a buffer's length must be a whole number from 0 to 2^48, got %.14g", (double)nn);
  size_t n = (size_t)nn, bytes = n * rl_dtype_size(dt);
  rl_cuda_buf_t *buf = s_push_buf(L, b, n, dt);
  char err[S_ERR];
  int rc = 0;
  if (!n || strcmp(fill, "empty") == 0) return 1;
  if (strcmp(fill, "zeros") == 0) {
    rc = b->fill(buf->ptr, 0, bytes, err, sizeof err);
  } else {
    void *host = malloc(bytes);
    if (!host) return rl_host_raise(L, "OutOfMemoryError", "no host memory for %zu bytes of ones", bytes);
    s_ones(host, n, dt);
    rc = b->copy_in(buf->ptr, host, bytes, err, sizeof err);
    free(host);
  }
  if (rc) return rl_host_raise(L, "CudaError", "%s", err);
  return 1;
}

/* core.cuda.from_array(mode, array) -> Buffer holding a copy of the rayl.array */
static int l_cuda_from_array(lua_State *L) {
  const rl_gpu_backend_t *b = s_backend(L, 1);
  rl_array_t *a = rl_array_test(L, 2);
  if (!a) return rl_host_raise(L, "ValueError", "cuda.array expects a rayl.array, got a %s", luaL_typename(L, 2));
  rl_cuda_buf_t *buf = s_push_buf(L, b, a->n, a->dtype);
  char err[S_ERR];
  if (a->n && b->copy_in(buf->ptr, a->data, a->n * rl_dtype_size(a->dtype), err, sizeof err) != 0)
    return rl_host_raise(L, "CudaError", "%s", err);
  return 1;
}

/* buf:to_array() -> a new rayl.array with the buffer's contents (same dtype and length) */
static int l_buf_to_array(lua_State *L) {
  rl_cuda_buf_t *buf = s_check_buf(L, 1);
  rl_array_t *a = rl_array_push(L, buf->dtype, buf->n, 0);
  char err[S_ERR];
  if (buf->n && buf->b->copy_out(a->data, buf->ptr, buf->n * rl_dtype_size(buf->dtype), err, sizeof err) != 0)
    return rl_host_raise(L, "CudaError", "%s", err);
  return 1;
}

/* buf:copy_from(array): copies a rayl.array of the same dtype and length in */
static int l_buf_copy_from(lua_State *L) {
  rl_cuda_buf_t *buf = s_check_buf(L, 1);
  rl_array_t *a = rl_array_test(L, 2);
  char err[S_ERR];
  if (!a || a->dtype != buf->dtype || a->n != buf->n)
    return rl_host_raise(L, "ValueError", "copy_from expects a rayl.array of %zu %s, got %s", buf->n,
                         rl_dtype_name(buf->dtype), a ? "another shape or dtype" : luaL_typename(L, 2));
  if (buf->n && buf->b->copy_in(buf->ptr, a->data, a->n * rl_dtype_size(a->dtype), err, sizeof err) != 0)
    return rl_host_raise(L, "CudaError", "%s", err);
  lua_settop(L, 1);
  return 1;
}

int rl_cuda_buffer_copy_out(lua_State *L, int idx, rl_array_t *out, char *err, size_t errlen) {
  rl_cuda_buf_t *buf = luaL_testudata(L, idx, RL_CUDA_BUF_MT);
  char why[S_ERR];
  memset(out, 0, sizeof *out);
  if (!buf) {
    snprintf(err, errlen, "not a rayl.cuda buffer");
    return -1;
  }
  size_t bytes = buf->n * rl_dtype_size(buf->dtype);
  out->data = malloc(bytes ? bytes : 1);
  if (!out->data) {
    snprintf(err, errlen, "rayl.cuda buffer (no host memory for its %zu bytes)", bytes);
    return -1;
  }
  if (bytes && buf->b->copy_out(out->data, buf->ptr, bytes, why, sizeof why) != 0) {
    free(out->data);
    out->data = NULL;
    snprintf(err, errlen, "rayl.cuda buffer (copying it from the device failed: %.300s)", why);
    return -1;
  }
  out->n = buf->n;
  out->dtype = buf->dtype;
  return 0;
}

/* core.cuda.is_buffer(v) -> whether v is a device buffer */
static int l_cuda_is_buffer(lua_State *L) {
  lua_pushboolean(L, rl_cuda_buffer_test(L, 1));
  return 1;
}

/* core.cuda.is_array(v) -> whether v is a rayl.array */
static int l_cuda_is_array(lua_State *L) {
  lua_pushboolean(L, rl_array_test(L, 1) != NULL);
  return 1;
}

static int l_buf_gc(lua_State *L) {
  rl_cuda_buf_t *buf = s_check_buf(L, 1);
  if (buf->ptr) buf->b->free(buf->ptr);
  s_live_bytes -= buf->n * rl_dtype_size(buf->dtype);
  buf->ptr = 0;
  buf->n = 0;
  return 0;
}

static int l_buf_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)s_check_buf(L, 1)->n);
  return 1;
}

static int l_buf_tostring(lua_State *L) {
  rl_cuda_buf_t *buf = s_check_buf(L, 1);
  lua_pushfstring(L, "rayl.cuda buffer (%s %s[%d])", buf->b->mode, rl_dtype_name(buf->dtype), (int)buf->n);
  return 1;
}

/* buf.dtype, buf.size, buf.nbytes, buf.mode; methods from the methods table. */
static int l_buf_index(lua_State *L) {
  rl_cuda_buf_t *buf = s_check_buf(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "dtype") == 0) lua_pushstring(L, rl_dtype_name(buf->dtype));
  else if (k && strcmp(k, "size") == 0) lua_pushinteger(L, (lua_Integer)buf->n);
  else if (k && strcmp(k, "nbytes") == 0) lua_pushinteger(L, (lua_Integer)(buf->n * rl_dtype_size(buf->dtype)));
  else if (k && strcmp(k, "mode") == 0) lua_pushstring(L, buf->b->mode);
  else {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
  }
  return 1;
}

/* ---- kernels ---- */

static rl_cuda_fn_t *s_check_fn(lua_State *L, int idx) { return (rl_cuda_fn_t *)luaL_checkudata(L, idx, RL_CUDA_FN_MT); }

static int l_fn_gc(lua_State *L) {
  rl_cuda_fn_t *fn = s_check_fn(L, 1);
  if (fn->k) fn->b->unload(fn->k);
  fn->k = NULL;
  return 0;
}

/* Reads the options table at idx into a NULL-terminated array of borrowed strings (kept
 * alive by the table); *n their count. The array is a userdata left on the stack. */
static const char **s_options(lua_State *L, int idx, size_t *n) {
  *n = lua_istable(L, idx) ? lua_objlen(L, idx) : 0;
  if (*n > 256) rl_host_raise(L, "ValueError", "too many compiler options (%zu)", *n);
  const char **opts = lua_newuserdata(L, (*n + 1) * sizeof *opts);
  for (size_t i = 0; i < *n; i++) {
    lua_rawgeti(L, idx, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      rl_host_raise(L, "ValueError", "compiler option %zu is a %s, not a string", i + 1, luaL_typename(L, -1));
    opts[i] = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the table */
  }
  opts[*n] = NULL;
  return opts;
}

static const char *const s_from_names[] = {NULL, "memory", "disk", "compiled"};

/* core.cuda.compile(mode, source, name, options, signature_source|nil)
 *   -> Function, "memory"|"disk"|"compiled" | nil, message, compiler log|nil
 * signature_source: where to read the parameter list instead of source. */
static int l_cuda_compile(lua_State *L) {
  const rl_gpu_backend_t *b = s_backend(L, 1);
  const char *source = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
  const char *sigsrc = luaL_optstring(L, 5, NULL);
  char key[RL_KCACHE_KEY], err[S_ERR];
  size_t nopts;
  const char **opts = s_options(L, 4, &nopts);
  int top = lua_gettop(L);
  if (strlen(name) >= sizeof ((rl_cuda_fn_t *)0)->name)
    return rl_host_raise(L, "ValueError", "a kernel name of %zu characters is too long", strlen(name));
  if (!s_cache && !(s_cache = rl_kcache_new(NULL))) return rl_host_raise(L, "OutOfMemoryError", "no memory");
  if (rl_kcache_key_for(b, source, name, opts, nopts, key, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  /* This process's Functions, by key and signature source. */
  lua_getfield(L, LUA_REGISTRYINDEX, S_FUNCTIONS);
  lua_pushstring(L, key);
  lua_pushstring(L, sigsrc ? sigsrc : "");
  lua_concat(L, 2);
  lua_pushvalue(L, -1);
  lua_rawget(L, top + 1);
  if (!lua_isnil(L, -1)) { /* a memory hit, before even the cache's lookup */
    s_fn_hits++;
    lua_pushstring(L, "memory");
    return 2;
  }
  lua_pop(L, 1);
  const char *image;
  size_t image_len;
  rl_kcache_from_t from;
  char *log = NULL;
  if (rl_kcache_get(s_cache, b, source, name, opts, nopts, &image, &image_len, &from, &log, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    if (log) lua_pushstring(L, log);
    else lua_pushnil(L);
    free(log);
    return 3;
  }
  rl_cuda_fn_t *fn = lua_newuserdata(L, sizeof *fn);
  memset(fn, 0, sizeof *fn);
  fn->b = b;
  fn->image = image;
  fn->image_len = image_len;
  snprintf(fn->name, sizeof fn->name, "%s", name);
  fn->has_sig = rl_sig_parse(sigsrc ? sigsrc : source, name, &fn->sig, fn->why_nosig, sizeof fn->why_nosig) == 0;
  luaL_getmetatable(L, RL_CUDA_FN_MT);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -2); /* key */
  lua_pushvalue(L, -2);
  lua_rawset(L, top + 1);
  lua_pushstring(L, s_from_names[from]);
  return 2;
}

/* fn:signature() -> { {type=, name=}, ... } | nil, why it could not be read */
static int l_fn_signature(lua_State *L) {
  rl_cuda_fn_t *fn = s_check_fn(L, 1);
  if (!fn->has_sig) {
    lua_pushnil(L);
    lua_pushstring(L, fn->why_nosig);
    return 2;
  }
  lua_createtable(L, fn->sig.nparams, 0);
  for (int i = 0; i < fn->sig.nparams; i++) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, fn->sig.params[i].type);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, fn->sig.params[i].name);
    lua_setfield(L, -2, "name");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* ---- launches ---- */

/* Where arguments beyond those given point when the parameter list is unknown, so a
 * driver reading more parameters than were passed reads zeros, never stray memory. */
static const unsigned char s_zeros[32768];

/* core.cuda.launch(fn, grid, block, shared_mem, stream, args...) */
static int l_cuda_launch(lua_State *L) {
  static __thread rl_cuda_launch_t s_ls; /* big: kept off the C stack; a launch never re-enters */
  rl_cuda_launch_t *ls = &s_ls;
  ls->fn = s_check_fn(L, 1);
  ls->ntmps = 0;
  rl_cuda_fn_t *fn = ls->fn;
  rl_gpu_launch_t l = {.args = ls->args};
  rl_cuda_check_grid(L, fn, 2, l.grid);
  rl_cuda_check_block(L, fn, 3, l.block);
  l.shared_mem = rl_cuda_check_shared_mem(L, fn, 4);
  l.stream = rl_cuda_check_stream(L, fn, 5);
  int n = lua_gettop(L) - 5;
  if (rl_cuda_args(L, ls, 6, n) != 0) return rl_host_raise(L, "ValueError", "%s", ls->err);
  for (int i = n; !fn->has_sig && i < RL_SIG_MAXPARAMS; i++) ls->args[i] = (void *)s_zeros;
  l.nargs = (size_t)n;
  if (!fn->k && !(fn->k = fn->b->load(fn->image, fn->image_len, fn->name, ls->err, sizeof ls->err)))
    return rl_host_raise(L, "CudaError", "%s", ls->err);
  if (rl_cuda_tmps_in(ls) != 0) return rl_host_raise(L, "CudaError", "kernel '%s': %s", fn->name, ls->err);
  /* With rayl.arrays to copy back, wait for the kernel: its failure is the error, not the copy's. */
  if (fn->b->launch(fn->k, &l, ls->err, sizeof ls->err) != 0 ||
      (ls->ntmps && fn->b->synchronize(ls->err, sizeof ls->err) != 0)) {
    rl_cuda_tmps_free(ls);
    return rl_host_raise(L, "CudaError", "%s", ls->err);
  }
  if (rl_cuda_tmps_out(ls) != 0) return rl_host_raise(L, "CudaError", "kernel '%s': %s", fn->name, ls->err);
  return 0;
}

/* core.cuda.bench_launch(fn, reps, grid, block, args...) -> seconds for reps launches from
 * a C loop and a synchronize (tools/gpu-check compares it with launches from Lua). The
 * arguments are checked once; device buffers and numbers only. */
static int l_cuda_bench_launch(lua_State *L) {
  static __thread rl_cuda_launch_t s_ls;
  rl_cuda_launch_t *ls = &s_ls;
  ls->fn = s_check_fn(L, 1);
  ls->ntmps = 0;
  rl_cuda_fn_t *fn = ls->fn;
  lua_Integer reps = luaL_checkinteger(L, 2);
  rl_gpu_launch_t l = {.args = ls->args};
  rl_cuda_check_grid(L, fn, 3, l.grid);
  rl_cuda_check_block(L, fn, 4, l.block);
  int n = lua_gettop(L) - 4;
  if (rl_cuda_args(L, ls, 5, n) != 0) return rl_host_raise(L, "ValueError", "%s", ls->err);
  if (ls->ntmps) return rl_host_raise(L, "ValueError", "bench_launch takes device buffers, not rayl.arrays");
  l.nargs = (size_t)n;
  if (!fn->k && !(fn->k = fn->b->load(fn->image, fn->image_len, fn->name, ls->err, sizeof ls->err)))
    return rl_host_raise(L, "CudaError", "%s", ls->err);
  uint64_t t0 = rl_now_us();
  for (lua_Integer i = 0; i < reps; i++)
    if (fn->b->launch(fn->k, &l, ls->err, sizeof ls->err) != 0) return rl_host_raise(L, "CudaError", "%s", ls->err);
  if (fn->b->synchronize(ls->err, sizeof ls->err) != 0) return rl_host_raise(L, "CudaError", "%s", ls->err);
  lua_pushnumber(L, (lua_Number)(rl_now_us() - t0) / 1e6);
  return 1;
}

/* core.cuda.nvrtc(source, name, arch, options) -> ptx, cubin|nil | nil, message, log:
 * NVRTC alone, for a target given by hand ("sm_90", "compute_90"), with no device. */
static int l_cuda_nvrtc(lua_State *L) {
  const char *source = luaL_checkstring(L, 1), *name = luaL_checkstring(L, 2), *arch = luaL_checkstring(L, 3);
  size_t nopts;
  const char **opts = s_options(L, 4, &nopts);
  char err[S_ERR], *log = NULL;
  rl_nvrtc_out_t o;
  if (rl_nvrtc_load(err, sizeof err) != 0 ||
      rl_nvrtc_compile(source, name, opts, nopts, arch, &o, &log, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    if (log) lua_pushstring(L, log);
    else lua_pushnil(L);
    free(log);
    return 3;
  }
  lua_pushlstring(L, o.ptx ? o.ptx : "", o.ptx_len ? o.ptx_len - 1 : 0);
  if (o.cubin) lua_pushlstring(L, o.cubin, o.cubin_len);
  else lua_pushnil(L);
  rl_nvrtc_out_free(&o);
  return 2;
}

/* core.cuda.cache_stats() -> { memory =, disk =, compiled = }, folder */
static int l_cuda_cache_stats(lua_State *L) {
  if (!s_cache && !(s_cache = rl_kcache_new(NULL))) return rl_host_raise(L, "OutOfMemoryError", "no memory");
  rl_kcache_stats_t st = rl_kcache_stats(s_cache);
  lua_createtable(L, 0, 3);
  lua_pushnumber(L, (lua_Number)(st.memory + s_fn_hits));
  lua_setfield(L, -2, "memory");
  lua_pushnumber(L, (lua_Number)st.disk);
  lua_setfield(L, -2, "disk");
  lua_pushnumber(L, (lua_Number)st.compiled);
  lua_setfield(L, -2, "compiled");
  lua_pushstring(L, rl_kcache_dir(s_cache));
  return 2;
}

/* core.cuda.memory_allocated() -> bytes held by this process's device buffers */
static int l_cuda_memory_allocated(lua_State *L) {
  lua_pushnumber(L, (lua_Number)s_live_bytes);
  return 1;
}

/* core.cuda.buffer_methods() -> the methods table of device buffers (for the Lua layer) */
static int l_cuda_buffer_methods(lua_State *L) {
  luaL_getmetatable(L, RL_CUDA_BUF_MT);
  lua_getfield(L, -1, "__methods");
  return 1;
}

static const luaL_Reg s_funcs[] = {
    {"available", l_cuda_available},
    {"device_count", l_cuda_device_count},
    {"arch", l_cuda_arch},
    {"synchronize", l_cuda_synchronize},
    {"alloc", l_cuda_alloc},
    {"from_array", l_cuda_from_array},
    {"compile", l_cuda_compile},
    {"launch", l_cuda_launch},
    {"cache_stats", l_cuda_cache_stats},
    {"buffer_methods", l_cuda_buffer_methods},
    {"is_buffer", l_cuda_is_buffer},
    {"is_array", l_cuda_is_array},
    {"memory_allocated", l_cuda_memory_allocated},
    {"bench_launch", l_cuda_bench_launch},
    {"nvrtc", l_cuda_nvrtc},
    {NULL, NULL},
};

static void s_open_mts(lua_State *L) {
  if (luaL_newmetatable(L, RL_CUDA_BUF_MT)) {
    lua_pushcfunction(L, l_buf_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_buf_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, l_buf_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L); /* methods */
    lua_pushcfunction(L, l_buf_to_array);
    lua_setfield(L, -2, "to_array");
    lua_pushcfunction(L, l_buf_copy_from);
    lua_setfield(L, -2, "copy_from");
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__methods");
    lua_pushcclosure(L, l_buf_index, 1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, RL_CUDA_FN_MT)) {
    lua_pushcfunction(L, l_fn_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, l_fn_signature);
    lua_setfield(L, -2, "signature");
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, S_FUNCTIONS);
  if (lua_isnil(L, -1)) {
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, S_FUNCTIONS);
  }
  lua_pop(L, 1);
}

void rl_l_cuda_open(lua_State *L) {
  s_open_mts(L);
  lua_newtable(L);
  luaL_register(L, NULL, s_funcs);
  lua_setfield(L, -2, "cuda");
}
