-- cuda/elementwise.lua: elementwise kernels (as CuPy's ElementwiseKernel): typed in and out
-- parameters and a body for one element; the indexing loop is generated. Inputs may be
-- device buffers (indexed by i), numbers (scalars) or rayl.arrays (copied in); outputs are
-- new buffers or given ones. This module is their metatable, so they travel to tasks.
local core = require "rayl.core"
local errors = require "rayl.errors"
local Kernel = require "rayl.cuda.kernel"

local C = core.cuda
local raise = errors.raise

local Elementwise = {}
Elementwise.__index = Elementwise

-- The C type of each element type a parameter may name.
local CTYPES = {
  float32 = "float", float64 = "double", int32 = "int", int64 = "long long", uint8 = "unsigned char",
}
local ALIASES = { float = "float32", double = "float64", int = "int32", ["long long"] = "int64",
                  ["unsigned char"] = "uint8" }
local RESERVED = { i = true, n = true }

-- Compiled variants of each kernel, by which inputs are arrays (not part of its value).
local variants = setmetatable({}, { __mode = "k" })

-- Parses "float32 x, raw int32 idx" into { {dtype =, ctype =, name =, raw =}, ... }.
local function parse_params(text, what, seen, level)
  if type(text) ~= "string" then
    raise("ValueError", ("cuda.elementwise: %s must be a string such as \"float32 x, float32 a\", got %s")
      :format(what, type(text)), level + 1)
  end
  local params = {}
  for item in (text .. ","):gmatch("([^,]*),") do
    local words = {}
    for w in item:gmatch("%S+") do words[#words + 1] = w end
    if #words > 0 then
      local raw = words[1] == "raw"
      if raw then table.remove(words, 1) end
      local name = table.remove(words)
      local tname = table.concat(words, " ")
      local dtype = CTYPES[tname] and tname or ALIASES[tname]
      if not dtype or not name or not name:match("^[%a_][%w_]*$") then
        raise("ValueError", ("cuda.elementwise: %s: cannot read '%s': expected '[raw] TYPE NAME' with TYPE one of "
          .. "float32, float64, int32, int64, uint8"):format(what, item:match("^%s*(.-)%s*$")), level + 1)
      end
      if seen[name] or RESERVED[name] then
        raise("ValueError", ("cuda.elementwise: parameter name '%s' is %s"):format(name,
          RESERVED[name] and "reserved (i is the element's index, n their count)" or "used twice"), level + 1)
      end
      seen[name] = true
      params[#params + 1] = { dtype = dtype, ctype = CTYPES[dtype], name = name, raw = raw }
    end
  end
  return params
end

--- Elementwise.new(in_params, out_params, body, name, opts, level) -> an elementwise kernel.
--- opts: { options = {...}, sim = true } as for cuda.kernel.
function Elementwise.new(in_params, out_params, body, name, opts, level)
  level = level or 2
  local seen = {}
  local ins = parse_params(in_params, "in_params", seen, level)
  local outs = parse_params(out_params, "out_params", seen, level)
  if #outs == 0 then raise("ValueError", "cuda.elementwise: out_params names no output", level) end
  if type(body) ~= "string" then
    raise("ValueError", ("cuda.elementwise: body must be a string of CUDA C, got %s"):format(type(body)), level)
  end
  name = name or "elementwise"
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    raise("ValueError", "cuda.elementwise: name must be a C identifier", level)
  end
  if opts ~= nil and type(opts) ~= "table" then
    raise("ValueError", ("cuda.elementwise: options must be a table, got %s"):format(type(opts)), level)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "options" and k ~= "sim" then
      raise("ValueError", ("cuda.elementwise: unknown option '%s' (valid: options, sim)"):format(tostring(k)), level)
    end
  end
  return setmetatable({ ins = ins, outs = outs, body = body, name = name, options = opts.options or {},
                        sim = opts.sim == true }, Elementwise)
end

--- ek:source(pattern) -> the CUDA C source of the variant whose inputs are arrays ("a")
--- or scalars ("s"), one letter per input.
function Elementwise:source(pattern)
  local params, loads = {}, {}
  for k, p in ipairs(self.ins) do
    if p.raw then
      params[#params + 1] = ("const %s *__restrict__ %s"):format(p.ctype, p.name)
    elseif pattern:sub(k, k) == "a" then
      params[#params + 1] = ("const %s *__restrict__ rl_in_%s"):format(p.ctype, p.name)
      loads[#loads + 1] = ("    const %s %s = rl_in_%s[i];"):format(p.ctype, p.name, p.name)
    else
      params[#params + 1] = ("const %s %s"):format(p.ctype, p.name)
    end
  end
  for _, p in ipairs(self.outs) do
    if p.raw then
      params[#params + 1] = ("%s *__restrict__ %s"):format(p.ctype, p.name)
    else
      params[#params + 1] = ("%s *__restrict__ rl_out_%s"):format(p.ctype, p.name)
      loads[#loads + 1] = ("    %s &%s = rl_out_%s[i];"):format(p.ctype, p.name, p.name)
    end
  end
  params[#params + 1] = "const long long n"
  return table.concat({
    ('extern "C" __global__ void %s(%s) {'):format(self.name, table.concat(params, ", ")),
    "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;",
    "       i += (long long)blockDim.x * gridDim.x) {",
    table.concat(loads, "\n"),
    "    " .. self.body:gsub("\n", "\n    ") .. (self.body:match(";%s*$") and "" or ";"),
    "  }",
    "}",
    "",
  }, "\n")
end

-- The kernel of the variant `pattern` in mode, made once per process.
local function variant(self, pattern, mode, level)
  local vs = variants[self]
  if not vs then
    vs = {}
    variants[self] = vs
  end
  local k = vs[pattern .. mode]
  if not k then
    k = Kernel.new(self:source(pattern), self.name, { options = self.options, sim = mode == "sim" }, level + 1)
    vs[pattern .. mode] = k
  end
  return k
end

local function fail(self, fmt, ...)
  raise("ValueError", ("elementwise kernel '%s': " .. fmt):format(self.name, ...), 3)
end

--- ek(ins... [, outs...]) -> outs...: runs the body once per element (n = the inputs'
--- length). Missing outputs are new buffers.
function Elementwise.__call(self, ...)
  local cuda = require "rayl.cuda"
  local nin, nout, nargs = #self.ins, #self.outs, select("#", ...)
  if nargs ~= nin and nargs ~= nin + nout then
    fail(self, "takes %d inputs and, optionally, its %d output%s; got %d arguments", nin, nout,
      nout == 1 and "" or "s", nargs)
  end
  local args, pattern, n, mode = { ... }, {}, nil, nil
  for k = 1, nargs do -- the mode: the first buffer's, else the kernel's
    if cuda.is_buffer(args[k]) then mode = args[k].mode break end
  end
  mode = mode or cuda.backend_mode(self.sim, 2)
  for k, p in ipairs(self.ins) do
    local v = args[k]
    if type(v) == "number" and not p.raw then
      pattern[k] = "s"
    else
      if C.is_array(v) then -- a rayl.array: copied in
        v = C.from_array(mode, v)
        args[k] = v
      end
      if not cuda.is_buffer(v) then
        fail(self, "input %d (%s) must be a device buffer, a rayl.array%s, got %s", k, p.name,
          p.raw and "" or " or a number", type(v))
      end
      if v.dtype ~= p.dtype then fail(self, "input %d (%s) is %s, but it holds %s", k, p.name, p.dtype, v.dtype) end
      pattern[k] = "a"
      if not p.raw then
        if n and v.size ~= n then fail(self, "inputs have different lengths (%d and %d)", n, v.size) end
        n = v.size
      end
    end
  end
  for k, p in ipairs(self.outs) do
    local v = args[nin + k]
    if v ~= nil then
      if not cuda.is_buffer(v) then fail(self, "output %d (%s) must be a device buffer, got %s", k, p.name, type(v)) end
      if v.dtype ~= p.dtype then fail(self, "output %d (%s) is %s, but it holds %s", k, p.name, p.dtype, v.dtype) end
      if not p.raw then
        if n and v.size ~= n then fail(self, "output %d (%s) has %d elements, the inputs %d", k, p.name, v.size, n) end
        n = v.size
      end
    end
  end
  if not n then fail(self, "cannot tell how many elements: pass at least one input or output array") end
  for k, p in ipairs(self.outs) do
    if args[nin + k] == nil then args[nin + k] = C.alloc(mode, n, p.dtype, "empty") end
  end
  local kern = variant(self, table.concat(pattern), mode, 2)
  if n > 0 then
    local block = 256
    local grid = math.min(math.ceil(n / block), 4096)
    args[nin + nout + 1] = n
    kern(grid, block, unpack(args, 1, nin + nout + 1))
  end
  return unpack(args, nin + 1, nin + nout)
end

function Elementwise.__tostring(self)
  return ("rayl.cuda elementwise kernel '%s'"):format(self.name)
end

return Elementwise
