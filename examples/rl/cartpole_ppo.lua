-- examples/rl/cartpole_ppo.lua: PPO on CartPole-v1 with 2 env runner actors x 8 envs,
-- until the mean return reaches 475; then saves the policy and plays one episode with it.
--
--   build/bin/rayl examples/rl/cartpole_ppo.lua [checkpoint path]
local rl = require "rayl.rl"

local path = arg and arg[1] or "cartpole.ckpt"
local algo = rl.PPO { env = "CartPole-v1", num_env_runners = 2, envs_per_runner = 8, seed = 1 }
for i = 1, 120 do
  local r = algo:train()
  print(("iter %3d  steps %7d  return %6.1f  loss %.4f/%.3f  %.1fs"):format(i, r.env_steps,
    r.episode_return_mean, r.policy_loss, r.value_loss, r.time_s))
  if r.episode_return_mean >= 475 then break end
end
print("saved " .. algo:save(path))

-- One greedy episode with the trained policy, in this process.
local env = rl.make("CartPole-v1")
local obs = env:reset { seed = 123 }
local total, done = 0, false
while not done do
  local reward, terminated, truncated
  obs, reward, terminated, truncated = env:step(algo:compute_action(obs))
  total, done = total + reward, terminated or truncated
end
print(("greedy episode: return %d"):format(total))
algo:stop()
