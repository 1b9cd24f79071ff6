-- cuda.lua: rayl.cuda, CUDA kernels written from Lua: device buffers, raw kernels (CUDA C
-- compiled by NVRTC, cached on disk), elementwise kernels, and the CPU simulator
-- (RAYL_CUDA=sim) that runs the same kernels where there is no GPU.
local core = require "rayl.core"
local errors = require "rayl.errors"
require "rayl" -- registers the error class, so errors raised in C read well

local C = core.cuda
local raise = errors.raise

local cuda = {}

local MODES = { sim = true, gpu = true, none = true }

-- The mode RAYL_CUDA asks for, or nil when it is unset.
local function requested(level)
  local v = os.getenv("RAYL_CUDA")
  if v == nil or v == "" then return nil end
  if not MODES[v] then
    raise("ValueError", ("RAYL_CUDA=%s is not a mode: use sim (the CPU simulator), gpu or none, or leave it unset "
      .. "(the GPU when there is one)"):format(v), level + 1)
  end
  return v
end

--- cuda.mode() -> "gpu" | "sim" | "none": where kernels run in this process. RAYL_CUDA=sim
--- picks the simulator, RAYL_CUDA=none turns rayl.cuda off; unset, the GPU if there is one.
function cuda.mode()
  local want = requested(2)
  if want then return want end
  return C.available("gpu") and "gpu" or "none"
end

-- Why mode "none" cannot run kernels, with what to do.
local function why_none()
  if requested(3) == "none" then
    return "rayl.cuda is off (RAYL_CUDA=none); unset RAYL_CUDA to use a GPU, or set RAYL_CUDA=sim for the simulator"
  end
  local _, why = C.available("gpu")
  why = why or "no GPU"
  if not why:find("RAYL_CUDA=sim", 1, true) then
    why = why .. "; to run kernels on the CPU instead, use the simulator: RAYL_CUDA=sim"
  end
  return why
end

--- cuda.available() -> true | false, why: whether kernels can run in this process.
function cuda.available()
  local m = cuda.mode()
  if m == "none" then return false, why_none() end
  return C.available(m)
end

--- cuda.device_count() -> devices in this mode (0 when none).
function cuda.device_count()
  local m = cuda.mode()
  if m == "none" then return 0 end
  return C.device_count(m)
end

--- cuda.backend_mode(sim, level) -> "gpu" | "sim": where a kernel or buffer with option
--- sim lives; raises CudaError saying what is missing when there is nowhere.
function cuda.backend_mode(sim, level)
  if sim then return "sim" end
  local m = cuda.mode()
  if m == "none" then raise("CudaError", "rayl.cuda cannot run here: " .. why_none(), level + 1) end
  return m
end

--- cuda.synchronize([opts]): waits for every launch so far; raises a launch's error.
function cuda.synchronize(opts)
  C.synchronize(cuda.backend_mode(opts and opts.sim, 2))
end

------------------------------------------------------------------------------
-- Device buffers
------------------------------------------------------------------------------

--- cuda.is_buffer(v) -> whether v is a device buffer.
cuda.is_buffer = C.is_buffer

-- Reads the trailing argument of the buffer functions: a dtype name or { dtype =, sim = }.
local function buffer_opts(what, opts, level)
  if opts == nil then return "float32", false end
  if type(opts) == "string" then return opts, false end
  if type(opts) ~= "table" then
    raise("ValueError", ("%s: expected a dtype name or a table { dtype =, sim = }, got %s"):format(what, type(opts)),
      level + 1)
  end
  for k in pairs(opts) do
    if k ~= "dtype" and k ~= "sim" then
      raise("ValueError", ("%s: unknown option '%s' (valid: dtype, sim)"):format(what, tostring(k)), level + 1)
    end
  end
  return opts.dtype or "float32", opts.sim == true
end

local function make(fill, what)
  return function(n, opts)
    if type(n) ~= "number" then
      raise("ValueError", ("cuda.%s(n, dtype): n must be a number, got %s"):format(what, type(n)), 2)
    end
    local dtype, sim = buffer_opts("cuda." .. what, opts, 2)
    return C.alloc(cuda.backend_mode(sim, 2), n, dtype, fill)
  end
end

--- cuda.zeros(n [, dtype | { dtype =, sim = }]) -> a device buffer of n zeros (float32 by default)
cuda.zeros = make("zeros", "zeros")
--- cuda.ones(n [, dtype | opts]) -> a device buffer of n ones
cuda.ones = make("ones", "ones")
--- cuda.empty(n [, dtype | opts]) -> a device buffer of n elements, not initialized
cuda.empty = make("empty", "empty")

--- cuda.array(values [, dtype | opts]) -> a device buffer holding a copy of a rayl.array
--- (or of a Lua table of numbers, as the dtype given, float32 by default).
function cuda.array(values, opts)
  local dtype, sim = buffer_opts("cuda.array", opts, 2)
  if type(values) == "table" then values = core.array(dtype, values) end
  return C.from_array(cuda.backend_mode(sim, 2), values)
end

------------------------------------------------------------------------------
-- Kernels
------------------------------------------------------------------------------

--- cuda.kernel(source, name [, { options = {...}, sim = true, signature = "..." }]) -> a
--- kernel: kernel(grid, block, args...) launches it, kernel:launch{...} too.
function cuda.kernel(source, name, opts)
  return require("rayl.cuda.kernel").new(source, name, opts, 3)
end

--- cuda.elementwise(in_params, out_params, body [, name [, opts]]) -> an elementwise kernel
--- (the loop over elements is written for you): kernel(ins... [, outs...]) -> outs...
function cuda.elementwise(in_params, out_params, body, name, opts)
  return require("rayl.cuda.elementwise").new(in_params, out_params, body, name, opts, 3)
end

--- cuda.memory_allocated() -> bytes this process's device buffers hold (a buffer's memory
--- is freed when the garbage collector takes the buffer).
cuda.memory_allocated = C.memory_allocated

--- cuda.cache_stats() -> { memory =, disk =, compiled = }, folder: how this process's
--- kernels were found (a hit compiles nothing), and where compiled kernels are kept.
function cuda.cache_stats()
  return C.cache_stats()
end

return cuda
