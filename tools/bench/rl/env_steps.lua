-- tools/bench/rl/env_steps.lua: environment steps per second: one CartPole in this LuaJIT
-- process (raw and as rl.make gives it), each classic-control env, the in-process vector
-- env, and remote env runners. Run: build/bin/rayl tools/bench/rl/env_steps.lua [--json] [--quick]
local rl = require "rayl.rl"
local rayl = require "rayl"
local now = require("rayl.core").now

local json, quick = false, false
for _, a in ipairs(arg or {}) do
  if a == "--json" then json = true elseif a == "--quick" then quick = true end
end
local scale = quick and 0.1 or 1

local function report(workload, value, unit)
  if json then
    print(('{"workload":"%s","value":%.1f,"unit":"%s"}'):format(workload, value, unit))
  else
    print(("%-44s %14.0f %s"):format(workload, value, unit))
  end
end

-- The median of 3 timed runs of fn(n) (after a warm-up of n / 10), in steps per second.
local function rate(fn, n)
  fn(math.max(1, math.floor(n / 10)))
  local rates = {}
  for i = 1, 3 do
    local t0 = now()
    local steps = fn(n)
    rates[i] = steps / (now() - t0)
  end
  table.sort(rates)
  return rates[2]
end

-- Steps one env with alternating (or sampled) actions, resetting at episode ends.
local function single(env, sample)
  env:reset { seed = 0 }
  env.action_space:seed(0)
  local actions = {}
  for i = 1, 64 do actions[i] = sample and env.action_space:sample() or (i % 2) end
  return function(n)
    for i = 1, n do
      local _, _, te, tr = env:step(actions[i % 64 + 1])
      if te or tr then env:reset() end
    end
    return n
  end
end

local N = math.floor(5e6 * scale)
report("CartPole-v1 single env, raw (steps/s)", rate(single(rl.classic_control.CartPole.new()), N), "steps/s")
report("CartPole-v1 single env, rl.make (steps/s)", rate(single(rl.make("CartPole-v1")), N), "steps/s")
for _, id in ipairs({ "MountainCar-v0", "MountainCarContinuous-v0", "Acrobot-v1", "Pendulum-v1" }) do
  report(id .. " rl.make (steps/s)", rate(single(rl.make(id), true), math.floor(N / 5)), "steps/s")
end

-- A vector env stepped with a fixed batch of actions; counts env steps.
local function vector(venv, actions)
  venv:reset { seed = 0 }
  return function(n)
    local batches = math.max(1, math.floor(n / venv.num_envs))
    for _ = 1, batches do venv:step(actions) end
    return batches * venv.num_envs
  end
end

local function alternating(n)
  local a = rayl.array("int64", n)
  for i = 1, n do a[i] = i % 2 end
  return a
end

local sync = rl.vector.make("CartPole-v1", 16, { torch = false })
report("CartPole-v1 vector.make 16 envs (env steps/s)", rate(vector(sync, alternating(16)), math.floor(2e6 * scale)), "steps/s")

rayl.init { num_cpus = 2 }
local remote = rl.vector.remote("CartPole-v1", { num_runners = 2, envs_per_runner = 16, torch = false })
report("CartPole-v1 vector.remote 2x16 envs (env steps/s)", rate(vector(remote, alternating(32)), math.floor(1e6 * scale)), "steps/s")
remote:close()
rayl.shutdown()
