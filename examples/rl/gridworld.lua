-- examples/rl/gridworld.lua: an environment written in Lua (a grid world with walls, a
-- goal and a pit), registered with rl.register, checked with rl.check_env and trained by
-- PPO on env runner actors. The env class lives in a module (gridworld_env.lua next to
-- this file); the entry function, which the runners receive, finds it there.
--
--   build/bin/rayl examples/rl/gridworld.lua
local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local rl = require "rayl.rl"
local rayl = require "rayl"
local grid = require "gridworld_env"

rl.register("GridWorld-v0", {
  entry = function(config) -- runs in each runner: dir travels with it
    if not package.path:find(dir, 1, true) then package.path = dir .. "/?.lua;" .. package.path end
    return require("gridworld_env").GridWorld(config)
  end,
  max_episode_steps = 50,
})
print("check_env:", rl.check_env(rl.make("GridWorld-v0")))

rayl.init {}
local algo = rl.PPO { env = "GridWorld-v0", num_env_runners = 2, envs_per_runner = 8, rollout_length = 64,
                      lr = 1e-3, seed = 1 }
for i = 1, 60 do
  local r = algo:train()
  print(("iter %2d  steps %6d  return %6.2f  len %5.1f"):format(i, r.env_steps, r.episode_return_mean, r.episode_len_mean))
  if r.episode_return_mean >= grid.BEST - 0.05 then break end
end

-- The greedy policy's path from the start.
local env = rl.make("GridWorld-v0")
local obs = env:reset { seed = 0 }
local done, total = false, 0
while not done do
  local r, te, tr
  obs, r, te, tr = env:step(algo:compute_action(obs))
  total, done = total + r, te or tr
end
print(env.unwrapped:render())
print(("greedy return %.2f (best %.2f)"):format(total, grid.BEST))
algo:stop()
