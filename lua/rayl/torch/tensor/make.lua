-- rayl/torch/tensor/make.lua: making tensors: torch.tensor from Lua tables, zeros, ones,
-- full, arange, random ones, the *_like family, and tensors over rayl.arrays (both ways).
local B = require "rayl.torch.tensor.base"
local ffi, core, C, istype, cast, M, T, tensor_t = B.ffi, B.core, B.C, B.istype, B.cast, B.M, B.T, B.tensor_t
local OUT, SHAPE, CODE, NAME, PTR, ESIZE = B.OUT, B.SHAPE, B.CODE, B.NAME, B.PTR, B.ESIZE
local ARRAY_DTYPE, FLOAT32, INT64, BOOL, bad, wrap = B.ARRAY_DTYPE, B.FLOAT32, B.INT64, B.BOOL, B.bad, B.wrap
local want, options, finish, fill_shape, shape_args = B.want, B.options, B.finish, B.fill_shape, B.shape_args
local pins, over_array, contiguous = B.pins, B.over_array, B.contiguous
local type, select, tonumber, floor = type, select, tonumber, math.floor

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
