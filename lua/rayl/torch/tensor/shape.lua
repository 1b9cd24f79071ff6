-- rayl/torch/tensor/shape.lua: shape and layout: views and reshapes, selecting and
-- slicing, gather/scatter, copies, dtype conversions, and torch.cat/stack.
local B = require "rayl.torch.tensor.base"
local C, M, T, OUT, SHAPE, BIG, wrap, want = B.C, B.M, B.T, B.OUT, B.SHAPE, B.BIG, B.wrap, B.want
local dtype_code, shape_args, list_arg, contiguous = B.dtype_code, B.shape_args, B.list_arg, B.contiguous

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
