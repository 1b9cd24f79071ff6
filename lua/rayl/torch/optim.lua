-- rayl/torch/optim.lua: rayl.torch.optim: SGD, Adam and AdamW with PyTorch's update rules,
-- param_groups and state: SGD with in-place tensor ops, Adam's step in one shim call per
-- parameter group (rl_torch_adam_step).
local torch = require "rayl.torch"
local errors = require "rayl.errors"

local optim = {}
local ffi = require "ffi"
local C = require("rayl.torch.lib").C
local is_tensor = torch.is_tensor
local LIST_T = ffi.typeof("rl_tensor_t *[?]")
local STEPS_T = ffi.typeof("int64_t[?]")
local ADAM_AMSGRAD, ADAM_MAXIMIZE, ADAM_DECOUPLED = 1, 2, 4
local sqrt = math.sqrt
local set_grad_enabled = torch.set_grad_enabled

local function bad(msg, level)
  errors.raise("ValueError", msg, (level or 2) + 1)
end

local Optimizer = {}
Optimizer.__index = Optimizer
optim.Optimizer = Optimizer

-- A parameter list: tensors only (a module's parameters(), or a table of tensors).
local function tensor_list(params, who)
  if type(params) ~= "table" or getmetatable(params) ~= nil then
    bad(who .. " takes a table of tensors (net:parameters()) or of groups {params=, lr=, ...}", 5)
  end
  for i = 1, #params do
    if not is_tensor(params[i]) then bad(("%s: parameter %d is %s, not a tensor"):format(who, i, type(params[i])), 5) end
  end
  return params
end

-- params: a list of tensors, or a list of groups { params = {...}, lr = ..., ... }.
local function make_groups(params, who)
  if type(params) ~= "table" or #params == 0 then
    bad(who .. " got an empty parameter list (pass net:parameters())", 4)
  end
  if is_tensor(params[1]) then return { { params = tensor_list(params, who) } } end
  local groups = {}
  for i, g in ipairs(params) do
    if type(g) ~= "table" or g.params == nil then bad(("%s: group %d has no params"):format(who, i), 4) end
    local copy = {}
    for k, v in pairs(g) do copy[k] = v end
    copy.params = tensor_list(g.params, who)
    groups[i] = copy
  end
  return groups
end

-- Checks one option of a group (check(v) true when valid).
local function option(group, name, who, ok, expect)
  local v = group[name]
  if not ok(v) then bad(("%s: %s must be %s, not %s"):format(who, name, expect, tostring(v)), 5) end
end

local function nonneg(v) return type(v) == "number" and v >= 0 end
local function unit(v) return type(v) == "number" and v >= 0 and v < 1 end
local function flag(v) return type(v) == "boolean" end

-- A new optimizer of class cls: each group takes the options it does not name from opts
-- and then from defaults.
local function new(cls, who, params, opts, defaults, validate)
  if opts ~= nil and type(opts) ~= "table" then bad(who .. ": options must be a table, e.g. { lr = 1e-3 }", 3) end
  opts = opts or {}
  for k in pairs(opts) do
    if defaults[k] == nil then bad(("%s: unknown option '%s'"):format(who, tostring(k)), 3) end
  end
  local merged = {}
  for k, v in pairs(defaults) do merged[k] = v end
  for k, v in pairs(opts) do merged[k] = v end
  local self = setmetatable({ defaults = merged, state = {}, param_groups = {}, who = who }, cls)
  for _, g in ipairs(make_groups(params, who)) do
    for k, v in pairs(merged) do
      if g[k] == nil then g[k] = v end
    end
    validate(g, who)
    self.param_groups[#self.param_groups + 1] = g
  end
  return self
end

--- opt:zero_grad([set_to_none]): drops every parameter's gradient (PyTorch's default), or
--- zeroes it in place when set_to_none is false.
function Optimizer.zero_grad(self, set_to_none)
  for _, g in ipairs(self.param_groups) do
    local ps = g.params
    for i = 1, #ps do
      local p = ps[i]
      if set_to_none == false then
        local gr = p:grad()
        if gr then gr:zero_() end
      else
        p:set_grad(nil)
      end
    end
  end
end

--- opt:set_lr(lr): every group's learning rate (as setting param_groups[i].lr).
function Optimizer.set_lr(self, lr)
  if not nonneg(lr) then bad(self.who .. ": lr must be a number >= 0, not " .. tostring(lr)) end
  for _, g in ipairs(self.param_groups) do g.lr = lr end
end

--- opt:get_lr() -> the first group's learning rate.
function Optimizer.get_lr(self) return self.param_groups[1].lr end

--- opt:add_param_group({ params = {...}, lr = ... })
function Optimizer.add_param_group(self, g)
  local groups = make_groups({ g }, self.who)
  for k, v in pairs(self.defaults) do
    if groups[1][k] == nil then groups[1][k] = v end
  end
  self.validate(groups[1], self.who)
  self.param_groups[#self.param_groups + 1] = groups[1]
end

local function finish_step(was, ok, err)
  set_grad_enabled(was)
  if not ok then error(err, 0) end
end

--- opt:step([closure]) -> closure's loss (closure() recomputes it, gradients on): updates
--- every parameter that has a gradient, without recording gradients.
function Optimizer.step(self, closure)
  local loss
  if closure ~= nil then loss = torch.enable_grad(closure) end
  if self.guarded == false then
    self:update()
  else
    local was = set_grad_enabled(false)
    finish_step(was, pcall(self.update, self))
  end
  return loss
end

-- The state of parameter p (a table made on first use).
local function state_of(self, p)
  local s = self.state[p]
  if not s then
    s = {}
    self.state[p] = s
  end
  return s
end

---------------------------------------------------------------------------------------
-- SGD

local SGD = setmetatable({}, { __index = Optimizer })
SGD.__index = SGD

local function sgd_validate(g, who)
  option(g, "lr", who, nonneg, "a number >= 0")
  option(g, "momentum", who, nonneg, "a number >= 0")
  option(g, "dampening", who, nonneg, "a number >= 0")
  option(g, "weight_decay", who, nonneg, "a number >= 0")
  option(g, "nesterov", who, flag, "a boolean")
  option(g, "maximize", who, flag, "a boolean")
  if g.nesterov and (g.momentum <= 0 or g.dampening ~= 0) then
    bad(who .. ": nesterov momentum needs momentum > 0 and dampening 0", 5)
  end
end
SGD.validate = sgd_validate

--- optim.SGD(params, { lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0,
--- nesterov = false, maximize = false }): PyTorch's rule: g += wd p; buf = momentum buf
--- + (1 - dampening) g (buf = g the first step); g = nesterov and g + momentum buf or buf;
--- p -= lr g.
function optim.SGD(params, opts)
  return new(SGD, "SGD", params, opts,
    { lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false, maximize = false }, sgd_validate)
end

function SGD.update(self)
  for _, group in ipairs(self.param_groups) do
    local lr, mom, damp, wd, nesterov = group.lr, group.momentum, group.dampening, group.weight_decay, group.nesterov
    local sign = group.maximize and 1 or -1
    local ps = group.params
    for i = 1, #ps do
      local p = ps[i]
      local d = p:grad()
      if d then
        if wd ~= 0 then d = d:add(p, wd) end
        if mom ~= 0 then
          local s = state_of(self, p)
          local buf = s.momentum_buffer
          if buf == nil then
            buf = d:clone()
            s.momentum_buffer = buf
          else
            buf:mul_(mom):add_(d, 1 - damp)
          end
          if nesterov then d = d:add(buf, mom) else d = buf end
        end
        p:add_(d, sign * lr)
      end
    end
  end
end

---------------------------------------------------------------------------------------
-- Adam and AdamW

local Adam = setmetatable({}, { __index = Optimizer })
Adam.__index = Adam

local function betas(v)
  return type(v) == "table" and unit(v[1]) and unit(v[2])
end

local function adam_validate(g, who)
  option(g, "lr", who, nonneg, "a number >= 0")
  option(g, "betas", who, betas, "{beta1, beta2}, each in [0, 1)")
  option(g, "eps", who, nonneg, "a number >= 0")
  option(g, "weight_decay", who, nonneg, "a number >= 0")
  option(g, "amsgrad", who, flag, "a boolean")
  option(g, "maximize", who, flag, "a boolean")
end
Adam.validate = adam_validate

--- optim.Adam(params, { lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0,
--- amsgrad = false, maximize = false }): PyTorch's rule: g += wd p; m = b1 m + (1-b1) g;
--- v = b2 v + (1-b2) g^2; p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps).
function optim.Adam(params, opts)
  return new(Adam, "Adam", params, opts,
    { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, amsgrad = false, maximize = false },
    adam_validate)
end

-- Adam's state for p (made the first time p has a gradient).
local function adam_state(p, amsgrad)
  local s = { step = 0, exp_avg = torch.zeros_like(p), exp_avg_sq = torch.zeros_like(p) }
  if amsgrad then s.max_exp_avg_sq = torch.zeros_like(p) end
  return s
end

-- The handle arrays one fused call takes, grown to hold n parameters.
local function adam_buffers(self, n)
  local b = self._buffers
  if not b or b.cap < n then
    b = { cap = n, P = LIST_T(n), M = LIST_T(n), V = LIST_T(n), MX = LIST_T(n), STEPS = STEPS_T(n), S = {} }
    self._buffers = b
  end
  return b
end

-- One Adam step of a group: the shim updates every parameter that has a gradient in one
-- call (the same ops as PyTorch's, in C++); decoupled: AdamW's weight decay.
local function adam_group(self, group, decoupled)
  local ps, state = group.params, self.state
  local amsgrad = group.amsgrad
  local b = adam_buffers(self, #ps)
  local P, M, V, MX, STEPS, S = b.P, b.M, b.V, b.MX, b.STEPS, b.S
  local k = 0
  for i = 1, #ps do
    local p = ps[i]
    local s = state[p]
    if s == nil and p:grad() ~= nil then
      s = adam_state(p, amsgrad)
      state[p] = s
    end
    if s ~= nil then
      if amsgrad and s.max_exp_avg_sq == nil then s.max_exp_avg_sq = torch.zeros_like(p) end
      P[k], M[k], V[k], STEPS[k] = p.h, s.exp_avg.h, s.exp_avg_sq.h, s.step
      MX[k] = amsgrad and s.max_exp_avg_sq.h or nil
      k = k + 1
      S[k] = s
    end
  end
  if k == 0 then return end
  local bt = group.betas
  local flags = (amsgrad and ADAM_AMSGRAD or 0) + (group.maximize and ADAM_MAXIMIZE or 0)
    + (decoupled and ADAM_DECOUPLED or 0)
  if C.rl_torch_adam_step(P, M, V, MX, STEPS, k, group.lr, bt[1], bt[2], group.eps, group.weight_decay, flags) ~= 0 then
    error(errors.new("TorchError", ffi.string(C.rl_torch_last_error())), 3)
  end
  for j = 1, k do
    S[j].step = tonumber(STEPS[j - 1])
    S[j] = nil
  end
end

local function adam_update(self, decoupled)
  local groups = self.param_groups
  for i = 1, #groups do adam_group(self, groups[i], decoupled) end
end

-- The shim's step records no gradients itself: no guard needed around it.
Adam.guarded = false

function Adam.update(self) adam_update(self, false) end

local AdamW = setmetatable({}, { __index = Adam })
AdamW.__index = AdamW

--- optim.AdamW(params, { lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2,
--- amsgrad = false, maximize = false }): Adam with decoupled weight decay (p *= 1 - lr wd).
function optim.AdamW(params, opts)
  return new(AdamW, "AdamW", params, opts,
    { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 1e-2, amsgrad = false, maximize = false },
    adam_validate)
end

function AdamW.update(self) adam_update(self, true) end

return optim
