-- rayl/torch/tensor/index.lua: indexing: t[i] and t[{...}] read and written through the
-- tensor type's __index and __newindex (basic indexing gives views, tensors as indices copy).
local B = require "rayl.torch.tensor.base"
local C, istype, T, mt, tensor_t, OUT, LIST_T = B.C, B.istype, B.T, B.mt, B.tensor_t, B.OUT, B.LIST_T
local BIG, bad, wrap, check, as_tensor = B.BIG, B.bad, B.wrap, B.check, B.as_tensor
local type = type

-- t[i] (select along dim 0), t[{...}] with one entry per dim: a number
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
