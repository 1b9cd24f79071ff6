-- cuda/kernel.lua: raw CUDA kernels (as CuPy's RawKernel): CUDA C source and a name,
-- compiled through the kernel cache on first need in each process. This module is the
-- kernels' metatable, so a kernel travels to tasks by value and compiles there.
local core = require "rayl.core"
local errors = require "rayl.errors"

local C = core.cuda
local raise = errors.raise

local Kernel = {}
Kernel.__index = Kernel

-- This process's compiled handle of each kernel (not part of the kernel's value).
local handles = setmetatable({}, { __mode = "k" })

local OPTIONS = { options = "table", sim = "boolean", signature = "string" }

local function check_opts(opts, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    raise("ValueError", ("cuda.kernel: options must be a table, got %s"):format(type(opts)), level + 1)
  end
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      raise("ValueError", ("cuda.kernel: unknown option '%s' (valid: options, signature, sim)"):format(tostring(k)),
        level + 1)
    end
    if type(v) ~= OPTIONS[k] then
      raise("ValueError", ("cuda.kernel: option '%s' must be a %s, got %s"):format(k, OPTIONS[k], type(v)), level + 1)
    end
  end
  for i, o in ipairs(opts.options or {}) do
    if type(o) ~= "string" then
      raise("ValueError", ("cuda.kernel: compiler option %d must be a string, got %s"):format(i, type(o)), level + 1)
    end
  end
  return opts
end

-- The line numbers a compiler's log blames: NVRTC's "k.cu(3): error", gcc's "k.cu:3:5: error".
local function blamed_lines(log)
  local lines, seen = {}, {}
  for l in log:gmatch("[^\n]+") do
    local n = l:match("%((%d+)%)%s*:%s*[%a ]*error") or l:match(":(%d+):%d+:%s*[%a ]*error")
      or l:match(":(%d+):%s*[%a ]*error")
    n = tonumber(n)
    if n and not seen[n] and #lines < 5 then
      seen[n] = true
      lines[#lines + 1] = n
    end
  end
  return lines
end

-- The source lines around each blamed line, numbered, the blamed ones marked with ">".
local function excerpt(source, blamed)
  local src = {}
  for l in (source .. "\n"):gmatch("([^\n]*)\n") do src[#src + 1] = l end
  local show, mark = {}, {}
  for _, n in ipairs(blamed) do
    mark[n] = true
    for k = n - 1, n + 1 do
      if src[k] then show[k] = true end
    end
  end
  local out, last = {}, nil
  for k = 1, #src do
    if show[k] then
      if last and k > last + 1 then out[#out + 1] = "    ..." end
      out[#out + 1] = ("%s %3d | %s"):format(mark[k] and ">" or " ", k, src[k])
      last = k
    end
  end
  return table.concat(out, "\n")
end

--- Kernel.compile_error(name, source, message, log) -> a CompileError: the compiler's
--- log and the source lines it blames.
function Kernel.compile_error(name, source, message, log)
  local blamed = blamed_lines(log)
  local text = ("kernel '%s' did not compile (%s):\n%s"):format(name, message, log:gsub("%s+$", ""))
  if #blamed > 0 then text = text .. "\nsource lines:\n" .. excerpt(source, blamed) end
  return errors.new("CompileError", text, { log = log, kernel = name, lines = blamed })
end

--- Kernel.new(source, name, opts, level) -> a kernel; compiled now when this process
--- can run kernels (so a compile error blames the line that made it), else on first call.
function Kernel.new(source, name, opts, level)
  level = level or 2
  if type(source) ~= "string" then
    raise("ValueError", ("cuda.kernel: source must be a string of CUDA C, got %s"):format(type(source)), level)
  end
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    raise("ValueError", ("cuda.kernel: name must be the kernel function's name (a C identifier), got %s")
      :format(type(name) == "string" and ("'" .. name .. "'") or type(name)), level)
  end
  opts = check_opts(opts, level)
  local options = {}
  for i, o in ipairs(opts.options or {}) do options[i] = o end
  local k = setmetatable({ source = source, name = name, options = options, sim = opts.sim == true,
                           params = opts.signature }, Kernel)
  if k.sim or require("rayl.cuda").mode() ~= "none" then k:compile(level + 1) end
  return k
end

--- kernel:compile() -> this process's handle of the kernel (compiled, or found in the
--- kernel cache). Raises CompileError with the compiler's log.
function Kernel:compile(level)
  local h = handles[self]
  if h then return h end
  level = level or 2
  local mode = require("rayl.cuda").backend_mode(self.sim, level + 1)
  local sigsrc = self.params and ('extern "C" __global__ void %s(%s);'):format(self.name, self.params)
  local fn, how, log = C.compile(mode, self.source, self.name, self.options, sigsrc)
  if not fn then
    if log then error(Kernel.compile_error(self.name, self.source, how, log), level + 1) end
    raise("CudaError", ("kernel '%s' cannot be compiled: %s"):format(self.name, how), level + 1)
  end
  handles[self] = fn
  return fn, how
end

--- kernel(grid, block, args...): launches with grid and block (numbers or {x, y, z}).
--- rayl.arrays among args are copied to the device and back (unless the parameter is const).
function Kernel.__call(self, grid, block, ...)
  return C.launch(handles[self] or self:compile(2), grid, block, 0, nil, ...)
end

--- kernel:launch{ grid =, block =, shared_mem = 0, stream = nil, args = {...} }
function Kernel:launch(t)
  if type(t) ~= "table" then
    raise("ValueError", ("kernel '%s': launch expects a table { grid =, block =, args = }, got %s")
      :format(self.name, type(t)), 2)
  end
  for key in pairs(t) do
    if key ~= "grid" and key ~= "block" and key ~= "shared_mem" and key ~= "stream" and key ~= "args" then
      raise("ValueError", ("kernel '%s': unknown launch field '%s' (valid: grid, block, shared_mem, stream, args)")
        :format(self.name, tostring(key)), 2)
    end
  end
  local args = t.args or {}
  if type(args) ~= "table" then
    raise("ValueError", ("kernel '%s': args must be a table, got %s"):format(self.name, type(args)), 2)
  end
  return C.launch(handles[self] or self:compile(2), t.grid, t.block, t.shared_mem or 0, t.stream,
    unpack(args, 1, args.n or #args))
end

--- kernel:signature() -> { {type =, name =}, ... } as read from the source, or nil, why.
function Kernel:signature()
  return (handles[self] or self:compile(2)):signature()
end

function Kernel.__tostring(self)
  return ("rayl.cuda kernel '%s'%s"):format(self.name, self.sim and " (simulator)" or "")
end

return Kernel
