-- rayl/torch/tensor/reduce.lua: reductions (sum, mean, max, argmax, std, norm ...) and
-- whole-tensor comparisons (equal, allclose); dim is nil (all), a number or a table.
local B = require "rayl.torch.tensor.base"
local C, istype, T, tensor_t, OUT, DIMS, INT = B.C, B.istype, B.T, B.tensor_t, B.OUT, B.DIMS, B.INT
local made, wrap, check, want, dims_arg, bool_arg = B.made, B.wrap, B.check, B.want, B.dims_arg, B.bool_arg
local op_code, need_dim = B.op_code, B.need_dim

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
