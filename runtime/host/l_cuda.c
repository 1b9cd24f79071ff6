/* l_cuda.c: the rayl.cuda bindings of the rayl.core module (core.cuda): device buffers,
 * kernels compiled through the kernel cache, launches whose arguments are checked against
 * the kernel's signature. lua/rayl/cuda.lua makes them idiomatic. */
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
#include "host/host.h"

#define S_BUF_MT "rayl.cuda.Buffer"
#define S_FN_MT "rayl.cuda.Function"
#define S_FUNCTIONS "rayl.cuda.functions" /* registry: key -> Function (this process's) */
#define S_ERR 1024

/* A device buffer: n elements of dtype at ptr on backend b (ptr 0 when n is 0). */
typedef struct {
  const rl_gpu_backend_t *b;
  rl_gpu_ptr_t ptr;
  size_t n;
  uint8_t dtype;
} s_buf_t;

/* A compiled kernel: its image (borrowed from the kernel cache, which lives as long as
 * the process), loaded on its first launch. */
typedef struct {
  const rl_gpu_backend_t *b;
  const char *image;
  size_t image_len;
  rl_gpu_kernel_t *k;
  bool has_sig;
  char why_nosig[160]; /* why the signature could not be read */
  char name[128];
  rl_sig_t sig;
} s_fn_t;

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

bool rl_cuda_buffer_test(lua_State *L, int idx) { return luaL_testudata(L, idx, S_BUF_MT) != NULL; }

static s_buf_t *s_check_buf(lua_State *L, int idx) { return (s_buf_t *)luaL_checkudata(L, idx, S_BUF_MT); }

/* Pushes a new buffer of n elements of dtype on b (contents undefined); raises CudaError
 * if the device has no room. */
static s_buf_t *s_push_buf(lua_State *L, const rl_gpu_backend_t *b, size_t n, int dtype) {
  char err[S_ERR];
  size_t esz = rl_dtype_size(dtype);
  if (n > ((size_t)1 << 48) / esz) rl_host_raise(L, "ValueError", "a device buffer of %zu elements is too big", n);
  s_buf_t *buf = lua_newuserdata(L, sizeof *buf);
  *buf = (s_buf_t){b, 0, 0, (uint8_t)dtype};
  luaL_getmetatable(L, S_BUF_MT);
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
  s_buf_t *buf = s_push_buf(L, b, n, dt);
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
  s_buf_t *buf = s_push_buf(L, b, a->n, a->dtype);
  char err[S_ERR];
  if (a->n && b->copy_in(buf->ptr, a->data, a->n * rl_dtype_size(a->dtype), err, sizeof err) != 0)
    return rl_host_raise(L, "CudaError", "%s", err);
  return 1;
}

/* buf:to_array() -> a new rayl.array with the buffer's contents (same dtype and length) */
static int l_buf_to_array(lua_State *L) {
  s_buf_t *buf = s_check_buf(L, 1);
  rl_array_t *a = rl_array_push(L, buf->dtype, buf->n, 0);
  char err[S_ERR];
  if (buf->n && buf->b->copy_out(a->data, buf->ptr, buf->n * rl_dtype_size(buf->dtype), err, sizeof err) != 0)
    return rl_host_raise(L, "CudaError", "%s", err);
  return 1;
}

/* buf:copy_from(array): copies a rayl.array of the same dtype and length in */
static int l_buf_copy_from(lua_State *L) {
  s_buf_t *buf = s_check_buf(L, 1);
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
  s_buf_t *buf = luaL_testudata(L, idx, S_BUF_MT);
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
  s_buf_t *buf = s_check_buf(L, 1);
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
  s_buf_t *buf = s_check_buf(L, 1);
  lua_pushfstring(L, "rayl.cuda buffer (%s %s[%d])", buf->b->mode, rl_dtype_name(buf->dtype), (int)buf->n);
  return 1;
}

/* buf.dtype, buf.size, buf.nbytes, buf.mode; methods from the methods table. */
static int l_buf_index(lua_State *L) {
  s_buf_t *buf = s_check_buf(L, 1);
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

static s_fn_t *s_check_fn(lua_State *L, int idx) { return (s_fn_t *)luaL_checkudata(L, idx, S_FN_MT); }

static int l_fn_gc(lua_State *L) {
  s_fn_t *fn = s_check_fn(L, 1);
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
  if (strlen(name) >= sizeof ((s_fn_t *)0)->name)
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
  s_fn_t *fn = lua_newuserdata(L, sizeof *fn);
  memset(fn, 0, sizeof *fn);
  fn->b = b;
  fn->image = image;
  fn->image_len = image_len;
  snprintf(fn->name, sizeof fn->name, "%s", name);
  fn->has_sig = rl_sig_parse(sigsrc ? sigsrc : source, name, &fn->sig, fn->why_nosig, sizeof fn->why_nosig) == 0;
  luaL_getmetatable(L, S_FN_MT);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -2); /* key */
  lua_pushvalue(L, -2);
  lua_rawset(L, top + 1);
  lua_pushstring(L, s_from_names[from]);
  return 2;
}

/* fn:signature() -> { {type=, name=}, ... } | nil, why it could not be read */
static int l_fn_signature(lua_State *L) {
  s_fn_t *fn = s_check_fn(L, 1);
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

/* CUDA's limits on every current GPU: threads per block, block and grid dimensions. */
static const unsigned long s_max_block[3] = {1024, 1024, 64}, s_max_grid[3] = {2147483647, 65535, 65535};

/* Reads grid or block (a number or a table of 1 to 3 numbers) at idx into d. */
static void s_dims(lua_State *L, s_fn_t *fn, int idx, const char *what, const unsigned long *max, unsigned d[3]) {
  static const char xyz[] = "xyz";
  double v[3] = {1, 1, 1};
  int n = 1;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    v[0] = lua_tonumber(L, idx);
  } else if (lua_istable(L, idx) && (n = (int)lua_objlen(L, idx)) >= 1 && n <= 3) {
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, idx, i + 1);
      if (lua_type(L, -1) != LUA_TNUMBER)
        rl_host_raise(L, "ValueError", "kernel '%s': %s[%d] is a %s, not a number", fn->name, what, i + 1,
                      luaL_typename(L, -1));
      v[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  } else {
    rl_host_raise(L, "ValueError", "kernel '%s': %s must be a number or a table of 1 to 3 numbers ({x, y, z}), got %s",
                  fn->name, what, lua_istable(L, idx) ? "a table of another length" : luaL_typename(L, idx));
  }
  for (int i = 0; i < 3; i++) {
    if (!(v[i] >= 1 && v[i] <= (double)max[i] && v[i] == floor(v[i])))
      rl_host_raise(L, "ValueError", "kernel '%s': %s.%c = %.14g is out of range: it must be a whole number from 1 to %lu",
                    fn->name, what, xyz[i], v[i], max[i]);
    d[i] = (unsigned)v[i];
  }
}

/* One argument's value, as the kernel reads it. */
typedef union {
  int8_t i8;
  uint8_t u8;
  int16_t i16;
  uint16_t u16;
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  uint64_t u64;
  float f32;
  double f64;
  bool b;
  rl_gpu_ptr_t p;
} s_val_t;

/* A rayl.array passed for a pointer: copied into a temporary device buffer, and back
 * after the launch unless the kernel only reads it. */
typedef struct {
  int arg;
  rl_array_t *a;
  rl_gpu_ptr_t ptr;
  size_t bytes;
  bool back;
} s_tmp_t;

typedef struct {
  s_fn_t *fn;
  s_val_t vals[RL_SIG_MAXPARAMS];
  void *args[RL_SIG_MAXPARAMS];
  s_tmp_t tmps[RL_SIG_MAXPARAMS];
  int ntmps;
  char err[S_ERR];
} s_launch_t;

/* Whether a buffer of dtype fits a pointer to kind (same size, and float with float). */
static bool s_dtype_fits(rl_sig_kind_t pointee, int dtype) {
  switch (pointee) {
  case RL_SIG_F32: return dtype == RL_DT_FLOAT32;
  case RL_SIG_F64: return dtype == RL_DT_FLOAT64;
  case RL_SIG_I32:
  case RL_SIG_U32: return dtype == RL_DT_INT32;
  case RL_SIG_I64:
  case RL_SIG_U64: return dtype == RL_DT_INT64;
  case RL_SIG_I8:
  case RL_SIG_U8:
  case RL_SIG_BOOL: return dtype == RL_DT_UINT8;
  case RL_SIG_I16:
  case RL_SIG_U16: return false;
  default: return true; /* void *, T **, structs: any buffer */
  }
}

/* What goes between a parameter's type and its name: nothing after a '*'. */
static const char *s_sep(const rl_sig_param_t *p) {
  size_t n = strlen(p->type);
  return !p->name[0] || (n && p->type[n - 1] == '*') ? "" : " ";
}

/* Names argument i for messages: "argument 3 (const float *x)". */
static const char *s_argname(const s_fn_t *fn, int i, char *buf, size_t n) {
  if (!fn->has_sig || i >= fn->sig.nparams) snprintf(buf, n, "argument %d", i + 1);
  else
    snprintf(buf, n, "argument %d (%s%s%s)", i + 1, fn->sig.params[i].type, s_sep(&fn->sig.params[i]),
             fn->sig.params[i].name);
  return buf;
}

/* Reads a scalar of kind k from the number at idx into v; -1 with ls->err if it does not fit. */
static int s_scalar(lua_State *L, s_launch_t *ls, int i, int idx, rl_sig_kind_t k, s_val_t *v) {
  static const struct {
    double lo, hi;
  } range[] = {
      [RL_SIG_I8] = {-128, 127},
      [RL_SIG_U8] = {0, 255},
      [RL_SIG_I16] = {-32768, 32767},
      [RL_SIG_U16] = {0, 65535},
      [RL_SIG_I32] = {-2147483648.0, 2147483647.0},
      [RL_SIG_U32] = {0, 4294967295.0},
      [RL_SIG_I64] = {-0x1p63, 0x1p63},
      [RL_SIG_U64] = {0, 0x1p64},
  };
  char an[200];
  if (k == RL_SIG_BOOL) {
    if (lua_type(L, idx) != LUA_TBOOLEAN) goto type;
    v->b = lua_toboolean(L, idx);
    return 0;
  }
  if (lua_type(L, idx) != LUA_TNUMBER) goto type;
  double d = lua_tonumber(L, idx);
  if (k == RL_SIG_F32) v->f32 = (float)d;
  else if (k == RL_SIG_F64) v->f64 = d;
  else {
    bool top_open = k == RL_SIG_I64 || k == RL_SIG_U64; /* 2^63, 2^64 are not representable */
    if (!(d == floor(d) && d >= range[k].lo && (top_open ? d < range[k].hi : d <= range[k].hi))) {
      snprintf(ls->err, sizeof ls->err, "kernel '%s', %s: %.14g does not fit: expected a whole number from %.0f to %.0f",
               ls->fn->name, s_argname(ls->fn, i, an, sizeof an), d, range[k].lo, top_open ? range[k].hi - 1 : range[k].hi);
      return -1;
    }
    switch (k) {
    case RL_SIG_I8: v->i8 = (int8_t)d; break;
    case RL_SIG_U8: v->u8 = (uint8_t)d; break;
    case RL_SIG_I16: v->i16 = (int16_t)d; break;
    case RL_SIG_U16: v->u16 = (uint16_t)d; break;
    case RL_SIG_I32: v->i32 = (int32_t)d; break;
    case RL_SIG_U32: v->u32 = (uint32_t)d; break;
    case RL_SIG_I64: v->i64 = (int64_t)d; break;
    default: v->u64 = (uint64_t)d; break;
    }
  }
  return 0;
type:
  snprintf(ls->err, sizeof ls->err, "kernel '%s', %s: expected %s (%s), got a %s", ls->fn->name,
           s_argname(ls->fn, i, an, sizeof an), k == RL_SIG_BOOL ? "a boolean" : "a number", rl_sig_kind_name(k),
           luaL_typename(L, idx));
  return -1;
}

/* Reads a pointer argument (a device buffer, or a rayl.array to copy in) at idx. */
static int s_pointer(lua_State *L, s_launch_t *ls, int i, int idx, const rl_sig_param_t *p, s_val_t *v) {
  char an[200];
  rl_sig_kind_t pointee = p ? p->pointee : RL_SIG_VOID;
  s_buf_t *buf = luaL_testudata(L, idx, S_BUF_MT);
  rl_array_t *a = buf ? NULL : rl_array_test(L, idx);
  int dtype = buf ? buf->dtype : a ? a->dtype : 0;
  if (!buf && !a) {
    snprintf(ls->err, sizeof ls->err, "kernel '%s', %s: expected a device buffer or a rayl.array, got a %s",
             ls->fn->name, s_argname(ls->fn, i, an, sizeof an), luaL_typename(L, idx));
    return -1;
  }
  if (!s_dtype_fits(pointee, dtype)) {
    snprintf(ls->err, sizeof ls->err, "kernel '%s', %s: the %s holds %s, but the kernel reads %s", ls->fn->name,
             s_argname(ls->fn, i, an, sizeof an), buf ? "buffer" : "rayl.array", rl_dtype_name(dtype),
             rl_sig_kind_name(pointee));
    return -1;
  }
  if (buf && buf->b != ls->fn->b) {
    snprintf(ls->err, sizeof ls->err,
             "kernel '%s', %s: the buffer was made for the %s backend, but the kernel runs on the %s one (make both in "
             "the same mode: the sim option of cuda.kernel and of the buffer functions)",
             ls->fn->name, s_argname(ls->fn, i, an, sizeof an), buf->b->mode, ls->fn->b->mode);
    return -1;
  }
  if (buf) {
    v->p = buf->ptr;
    return 0;
  }
  bool writes = p ? !p->is_const : !a->view;
  if (writes && a->view) {
    snprintf(ls->err, sizeof ls->err,
             "kernel '%s', %s: the rayl.array is a read-only view of a shared object and the kernel may write it: "
             "pass a copy, or declare the parameter const",
             ls->fn->name, s_argname(ls->fn, i, an, sizeof an));
    return -1;
  }
  ls->tmps[ls->ntmps++] = (s_tmp_t){i, a, 0, a->n * rl_dtype_size(a->dtype), writes};
  v->p = 0; /* set once the temporary exists */
  return 0;
}

/* Checks and converts the n arguments from stack index first. */
static int s_args(lua_State *L, s_launch_t *ls, int first, int n) {
  s_fn_t *fn = ls->fn;
  char an[200];
  if (n > RL_SIG_MAXPARAMS) {
    snprintf(ls->err, sizeof ls->err, "kernel '%s': %d arguments is too many (at most %d)", fn->name, n,
             RL_SIG_MAXPARAMS);
    return -1;
  }
  if (fn->has_sig && n != fn->sig.nparams) {
    size_t at = (size_t)snprintf(ls->err, sizeof ls->err, "kernel '%s' takes %d argument%s (", fn->name,
                                 fn->sig.nparams, fn->sig.nparams == 1 ? "" : "s");
    for (int i = 0; i < fn->sig.nparams && at < sizeof ls->err; i++)
      at += (size_t)snprintf(ls->err + at, sizeof ls->err - at, "%s%s%s%s", i ? ", " : "", fn->sig.params[i].type,
                             s_sep(&fn->sig.params[i]), fn->sig.params[i].name);
    if (at < sizeof ls->err) snprintf(ls->err + at, sizeof ls->err - at, "), got %d", n);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    int idx = first + i;
    const rl_sig_param_t *p = fn->has_sig ? &fn->sig.params[i] : NULL;
    ls->args[i] = &ls->vals[i];
    if (p && p->kind == RL_SIG_PTR) {
      if (s_pointer(L, ls, i, idx, p, &ls->vals[i])) return -1;
    } else if (p && p->kind != RL_SIG_UNKNOWN) {
      if (s_scalar(L, ls, i, idx, p->kind, &ls->vals[i])) return -1;
    } else if (p) {
      snprintf(ls->err, sizeof ls->err,
               "kernel '%s', %s: rayl.cuda cannot pass a %s from Lua; pass a pointer to it in a device buffer instead",
               fn->name, s_argname(fn, i, an, sizeof an), p->type);
      return -1;
    } else if (rl_cuda_buffer_test(L, idx) || rl_array_test(L, idx)) {
      if (s_pointer(L, ls, i, idx, NULL, &ls->vals[i])) return -1;
    } else {
      snprintf(ls->err, sizeof ls->err,
               "kernel '%s', argument %d: rayl.cuda cannot tell the C type of a %s because the kernel's parameter "
               "list could not be read (%s); declare it as extern \"C\" __global__ void %s(...) in the source, or give "
               "it with the signature option, e.g. { signature = \"int n, const float *x\" }",
               fn->name, i + 1, luaL_typename(L, idx), fn->why_nosig, fn->name);
      return -1;
    }
  }
  return 0;
}

/* Frees the temporaries (the copies of rayl.arrays). */
static void s_tmps_free(s_launch_t *ls) {
  for (int t = 0; t < ls->ntmps; t++)
    if (ls->tmps[t].ptr) ls->fn->b->free(ls->tmps[t].ptr);
  ls->ntmps = 0;
}

/* Makes the temporaries and copies the arrays in; -1 with ls->err (all freed). */
static int s_tmps_in(s_launch_t *ls) {
  const rl_gpu_backend_t *b = ls->fn->b;
  for (int t = 0; t < ls->ntmps; t++) {
    s_tmp_t *tmp = &ls->tmps[t];
    if (b->alloc(tmp->bytes, &tmp->ptr, ls->err, sizeof ls->err) != 0 ||
        b->copy_in(tmp->ptr, tmp->a->data, tmp->bytes, ls->err, sizeof ls->err) != 0) {
      s_tmps_free(ls);
      return -1;
    }
    ls->vals[tmp->arg].p = tmp->ptr;
  }
  return 0;
}

/* Copies written arrays back and frees the temporaries; -1 with ls->err. */
static int s_tmps_out(s_launch_t *ls) {
  int rc = 0;
  for (int t = 0; t < ls->ntmps && rc == 0; t++) {
    s_tmp_t *tmp = &ls->tmps[t];
    if (tmp->back) rc = ls->fn->b->copy_out(tmp->a->data, tmp->ptr, tmp->bytes, ls->err, sizeof ls->err);
  }
  s_tmps_free(ls);
  return rc;
}

/* Where arguments beyond those given point when the parameter list is unknown, so a
 * driver reading more parameters than were passed reads zeros, never stray memory. */
static const unsigned char s_zeros[32768];

/* core.cuda.launch(fn, grid, block, shared_mem, stream, args...) */
static int l_cuda_launch(lua_State *L) {
  static __thread s_launch_t s_ls; /* big: kept off the C stack; a launch never re-enters */
  s_launch_t *ls = &s_ls;
  ls->fn = s_check_fn(L, 1);
  ls->ntmps = 0;
  s_fn_t *fn = ls->fn;
  rl_gpu_launch_t l = {.args = ls->args};
  s_dims(L, fn, 2, "grid", s_max_grid, l.grid);
  s_dims(L, fn, 3, "block", s_max_block, l.block);
  if ((unsigned long)l.block[0] * l.block[1] * l.block[2] > 1024)
    return rl_host_raise(L, "ValueError", "kernel '%s': a block of %lu threads is too big: at most 1024", fn->name,
                         (unsigned long)l.block[0] * l.block[1] * l.block[2]);
  lua_Number shm = lua_isnoneornil(L, 4) ? 0 : lua_type(L, 4) == LUA_TNUMBER ? lua_tonumber(L, 4) : -1;
  if (!(shm >= 0 && shm <= 0x7fffffff && shm == floor(shm)))
    return rl_host_raise(L, "ValueError", "kernel '%s': shared_mem must be a whole number of bytes >= 0, got %s",
                         fn->name, lua_type(L, 4) == LUA_TNUMBER ? lua_tostring(L, 4) : luaL_typename(L, 4));
  l.shared_mem = (size_t)shm;
  if (lua_type(L, 5) == LUA_TLIGHTUSERDATA) l.stream = lua_touserdata(L, 5);
  else if (lua_type(L, 5) == LUA_TNUMBER) l.stream = (void *)(uintptr_t)lua_tonumber(L, 5);
  else if (!lua_isnoneornil(L, 5))
    return rl_host_raise(L, "ValueError", "kernel '%s': stream must be nil (the default stream) or a CUstream, got a %s",
                         fn->name, luaL_typename(L, 5));
  int n = lua_gettop(L) - 5;
  if (s_args(L, ls, 6, n) != 0) return rl_host_raise(L, "ValueError", "%s", ls->err);
  for (int i = n; !fn->has_sig && i < RL_SIG_MAXPARAMS; i++) ls->args[i] = (void *)s_zeros;
  l.nargs = (size_t)n;
  if (!fn->k && !(fn->k = fn->b->load(fn->image, fn->image_len, fn->name, ls->err, sizeof ls->err)))
    return rl_host_raise(L, "CudaError", "%s", ls->err);
  if (s_tmps_in(ls) != 0) return rl_host_raise(L, "CudaError", "kernel '%s': %s", fn->name, ls->err);
  /* With rayl.arrays to copy back, wait for the kernel: its failure is the error, not the copy's. */
  if (fn->b->launch(fn->k, &l, ls->err, sizeof ls->err) != 0 ||
      (ls->ntmps && fn->b->synchronize(ls->err, sizeof ls->err) != 0)) {
    s_tmps_free(ls);
    return rl_host_raise(L, "CudaError", "%s", ls->err);
  }
  if (s_tmps_out(ls) != 0) return rl_host_raise(L, "CudaError", "kernel '%s': %s", fn->name, ls->err);
  return 0;
}

/* core.cuda.bench_launch(fn, reps, grid, block, args...) -> seconds for reps launches from
 * a C loop and a synchronize (tools/gpu-check compares it with launches from Lua). The
 * arguments are checked once; device buffers and numbers only. */
static int l_cuda_bench_launch(lua_State *L) {
  static __thread s_launch_t s_ls;
  s_launch_t *ls = &s_ls;
  ls->fn = s_check_fn(L, 1);
  ls->ntmps = 0;
  s_fn_t *fn = ls->fn;
  lua_Integer reps = luaL_checkinteger(L, 2);
  rl_gpu_launch_t l = {.args = ls->args};
  s_dims(L, fn, 3, "grid", s_max_grid, l.grid);
  s_dims(L, fn, 4, "block", s_max_block, l.block);
  int n = lua_gettop(L) - 4;
  if (s_args(L, ls, 5, n) != 0) return rl_host_raise(L, "ValueError", "%s", ls->err);
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
  luaL_getmetatable(L, S_BUF_MT);
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
  if (luaL_newmetatable(L, S_BUF_MT)) {
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
  if (luaL_newmetatable(L, S_FN_MT)) {
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
