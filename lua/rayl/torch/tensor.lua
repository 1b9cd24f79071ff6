-- rayl/torch/tensor.lua: the tensor layer over librayl_torch, put together from its parts
-- (rayl/torch/tensor/*.lua: making tensors, shape, math, reductions, in place, autograd,
-- indexing, files and processes). Requiring it loads libtorch; it raises TorchError when
-- libtorch is not available.
local ffi = require "ffi"
local lib = require "rayl.torch.lib"

if not lib.ok then require("rayl.errors").raise("TorchError", "rayl.torch is not available: " .. lib.reason, 2) end

-- One tensor layer per process: the tensor type's metatable is set once, so a runner that
-- reloads modules (busted does per spec file) gets the first layer back, whose methods
-- and lent-memory pins the tensors already use.
local SINGLETON = "rayl.torch.tensor"
if debug.getregistry()[SINGLETON] then return debug.getregistry()[SINGLETON] end

local B = require "rayl.torch.tensor.base"
local M, T, mt = B.M, B.T, B.mt

-- Each part adds its functions to B.M (the module), B.T (the methods) and B.mt (the
-- tensor type's metatable).
for _, part in ipairs({ "info", "make", "shape", "math", "reduce", "inplace", "grad", "functional", "index", "io" }) do
  require("rayl.torch.tensor." .. part)
end

-- Collected boxes go straight to the shim (lenders of memory are let go at the next
-- drain: a new pin, or the end of the collection cycle).
mt.__gc = B.C.rl_torch_release
ffi.metatype(B.tensor_t, mt)

-- Every method is also a function of the module (torch.exp(t), torch.matmul(a, b)).
for name, f in pairs(T) do
  if M[name] == nil then M[name] = f end
end
M.Tensor = T

debug.getregistry()[SINGLETON] = M
return M
