-- rayl/torch/nn.lua: rayl.torch.nn: Module (the base of every layer and of modules written
-- in Lua), the layers, init, functional and utils, with PyTorch's names, defaults and
-- parameter names ("0.weight", "fc1.bias").
local torch = require "rayl.torch"
local errors = require "rayl.errors"

local nn = {}
local is_tensor = torch.is_tensor
local type, pairs, ipairs, rawget, rawset, getmetatable = type, pairs, ipairs, rawget, rawset, getmetatable

local function bad(msg, level)
  errors.raise("ValueError", msg, (level or 2) + 1)
end

local function whole(v, what, min, level)
  if type(v) ~= "number" or v ~= math.floor(v) or v < (min or 0) then
    bad(("%s must be an integer >= %d, not %s"):format(what, min or 0, tostring(v)), (level or 2) + 1)
  end
  return v
end

-- Tensors made parameters (nn.Parameter, layers' weights): a parameter stays one when
-- its requires_grad is turned off (frozen), as in PyTorch.
local PARAMS = setmetatable({}, { __mode = "k" })

--- nn.Parameter(t [, requires_grad]) -> a leaf tensor over t's data that modules collect
--- as a parameter (requires_grad unless false).
function nn.Parameter(t, requires_grad)
  if not is_tensor(t) then bad("nn.Parameter takes a tensor, not " .. type(t)) end
  local p = t:detach():requires_grad_(requires_grad ~= false)
  PARAMS[p] = true
  return p
end

local function is_parameter(v)
  return is_tensor(v) and (PARAMS[v] or (v:requires_grad() and v:is_leaf()))
end

---------------------------------------------------------------------------------------
-- Module: classes are tables whose instances take their methods through __index; setting
-- a field the first time records its name, so parameters and submodules keep the order
-- they were given in (their names and the order of parameters() follow it).

local Module = {}
nn.Module = Module

local function is_module(v)
  if type(v) ~= "table" then return false end
  local m = getmetatable(v)
  return type(m) == "table" and m.__rayl_module == true and rawget(v, "_order") ~= nil
end
nn.is_module = is_module

local function record(self, k, v)
  rawset(self, k, v)
  if type(k) == "string" then
    local order = rawget(self, "_order")
    order[#order + 1] = k
  end
end

local function call_forward(self, ...)
  return self:forward(...)
end

local function module_tostring(self)
  local cls = getmetatable(self)
  local lines = { (cls.__name or "Module") .. "(" .. (self:extra_repr() or "") }
  local children = self:named_children()
  if #children == 0 then return lines[1] .. ")" end
  for _, c in ipairs(children) do
    lines[#lines + 1] = ("  (%s): %s"):format(c[1], tostring(c[2]):gsub("\n", "\n  "))
  end
  return table.concat(lines, "\n") .. "\n)"
end

local function instantiate(cls, ...)
  local self = setmetatable({ _order = {}, _buffers = {}, training = true }, cls)
  local init = cls.__init
  if init then init(self, ...) end
  return self
end

-- A new class under parent, with the methods in `methods` ({ __init = f, forward = f, ... }).
local function new_class(parent, methods, name)
  local cls = {}
  for k, v in pairs(methods or {}) do cls[k] = v end
  cls.__name = name or cls.__name or (methods and methods.__name) or "Module"
  cls.__index = cls
  cls.__newindex = record
  cls.__call = call_forward
  cls.__tostring = module_tostring
  cls.__rayl_module = true
  return setmetatable(cls, { __index = parent, __call = instantiate, __tostring = function() return "class " .. cls.__name end })
end

--- Class:extend({ __init = function(self, ...) end, forward = function(self, x) end } [, name])
--- -> a subclass; Class(...) makes an instance and calls __init(self, ...) (a subclass
--- calls its parent's as Parent.__init(self, ...)).
function Module.extend(parent, methods, name)
  if methods ~= nil and type(methods) ~= "table" then
    if type(methods) == "string" and name == nil then return new_class(parent, nil, methods) end
    bad("extend takes a table of methods (and a name), not " .. type(methods))
  end
  return new_class(parent, methods, name)
end

-- nn.Module{ methods } (or nn.Module("Name")) is nn.Module:extend(...).
setmetatable(Module, { __call = function(_, methods, name) return Module.extend(Module, methods, name) end })
Module.__rayl_module = true

function Module.forward(self)
  bad((getmetatable(self).__name or "Module") .. " has no forward method: define forward(self, ...)")
end

function Module.extra_repr() return "" end

-- The field names of self, in the order they were first set (then any set with rawset,
-- by name).
local function field_names(self)
  local names, seen = {}, {}
  for _, k in ipairs(rawget(self, "_order")) do
    if not seen[k] and rawget(self, k) ~= nil then
      seen[k] = true
      names[#names + 1] = k
    end
  end
  local extra = {}
  for k, v in pairs(self) do
    if type(k) == "string" and not seen[k] and k:sub(1, 1) ~= "_" and (is_tensor(v) or is_module(v) or type(v) == "table") then
      extra[#extra + 1] = k
    end
  end
  table.sort(extra)
  for _, k in ipairs(extra) do names[#names + 1] = k end
  return names
end

-- A plain Lua array of modules (self.layers = { nn.Linear(...), ... }) is a list of
-- children named layers.0, layers.1, ... as PyTorch's ModuleList names them.
local function module_array(v)
  if type(v) ~= "table" or is_module(v) or getmetatable(v) ~= nil or #v == 0 then return false end
  for i = 1, #v do
    if not is_module(v[i]) then return false end
  end
  return true
end

--- m:named_children() -> { {name, module}, ... } (direct submodules, in order)
function Module.named_children(self)
  local out = {}
  for _, k in ipairs(field_names(self)) do
    local v = rawget(self, k)
    if is_module(v) then
      out[#out + 1] = { k, v }
    elseif module_array(v) then
      for i = 1, #v do out[#out + 1] = { k .. "." .. (i - 1), v[i] } end
    end
  end
  return out
end

function Module.children(self)
  local out = {}
  for i, c in ipairs(Module.named_children(self)) do out[i] = c[2] end
  return out
end

--- m:named_modules() -> { {"", m}, {"fc1", ...}, ... } (m and every submodule, depth first)
function Module.named_modules(self, prefix, out, seen)
  out, seen, prefix = out or {}, seen or {}, prefix or ""
  if seen[self] then return out end
  seen[self] = true
  out[#out + 1] = { prefix, self }
  for _, c in ipairs(Module.named_children(self)) do
    Module.named_modules(c[2], prefix == "" and c[1] or prefix .. "." .. c[1], out, seen)
  end
  return out
end

function Module.modules(self)
  local out = {}
  for i, c in ipairs(Module.named_modules(self)) do out[i] = c[2] end
  return out
end

-- This module's own parameters or buffers, in order: { {name, tensor}, ... }.
local function own_tensors(self, buffers)
  local out, marked = {}, rawget(self, "_buffers")
  for _, k in ipairs(field_names(self)) do
    local v = rawget(self, k)
    if is_tensor(v) then
      if buffers then
        if marked[k] then out[#out + 1] = { k, v } end
      elseif not marked[k] and is_parameter(v) then
        out[#out + 1] = { k, v }
      end
    end
  end
  return out
end

local function named_tensors(self, buffers)
  local out, seen = {}, {}
  for _, m in ipairs(Module.named_modules(self)) do
    for _, e in ipairs(own_tensors(m[2], buffers)) do
      if not seen[e[2]] then
        seen[e[2]] = true
        out[#out + 1] = { m[1] == "" and e[1] or m[1] .. "." .. e[1], e[2] }
      end
    end
  end
  return out
end

--- m:named_parameters() -> { {"0.weight", tensor}, ... } (each parameter once)
function Module.named_parameters(self) return named_tensors(self, false) end
function Module.named_buffers(self) return named_tensors(self, true) end

--- m:parameters() -> { tensor, ... } (what an optimizer takes)
function Module.parameters(self)
  local out = {}
  for i, e in ipairs(named_tensors(self, false)) do out[i] = e[2] end
  return out
end

function Module.buffers(self)
  local out = {}
  for i, e in ipairs(named_tensors(self, true)) do out[i] = e[2] end
  return out
end

--- m:register_buffer(name, tensor): a tensor saved in state_dict but not a parameter.
function Module.register_buffer(self, name, t)
  if type(name) ~= "string" then bad("register_buffer(name, tensor): name must be a string") end
  if t ~= nil and not is_tensor(t) then bad("register_buffer: '" .. name .. "' must be a tensor") end
  rawget(self, "_buffers")[name] = true
  self[name] = t
end

--- m:register_parameter(name, tensor): sets the field to nn.Parameter(tensor).
function Module.register_parameter(self, name, t)
  if type(name) ~= "string" then bad("register_parameter(name, tensor): name must be a string") end
  self[name] = t ~= nil and nn.Parameter(t) or nil
end

--- m:add_module(name, module)
function Module.add_module(self, name, m)
  if type(name) ~= "string" then bad("add_module(name, module): name must be a string") end
  if m ~= nil and not is_module(m) then bad("add_module: '" .. name .. "' is not a module") end
  self[name] = m
end

--- m:train([mode]) / m:eval(): sets training on m and every submodule; returns m.
function Module.train(self, mode)
  mode = mode ~= false
  for _, m in ipairs(Module.modules(self)) do rawset(m, "training", mode) end
  return self
end

function Module.eval(self) return Module.train(self, false) end

--- m:apply(fn): fn(module) for every submodule and then m; returns m.
function Module.apply(self, fn)
  for _, c in ipairs(Module.children(self)) do Module.apply(c, fn) end
  fn(self)
  return self
end

--- m:zero_grad([set_to_none]): drops (or zeroes) every parameter's gradient.
function Module.zero_grad(self, set_to_none)
  for _, p in ipairs(Module.parameters(self)) do
    if set_to_none == false then
      local g = p:grad()
      if g then g:zero_() end
    else
      p:set_grad(nil)
    end
  end
end

--- m:state_dict() -> { ["0.weight"] = tensor, ... }: parameters and buffers, detached
--- (sharing their memory).
function Module.state_dict(self)
  local sd = {}
  for _, e in ipairs(named_tensors(self, false)) do sd[e[1]] = e[2]:detach() end
  for _, e in ipairs(named_tensors(self, true)) do sd[e[1]] = e[2]:detach() end
  return sd
end

local function quoted(list)
  local q = {}
  for i, k in ipairs(list) do q[i] = '"' .. k .. '"' end
  return table.concat(q, ", ")
end

local function shape_str(t) return "{" .. table.concat(t:shape(), ", ") .. "}" end

--- m:load_state_dict(sd [, strict]) -> { missing_keys = {}, unexpected_keys = {} }:
--- copies sd's tensors into the parameters and buffers of the same names. Nothing is
--- copied, and a ValueError names every problem, when a shape differs or (unless strict
--- is false) a key is missing or unexpected.
function Module.load_state_dict(self, sd, strict)
  if type(sd) ~= "table" then bad("load_state_dict takes a table of name = tensor, not " .. type(sd)) end
  local own = named_tensors(self, false)
  for _, e in ipairs(named_tensors(self, true)) do own[#own + 1] = e end
  local known, missing, unexpected, problems = {}, {}, {}, {}
  for _, e in ipairs(own) do
    local name, t = e[1], e[2]
    known[name] = true
    local v = sd[name]
    if v == nil then
      missing[#missing + 1] = name
    elseif not is_tensor(v) then
      problems[#problems + 1] = ("'%s' is %s, not a tensor."):format(name, type(v))
    elseif shape_str(v) ~= shape_str(t) then
      problems[#problems + 1] = ("size mismatch for %s: copying a param with shape %s from checkpoint, "
        .. "the shape in current model is %s."):format(name, shape_str(v), shape_str(t))
    end
  end
  for k in pairs(sd) do
    if not known[k] then unexpected[#unexpected + 1] = tostring(k) end
  end
  table.sort(unexpected)
  if strict ~= false then
    if #missing > 0 then table.insert(problems, 1, "Missing key(s) in state_dict: " .. quoted(missing) .. ".") end
    if #unexpected > 0 then
      table.insert(problems, #missing > 0 and 2 or 1, "Unexpected key(s) in state_dict: " .. quoted(unexpected) .. ".")
    end
  end
  if #problems > 0 then
    bad(("Error(s) in loading state_dict for %s:\n\t%s"):format(getmetatable(self).__name or "Module",
      table.concat(problems, "\n\t")))
  end
  torch.no_grad(function()
    for _, e in ipairs(own) do
      local v = sd[e[1]]
      if v ~= nil then e[2]:copy_(v) end
    end
  end)
  return { missing_keys = missing, unexpected_keys = unexpected }
end

---------------------------------------------------------------------------------------
-- nn.init (in place, without recording gradients; each returns its tensor)

local init = {}
nn.init = init

local function no_grad_(f)
  return function(t, ...)
    if not is_tensor(t) then bad("nn.init functions take a tensor first, not " .. type(t), 3) end
    torch.no_grad(f, t, ...)
    return t
  end
end

local GAINS = { linear = 1, identity = 1, conv1d = 1, conv2d = 1, conv3d = 1, sigmoid = 1, tanh = 5 / 3,
                relu = math.sqrt(2), selu = 3 / 4 }

--- nn.init.calculate_gain(nonlinearity [, param]) as PyTorch's (leaky_relu's slope: param, 0.01).
function init.calculate_gain(nonlinearity, param)
  if nonlinearity == "leaky_relu" then
    local slope = param or 0.01
    return math.sqrt(2 / (1 + slope * slope))
  end
  local g = GAINS[nonlinearity]
  if not g then bad("calculate_gain: unknown nonlinearity " .. tostring(nonlinearity)) end
  return g
end

-- fan_in, fan_out of a weight (out, in, kernel...).
local function fans(t)
  local s = t:shape()
  if #s < 2 then bad("fan in and fan out need a tensor with 2 or more dims, not " .. #s, 4) end
  local field = 1
  for i = 3, #s do field = field * s[i] end
  return s[2] * field, s[1] * field
end

init.uniform_ = no_grad_(function(t, a, b) t:uniform_(a or 0, b or 1) end)
init.normal_ = no_grad_(function(t, mean, std) t:normal_(mean or 0, std or 1) end)
init.constant_ = no_grad_(function(t, v)
  if type(v) ~= "number" then bad("constant_(tensor, value): value must be a number", 5) end
  t:fill_(v)
end)
init.zeros_ = no_grad_(function(t) t:zero_() end)
init.ones_ = no_grad_(function(t) t:fill_(1) end)
--- nn.init.orthogonal_(t [, gain]): a (semi-)orthogonal matrix times gain.
init.orthogonal_ = no_grad_(function(t, gain) t:orthogonal_(gain or 1) end)
init.xavier_uniform_ = no_grad_(function(t, gain)
  local fi, fo = fans(t)
  local a = (gain or 1) * math.sqrt(6 / (fi + fo))
  t:uniform_(-a, a)
end)
init.xavier_normal_ = no_grad_(function(t, gain)
  local fi, fo = fans(t)
  t:normal_(0, (gain or 1) * math.sqrt(2 / (fi + fo)))
end)

local function kaiming_std(t, a, mode, nonlinearity)
  local fi, fo = fans(t)
  local fan = (mode or "fan_in") == "fan_in" and fi or fo
  return init.calculate_gain(nonlinearity or "leaky_relu", a or 0) / math.sqrt(fan)
end
--- nn.init.kaiming_uniform_(t [, a [, mode [, nonlinearity]]]) (mode "fan_in" or "fan_out")
init.kaiming_uniform_ = no_grad_(function(t, a, mode, nl)
  local bound = math.sqrt(3) * kaiming_std(t, a, mode, nl)
  t:uniform_(-bound, bound)
end)
init.kaiming_normal_ = no_grad_(function(t, a, mode, nl) t:normal_(0, kaiming_std(t, a, mode, nl)) end)

---------------------------------------------------------------------------------------
-- layers

-- A weight or bias drawn uniformly in [-bound, bound] (PyTorch's default for Linear and
-- Conv2d: kaiming_uniform with a = sqrt(5) comes to bound = 1 / sqrt(fan_in)).
local function uniform_param(shape, bound)
  return nn.Parameter(torch.empty(shape):uniform_(-bound, bound))
end

local function bias_flag(opts, pos, what)
  if opts == nil then return true end
  if type(opts) == "boolean" then return opts end
  if type(opts) == "table" then return opts.bias ~= false end
  bad(("%s: argument %d must be a table of options (or bias, a boolean)"):format(what, pos), 4)
end

--- nn.Linear(in_features, out_features [, bias | {bias=false}]): y = x W^T + b
nn.Linear = Module:extend({
  __init = function(self, nin, nout, opts)
    whole(nin, "Linear's in_features", 0, 3)
    whole(nout, "Linear's out_features", 0, 3)
    self.in_features, self.out_features = nin, nout
    local bound = nin > 0 and 1 / math.sqrt(nin) or 0
    self.weight = uniform_param({ nout, nin }, bound)
    if bias_flag(opts, 3, "Linear") then self.bias = uniform_param({ nout }, bound) end
  end,
  forward = function(self, x) return torch.linear(x, self.weight, rawget(self, "bias")) end,
  extra_repr = function(self)
    return ("in_features=%d, out_features=%d, bias=%s"):format(self.in_features, self.out_features,
      tostring(rawget(self, "bias") ~= nil))
  end,
}, "Linear")

local function pair(v, what)
  if type(v) == "number" then return { v, v } end
  if type(v) == "table" and #v == 2 and type(v[1]) == "number" and type(v[2]) == "number" then return v end
  bad(what .. " must be a number or {h, w}, not " .. tostring(v), 4)
end

--- nn.Conv2d(in_channels, out_channels, kernel_size [, {stride=1, padding=0, dilation=1,
--- groups=1, bias=true}]) over NCHW input.
nn.Conv2d = Module:extend({
  __init = function(self, cin, cout, kernel, opts)
    opts = opts or {}
    if type(opts) ~= "table" then bad("Conv2d: options must be a table {stride=, padding=, ...}", 3) end
    whole(cin, "Conv2d's in_channels", 1, 3)
    whole(cout, "Conv2d's out_channels", 1, 3)
    local groups = whole(opts.groups or 1, "Conv2d's groups", 1, 3)
    if cin % groups ~= 0 or cout % groups ~= 0 then
      bad(("Conv2d: in_channels (%d) and out_channels (%d) must be divisible by groups (%d)"):format(cin, cout, groups), 3)
    end
    local k = pair(kernel, "Conv2d's kernel_size")
    self.in_channels, self.out_channels, self.kernel_size = cin, cout, k
    self.stride, self.padding = pair(opts.stride or 1, "stride"), pair(opts.padding or 0, "padding")
    self.dilation, self.groups = pair(opts.dilation or 1, "dilation"), groups
    local bound = 1 / math.sqrt(cin / groups * k[1] * k[2])
    self.weight = uniform_param({ cout, cin / groups, k[1], k[2] }, bound)
    if opts.bias ~= false then self.bias = uniform_param({ cout }, bound) end
  end,
  forward = function(self, x)
    return torch.conv2d(x, self.weight, rawget(self, "bias"),
      { stride = self.stride, padding = self.padding, dilation = self.dilation, groups = self.groups })
  end,
  extra_repr = function(self)
    return ("%d, %d, kernel_size={%d, %d}, stride={%d, %d}"):format(self.in_channels, self.out_channels,
      self.kernel_size[1], self.kernel_size[2], self.stride[1], self.stride[2])
  end,
}, "Conv2d")

--- nn.MaxPool2d(kernel_size [, {stride=kernel_size, padding=0}])
nn.MaxPool2d = Module:extend({
  __init = function(self, kernel, opts)
    opts = opts or {}
    self.kernel_size, self.stride, self.padding = kernel, opts.stride or kernel, opts.padding or 0
  end,
  forward = function(self, x)
    return torch.max_pool2d(x, self.kernel_size, { stride = self.stride, padding = self.padding })
  end,
}, "MaxPool2d")

-- A layer without parameters that applies a tensor method.
local function activation(name, method)
  nn[name] = Module:extend({ forward = function(_, x) return x[method](x) end }, name)
end
activation("Tanh", "tanh")
activation("ReLU", "relu")
activation("Sigmoid", "sigmoid")
activation("GELU", "gelu")
activation("SiLU", "silu")
activation("ELU", "elu")
activation("Softplus", "softplus")

local function dim_layer(name, method)
  nn[name] = Module:extend({
    __init = function(self, dim)
      if type(dim) ~= "number" then bad(name .. " needs a dim (a number; -1 for the last)", 3) end
      self.dim = dim
    end,
    forward = function(self, x) return x[method](x, self.dim) end,
    extra_repr = function(self) return "dim=" .. self.dim end,
  }, name)
end
dim_layer("Softmax", "softmax")
dim_layer("LogSoftmax", "log_softmax")

--- nn.Flatten([start_dim=1 [, end_dim=-1]])
nn.Flatten = Module:extend({
  __init = function(self, s, e) self.start_dim, self.end_dim = s or 1, e or -1 end,
  forward = function(self, x) return x:flatten(self.start_dim, self.end_dim) end,
}, "Flatten")

nn.Identity = Module:extend({ forward = function(_, x) return x end }, "Identity")

--- nn.Sequential(m1, m2, ...) or nn.Sequential{m1, m2, ...}: applies them in turn; the
--- modules are named "0", "1", ... (net:get(1) is the first, net:len() their number).
nn.Sequential = Module:extend({
  __init = function(self, ...)
    local mods = { ... }
    if #mods == 1 and type(mods[1]) == "table" and not is_module(mods[1]) then mods = mods[1] end
    rawset(self, "_list", {})
    for i = 1, #mods do self:add(mods[i]) end
  end,
  --- seq:add(module): appends it (named by its position, from "0").
  add = function(self, m)
    local list = rawget(self, "_list")
    if not is_module(m) then
      bad(("Sequential: element %d is %s, not a module (nn.Tanh(), not nn.Tanh)"):format(#list + 1, tostring(m)), 3)
    end
    self[tostring(#list)] = m
    list[#list + 1] = m
    return self
  end,
  --- seq:get(i) -> its i-th module (1-based, as Lua counts).
  get = function(self, i) return rawget(self, "_list")[i] end,
  --- seq:len() -> how many modules it holds (PyTorch's len(seq)).
  len = function(self) return #rawget(self, "_list") end,
  forward = function(self, x)
    local list = rawget(self, "_list")
    for i = 1, #list do x = list[i](x) end
    return x
  end,
}, "Sequential")

--- nn.ModuleList{m1, m2, ...}: a list of modules (named "0", "1", ...) without a forward.
nn.ModuleList = Module:extend({
  __init = function(self, mods)
    rawset(self, "_list", {})
    for _, m in ipairs(mods or {}) do self:append(m) end
  end,
  append = function(self, m)
    local list = rawget(self, "_list")
    if not is_module(m) then bad(("ModuleList: element %d is not a module"):format(#list + 1), 3) end
    self[tostring(#list)] = m
    list[#list + 1] = m
    return self
  end,
  get = function(self, i) return rawget(self, "_list")[i] end,
  len = function(self) return #rawget(self, "_list") end,
}, "ModuleList")

---------------------------------------------------------------------------------------
-- nn.functional

local F = {}
nn.functional = F

-- A loss's options: a reduction name or { reduction = , beta = (or delta =) }.
local function loss_opts(o, name)
  if o == nil then return "mean", nil end
  if type(o) == "string" then return o, nil end
  if type(o) ~= "table" then bad(name .. ": options must be a reduction name or a table {reduction=}", 4) end
  return o.reduction or "mean", o.beta or o.delta
end

local function both_tensors(input, target, name)
  if not is_tensor(input) then bad(name .. "'s input must be a tensor, not " .. type(input), 4) end
  if not is_tensor(target) then bad(name .. "'s target must be a tensor, not " .. type(target), 4) end
end

--- F.mse_loss(input, target [, reduction | {reduction="mean"|"sum"|"none"}])
function F.mse_loss(input, target, o)
  both_tensors(input, target, "mse_loss")
  return torch.mse_loss(input, target, (loss_opts(o, "mse_loss")))
end

function F.l1_loss(input, target, o)
  both_tensors(input, target, "l1_loss")
  return torch.l1_loss(input, target, (loss_opts(o, "l1_loss")))
end

--- F.smooth_l1_loss(input, target [, {reduction=, beta=1}])
function F.smooth_l1_loss(input, target, o)
  both_tensors(input, target, "smooth_l1_loss")
  local r, beta = loss_opts(o, "smooth_l1_loss")
  return torch.smooth_l1_loss(input, target, r, beta or 1)
end

function F.huber_loss(input, target, o)
  both_tensors(input, target, "huber_loss")
  local r, delta = loss_opts(o, "huber_loss")
  return torch.huber_loss(input, target, r, delta or 1)
end

-- Class indices as int64 (what libtorch wants); class probabilities stay as they are.
local function class_targets(target)
  local dt = target:dtype()
  if dt == "int32" or dt == "uint8" then return target:long() end
  return target
end

--- F.cross_entropy(logits (N, C), target [, {reduction=}]): target holds class indices
--- (N) or class probabilities (N, C).
function F.cross_entropy(input, target, o)
  both_tensors(input, target, "cross_entropy")
  return torch.cross_entropy(input, class_targets(target), (loss_opts(o, "cross_entropy")))
end

function F.nll_loss(input, target, o)
  both_tensors(input, target, "nll_loss")
  return torch.nll_loss(input, class_targets(target), (loss_opts(o, "nll_loss")))
end

function F.binary_cross_entropy_with_logits(input, target, o)
  both_tensors(input, target, "binary_cross_entropy_with_logits")
  return torch.binary_cross_entropy_with_logits(input, target, (loss_opts(o, "binary_cross_entropy_with_logits")))
end

for _, name in ipairs({ "relu", "tanh", "sigmoid", "gelu", "silu", "elu", "softplus" }) do
  F[name] = function(x) return x[name](x) end
end
function F.softmax(x, dim) return x:softmax(dim) end
function F.log_softmax(x, dim) return x:log_softmax(dim) end
function F.linear(x, w, b) return torch.linear(x, w, b) end
function F.conv2d(x, w, b, o) return torch.conv2d(x, w, b, o) end
function F.max_pool2d(x, k, o) return torch.max_pool2d(x, k, o) end
function F.one_hot(t, n) return torch.one_hot(t, n) end

---------------------------------------------------------------------------------------
-- nn.utils

local utils = {}
nn.utils = utils

local function param_list(params, what)
  if is_tensor(params) then return { params } end
  if is_module(params) then return params:parameters() end
  if type(params) ~= "table" then bad(what .. " takes a table of tensors (net:parameters())", 4) end
  return params
end

local function grads_of(params)
  local gs = {}
  for i = 1, #params do
    local p = params[i]
    if not is_tensor(p) then bad(("element %d of the parameters is not a tensor"):format(i), 4) end
    local g = p:grad()
    if g then gs[#gs + 1] = g end
  end
  return gs
end

--- nn.utils.clip_grad_norm(params, max_norm [, norm_type=2]) -> the total norm of the
--- gradients (a 0-dim tensor) before clipping; scales them in place by
--- min(1, max_norm / (total + 1e-6)) as PyTorch's clip_grad_norm_. norm_type math.huge
--- is the largest absolute value.
function utils.clip_grad_norm(params, max_norm, norm_type)
  if type(max_norm) ~= "number" then bad("clip_grad_norm: max_norm must be a number") end
  norm_type = norm_type or 2
  local gs = grads_of(param_list(params, "clip_grad_norm"))
  if #gs == 0 then return torch.tensor(0) end
  return torch.no_grad(function()
    local total
    if norm_type == math.huge then
      local maxes = {}
      for i, g in ipairs(gs) do maxes[i] = g:abs():max() end
      total = torch.stack(maxes):max()
    else
      local norms = {}
      for i, g in ipairs(gs) do norms[i] = g:norm(norm_type) end
      total = torch.stack(norms):norm(norm_type)
    end
    local coef = (max_norm / (total + 1e-6)):clamp(nil, 1)
    for _, g in ipairs(gs) do g:mul_(coef) end
    return total
  end)
end
utils.clip_grad_norm_ = utils.clip_grad_norm

--- nn.utils.clip_grad_value(params, clip): clamps every gradient to [-clip, clip].
function utils.clip_grad_value(params, clip)
  if type(clip) ~= "number" then bad("clip_grad_value: clip must be a number") end
  for _, g in ipairs(grads_of(param_list(params, "clip_grad_value"))) do g:clamp_(-clip, clip) end
end
utils.clip_grad_value_ = utils.clip_grad_value

--- nn.utils.parameters_to_vector(params) -> one 1-d tensor of all their elements.
function utils.parameters_to_vector(params)
  local flat = {}
  for i, p in ipairs(param_list(params, "parameters_to_vector")) do flat[i] = p:reshape(-1) end
  return torch.cat(flat)
end

return nn
