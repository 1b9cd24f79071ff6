-- rayl/torch/tensor/info.lua: what a tensor is (dim, shape, dtype, flags) and its elements
-- read into Lua: item, totable, tostring and #t.
local B = require "rayl.torch.tensor.base"
local ffi, C, cast, T, mt, DBL, NAME, PTR, INT64 = B.ffi, B.C, B.cast, B.T, B.mt, B.DBL, B.NAME, B.PTR, B.INT64
local BOOL, bad, check, want, contiguous = B.BOOL, B.bad, B.check, B.want, B.contiguous
local type, tonumber, floor = type, tonumber, math.floor

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
