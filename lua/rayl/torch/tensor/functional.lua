-- rayl/torch/tensor/functional.lua: library settings (seed, threads, version) and the
-- neural-network functions: linear, conv2d, max_pool2d, losses, multinomial, one_hot.
local B = require "rayl.torch.tensor.base"
local ffi, C, ffistring, M, OUT, bad, wrap, check = B.ffi, B.C, B.ffistring, B.M, B.OUT, B.bad, B.wrap, B.check
local want, bool_arg = B.want, B.bool_arg
local type, floor = type, math.floor

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
