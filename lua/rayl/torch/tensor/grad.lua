-- rayl/torch/tensor/grad.lua: autograd: requires_grad_, backward, gradients, and
-- torch.no_grad / enable_grad / set_grad_enabled.
local B = require "rayl.torch.tensor.base"
local C, M, T, tensor_t, OUT, bad, check, want = B.C, B.M, B.T, B.tensor_t, B.OUT, B.bad, B.check, B.want
local bool_arg = B.bool_arg
local type = type

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
