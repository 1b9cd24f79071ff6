-- rayl/torch/tensor/math.lua: element-wise math: unary and binary ops (methods and the
-- arithmetic operators), clamp, softmax, matmul, cumsum and where.
local B = require "rayl.torch.tensor.base"
local C, istype, M, T, mt, tensor_t, OUT, bad = B.C, B.istype, B.M, B.T, B.mt, B.tensor_t, B.OUT, B.bad
local wrap, check, want, bool_arg, op_code = B.wrap, B.check, B.want, B.bool_arg, B.op_code
local need_dim, as_tensor = B.need_dim, B.as_tensor
local type = type

local UNARY = { "neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sin", "cos", "floor",
                "ceil", "round", "sign", "reciprocal", "log1p", "expm1", "square", "logical_not", "softplus",
                "elu", "gelu", "silu", "log2", "erf", "trunc" }

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

function T.softmax(t, dim) return wrap(C.rl_torch_softmax(t.h, need_dim(dim, "softmax"), OUT)) end
function T.log_softmax(t, dim) return wrap(C.rl_torch_log_softmax(t.h, need_dim(dim, "log_softmax"), OUT)) end
function T.matmul(t, o) return wrap(C.rl_torch_matmul(t.h, want(o, "matmul's argument"), OUT)) end
T.mm = T.matmul
function T.cumsum(t, dim) return wrap(C.rl_torch_cumsum(t.h, need_dim(dim, "cumsum"), OUT)) end

--- t:where(cond, other): t where cond holds, else other (PyTorch's Tensor.where).
function T.where(t, cond, other) return M.where(cond, t, other) end

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
