-- rayl.rl.wrappers: Gymnasium's common wrappers (TimeLimit, RecordEpisodeStatistics,
-- NormalizeObservation, NormalizeReward, ClipAction, TransformReward) and RunningMeanStd.
local env_mod = require "rayl.rl.env"
local spaces = require "rayl.rl.spaces"

local Wrapper = env_mod.Wrapper
local float32 = spaces.float32
local sqrt, huge = math.sqrt, math.huge

local M = {}

local ok_core, core = pcall(require, "rayl.core")
local now = ok_core and core.now or os.clock

local function check_positive(name, what, v, level)
  if type(v) ~= "number" or not (v > 0) then
    error(("%s: %s must be > 0, got %s"):format(name, what, tostring(v)), level + 1)
  end
end

------------------------------------------------------------------------------
-- RunningMeanStd: running mean, variance and count (the parallel algorithm).
------------------------------------------------------------------------------

local RunningMeanStd = {}
RunningMeanStd.__index = RunningMeanStd
M.RunningMeanStd = RunningMeanStd

--- RunningMeanStd.new(n[, epsilon]) -> mean (n zeros), var (n ones), count = epsilon (1e-4)
function RunningMeanStd.new(n, epsilon)
  local self = setmetatable({ n = n, mean = {}, var = {}, count = epsilon or 1e-4 }, RunningMeanStd)
  for i = 1, n do self.mean[i], self.var[i] = 0, 1 end
  return self
end

--- rms:update(rows): rows is an array of samples, each an array of n numbers
function RunningMeanStd:update(rows)
  local k, n = #rows, self.n
  local bmean, bvar = {}, {}
  for i = 1, n do
    local s = 0
    for r = 1, k do s = s + rows[r][i] end
    bmean[i] = s / k
  end
  for i = 1, n do
    local s = 0
    for r = 1, k do
      local d = rows[r][i] - bmean[i]
      s = s + d * d
    end
    bvar[i] = s / k
  end
  self:update_from_moments(bmean, bvar, k)
end

--- rms:update_from_moments(batch_mean, batch_var, batch_count)
function RunningMeanStd:update_from_moments(bmean, bvar, bcount)
  local count = self.count
  local tot = count + bcount
  for i = 1, self.n do
    local delta = bmean[i] - self.mean[i]
    local m2 = self.var[i] * count + bvar[i] * bcount + delta * delta * count * bcount / tot
    self.mean[i] = self.mean[i] + delta * bcount / tot
    self.var[i] = m2 / tot
  end
  self.count = tot
end

------------------------------------------------------------------------------
-- TimeLimit
------------------------------------------------------------------------------

local TimeLimit = Wrapper:extend("TimeLimit")
M.TimeLimit = TimeLimit

--- TimeLimit(env, max_episode_steps): truncated = true once the episode's step count
--- reaches max_episode_steps.
function TimeLimit:init(env, max_episode_steps)
  Wrapper.init(self, env)
  local n = max_episode_steps
  if type(n) ~= "number" or n < 1 or n ~= math.floor(n) then
    error(("TimeLimit: max_episode_steps must be a whole number >= 1, got %s"):format(tostring(n)), 3)
  end
  rawset(self, "max_episode_steps", n)
  rawset(self, "elapsed_steps", nil)
end

function TimeLimit:reset(opts)
  rawset(self, "elapsed_steps", 0)
  return self.env:reset(opts)
end

function TimeLimit:step(action)
  local elapsed = rawget(self, "elapsed_steps")
  if elapsed == nil then error("TimeLimit: call reset before step", 2) end
  local obs, reward, terminated, truncated, info = self.env:step(action)
  elapsed = elapsed + 1
  rawset(self, "elapsed_steps", elapsed)
  if elapsed >= self.max_episode_steps then truncated = true end
  return obs, reward, terminated, truncated, info
end

------------------------------------------------------------------------------
-- RecordEpisodeStatistics
------------------------------------------------------------------------------

local RecordEpisodeStatistics = Wrapper:extend("RecordEpisodeStatistics")
M.RecordEpisodeStatistics = RecordEpisodeStatistics

--- RecordEpisodeStatistics(env[, { buffer_length = 100, stats_key = "episode" }]):
--- at an episode's end, info[stats_key] = { r = return, l = length, t = seconds };
--- return_queue, length_queue, time_queue keep the last buffer_length of each.
function RecordEpisodeStatistics:init(env, opts)
  Wrapper.init(self, env)
  opts = opts or {}
  local len = opts.buffer_length or 100
  if type(len) ~= "number" or len < 1 then
    error(("RecordEpisodeStatistics: buffer_length must be >= 1, got %s"):format(tostring(len)), 3)
  end
  rawset(self, "buffer_length", len)
  rawset(self, "stats_key", opts.stats_key or "episode")
  rawset(self, "episode_count", 0)
  rawset(self, "episode_returns", 0)
  rawset(self, "episode_lengths", 0)
  rawset(self, "episode_start_time", -1)
  rawset(self, "return_queue", {})
  rawset(self, "length_queue", {})
  rawset(self, "time_queue", {})
end

local function push(queue, v, max)
  queue[#queue + 1] = v
  if #queue > max then table.remove(queue, 1) end
end

function RecordEpisodeStatistics:reset(opts)
  local obs, info = self.env:reset(opts)
  rawset(self, "episode_start_time", now())
  rawset(self, "episode_returns", 0)
  rawset(self, "episode_lengths", 0)
  return obs, info
end

function RecordEpisodeStatistics:step(action)
  local obs, reward, terminated, truncated, info = self.env:step(action)
  local ret = rawget(self, "episode_returns") + reward
  local len = rawget(self, "episode_lengths") + 1
  rawset(self, "episode_returns", ret)
  rawset(self, "episode_lengths", len)
  if terminated or truncated then
    local key = self.stats_key
    -- A new info table: the env's own may be shared between steps.
    local out = {}
    for k, v in pairs(info or {}) do out[k] = v end
    if out[key] ~= nil then error(("RecordEpisodeStatistics: the env's info already has '%s'"):format(key), 2) end
    local t = math.floor((now() - rawget(self, "episode_start_time")) * 1e6 + 0.5) / 1e6
    out[key] = { r = ret, l = len, t = t }
    push(self.return_queue, ret, self.buffer_length)
    push(self.length_queue, len, self.buffer_length)
    push(self.time_queue, t, self.buffer_length)
    rawset(self, "episode_count", self.episode_count + 1)
    rawset(self, "episode_start_time", now())
    info = out
  end
  return obs, reward, terminated, truncated, info
end

------------------------------------------------------------------------------
-- NormalizeObservation
------------------------------------------------------------------------------

local NormalizeObservation = Wrapper:extend("NormalizeObservation")
M.NormalizeObservation = NormalizeObservation

--- NormalizeObservation(env[, { epsilon = 1e-8 }]): observations become
--- (obs - mean) / sqrt(var + epsilon) (float32) over a running mean and variance of every
--- observation seen (update_running_mean = false freezes them). The observation space
--- must be a Box; it becomes Box(-inf, inf, shape, float32). The statistics are kept in
--- float64 (Gymnasium keeps them in the observation's dtype).
function NormalizeObservation:init(env, opts)
  Wrapper.init(self, env)
  opts = opts or {}
  local eps = opts.epsilon or 1e-8
  check_positive("NormalizeObservation", "epsilon", eps, 3)
  local space = env.observation_space
  if getmetatable(space) ~= spaces.Box then
    error(("NormalizeObservation needs a Box observation space, got %s"):format(tostring(space)), 3)
  end
  rawset(self, "observation_space", spaces.Box(-huge, huge, space.shape, "float32"))
  rawset(self, "obs_rms", RunningMeanStd.new(space.n))
  rawset(self, "epsilon", eps)
  rawset(self, "update_running_mean", true)
  rawset(self, "scalar", #space.shape == 0)
end

function NormalizeObservation:observation(obs)
  local row = self.scalar and { obs } or obs
  local rms = self.obs_rms
  if self.update_running_mean then rms:update({ row }) end
  local out = {}
  for i = 1, rms.n do out[i] = float32((row[i] - rms.mean[i]) / sqrt(rms.var[i] + self.epsilon)) end
  if self.scalar then return out[1] end
  return out
end

function NormalizeObservation:reset(opts)
  local obs, info = self.env:reset(opts)
  return self:observation(obs), info
end

function NormalizeObservation:step(action)
  local obs, reward, terminated, truncated, info = self.env:step(action)
  return self:observation(obs), reward, terminated, truncated, info
end

------------------------------------------------------------------------------
-- NormalizeReward
------------------------------------------------------------------------------

local NormalizeReward = Wrapper:extend("NormalizeReward")
M.NormalizeReward = NormalizeReward

--- NormalizeReward(env[, { gamma = 0.99, epsilon = 1e-8 }]): rewards are divided by
--- sqrt(var + epsilon) of a running variance of the discounted return
--- (discounted = discounted * gamma * (1 - terminated) + reward); not centred.
function NormalizeReward:init(env, opts)
  Wrapper.init(self, env)
  opts = opts or {}
  local gamma, eps = opts.gamma or 0.99, opts.epsilon or 1e-8
  if type(gamma) ~= "number" or gamma < 0 or gamma > 1 then
    error(("NormalizeReward: gamma should be in the interval [0, 1], got %s"):format(tostring(gamma)), 3)
  end
  check_positive("NormalizeReward", "epsilon", eps, 3)
  rawset(self, "return_rms", RunningMeanStd.new(1))
  rawset(self, "discounted_reward", 0)
  rawset(self, "gamma", gamma)
  rawset(self, "epsilon", eps)
  rawset(self, "update_running_mean", true)
end

function NormalizeReward:step(action)
  local obs, reward, terminated, truncated, info = self.env:step(action)
  local d = self.discounted_reward * self.gamma * (terminated and 0 or 1) + reward
  rawset(self, "discounted_reward", d)
  local rms = self.return_rms
  if self.update_running_mean then rms:update({ { d } }) end
  return obs, reward / sqrt(rms.var[1] + self.epsilon), terminated, truncated, info
end

------------------------------------------------------------------------------
-- ClipAction
------------------------------------------------------------------------------

local ClipAction = Wrapper:extend("ClipAction")
M.ClipAction = ClipAction

--- ClipAction(env): actions are clipped to the Box action space's [low, high]; the
--- wrapper's action space is Box(-inf, inf, shape, dtype).
function ClipAction:init(env)
  Wrapper.init(self, env)
  local space = env.action_space
  if getmetatable(space) ~= spaces.Box then
    error(("ClipAction requires a Box action space, got %s"):format(tostring(space)), 3)
  end
  rawset(self, "inner_space", space)
  rawset(self, "action_space", spaces.Box(-huge, huge, space.shape, space.dtype))
end

function ClipAction:step(action)
  local s = self.inner_space
  local clipped
  if type(action) == "number" then
    clipped = math.min(math.max(action, s.low[1]), s.high[1])
  else
    clipped = {}
    for i = 1, s.n do clipped[i] = math.min(math.max(action[i], s.low[i]), s.high[i]) end
  end
  return self.env:step(clipped)
end

------------------------------------------------------------------------------
-- TransformReward
------------------------------------------------------------------------------

local TransformReward = Wrapper:extend("TransformReward")
M.TransformReward = TransformReward

--- TransformReward(env, fn): rewards become fn(reward)
function TransformReward:init(env, fn)
  Wrapper.init(self, env)
  if type(fn) ~= "function" then error("TransformReward needs a function(reward) -> reward", 3) end
  rawset(self, "fn", fn)
end

function TransformReward:step(action)
  local obs, reward, terminated, truncated, info = self.env:step(action)
  return obs, self.fn(reward), terminated, truncated, info
end

return M
