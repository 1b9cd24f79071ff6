-- rayl/torch/lib.lua: loads librayl_torch (rayl's C shim over libtorch) through LuaJIT's
-- FFI. Requiring it loads libtorch (about 0.4 s and 150 MB), so only rayl.torch's first
-- use does. Never raises: { ok = true, C = namespace } or { ok = false, reason = "..." }.
local core = require "rayl.core"

local lib = { ok = false }

-- The source tree this file is in (the shim's header is there).
local function source_root()
  local src = debug.getinfo(1, "S").source
  return src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/lua/rayl/torch/lib%.lua$") or nil
end

-- The declarations between the header's FFI markers, preprocessor lines dropped.
local function read_header(path)
  local f, err = io.open(path, "r")
  if not f then return nil, "cannot read the shim's header: " .. tostring(err) end
  local text = f:read("*a")
  f:close()
  local decls = text:match("/%* FFI%-BEGIN %*/(.-)/%* FFI%-END %*/")
  if not decls then return nil, path .. " has no FFI-BEGIN/FFI-END markers" end
  return (decls:gsub("\n[ \t]*#[^\n]*", "\n"))
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- In a worker whose user set no thread counts, the math libraries get as many threads
-- as the running task holds CPUs (at least 1). The worker keeps OMP_NUM_THREADS and
-- OPENBLAS_NUM_THREADS at that (read once, when libtorch loads); libtorch's and
-- OpenBLAS's own settings follow each task that holds another number of CPUs.
local function task_threads()
  local cpus, auto = core.task_cpus()
  if not (cpus and auto) then return nil end
  return math.max(1, math.ceil(cpus))
end

local function load()
  local ok, ffi = pcall(require, "ffi")
  if not ok then return nil, "rayl.torch needs LuaJIT's FFI" end
  local root = source_root()
  if not root then return nil, "cannot find rayl's source tree from " .. debug.getinfo(1, "S").source end
  local path = os.getenv("RAYL_TORCH_LIB") or (core.lib_dir .. "/librayl_torch.so")
  if not exists(path) then
    return nil, path .. " does not exist: rayl was built without libtorch (tools/setup installs libtorch-dev; "
      .. "then rebuild with tools/rayl)"
  end
  local decls, err = read_header(root .. "/runtime/torch/rtorch.h")
  if not decls then return nil, err end
  ok, err = pcall(ffi.cdef, decls)
  if not ok then return nil, "cannot declare the shim's functions: " .. tostring(err) end
  local threads = task_threads()
  local C
  ok, C = pcall(ffi.load, path)
  if not ok then return nil, "cannot load " .. path .. ": " .. tostring(C) end
  if threads and C.rl_torch_set_num_threads(threads) ~= 0 then
    return nil, "cannot set libtorch's threads: " .. ffi.string(C.rl_torch_last_error())
  end
  if threads then
    core.on_task_cpus(function(cpus)
      local n = math.max(1, math.ceil(cpus))
      if C.rl_torch_set_num_threads(n) ~= 0 then error(ffi.string(C.rl_torch_last_error())) end
    end)
  end
  return C
end

local C, reason = load()
if C then
  lib.ok, lib.C = true, C
else
  lib.reason = reason
end

return lib
