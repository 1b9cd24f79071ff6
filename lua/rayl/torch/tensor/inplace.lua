-- rayl/torch/tensor/inplace.lua: the in-place methods (add_, mul_, fill_, copy_, the
-- initialisers ...); each returns the tensor it changed.
local B = require "rayl.torch.tensor.base"
local C, T, bad, check, want, op_code = B.C, B.T, B.bad, B.check, B.want, B.op_code
local type = type

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
