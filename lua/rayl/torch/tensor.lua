-- rayl/torch/tensor.lua: the tensor type over librayl_torch (methods, operators, indexing),
-- creation, autograd helpers, files, and how tensors cross processes. Requiring it loads
-- libtorch; it raises TorchError when libtorch is not available.
local ffi = require "ffi"
local core = require "rayl.core"
-- rayl.errors as loaded at each raise: this layer lives as long as the process (see
-- SINGLETON), so after a runner reloads modules its errors are still the ones the
-- reloaded rayl.errors recognizes.
local errors = setmetatable({}, { __index = function(_, k) return require("rayl.errors")[k] end })
local lib = require "rayl.torch.lib"

if not lib.ok then errors.raise("TorchError", "rayl.torch is not available: " .. lib.reason, 2) end

-- One tensor layer per process: the tensor type's metatable is set once, so a runner that
-- reloads modules (busted does per spec file) gets the first layer back, whose methods
-- and lent-memory pins the tensors already use.
local SINGLETON = "rayl.torch.tensor"
if debug.getregistry()[SINGLETON] then return debug.getregistry()[SINGLETON] end

local C = lib.C
local gc, istype, cast, ffistring = ffi.gc, ffi.istype, ffi.cast, ffi.string
local type, select, tonumber, floor = type, select, tonumber, math.floor

local M = {}       -- the module functions (rayl.torch copies them)
local T = {}       -- tensor methods
local mt = {}      -- the tensor type's metatable

-- A tensor is a box around the shim's handle (rl_tensor_ref_t): a struct, so that t[i]
-- and the arithmetic operators reach the metamethods below (a bare pointer would do
-- pointer arithmetic), freed by the shim itself when the box is collected.
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
-- information

function T.dim(t) return C.rl_torch_dim(t.h) end
T.ndim = T.dim
function T.numel(t) return tonumber(C.rl_torch_numel(t.h)) end
T.nelement = T.numel
function T.dtype(t) return NAME[C.rl_torch_dtype(t.h)] or "other" end
function T.is_contiguous(t) return C.rl_torch_is_contiguous(t.h) == 1 end
function T.requires_grad(t) return C.rl_torch_requires_grad(t.h) == 1 end
function T.is_leaf(t) return C.rl_torch_is_leaf(t.h) == 1 end
function T.is_readonly(t) return C.rl_torch_is_readonly(t.h) == 1 end
function T.data_ptr(t) return C.rl_torch_data(t.h) end
function T.shares_memory(t, o) return C.rl_torch_same_storage(t.h, want(o, "other")) == 1 end

local SIZES = ffi.new("int64_t[16]")
function T.shape(t)
  local n = C.rl_torch_sizes(t.h, SIZES)
  local s = {}
  for i = 1, n do s[i] = tonumber(SIZES[i - 1]) end
  return s
end

--- t:size() -> {sizes}; t:size(dim) -> that dim's size (0-based dim; negative from the end)
function T.size(t, dim)
  if dim == nil then return T.shape(t) end
  local n = C.rl_torch_sizes(t.h, SIZES)
  local d = dim < 0 and dim + n or dim
  if d < 0 or d >= n or d ~= floor(d) then bad(("dim %s out of range for a %d-dim tensor"):format(tostring(dim), n)) end
  return tonumber(SIZES[d])
end

function T.stride(t)
  local n = C.rl_torch_strides(t.h, SIZES)
  local s = {}
  for i = 1, n do s[i] = tonumber(SIZES[i - 1]) end
  return s
end

--- The one element as a number (a boolean for bool tensors).
function T.item(t)
  check(C.rl_torch_item(t.h, DBL))
  if C.rl_torch_dtype(t.h) == BOOL then return DBL[0] ~= 0 end
  return DBL[0]
end

local function contiguous(t)
  return wrap(C.rl_torch_contiguous(t.h, OUT))
end

--- Nested Lua tables of the elements (a number for a 0-dim tensor).
function T.totable(t)
  local code = C.rl_torch_dtype(t.h)
  if code == 0 then bad("totable: unsupported dtype") end
  local c = contiguous(t)
  local shape = T.shape(c)
  local p = cast(PTR[code], C.rl_torch_data(c.h))
  local conv = (code == INT64) and tonumber or function(x) return x end
  if #shape == 0 then return conv(p[0]) end
  local k = 0
  local function build(d)
    local out = {}
    if d == #shape then
      for i = 1, shape[d] do out[i] = conv(p[k]); k = k + 1 end
    else
      for i = 1, shape[d] do out[i] = build(d + 1) end
    end
    return out
  end
  local r = build(1)
  local _ = c -- keep the elements alive while reading them
  return r
end
T.tolist = T.totable

local function fmt(x)
  if type(x) == "boolean" then return tostring(x) end
  if x == floor(x) and x > -1e15 and x < 1e15 then return ("%d"):format(x) end
  return ("%.4g"):format(x)
end

local function show(v)
  if type(v) ~= "table" then return fmt(v) end
  local parts = {}
  for i = 1, #v do parts[i] = show(v[i]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function mt.__tostring(t)
  local shape = T.shape(t)
  local head = ("tensor(%s, shape {%s}"):format(T.dtype(t), table.concat(shape, ", "))
  if T.dtype(t) == "other" then return head .. ")" end
  if T.numel(t) <= 64 then return head .. ": " .. show(T.totable(t)) .. ")" end
  return head .. ")"
end

function mt.__len(t)
  if C.rl_torch_dim(t.h) == 0 then bad("a 0-dim tensor has no length") end
  return T.size(t, 0)
end

---------------------------------------------------------------------------------------
-- creation

--- torch.tensor(nested tables | number | boolean [, options]) -> a new tensor (copied).
--- Numbers become float32 and booleans bool unless options name a dtype.
function M.tensor(data, opts)
  if istype(tensor_t, data) then
    local code, rg = options(opts, C.rl_torch_dtype(data.h))
    return finish(T.to(T.detach(data), NAME[code], true), rg)
  end
  local shape, leaf = {}, data
  while type(leaf) == "table" do
    shape[#shape + 1] = #leaf
    leaf = leaf[1]
  end
  local code, rg = options(opts, type(leaf) == "boolean" and BOOL or FLOAT32)
  if leaf ~= nil and type(leaf) ~= "number" and type(leaf) ~= "boolean" then
    bad("torch.tensor takes numbers, booleans or nested tables of them, not " .. type(leaf))
  end
  local t = wrap(C.rl_torch_empty(SHAPE, fill_shape(SHAPE, shape, "shape"), code, OUT))
  local p = cast(PTR[code], C.rl_torch_data(t.h))
  local isbool = code == BOOL
  local k = 0
  local function put(x, d, path)
    if d > #shape then
      local tx = type(x)
      if tx == "boolean" then
        if isbool then p[k] = x else p[k] = x and 1 or 0 end
      elseif tx == "number" then
        if isbool then p[k] = x ~= 0 else p[k] = x end
      else
        bad(("torch.tensor: element %s is %s, not a number"):format(path, tx), 4)
      end
      k = k + 1
      return
    end
    if type(x) ~= "table" or #x ~= shape[d] then
      bad(("torch.tensor: ragged table at %s: expected %d elements, got %s"):format(path, shape[d],
        type(x) == "table" and tostring(#x) or type(x)), 4)
    end
    for i = 1, shape[d] do put(x[i], d + 1, path .. "[" .. i .. "]") end
  end
  put(data, 1, "data")
  return finish(t, rg)
end

function M.zeros(...)
  local n, opts = shape_args("zeros shape", ...)
  local code, rg = options(opts, FLOAT32)
  return finish(wrap(C.rl_torch_full(SHAPE, n, 0, code, OUT)), rg)
end

function M.ones(...)
  local n, opts = shape_args("ones shape", ...)
  local code, rg = options(opts, FLOAT32)
  return finish(wrap(C.rl_torch_full(SHAPE, n, 1, code, OUT)), rg)
end

function M.empty(...)
  local n, opts = shape_args("empty shape", ...)
  local code, rg = options(opts, FLOAT32)
  return finish(wrap(C.rl_torch_empty(SHAPE, n, code, OUT)), rg)
end

--- torch.full(shape, value [, options])
function M.full(shape, value, opts)
  if type(shape) ~= "table" then bad("torch.full(shape, value): shape must be a table") end
  if type(value) ~= "number" and type(value) ~= "boolean" then bad("torch.full: value must be a number") end
  local code, rg = options(opts, type(value) == "boolean" and BOOL or FLOAT32)
  if type(value) == "boolean" then value = value and 1 or 0 end
  return finish(wrap(C.rl_torch_full(SHAPE, fill_shape(SHAPE, shape, "shape"), value, code, OUT)), rg)
end

local function integral(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v ~= floor(v) then return false end
  end
  return true
end

--- torch.arange(end) / (start, end [, step]) [, options]: int64 when every bound is
--- integral (as PyTorch), else float32.
function M.arange(a, b, c, opts)
  if type(b) ~= "number" then a, b, c, opts = 0, a, 1, b
  elseif type(c) ~= "number" then c, opts = 1, c end
  if type(a) ~= "number" or type(b) ~= "number" then bad("torch.arange takes numbers") end
  local code, rg = options(opts, integral(a, b, c) and INT64 or FLOAT32)
  return finish(wrap(C.rl_torch_arange(a, b, c, code, OUT)), rg)
end

function M.linspace(a, b, steps, opts)
  if type(a) ~= "number" or type(b) ~= "number" or type(steps) ~= "number" then
    bad("torch.linspace(start, end, steps) takes numbers")
  end
  local code, rg = options(opts, FLOAT32)
  return finish(wrap(C.rl_torch_linspace(a, b, steps, code, OUT)), rg)
end

function M.rand(...)
  local n, opts = shape_args("rand shape", ...)
  local code, rg = options(opts, FLOAT32)
  return finish(wrap(C.rl_torch_rand(SHAPE, n, code, OUT)), rg)
end

function M.randn(...)
  local n, opts = shape_args("randn shape", ...)
  local code, rg = options(opts, FLOAT32)
  return finish(wrap(C.rl_torch_randn(SHAPE, n, code, OUT)), rg)
end

--- torch.randint(low, high, shape [, options]) or (high, shape [, options]): int64.
function M.randint(a, b, c, opts)
  if type(b) == "table" then a, b, c, opts = 0, a, b, c end
  if type(a) ~= "number" or type(b) ~= "number" or type(c) ~= "table" then
    bad("torch.randint(low, high, shape) takes two numbers and a table")
  end
  local code, rg = options(opts, INT64)
  return finish(wrap(C.rl_torch_randint(a, b, SHAPE, fill_shape(SHAPE, c, "shape"), code, OUT)), rg)
end

local function like(fname, maker)
  return function(t, ...)
    want(t, fname .. "'s argument")
    return maker(T.shape(t), t, ...)
  end
end

M.zeros_like = like("zeros_like", function(s, t, o) return M.zeros(s, o or T.dtype(t)) end)
M.ones_like = like("ones_like", function(s, t, o) return M.ones(s, o or T.dtype(t)) end)
M.empty_like = like("empty_like", function(s, t, o) return M.empty(s, o or T.dtype(t)) end)
M.rand_like = like("rand_like", function(s, t, o) return M.rand(s, o or T.dtype(t)) end)
M.randn_like = like("randn_like", function(s, t, o) return M.randn(s, o or T.dtype(t)) end)
M.full_like = like("full_like", function(s, t, v, o) return M.full(s, v, o or T.dtype(t)) end)

--- torch.from_array(arr [, shape]) -> a tensor over the rayl.array's memory (no copy),
--- which it keeps alive; read-only when the array is (a view of a shared object).
function M.from_array(arr, shape)
  local ok, dtype = pcall(function() return arr.dtype end)
  local code = ok and type(dtype) == "string" and CODE[dtype]
  if type(arr) ~= "userdata" or not code then bad("torch.from_array takes a rayl.array") end
  local n = #arr
  local nshape
  if shape == nil then
    SHAPE[0] = n
    nshape = 1
  else
    if type(shape) ~= "table" then bad("torch.from_array: shape must be a table") end
    nshape = fill_shape(SHAPE, shape, "shape")
    local numel = 1
    for i = 0, nshape - 1 do numel = numel * tonumber(SHAPE[i]) end
    if numel ~= n then bad(("torch.from_array: shape has %d elements, the array %d"):format(numel, n)) end
  end
  return over_array(arr, code, nshape)
end

--- t:to_array() -> the rayl.array under t when t is exactly one (made by from_array, or
--- read in place from the store): no copy, they share their elements; else a new
--- rayl.array with a copy of the elements (bool as uint8).
function T.to_array(t)
  local code = C.rl_torch_dtype(t.h)
  if code == 0 then bad("to_array: unsupported dtype") end
  local under = pins[tonumber(C.rl_torch_pin_of(t.h))]
  if under and under.dtype == ARRAY_DTYPE[code] then return under end
  local c = contiguous(t)
  local n = T.numel(c)
  local arr = core.array(ARRAY_DTYPE[code], n)
  if n > 0 then ffi.copy(arr:ptr(), C.rl_torch_data(c.h), n * ESIZE[code]) end
  return arr
end

---------------------------------------------------------------------------------------
-- shape and layout

function T.reshape(t, ...) return wrap(C.rl_torch_reshape(t.h, SHAPE, (shape_args("shape", ...)), OUT)) end
function T.view(t, ...) return wrap(C.rl_torch_view(t.h, SHAPE, (shape_args("shape", ...)), OUT)) end
function T.expand(t, ...) return wrap(C.rl_torch_expand(t.h, SHAPE, (shape_args("shape", ...)), OUT)) end
function T.permute(t, ...) return wrap(C.rl_torch_permute(t.h, SHAPE, (shape_args("dims", ...)), OUT)) end
function T.view_as(t, o) want(o, "other") return T.view(t, T.shape(o)) end
function T.reshape_as(t, o) want(o, "other") return T.reshape(t, T.shape(o)) end
function T.expand_as(t, o) want(o, "other") return T.expand(t, T.shape(o)) end
function T.transpose(t, d0, d1) return wrap(C.rl_torch_transpose(t.h, d0, d1, OUT)) end
--- t:t(): a 2-d tensor transposed (dims 0 and 1).
function T.t(t) return wrap(C.rl_torch_transpose(t.h, 0, 1, OUT)) end
function T.squeeze(t, dim) return wrap(C.rl_torch_squeeze(t.h, dim == nil and 1 or 0, dim or 0, OUT)) end
function T.unsqueeze(t, dim) return wrap(C.rl_torch_unsqueeze(t.h, dim, OUT)) end
function T.flatten(t, s, e) return wrap(C.rl_torch_flatten(t.h, s or 0, e or -1, OUT)) end
function T.narrow(t, dim, start, length) return wrap(C.rl_torch_narrow(t.h, dim, start, length, OUT)) end
function T.select(t, dim, index) return wrap(C.rl_torch_select(t.h, dim, index, OUT)) end

--- t:slice(dim, start, stop [, step]): Python's t[start:stop:step] along dim; nil start
--- or stop: from the beginning, to the end.
function T.slice(t, dim, start, stop, step)
  return wrap(C.rl_torch_slice(t.h, dim or 0, start or 0, stop or BIG, step or 1, OUT))
end

function T.index_select(t, dim, index)
  return wrap(C.rl_torch_index_select(t.h, dim, want(index, "index"), OUT))
end

function T.gather(t, dim, index) return wrap(C.rl_torch_gather(t.h, dim, want(index, "index"), OUT)) end

function T.scatter(t, dim, index, src)
  return wrap(C.rl_torch_scatter(t.h, dim, want(index, "index"), want(src, "src"), OUT))
end

--- t:unbind([dim]) -> {slices along dim}
function T.unbind(t, dim)
  dim = dim or 0
  local out = {}
  for i = 1, T.size(t, dim) do out[i] = T.select(t, dim, i - 1) end
  return out
end

--- t:split(size [, dim]) -> {pieces of size along dim (the last may be smaller)}
function T.split(t, size, dim)
  dim = dim or 0
  local n, out = T.size(t, dim), {}
  for s = 0, n - 1, size do out[#out + 1] = T.narrow(t, dim, s, math.min(size, n - s)) end
  return out
end

function T.contiguous(t) return contiguous(t) end
function T.clone(t) return wrap(C.rl_torch_clone(t.h, OUT)) end
function T.detach(t) return wrap(C.rl_torch_detach(t.h, OUT)) end

--- t:to(dtype [, copy]) -> t itself when it has that dtype already (unless copy).
function T.to(t, dtype, copy)
  local code = dtype_code(dtype)
  if not copy and C.rl_torch_dtype(t.h) == code then return t end
  if copy and C.rl_torch_dtype(t.h) == code then return T.clone(t) end
  return wrap(C.rl_torch_to_dtype(t.h, code, OUT))
end
function T.float(t) return T.to(t, "float32") end
function T.double(t) return T.to(t, "float64") end
function T.long(t) return T.to(t, "int64") end
function T.int(t) return T.to(t, "int32") end
function T.byte(t) return T.to(t, "uint8") end
function T.bool(t) return T.to(t, "bool") end

function M.cat(ts, dim)
  local list, n = list_arg(ts, "torch.cat")
  return wrap(C.rl_torch_cat(list, n, dim or 0, OUT))
end

function M.stack(ts, dim)
  local list, n = list_arg(ts, "torch.stack")
  return wrap(C.rl_torch_stack(list, n, dim or 0, OUT))
end

---------------------------------------------------------------------------------------
-- math

local UNARY = { "neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sin", "cos", "floor",
                "ceil", "round", "sign", "reciprocal", "log1p", "expm1", "square", "logical_not", "softplus",
                "elu", "gelu", "silu", "log2", "erf", "trunc" }
-- The shim's op code for a name: RL_TORCH_<NAME> (rtorch.h).
local function op_code(name) return C["RL_TORCH_" .. name:upper()] end

for _, name in ipairs(UNARY) do
  local op = op_code(name)
  T[name] = function(t) return wrap(C.rl_torch_unary(op, t.h, OUT)) end
  T[name .. "_"] = function(t)
    check(C.rl_torch_unary_(op, t.h))
    return t
  end
end
T.negative = T.neg

local BINARY = { "add", "sub", "mul", "div", "pow", "remainder", "floor_divide", "maximum", "minimum", "atan2",
                 "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor" }
local BIN = {}
for _, name in ipairs(BINARY) do BIN[name] = op_code(name) end

-- a op b where either may be a number (PyTorch's scalar rules) or a tensor.
local function binop(op, name)
  return function(a, b)
    if type(b) == "number" then
      if istype(tensor_t, a) then return wrap(C.rl_torch_binary_scalar(op, a.h, b, 0, OUT)) end
    elseif type(a) == "number" then
      if istype(tensor_t, b) then return wrap(C.rl_torch_binary_scalar(op, b.h, a, 1, OUT)) end
    elseif istype(tensor_t, a) and istype(tensor_t, b) then
      return wrap(C.rl_torch_binary(op, a.h, b.h, OUT))
    end
    bad(("%s: operands must be tensors or numbers, not %s and %s"):format(name, type(a), type(b)))
  end
end

for _, name in ipairs(BINARY) do T[name] = binop(BIN[name], name) end
local add, sub = T.add, T.sub

--- t:add(other [, alpha]): t + alpha * other.
function T.add(t, o, alpha)
  if alpha == nil or alpha == 1 then return add(t, o) end
  if type(o) == "number" then return add(t, o * alpha) end
  return wrap(C.rl_torch_add_scaled(want(t, "self"), want(o, "other"), alpha, OUT))
end

function T.sub(t, o, alpha)
  if alpha == nil or alpha == 1 then return sub(t, o) end
  if type(o) == "number" then return sub(t, o * alpha) end
  return wrap(C.rl_torch_add_scaled(want(t, "self"), want(o, "other"), -alpha, OUT))
end
T.multiply, T.divide, T.subtract = T.mul, T.div, T.sub
T.greater, T.less = T.gt, T.lt

mt.__add = binop(BIN.add, "+")
mt.__sub = binop(BIN.sub, "-")
mt.__mul = binop(BIN.mul, "*")
mt.__div = binop(BIN.div, "/")
mt.__pow = binop(BIN.pow, "^")
mt.__mod = binop(BIN.remainder, "%")
local NEG = op_code("neg")
function mt.__unm(t) return wrap(C.rl_torch_unary(NEG, t.h, OUT)) end

--- t:clamp([min] [, max]): nil bounds are absent.
function T.clamp(t, lo, hi)
  return wrap(C.rl_torch_clamp(t.h, bool_arg(lo ~= nil), lo or 0, bool_arg(hi ~= nil), hi or 0, OUT))
end
T.clip = T.clamp
function T.clamp_min(t, lo) return T.clamp(t, lo, nil) end
function T.clamp_max(t, hi) return T.clamp(t, nil, hi) end

local function need_dim(dim, name)
  if type(dim) ~= "number" then bad(name .. " needs a dim (a number; -1 for the last)", 3) end
  return dim
end

function T.softmax(t, dim) return wrap(C.rl_torch_softmax(t.h, need_dim(dim, "softmax"), OUT)) end
function T.log_softmax(t, dim) return wrap(C.rl_torch_log_softmax(t.h, need_dim(dim, "log_softmax"), OUT)) end
function T.matmul(t, o) return wrap(C.rl_torch_matmul(t.h, want(o, "matmul's argument"), OUT)) end
T.mm = T.matmul
function T.cumsum(t, dim) return wrap(C.rl_torch_cumsum(t.h, need_dim(dim, "cumsum"), OUT)) end

--- t:where(cond, other): t where cond holds, else other (PyTorch's Tensor.where).
function T.where(t, cond, other) return M.where(cond, t, other) end

-- A number as a 0-dim tensor of t's dtype, for ops that want tensors.
local function as_tensor(x, like)
  if istype(tensor_t, x) then return x end
  if type(x) == "boolean" then x = x and 1 or 0 end
  if type(x) ~= "number" then bad("expected a tensor or a number, not " .. type(x), 4) end
  return wrap(C.rl_torch_scalar(x, like and C.rl_torch_dtype(like.h) or FLOAT32, OUT))
end

--- torch.where(cond, a, b): a where cond holds, else b (numbers take the other's dtype).
function M.where(cond, a, b)
  want(cond, "where's condition")
  local ref = istype(tensor_t, a) and a or (istype(tensor_t, b) and b or nil)
  return wrap(C.rl_torch_where(cond.h, as_tensor(a, ref).h, as_tensor(b, ref).h, OUT))
end

function T.masked_fill(t, mask, value)
  want(mask, "mask")
  return M.where(mask, as_tensor(value, t), t)
end

---------------------------------------------------------------------------------------
-- reductions: dim is nil (all), a number or a table of numbers

for _, name in ipairs({ "sum", "mean", "prod", "amax", "amin", "logsumexp", "any", "all" }) do
  local op = op_code(name)
  T[name] = function(t, dim, keepdim)
    local n = dims_arg(dim)
    return wrap(C.rl_torch_reduce(op, t.h, DIMS, n, bool_arg(keepdim), OUT))
  end
end

local function minmax(is_min, name)
  return function(t, dim, keepdim)
    if dim == nil then return wrap(C.rl_torch_reduce(op_code(is_min and "amin" or "amax"), t.h, DIMS, 0, 0, OUT)) end
    if istype(tensor_t, dim) then return (is_min and T.minimum or T.maximum)(t, dim) end
    need_dim(dim, name)
    check(C.rl_torch_max_dim(t.h, dim, bool_arg(keepdim), bool_arg(is_min), OUT, OUT + 1))
    return made(OUT[0]), made(OUT[1])
  end
end
--- t:max() -> the largest element (0-dim); t:max(dim [, keepdim]) -> values, indices;
--- t:max(other) -> elementwise maximum.
T.max = minmax(false, "max")
T.min = minmax(true, "min")

function T.argmax(t, dim, keepdim)
  return wrap(C.rl_torch_argmax(t.h, bool_arg(dim ~= nil), dim or 0, bool_arg(keepdim), 0, OUT))
end

function T.argmin(t, dim, keepdim)
  return wrap(C.rl_torch_argmax(t.h, bool_arg(dim ~= nil), dim or 0, bool_arg(keepdim), 1, OUT))
end

--- t:std([dim [, unbiased [, keepdim]]]): unbiased (Bessel's correction) unless false.
function T.std(t, dim, unbiased, keepdim)
  local n = dims_arg(dim)
  return wrap(C.rl_torch_std(t.h, DIMS, n, bool_arg(unbiased ~= false), bool_arg(keepdim), 0, OUT))
end

function T.var(t, dim, unbiased, keepdim)
  local n = dims_arg(dim)
  return wrap(C.rl_torch_std(t.h, DIMS, n, bool_arg(unbiased ~= false), bool_arg(keepdim), 1, OUT))
end

function T.norm(t, p) return wrap(C.rl_torch_norm(t.h, p or 2, OUT)) end

function T.equal(t, o)
  check(C.rl_torch_equal(t.h, want(o, "other"), INT))
  return INT[0] == 1
end

function T.allclose(t, o, rtol, atol)
  check(C.rl_torch_allclose(t.h, want(o, "other"), rtol or 1e-5, atol or 1e-8, INT))
  return INT[0] == 1
end

---------------------------------------------------------------------------------------
-- in place (they return t)

local SCALAR_ = {}
for _, name in ipairs({ "add_", "sub_", "mul_", "div_", "pow_", "fill_", "clamp_min_", "clamp_max_" }) do
  SCALAR_[name] = op_code(name)
end

--- t:add_(other [, alpha]): t += alpha * other (other a tensor or a number).
function T.add_(t, o, alpha)
  if type(o) == "number" then check(C.rl_torch_scalar_(SCALAR_.add_, t.h, o * (alpha or 1)))
  else check(C.rl_torch_add_(t.h, want(o, "other"), alpha or 1)) end
  return t
end

function T.sub_(t, o, alpha)
  if type(o) == "number" then check(C.rl_torch_scalar_(SCALAR_.sub_, t.h, o * (alpha or 1)))
  else check(C.rl_torch_sub_(t.h, want(o, "other"), alpha or 1)) end
  return t
end

function T.mul_(t, o)
  if type(o) == "number" then check(C.rl_torch_scalar_(SCALAR_.mul_, t.h, o))
  else check(C.rl_torch_mul_(t.h, want(o, "other"))) end
  return t
end

function T.div_(t, o)
  if type(o) == "number" then check(C.rl_torch_scalar_(SCALAR_.div_, t.h, o))
  else check(C.rl_torch_div_(t.h, want(o, "other"))) end
  return t
end

function T.pow_(t, e)
  if type(e) ~= "number" then bad("pow_ takes a number") end
  check(C.rl_torch_scalar_(SCALAR_.pow_, t.h, e))
  return t
end

function T.fill_(t, v)
  if type(v) == "boolean" then v = v and 1 or 0 end
  check(C.rl_torch_scalar_(SCALAR_.fill_, t.h, v))
  return t
end

function T.zero_(t)
  check(C.rl_torch_zero_(t.h))
  return t
end

function T.clamp_(t, lo, hi)
  if lo ~= nil then check(C.rl_torch_scalar_(SCALAR_.clamp_min_, t.h, lo)) end
  if hi ~= nil then check(C.rl_torch_scalar_(SCALAR_.clamp_max_, t.h, hi)) end
  return t
end

function T.copy_(t, src)
  check(C.rl_torch_copy_(t.h, want(src, "src")))
  return t
end

--- t:addcmul_(a, b [, value]): t += value * a * b
function T.addcmul_(t, a, b, value)
  check(C.rl_torch_addcmul_(t.h, want(a, "tensor1"), want(b, "tensor2"), value or 1))
  return t
end

--- t:addcdiv_(a, b [, value]): t += value * a / b
function T.addcdiv_(t, a, b, value)
  check(C.rl_torch_addcdiv_(t.h, want(a, "tensor1"), want(b, "tensor2"), value or 1))
  return t
end

function T.lerp_(t, e, w)
  check(C.rl_torch_lerp_(t.h, want(e, "end"), w))
  return t
end

--- Initialisers (they never record gradients).
function T.uniform_(t, a, b)
  check(C.rl_torch_uniform_(t.h, a or 0, b or 1))
  return t
end

function T.normal_(t, mean, std)
  check(C.rl_torch_normal_(t.h, mean or 0, std or 1))
  return t
end

--- t:orthogonal_([gain]): as torch.nn.init.orthogonal_ (QR of a normal matrix).
function T.orthogonal_(t, gain)
  check(C.rl_torch_orthogonal_(t.h, gain or 1))
  return t
end

---------------------------------------------------------------------------------------
-- autograd

function T.requires_grad_(t, flag)
  check(C.rl_torch_set_requires_grad(t.h, bool_arg(flag ~= false)))
  return t
end

--- t:backward([grad [, retain_graph]]): grad is d(loss)/d(t), needed unless t has one element.
function T.backward(t, grad, retain_graph)
  local gh = grad ~= nil and want(grad, "backward's gradient") or nil
  check(C.rl_torch_backward(t.h, gh, bool_arg(retain_graph)))
end

--- t:grad() -> its gradient (a tensor sharing the accumulated values) or nil.
function T.grad(t)
  check(C.rl_torch_grad(t.h, OUT))
  if OUT[0] == nil then return nil end
  return tensor_t(OUT[0]) -- the gradient's own memory: nothing new to count
end

function T.set_grad(t, g)
  check(C.rl_torch_set_grad(t.h, g ~= nil and want(g, "the gradient") or nil))
  return t
end

--- t:zero_grad(): drops its gradient (the next backward starts from none).
function T.zero_grad(t) return T.set_grad(t, nil) end

function T.retain_grad(t)
  check(C.rl_torch_retain_grad(t.h))
  return t
end

local function restore_grad(was, ok, ...)
  C.rl_torch_set_grad_enabled(was)
  if not ok then error((...), 0) end
  return ...
end

--- torch.no_grad(fn, ...) -> fn(...)'s results, computed without recording gradients.
function M.no_grad(fn, ...)
  if type(fn) ~= "function" then bad("torch.no_grad takes a function") end
  return restore_grad(C.rl_torch_set_grad_enabled(0), pcall(fn, ...))
end

function M.enable_grad(fn, ...)
  if type(fn) ~= "function" then bad("torch.enable_grad takes a function") end
  return restore_grad(C.rl_torch_set_grad_enabled(1), pcall(fn, ...))
end

--- torch.set_grad_enabled(flag) -> the previous setting (this thread's).
function M.set_grad_enabled(flag) return C.rl_torch_set_grad_enabled(bool_arg(flag)) == 1 end
function M.is_grad_enabled() return C.rl_torch_is_grad_enabled() == 1 end

---------------------------------------------------------------------------------------
-- library, neural-network building blocks

function M.manual_seed(seed)
  if type(seed) ~= "number" or seed < 0 or seed ~= floor(seed) then bad("manual_seed takes an integer >= 0") end
  check(C.rl_torch_manual_seed(seed))
end

function M.set_num_threads(n)
  if type(n) ~= "number" or n < 1 or n ~= floor(n) then bad("set_num_threads takes an integer >= 1") end
  check(C.rl_torch_set_num_threads(n))
end

function M.get_num_threads() return C.rl_torch_get_num_threads() end
--- OpenBLAS's threads (0 when libtorch's BLAS is another).
function M.blas_threads() return C.rl_torch_blas_threads() end
function M.version() return ffistring(C.rl_torch_version()) end

--- Runs the shim's own checks; raises TorchError if one fails.
function M.selftest()
  check(C.rl_torch_selftest())
  return true
end

--- torch.linear(x, weight [, bias]): x @ weight^T + bias
function M.linear(x, w, b)
  local bh = b ~= nil and want(b, "bias") or nil
  return wrap(C.rl_torch_linear(want(x, "input"), want(w, "weight"), bh, OUT))
end

local PAIR = { ffi.new("int64_t[2]"), ffi.new("int64_t[2]"), ffi.new("int64_t[2]") }
local function pair(i, v, default, what)
  v = v == nil and default or v
  if type(v) == "number" then v = { v, v } end
  if type(v) ~= "table" or #v ~= 2 then bad(what .. " must be a number or {h, w}", 4) end
  PAIR[i][0], PAIR[i][1] = v[1], v[2]
  return PAIR[i]
end

--- torch.conv2d(x, weight [, bias] [, {stride=, padding=, dilation=, groups=}]) (NCHW)
function M.conv2d(x, w, b, o)
  local bh = b ~= nil and want(b, "bias") or nil
  o = o or {}
  return wrap(C.rl_torch_conv2d(want(x, "input"), want(w, "weight"), bh, pair(1, o.stride, 1, "stride"),
    pair(2, o.padding, 0, "padding"), pair(3, o.dilation, 1, "dilation"), o.groups or 1, OUT))
end

--- torch.max_pool2d(x, kernel [, {stride=, padding=}]) (stride defaults to kernel)
function M.max_pool2d(x, kernel, o)
  o = o or {}
  return wrap(C.rl_torch_max_pool2d(want(x, "input"), pair(1, kernel, nil, "kernel"),
    pair(2, o.stride, kernel, "stride"), pair(3, o.padding, 0, "padding"), OUT))
end

local REDUCTION = { none = C.RL_TORCH_REDUCE_NONE, mean = C.RL_TORCH_REDUCE_MEAN, sum = C.RL_TORCH_REDUCE_SUM }
local function loss(op, name, has_beta)
  return function(input, target, reduction, beta)
    local r = REDUCTION[reduction or "mean"]
    if not r then bad(name .. ": reduction must be 'mean', 'sum' or 'none'") end
    return wrap(C.rl_torch_loss(op, want(input, name .. "'s input"), want(target, name .. "'s target"), r,
      has_beta and (beta or 1) or 0, OUT))
  end
end
--- Losses (input, target [, reduction "mean" | "sum" | "none"] [, beta]).
M.mse_loss = loss(C.RL_TORCH_MSE_LOSS, "mse_loss")
M.l1_loss = loss(C.RL_TORCH_L1_LOSS, "l1_loss")
M.smooth_l1_loss = loss(C.RL_TORCH_SMOOTH_L1_LOSS, "smooth_l1_loss", true)
M.huber_loss = loss(C.RL_TORCH_HUBER_LOSS, "huber_loss", true)
M.cross_entropy = loss(C.RL_TORCH_CROSS_ENTROPY, "cross_entropy")
M.nll_loss = loss(C.RL_TORCH_NLL_LOSS, "nll_loss")
M.binary_cross_entropy_with_logits = loss(C.RL_TORCH_BCE_WITH_LOGITS, "binary_cross_entropy_with_logits")

--- torch.multinomial(probs, n [, replacement]) -> int64 indices sampled from each row.
function M.multinomial(probs, n, replacement)
  return wrap(C.rl_torch_multinomial(want(probs, "probs"), n or 1, bool_arg(replacement), OUT))
end

function M.one_hot(indices, n) return wrap(C.rl_torch_one_hot(want(indices, "indices"), n or -1, OUT)) end

---------------------------------------------------------------------------------------
-- files: torch.save's format (Python's torch.load and libtorch's pickle_load read them)

--- torch.save({name = tensor, ...}, path): a flat table of tensors.
function M.save(tbl, path)
  if type(tbl) ~= "table" or type(path) ~= "string" then bad("torch.save(table_of_tensors, path)") end
  local names = {}
  for k, v in pairs(tbl) do
    if type(k) ~= "string" then bad("torch.save: keys must be strings, not " .. type(k)) end
    if not istype(tensor_t, v) then
      bad(("torch.save: value '%s' is %s; only tensors are saved"):format(k, type(v)))
    end
    names[#names + 1] = k
  end
  table.sort(names)
  local n = #names
  local cnames, ctensors = ffi.new("const char *[?]", n), LIST_T(n)
  for i, k in ipairs(names) do
    cnames[i - 1] = k
    ctensors[i - 1] = tbl[k].h
  end
  check(C.rl_torch_save(path, cnames, ctensors, n))
end

--- torch.load(path) -> {name = tensor, ...}
function M.load(path)
  if type(path) ~= "string" then bad("torch.load(path)") end
  local DICT = ffi.new("rl_tensor_dict_t *[1]")
  check(C.rl_torch_load(path, DICT))
  local d = gc(DICT[0], C.rl_torch_dict_free)
  local out, NAMEP = {}, ffi.new("const char *[1]")
  for i = 0, C.rl_torch_dict_size(d) - 1 do
    check(C.rl_torch_dict_item(d, i, NAMEP, OUT))
    out[ffistring(NAMEP[0])] = made(OUT[0])
  end
  return out
end

---------------------------------------------------------------------------------------
-- indexing: t[i] (select along dim 0), t[{...}] with one entry per dim: a number
-- (select), {start, stop [, step]} (a slice; nil ends are open), ":" (the whole dim),
-- "..." (as many whole dims as needed), or a tensor (int64 indices or a bool mask).
-- Indices are 0-based as in PyTorch.

local function range_of(r)
  return r.start or r[1] or 0, r.stop or r[2] or BIG, r.step or r[3] or 1
end

-- Basic indexing (selects and slices: a view) and the advanced part left over.
local function basic_index(t, key)
  if type(key) == "number" then return T.select(t, 0, key), nil end
  if istype(tensor_t, key) then return t, { [0] = key, n = 1 } end
  if type(key) ~= "table" then bad("a tensor is indexed by numbers, tables or tensors, not " .. type(key), 4) end
  local d, adv = 0, nil
  for i = 1, #key do
    local k = key[i]
    local tk = type(k)
    if tk == "number" then
      t = T.select(t, d, k)
    elseif k == ":" then
      d = d + 1
    elseif k == "..." then
      d = C.rl_torch_dim(t.h) - (#key - i) -- the entries after it take the last dims
    elseif tk == "table" then
      t = T.slice(t, d, range_of(k))
      d = d + 1
    elseif istype(tensor_t, k) then
      adv = adv or { n = 0 }
      adv[d], adv.n = k, math.max(adv.n, d + 1)
      d = d + 1
    else
      bad(("index entry %d is %s: use a number, {start, stop}, ':', '...' or a tensor"):format(i, tostring(k)), 4)
    end
  end
  return t, adv
end

local function adv_list(adv)
  local list = LIST_T(adv.n)
  for i = 0, adv.n - 1 do list[i] = adv[i] and adv[i].h end -- nil: the whole dim
  return list, adv.n
end

local function index(t, key)
  local v, adv = basic_index(t, key)
  if not adv then return v end
  local list, n = adv_list(adv)
  return wrap(C.rl_torch_index(v.h, list, n, OUT))
end
T.index = index

local function index_put(t, key, value)
  local v, adv = basic_index(t, key)
  if adv then
    local list, n = adv_list(adv)
    check(C.rl_torch_index_put_(v.h, list, n, as_tensor(value, t).h))
  elseif istype(tensor_t, value) then
    check(C.rl_torch_copy_(v.h, value.h))
  elseif type(value) == "number" or type(value) == "boolean" then
    T.fill_(v, value)
  else
    bad("a tensor's elements are set to a number or a tensor, not " .. type(value), 3)
  end
end
T.index_put_ = function(t, key, value)
  index_put(t, key, value)
  return t
end

-- Collected boxes go straight to the shim (lenders of memory are let go at the next
-- drain: a new pin, or the end of the collection cycle).
mt.__gc = C.rl_torch_release

function mt.__index(t, k)
  local m = T[k]
  if m ~= nil then return m end
  if type(k) == "string" then bad(("a tensor has no method or field '%s'"):format(k)) end
  return index(t, k)
end

function mt.__newindex(t, k, v)
  if type(k) == "string" then bad(("cannot set field '%s' of a tensor"):format(k)) end
  index_put(t, k, v)
end

ffi.metatype(tensor_t, mt)

---------------------------------------------------------------------------------------
-- crossing processes (called by the codec through rayl's hooks, host/codec.h)

--- Describes t for the codec: "tensor", dtype code, shape, data address, bytes, flags,
--- and the contiguous copy made when t was not contiguous.
function M.wire_describe(t)
  local code = C.rl_torch_dtype(t.h)
  if code == 0 then
    error("a tensor of a dtype rayl does not send (float32, float64, int32, int64, uint8, bool): convert it "
      .. "first, e.g. t:float()", 0)
  end
  local src, tmp = t, nil
  if C.rl_torch_is_contiguous(t.h) == 0 then
    tmp = contiguous(t)
    src = tmp
  end
  local addr = tonumber(cast("uintptr_t", C.rl_torch_data(src.h)))
  return "tensor", code, T.shape(t), addr, T.numel(t) * ESIZE[code], C.rl_torch_requires_grad(t.h), tmp
end

--- The tensor over a decoded array (a view into shared memory when decoded in place).
function M.wire_decode(arr, code, shape, flags)
  if not NAME[code] then error("a tensor of unknown dtype " .. tostring(code)) end
  local t = over_array(arr, code, fill_shape(SHAPE, shape, "shape"))
  if flags % 2 == 1 then check(C.rl_torch_set_requires_grad(t.h, 1)) end
  return t
end

-- Every method is also a function of the module (torch.exp(t), torch.matmul(a, b)).
for name, f in pairs(T) do
  if M[name] == nil then M[name] = f end
end
M.Tensor = T

debug.getregistry()[SINGLETON] = M
return M
