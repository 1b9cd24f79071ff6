-- tools/bench/rl/ppo_cartpole.lua: PPO solving CartPole-v1 (mean return of the last 20
-- episodes >= 475) for 3 seeds: env steps and wall time each (budget: CleanRL's 500k
-- steps; target: <= 120 s on a 2-core machine). Wall time counts from rl.PPO{} (runners
-- started) to the iteration that reaches the return.
-- Run: build/bin/rayl tools/bench/rl/ppo_cartpole.lua [--runners 2] [--envs 8]
--      [--seeds 1,2,3] [--max-steps 500000] [--json]
local rl = require "rayl.rl"
local rayl = require "rayl"
local ppo = require "rayl.rl.ppo"

local opts = { runners = 2, envs = 8, ["max-steps"] = 500000, seeds = "1,2,3" }
local json = false
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--json" then json = true
  elseif a:match("^%-%-") and opts[a:sub(3)] then
    opts[a:sub(3)] = arg[i + 1] or error(a .. " needs a value"); i = i + 1
  else error("unknown argument " .. a) end
  i = i + 1
end
local runners, envs, max_steps = tonumber(opts.runners), tonumber(opts.envs), tonumber(opts["max-steps"])

if runners > 0 then rayl.init { num_cpus = 2, print_worker_logs = false } end
local rows = {}
for seed in opts.seeds:gmatch("%d+") do
  local t0 = ppo.now()
  local algo = rl.PPO { env = "CartPole-v1", num_env_runners = runners, envs_per_runner = envs,
                        seed = tonumber(seed), total_timesteps = max_steps }
  local r
  repeat r = algo:train() until r.episode_return_mean >= 475 or r.env_steps >= max_steps
  local row = { seed = tonumber(seed), steps = r.env_steps, wall = ppo.now() - t0, ret = r.episode_return_mean,
                solved = r.episode_return_mean >= 475, iters = r.iteration }
  rows[#rows + 1] = row
  algo:stop()
  if json then
    print(('{"seed":%d,"solved":%s,"env_steps":%d,"wall_s":%.2f,"return_mean":%.1f,"iterations":%d}'):format(
      row.seed, tostring(row.solved), row.steps, row.wall, row.ret, row.iters))
  else
    print(("seed %d: %s at %d env steps (%d iterations), %.1f s wall, mean return %.1f"):format(row.seed,
      row.solved and "solved" or "NOT solved", row.steps, row.iters, row.wall, row.ret))
  end
end
if not json then
  local s, w = {}, {}
  for k, row in ipairs(rows) do s[k], w[k] = row.steps, row.wall end
  table.sort(s); table.sort(w)
  print(("%d runners x %d envs: env steps %d..%d (median %d), wall %.1f..%.1f s (median %.1f)"):format(runners, envs,
    s[1], s[#s], s[math.ceil(#s / 2)], w[1], w[#w], w[math.ceil(#w / 2)]))
end
if rayl.is_initialized() then rayl.shutdown() end
