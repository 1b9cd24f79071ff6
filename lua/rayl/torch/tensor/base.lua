-- rayl/torch/tensor/base.lua: the tensor layer's common ground, shared by its parts: the
-- shim's handles and scratch buffers, the dtype tables, argument checks, the tensor
-- boxes (counted for the collector) and the pins on memory lent to tensors.
local ffi = require "ffi"
local core = require "rayl.core"
-- rayl.errors as loaded at each raise: this layer lives as long as the process (see
-- tensor.lua's SINGLETON), so after a runner reloads modules its errors are still the
-- ones the reloaded rayl.errors recognizes.
local errors = setmetatable({}, { __index = function(_, k) return require("rayl.errors")[k] end })
local lib = require "rayl.torch.lib"

local C = lib.C
local gc, istype, cast, ffistring = ffi.gc, ffi.istype, ffi.cast, ffi.string
local type, select, tonumber, floor = type, select, tonumber, math.floor

local M = {}       -- the module functions (rayl.torch copies them)
local T = {}       -- tensor methods
local mt = {}      -- the tensor type's metatable

-- A tensor is a box around the shim's handle (rl_tensor_ref_t): a struct, so that t[i]
-- and the arithmetic operators reach the metamethods (index.lua, math.lua; a bare
-- pointer would do pointer arithmetic), freed by the shim itself when the box is
-- collected (tensor.lua sets the type's metatable).
local tensor_t = ffi.typeof("rl_tensor_ref_t")
local OUT = ffi.new("rl_tensor_t *[2]")
local SHAPE = ffi.new("int64_t[16]")
local DIMS = ffi.new("int64_t[16]")
local DBL = ffi.new("double[1]")
local INT = ffi.new("int[1]")
local LIST_T = ffi.typeof("rl_tensor_t *[?]")
local MAXDIM = 16
local BIG = 2 ^ 62 -- "to the end" for slices (clamped by libtorch)

-- dtypes: names (with PyTorch's aliases) to the shim's codes, and back.
local CODE = { float32 = 1, float = 1, float64 = 2, double = 2, int32 = 3, int = 3, int64 = 4, long = 4,
               uint8 = 5, byte = 5, bool = 6 }
local NAME = { "float32", "float64", "int32", "int64", "uint8", "bool" }
local PTR = { "float *", "double *", "int32_t *", "int64_t *", "uint8_t *", "bool *" }
local ESIZE = { 4, 8, 4, 8, 1, 1 }
local ARRAY_DTYPE = { "float32", "float64", "int32", "int64", "uint8", "uint8" }
local FLOAT32, INT64, BOOL = CODE.float32, CODE.int64, CODE.bool

---------------------------------------------------------------------------------------
-- errors and handles

local function torch_error()
  error(errors.new("TorchError", ffistring(C.rl_torch_last_error())), 3)
end

local function bad(msg, level)
  errors.raise("ValueError", msg, (level or 2) + 1)
end

-- The collector sees a tensor as a few bytes, whatever its elements take: so rayl.torch
-- counts the bytes of the tensors it makes and collects dropped ones once they add up to
-- 64 MiB or twice the Lua heap (whichever is more, so that collecting stays cheap).
local fresh, collect_at = 0, 64 * 2 ^ 20

local function made(h)
  fresh = fresh + C.rl_torch_new_bytes(h)
  if fresh > collect_at then
    fresh = 0
    collectgarbage()
    collect_at = math.max(64 * 2 ^ 20, collectgarbage("count") * 2048)
  end
  return tensor_t(h)
end

-- The new tensor a shim call left in OUT[0] (rc 0), freed by the garbage collector.
local function wrap(rc)
  if rc ~= 0 then torch_error() end
  return made(OUT[0])
end

local function check(rc)
  if rc ~= 0 then torch_error() end
end

local function is_tensor(x) return istype(tensor_t, x) end
M.is_tensor = is_tensor

-- The handle of x, which must be a tensor.
local function want(x, what)
  if istype(tensor_t, x) then return x.h end
  bad(("%s must be a tensor, not %s"):format(what, type(x)), 3)
end

local function dtype_code(name, level)
  local c = CODE[name]
  if not c then
    bad(("unknown dtype %s (float32, float64, int32, int64, uint8 or bool)"):format(tostring(name)), (level or 2) + 1)
  end
  return c
end

-- Creation options: nil, a dtype name, or { dtype = name, requires_grad = bool }.
local function options(o, default)
  if o == nil then return default, false end
  if type(o) == "string" then return dtype_code(o, 3), false end
  if type(o) ~= "table" then bad("options must be a dtype name or a table {dtype=, requires_grad=}", 3) end
  return o.dtype and dtype_code(o.dtype, 3) or default, o.requires_grad == true
end

local function finish(t, requires_grad)
  if requires_grad then check(C.rl_torch_set_requires_grad(t.h, 1)) end
  return t
end

-- Fills SHAPE from a table of sizes; returns the count.
local function fill_shape(buf, s, what)
  local n = #s
  if n > MAXDIM then bad(("%s has %d dims; at most %d"):format(what, n, MAXDIM), 4) end
  for i = 1, n do
    local v = s[i]
    if type(v) ~= "number" or v ~= floor(v) then
      bad(("%s must hold integers; element %d is %s"):format(what, i, tostring(v)), 4)
    end
    buf[i - 1] = v
  end
  return n
end

-- A shape given as a table or as numbers (f(2, 3) or f({2, 3})), and what follows it.
local function shape_args(what, a, ...)
  if type(a) == "table" then return fill_shape(SHAPE, a, what), ... end
  local n, nargs = 0, select("#", ...) + 1
  local args = { a, ... }
  while n < nargs and type(args[n + 1]) == "number" do n = n + 1 end
  return fill_shape(SHAPE, { unpack(args, 1, n) }, what), unpack(args, n + 1, nargs)
end

-- dims: nil (all), a number or a table of numbers, into DIMS; returns the count.
local function dims_arg(d)
  if d == nil then return 0 end
  if type(d) == "number" then
    DIMS[0] = d
    return 1
  end
  if type(d) ~= "table" then bad("dim must be a number or a table of numbers", 4) end
  return fill_shape(DIMS, d, "dims")
end

local function list_arg(ts, what)
  if type(ts) ~= "table" then bad(what .. " takes a table of tensors", 3) end
  local n = #ts
  local list = LIST_T(n)
  for i = 1, n do
    if not istype(tensor_t, ts[i]) then bad(("%s: element %d is not a tensor"):format(what, i), 3) end
    list[i - 1] = ts[i].h
  end
  return list, n
end

local function bool_arg(b) return b and 1 or 0 end

---------------------------------------------------------------------------------------
-- memory lent to tensors (from_array, tensors decoded in place): the lender (an array,
-- which keeps shared memory pinned) stays here until libtorch says no tensor uses it.

local pins, npins = {}, 0
local RELEASED = ffi.new("uint64_t[64]")

local function drain()
  repeat
    local n = C.rl_torch_released(RELEASED, 64)
    for i = 0, n - 1 do pins[tonumber(RELEASED[i])] = nil end
  until n < 64
end

local function pin(keeper)
  drain()
  npins = npins + 1
  pins[npins] = keeper
  return npins
end

-- Drain after every garbage collection cycle too (tensors die there).
local function arm_drain()
  gc(ffi.new("char[1]"), function()
    drain()
    arm_drain()
  end)
end
arm_drain()

-- Pins held (tests and debugging).
function M.pinned_count()
  drain()
  local n = 0
  for _ in pairs(pins) do n = n + 1 end
  return n
end

-- A tensor over n elements of a rayl.array (no copy); the array stays alive with it.
local function over_array(arr, code, nshape)
  if #arr == 0 then return wrap(C.rl_torch_empty(SHAPE, nshape, code, OUT)) end
  return wrap(C.rl_torch_from_blob(arr:ptr(), SHAPE, nshape, code, pin(arr), bool_arg(arr.readonly), OUT))
end

---------------------------------------------------------------------------------------
-- helpers more than one part uses

-- t itself when contiguous, else a contiguous copy.
local function contiguous(t)
  return wrap(C.rl_torch_contiguous(t.h, OUT))
end

-- The shim's op code for a name: RL_TORCH_<NAME> (rtorch.h).
local function op_code(name) return C["RL_TORCH_" .. name:upper()] end

local function need_dim(dim, name)
  if type(dim) ~= "number" then bad(name .. " needs a dim (a number; -1 for the last)", 3) end
  return dim
end

-- A number as a 0-dim tensor of t's dtype, for ops that want tensors.
local function as_tensor(x, like)
  if istype(tensor_t, x) then return x end
  if type(x) == "boolean" then x = x and 1 or 0 end
  if type(x) ~= "number" then bad("expected a tensor or a number, not " .. type(x), 4) end
  return wrap(C.rl_torch_scalar(x, like and C.rl_torch_dtype(like.h) or FLOAT32, OUT))
end

return {
  ffi = ffi,
  core = core,
  errors = errors,
  C = C,
  gc = gc,
  istype = istype,
  cast = cast,
  ffistring = ffistring,
  M = M,
  T = T,
  mt = mt,
  tensor_t = tensor_t,
  OUT = OUT,
  SHAPE = SHAPE,
  DIMS = DIMS,
  DBL = DBL,
  INT = INT,
  LIST_T = LIST_T,
  MAXDIM = MAXDIM,
  BIG = BIG,
  CODE = CODE,
  NAME = NAME,
  PTR = PTR,
  ESIZE = ESIZE,
  ARRAY_DTYPE = ARRAY_DTYPE,
  FLOAT32 = FLOAT32,
  INT64 = INT64,
  BOOL = BOOL,
  torch_error = torch_error,
  bad = bad,
  made = made,
  wrap = wrap,
  check = check,
  is_tensor = is_tensor,
  want = want,
  dtype_code = dtype_code,
  options = options,
  finish = finish,
  fill_shape = fill_shape,
  shape_args = shape_args,
  dims_arg = dims_arg,
  list_arg = list_arg,
  bool_arg = bool_arg,
  pins = pins,
  pin = pin,
  drain = drain,
  over_array = over_array,
  contiguous = contiguous,
  op_code = op_code,
  need_dim = need_dim,
  as_tensor = as_tensor,
}
