/* cuda_args.c: a kernel launch's Lua arguments checked and converted for rayl.cuda: grid,
 * block, shared memory and stream, and each argument against the kernel's parameters. */
#include "host/cuda_args.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "host/host.h"

/* CUDA's limits on every current GPU: threads per block, block and grid dimensions. */
static const unsigned long s_max_block[3] = {1024, 1024, 64}, s_max_grid[3] = {2147483647, 65535, 65535};
enum { S_MAX_THREADS = 1024 };

/* Reads grid or block (a number or a table of 1 to 3 numbers) at idx into d. */
static void s_dims(lua_State *L, const rl_cuda_fn_t *fn, int idx, const char *what, const unsigned long *max,
                   unsigned d[3]) {
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
static const char *s_argname(const rl_cuda_fn_t *fn, int i, char *buf, size_t n) {
  if (!fn->has_sig || i >= fn->sig.nparams) snprintf(buf, n, "argument %d", i + 1);
  else
    snprintf(buf, n, "argument %d (%s%s%s)", i + 1, fn->sig.params[i].type, s_sep(&fn->sig.params[i]),
             fn->sig.params[i].name);
  return buf;
}

/* Reads a scalar of kind k from the number at idx into v; -1 with ls->err if it does not fit. */
static int s_scalar(lua_State *L, rl_cuda_launch_t *ls, int i, int idx, rl_sig_kind_t k, rl_cuda_val_t *v) {
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
static int s_pointer(lua_State *L, rl_cuda_launch_t *ls, int i, int idx, const rl_sig_param_t *p, rl_cuda_val_t *v) {
  char an[200];
  rl_sig_kind_t pointee = p ? p->pointee : RL_SIG_VOID;
  rl_cuda_buf_t *buf = luaL_testudata(L, idx, RL_CUDA_BUF_MT);
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
  ls->tmps[ls->ntmps++] = (rl_cuda_tmp_t){i, a, 0, a->n * rl_dtype_size(a->dtype), writes};
  v->p = 0; /* set once the temporary exists */
  return 0;
}

int rl_cuda_args(lua_State *L, rl_cuda_launch_t *ls, int first, int n) {
  rl_cuda_fn_t *fn = ls->fn;
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

void rl_cuda_tmps_free(rl_cuda_launch_t *ls) {
  for (int t = 0; t < ls->ntmps; t++)
    if (ls->tmps[t].ptr) ls->fn->b->free(ls->tmps[t].ptr);
  ls->ntmps = 0;
}

int rl_cuda_tmps_in(rl_cuda_launch_t *ls) {
  const rl_gpu_backend_t *b = ls->fn->b;
  for (int t = 0; t < ls->ntmps; t++) {
    rl_cuda_tmp_t *tmp = &ls->tmps[t];
    if (b->alloc(tmp->bytes, &tmp->ptr, ls->err, sizeof ls->err) != 0 ||
        b->copy_in(tmp->ptr, tmp->a->data, tmp->bytes, ls->err, sizeof ls->err) != 0) {
      rl_cuda_tmps_free(ls);
      return -1;
    }
    ls->vals[tmp->arg].p = tmp->ptr;
  }
  return 0;
}

int rl_cuda_tmps_out(rl_cuda_launch_t *ls) {
  int rc = 0;
  for (int t = 0; t < ls->ntmps && rc == 0; t++) {
    rl_cuda_tmp_t *tmp = &ls->tmps[t];
    if (tmp->back) rc = ls->fn->b->copy_out(tmp->a->data, tmp->ptr, tmp->bytes, ls->err, sizeof ls->err);
  }
  rl_cuda_tmps_free(ls);
  return rc;
}

void rl_cuda_check_grid(lua_State *L, const rl_cuda_fn_t *fn, int idx, unsigned grid[3]) {
  s_dims(L, fn, idx, "grid", s_max_grid, grid);
}

void rl_cuda_check_block(lua_State *L, const rl_cuda_fn_t *fn, int idx, unsigned block[3]) {
  s_dims(L, fn, idx, "block", s_max_block, block);
  unsigned long threads = (unsigned long)block[0] * block[1] * block[2];
  if (threads > S_MAX_THREADS)
    rl_host_raise(L, "ValueError", "kernel '%s': a block of %lu threads is too big: at most %d", fn->name, threads,
                  S_MAX_THREADS);
}

size_t rl_cuda_check_shared_mem(lua_State *L, const rl_cuda_fn_t *fn, int idx) {
  lua_Number shm = lua_isnoneornil(L, idx) ? 0 : lua_type(L, idx) == LUA_TNUMBER ? lua_tonumber(L, idx) : -1;
  if (!(shm >= 0 && shm <= 0x7fffffff && shm == floor(shm)))
    rl_host_raise(L, "ValueError", "kernel '%s': shared_mem must be a whole number of bytes >= 0, got %s", fn->name,
                  lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
  return (size_t)shm;
}

void *rl_cuda_check_stream(lua_State *L, const rl_cuda_fn_t *fn, int idx) {
  if (lua_type(L, idx) == LUA_TLIGHTUSERDATA) return lua_touserdata(L, idx);
  if (lua_type(L, idx) == LUA_TNUMBER) return (void *)(uintptr_t)lua_tonumber(L, idx);
  if (!lua_isnoneornil(L, idx))
    rl_host_raise(L, "ValueError", "kernel '%s': stream must be nil (the default stream) or a CUstream, got a %s",
                  fn->name, luaL_typename(L, idx));
  return NULL;
}
