-- rayl.rl.checker: rl.check_env, which says what is wrong with a user's environment
-- (the checks of Gymnasium's env_checker and passive checker, with messages that name the fix).
local spaces = require "rayl.rl.spaces"

local M = {}

local function deep_equal(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b or (a ~= a and b ~= b) end
  for k, v in pairs(a) do if not deep_equal(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
M.deep_equal = deep_equal

local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local parts, n = {}, 0
  for i = 1, math.min(#v, 8) do n = n + 1; parts[n] = show(v[i]) end
  if #v > 8 then parts[n + 1] = "..." end
  if #v == 0 and next(v) ~= nil then return "{...}" end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Calls fn(...) and returns ok, the count of results and the results (or the error).
local function pack(...) return select("#", ...), { ... } end

local function call(fn, ...)
  local n, res = pack(pcall(fn, ...))
  if not res[1] then return false, 0, { tostring(res[2]) } end
  local out = {}
  for i = 2, n do out[i - 1] = res[i] end
  return true, n - 1, out
end

local function check_space(env, field, problems)
  local space = env[field]
  if space == nil then
    problems[#problems + 1] = ("env.%s is missing: set it in the env's constructor to an rl.spaces value "
      .. "(e.g. rl.spaces.Box{ low = ..., high = ..., shape = {n} } or rl.spaces.Discrete(n))"):format(field)
    return nil
  end
  if not spaces.is_space(space) then
    problems[#problems + 1] = ("env.%s is a %s, not an rl.spaces space (Box, Discrete, MultiDiscrete, Tuple, Dict)")
      :format(field, type(space))
    return nil
  end
  return space
end

-- Checks what reset returns; returns the observation or nil.
local function check_reset_result(ok, n, res, obs_space, what, problems)
  if not ok then
    problems[#problems + 1] = ("%s raised an error: %s"):format(what, res[1])
    return nil
  end
  if n ~= 2 then
    problems[#problems + 1] = ("%s returned %d value(s); it must return obs, info (info a table, e.g. {})"):format(what, n)
    if n < 1 then return nil end
  elseif type(res[2]) ~= "table" then
    problems[#problems + 1] = ("%s returned info of type %s; info must be a table (e.g. {})"):format(what, type(res[2]))
  end
  if obs_space then
    local why = obs_space:explain(res[1])
    if why then
      problems[#problems + 1] = ("%s returned an observation outside observation_space %s: %s (obs = %s)")
        :format(what, tostring(obs_space), why, show(res[1]))
    end
  end
  return res[1]
end

local function check_step_result(ok, n, res, obs_space, what, problems)
  if not ok then
    problems[#problems + 1] = ("%s raised an error: %s"):format(what, res[1])
    return false
  end
  if n ~= 5 then
    problems[#problems + 1] = ("%s returned %d value(s); it must return obs, reward, terminated, truncated, info")
      :format(what, n)
    return false
  end
  local obs, reward, terminated, truncated, info = unpack(res, 1, 5)
  if obs_space then
    local why = obs_space:explain(obs)
    if why then
      problems[#problems + 1] = ("%s returned an observation outside observation_space %s: %s (obs = %s)")
        :format(what, tostring(obs_space), why, show(obs))
    end
  end
  if type(reward) ~= "number" then
    problems[#problems + 1] = ("%s returned reward of type %s; the reward must be a number"):format(what, type(reward))
  elseif reward ~= reward then
    problems[#problems + 1] = ("%s returned a NaN reward"):format(what)
  end
  if type(terminated) ~= "boolean" then
    problems[#problems + 1] = ("%s returned terminated of type %s (%s); it must be true or false")
      :format(what, type(terminated), tostring(terminated))
  end
  if type(truncated) ~= "boolean" then
    problems[#problems + 1] = ("%s returned truncated of type %s (%s); it must be true or false")
      :format(what, type(truncated), tostring(truncated))
  end
  if type(info) ~= "table" then
    problems[#problems + 1] = ("%s returned info of type %s; info must be a table (e.g. {})"):format(what, type(info))
  end
  return true
end

local function space_warnings(env, obs_space, act_space, warnings)
  if getmetatable(act_space) == spaces.Box then
    for i = 1, act_space.n do
      if act_space.low[i] ~= -act_space.high[i] or act_space.high[i] ~= 1 then
        warnings[#warnings + 1] = ("action_space %s is not symmetric and normalized to [-1, 1]; "
          .. "agents usually do better with a rescaled action space"):format(tostring(act_space))
        break
      end
    end
  end
  if getmetatable(obs_space) == spaces.Box then
    for i = 1, obs_space.n do
      if obs_space.low[i] == obs_space.high[i] then
        warnings[#warnings + 1] = ("observation_space %s has low == high at element %d"):format(tostring(obs_space), i)
        break
      end
    end
  end
  if type(env.reset) == "function" and rawget(env, "np_random") == nil and env.np_random == nil then
    warnings[#warnings + 1] = "the env has no np_random: seed its randomness from reset{seed=} "
      .. "(rl.Env.reset(self, opts) sets self.np_random) so that runs repeat"
  end
end

-- Runs the episode from reset{seed} with the actions, collecting obs and rewards.
local function rollout(env, seed, actions)
  local trace = {}
  local obs = env:reset { seed = seed }
  trace[1] = obs
  for i, a in ipairs(actions) do
    local o, r, term, trunc = env:step(a)
    trace[#trace + 1] = { o, r, term, trunc }
    if term or trunc then break end
    if i > 50 then break end
  end
  return trace
end

--- rl.check_env(env[, { raise = true, seed = 0 }]) -> true, warnings: runs the checks
--- of Gymnasium's env checker on env (a made env or a raw one). With problems it raises
--- one error listing each (raise = false: returns false, problems, warnings instead).
function M.check_env(env, opts)
  opts = opts or {}
  local seed = opts.seed or 0
  local problems, warnings = {}, {}
  local function finish()
    if #problems == 0 then return true, warnings end
    if opts.raise == false then return false, problems, warnings end
    local lines = { ("check_env: %d problem(s) with %s:"):format(#problems, tostring(env)) }
    for _, p in ipairs(problems) do lines[#lines + 1] = "  - " .. p end
    error(table.concat(lines, "\n"), 3)
  end
  if type(env) ~= "table" then
    problems[1] = ("the env must be a table with reset and step, got %s"):format(type(env))
    return finish()
  end
  for _, m in ipairs({ "reset", "step" }) do
    if type(env[m]) ~= "function" then
      problems[#problems + 1] = ("env has no %s method: define %s(self, %s)"):format(m, m, m == "reset" and "opts" or "action")
    end
  end
  local obs_space = check_space(env, "observation_space", problems)
  local act_space = check_space(env, "action_space", problems)
  if #problems > 0 then return finish() end

  -- reset: arity, types, bounds; reset with options; seeding.
  local ok, n, res = call(env.reset, env, { seed = seed })
  local obs1 = check_reset_result(ok, n, res, obs_space, ("reset{ seed = %d }"):format(seed), problems)
  if not ok or #problems > 0 then return finish() end
  ok, n, res = call(env.reset, env, { seed = seed })
  local obs2 = res[1]
  if ok and not deep_equal(obs1, obs2) then
    problems[#problems + 1] = ("reset{ seed = %d } is not deterministic: it returned %s, then %s; "
      .. "draw the initial state from self.np_random after rl.Env.reset(self, opts)"):format(seed, show(obs1), show(obs2))
  end
  ok, n, res = call(env.reset, env, { seed = seed, options = {} })
  check_reset_result(ok, n, res, obs_space, "reset{ seed =, options = {} }", problems)
  ok, n, res = call(env.reset, env)
  check_reset_result(ok, n, res, obs_space, "reset() (no arguments)", problems)

  -- step: arity, types, bounds, for a few sampled actions.
  act_space:seed(seed)
  local actions = {}
  for i = 1, 8 do actions[i] = act_space:sample() end
  env:reset { seed = seed }
  for i = 1, #actions do
    ok, n, res = call(env.step, env, actions[i])
    if not check_step_result(ok, n, res, obs_space, ("step(%s)"):format(show(actions[i])), problems) then break end
    if res[3] == true or res[4] == true then break end
  end
  if #problems > 0 then return finish() end

  -- determinism: the same seed and actions give the same trajectory.
  local rok, t1 = pcall(rollout, env, seed, actions)
  local rok2, t2 = pcall(rollout, env, seed, actions)
  if rok and rok2 and not deep_equal(t1, t2) then
    problems[#problems + 1] = ("step is not deterministic: from reset{ seed = %d } the same actions gave "
      .. "different observations or rewards; use self.np_random for the env's randomness"):format(seed)
  end
  space_warnings(env, obs_space, act_space, warnings)
  return finish()
end

return M
