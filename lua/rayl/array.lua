-- array.lua: rayl.array, typed numeric arrays that travel as raw bytes; FFI access to the data.
local core = require "rayl.core"

local M = {}

local ctypes = {
  float32 = "float *", float64 = "double *", int32 = "int32_t *", int64 = "int64_t *", uint8 = "uint8_t *",
}

-- array(dtype, n) or array(dtype, {values}): a new zero-filled (or filled) array.
function M.new(dtype, n_or_values)
  return core.array(dtype, n_or_values)
end

-- An FFI pointer to a's elements (0-based), typed by its dtype. The pointer is only
-- valid while `a` is alive; a view of a shared object must not be written through it.
function M.data(a)
  local ok, ffi = pcall(require, "ffi")
  if not ok then error("rayl.array.data needs LuaJIT's FFI", 2) end
  return ffi.cast(ctypes[a.dtype], a:ptr())
end

return setmetatable(M, { __call = function(_, dtype, n) return core.array(dtype, n) end })
