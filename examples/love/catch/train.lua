-- train.lua: trains the Catch game's policy headless with rl.PPO on env runner actors and
-- saves it for the LÖVE game (main.lua plays it):
--
--   build/bin/rayl examples/love/catch/train.lua [iterations]   (writes catch.ckpt here)
--   eval "$(build/bin/rayl path)" && love examples/love/catch
-- RAYL_CATCH_CKPT=path saves elsewhere (main.lua reads the same variable).
local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local rl = require "rayl.rl"
local Catch = require "game"

Catch.register(dir)
local algo = rl.PPO { env = "Catch-v0", num_env_runners = 2, envs_per_runner = 8, seed = 1, lr = 1e-3 }
for i = 1, tonumber(arg[1]) or 40 do
  local r = algo:train()
  print(("iter %2d  steps %6d  return %6.2f (+1 a catch, -1 a miss, 10 balls)"):format(i, r.env_steps,
    r.episode_return_mean))
  if r.episode_return_mean >= 9 then break end
end
print("saved " .. algo:save(os.getenv("RAYL_CATCH_CKPT") or dir .. "/catch.ckpt"))
algo:stop()
