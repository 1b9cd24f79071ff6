-- rayl/torch/distributions.lua: rayl.torch.distributions: Categorical and Normal with
-- sample, log_prob, entropy (and kl_divergence), by PyTorch's formulas.
local torch = require "rayl.torch"
local errors = require "rayl.errors"

local D = {}
local is_tensor = torch.is_tensor
local log, pi = math.log, math.pi

local function bad(msg, level)
  errors.raise("ValueError", msg, (level or 2) + 1)
end

-- The smallest finite value and the machine epsilon of a float dtype.
local FMIN = { float32 = -3.4028234663852886e38, float64 = -1.7976931348623157e308 }
local FEPS = { float32 = 1.1920928955078125e-07, float64 = 2.220446049250313e-16 }

-- sample_shape: nil, a number or a table of sizes -> a table.
local function sample_shape(s)
  if s == nil then return {} end
  if type(s) == "number" then return { s } end
  if type(s) ~= "table" then bad("sample's shape must be a table of sizes (or a number)", 4) end
  return s
end

local function concat(a, b)
  local out = {}
  for i = 1, #a do out[i] = a[i] end
  for i = 1, #b do out[#a + i] = b[i] end
  return out
end

local function numel(shape)
  local n = 1
  for i = 1, #shape do n = n * shape[i] end
  return n
end

-- The shape two shapes broadcast to (numpy's rules), or a ValueError.
local function broadcast_shapes(a, b, who)
  local n, out = math.max(#a, #b), {}
  for i = 1, n do
    local x, y = a[#a - n + i] or 1, b[#b - n + i] or 1
    if x ~= y and x ~= 1 and y ~= 1 then
      bad(("%s: shapes {%s} and {%s} do not broadcast"):format(who, table.concat(a, ", "), table.concat(b, ", ")), 4)
    end
    out[i] = x == 1 and y or x
  end
  return out
end

-- A number or table as a tensor (of like's dtype when like is a tensor).
local function as_tensor(v, like, what)
  if is_tensor(v) then return v end
  if type(v) == "number" or type(v) == "table" then
    return torch.tensor(v, is_tensor(like) and like:dtype() or "float32")
  end
  bad(what .. " must be a tensor, a number or a table of numbers, not " .. type(v), 4)
end

---------------------------------------------------------------------------------------
-- Categorical

local Categorical = {}
Categorical.__index = Categorical
D.Categorical = Categorical

--- distributions.Categorical{ logits = t } or { probs = t }: over the last dim of t
--- (probs are normalized to sum 1; logits to log-probabilities). Fields: probs, logits
--- (normalized), batch_shape, event_shape ({}), num_events.
setmetatable(Categorical, { __call = function(_, args)
  if type(args) ~= "table" or is_tensor(args) then
    bad("Categorical takes a table: Categorical{ logits = t } or Categorical{ probs = t }", 2)
  end
  local self = setmetatable({}, Categorical)
  if (args.logits == nil) == (args.probs == nil) then
    bad("Categorical takes either probs or logits (exactly one)", 2)
  end
  if args.probs ~= nil then
    local p = as_tensor(args.probs, nil, "Categorical's probs")
    if p:dim() < 1 then bad("Categorical's probs must have at least one dim", 2) end
    self.probs = p / p:sum(-1, true)
    local eps = FEPS[self.probs:dtype()] or FEPS.float32
    self.logits = self.probs:clamp(eps, 1 - eps):log()
  else
    local l = as_tensor(args.logits, nil, "Categorical's logits")
    if l:dim() < 1 then bad("Categorical's logits must have at least one dim", 2) end
    self.logits = l - l:logsumexp(-1, true)
    self.probs = self.logits:softmax(-1)
  end
  local shape = self.probs:shape()
  self.num_events = table.remove(shape)
  self.batch_shape, self.event_shape = shape, {}
  return self
end })

--- d:sample([sample_shape]) -> int64 class indices of shape sample_shape .. batch_shape.
function Categorical.sample(self, shape)
  shape = sample_shape(shape)
  local n = numel(shape)
  return torch.no_grad(function()
    local rows = self.probs:reshape(-1, self.num_events)
    local s = torch.multinomial(rows, n, true):t()
    return s:reshape(concat(shape, self.batch_shape))
  end)
end

--- d:log_prob(value) -> log P(value) (value holds class indices; broadcasts with the batch).
function Categorical.log_prob(self, value)
  local v = value
  if not is_tensor(v) then
    if type(v) ~= "number" and type(v) ~= "table" then
      bad("Categorical's log_prob takes class indices (a tensor, a number or a table), not " .. type(v))
    end
    v = torch.tensor(v, "int64")
  end
  local shape = broadcast_shapes(v:shape(), self.batch_shape, "Categorical.log_prob")
  local lshape = concat(shape, { self.num_events })
  shape[#shape + 1] = 1
  return self.logits:expand(lshape):gather(-1, v:long():unsqueeze(-1):expand(shape)):squeeze(-1)
end

--- d:entropy() -> -sum(p log p) over the events (0 log 0 counts 0).
function Categorical.entropy(self)
  local l = self.logits:clamp(FMIN[self.logits:dtype()] or FMIN.float32, nil)
  return -(l * self.probs):sum(-1)
end

--- d:mode() -> the most probable class.
function Categorical.mode(self) return self.probs:argmax(-1) end

---------------------------------------------------------------------------------------
-- Normal

local Normal = {}
Normal.__index = Normal
D.Normal = Normal

--- distributions.Normal{ loc = , scale = } (tensors or numbers; they broadcast; scale > 0).
--- Fields: loc, scale, mean, stddev, variance, batch_shape, event_shape ({}).
setmetatable(Normal, { __call = function(_, args)
  if type(args) ~= "table" or is_tensor(args) or args.loc == nil or args.scale == nil then
    bad("Normal takes a table: Normal{ loc = mean, scale = standard deviation }", 2)
  end
  local loc = as_tensor(args.loc, args.scale, "Normal's loc")
  local scale = as_tensor(args.scale, loc, "Normal's scale")
  local shape = broadcast_shapes(loc:shape(), scale:shape(), "Normal")
  if scale:le(0):any():item() then bad("Normal's scale must be > 0 everywhere", 2) end
  local self = setmetatable({}, Normal)
  self.loc, self.scale = loc:expand(shape), scale:expand(shape)
  self.mean, self.stddev, self.variance = self.loc, self.scale, self.scale:square()
  self.batch_shape, self.event_shape = shape, {}
  return self
end })

--- d:rsample([sample_shape]) -> loc + scale * eps (gradients flow to loc and scale).
function Normal.rsample(self, shape)
  local s = concat(sample_shape(shape), self.batch_shape)
  local eps = torch.randn(s, self.loc:dtype())
  return self.loc + eps * self.scale
end

--- d:sample([sample_shape]) -> draws of shape sample_shape .. batch_shape (no gradient).
function Normal.sample(self, shape)
  return torch.no_grad(Normal.rsample, self, shape)
end

local HALF_LOG_2PI = 0.5 * log(2 * pi)

--- d:log_prob(x) -> -(x - loc)^2 / (2 scale^2) - log(scale) - log(sqrt(2 pi))
function Normal.log_prob(self, x)
  x = as_tensor(x, self.loc, "Normal's log_prob value")
  return -((x - self.loc):square()) / (2 * self.variance) - self.scale:log() - HALF_LOG_2PI
end

--- d:entropy() -> 0.5 + 0.5 log(2 pi) + log(scale)
function Normal.entropy(self)
  return self.scale:log() + (0.5 + HALF_LOG_2PI)
end

---------------------------------------------------------------------------------------

--- distributions.kl_divergence(p, q) -> KL(p || q) for two Categoricals or two Normals.
function D.kl_divergence(p, q)
  local mp, mq = getmetatable(p), getmetatable(q)
  if mp == Categorical and mq == Categorical then
    local t = p.probs * (p.logits - q.logits)
    return t:masked_fill(p.probs:eq(0), 0):sum(-1)
  elseif mp == Normal and mq == Normal then
    local ratio = (p.scale / q.scale):square()
    local t1 = ((p.loc - q.loc) / q.scale):square()
    return 0.5 * (ratio + t1 - 1 - ratio:log())
  end
  bad("kl_divergence takes two Categoricals or two Normals")
end

return D
