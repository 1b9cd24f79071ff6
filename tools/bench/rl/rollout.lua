-- tools/bench/rl/rollout.lua: vectorized rollout throughput with the policy in the loop:
-- rl.PPO's env runner actors (2 runners x 16 CartPole-v1 envs by default) each run the
-- policy network on their batch every step and return whole rollouts; one collection is
-- the weights put once, every runner's rollout, and the rollouts back in the driver.
-- Run: build/bin/rayl tools/bench/rl/rollout.lua [--runners N] [--envs N] [--length T] [--json]
local rl = require "rayl.rl"
local rayl = require "rayl"
local ppo = require "rayl.rl.ppo"

local opts = { runners = 2, envs = 16, length = 512, rounds = 5 }
local json = false
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--json" then json = true
  elseif a:match("^%-%-") and opts[a:sub(3)] then
    opts[a:sub(3)] = assert(tonumber(arg[i + 1]), a .. " needs a number"); i = i + 1
  else error("unknown argument " .. a) end
  i = i + 1
end

rayl.init { num_cpus = 2, print_worker_logs = false }
local algo = rl.PPO { env = "CartPole-v1", num_env_runners = opts.runners, envs_per_runner = opts.envs,
                      rollout_length = opts.length, seed = 1 }
algo:_collect() -- warm-up: runners started, code compiled
local rates = {}
for r = 1, opts.rounds do
  local t0 = ppo.now()
  local ro = algo:_collect()
  local dt = ppo.now() - t0
  rates[r] = ro.rewards:numel() / dt
end
table.sort(rates)
local median = rates[math.ceil(#rates / 2)]
local name = ("rollout %d runners x %d envs x %d steps (policy on runners)"):format(opts.runners, opts.envs, opts.length)
if json then
  print(('{"workload":"%s","value":%.1f,"unit":"steps/s","min":%.1f,"max":%.1f}'):format(name, median, rates[1], rates[#rates]))
else
  print(("%-60s %10.0f steps/s (min %.0f, max %.0f, %d rounds)"):format(name, median, rates[1], rates[#rates], #rates))
end
algo:stop()
rayl.shutdown()
