-- rayl.torch: tensors, autograd and neural networks over libtorch, through rayl's C shim
-- (runtime/torch). Requiring it is cheap: libtorch loads when a function is first used
-- (never in a process that only forks workers). Names follow PyTorch's; dims and
-- indices are 0-based as in PyTorch, shapes are Lua tables.
local torch = {
  float32 = "float32", float = "float32", float64 = "float64", double = "float64", int32 = "int32",
  int = "int32", int64 = "int64", long = "int64", uint8 = "uint8", bool = "bool",
}

--- torch.available() -> true | false, "why not" (loads libtorch when it is there).
function torch.available()
  local lib = require "rayl.torch.lib"
  if lib.ok then return true end
  return false, lib.reason
end

-- Parts written on top of the tensor layer, each loaded on first use.
local PARTS = { nn = "rayl.torch.nn", optim = "rayl.torch.optim", distributions = "rayl.torch.distributions" }

setmetatable(torch, { __index = function(t, k)
  if PARTS[k] then
    local part = require(PARTS[k])
    rawset(t, k, part)
    return part
  end
  -- Anything else is the tensor layer's: load it (and libtorch) and copy it in.
  local tensor = require "rayl.torch.tensor"
  for name, f in pairs(tensor) do
    if rawget(t, name) == nil then rawset(t, name, f) end
  end
  return rawget(t, k)
end })

return torch
