-- rayl.rl: reinforcement learning in Lua: Gymnasium's environment API, spaces, wrappers,
-- the classic-control environments, an env checker, vector envs (in process and on actors)
-- and PPO (rl.PPO, on rayl.torch).
local env_mod = require "rayl.rl.env"
local spaces = require "rayl.rl.spaces"
local wrappers = require "rayl.rl.wrappers"
local classic = require "rayl.rl.classic_control"
local checker = require "rayl.rl.checker"
local vector = require "rayl.rl.vector"
local rng = require "rayl.rl.rng"

local rl = {
  Env = env_mod.Env,
  Wrapper = env_mod.Wrapper,
  spaces = spaces,
  wrappers = wrappers,
  vector = vector,
  rng = rng,
  classic_control = classic,
  registry = env_mod.registry,
  register = env_mod.register,
  make = env_mod.make,
  spec = function(id) return env_mod.spec(id, 2) end,
  check_env = checker.check_env,
}

--- rl.PPO{ env = id, ... } -> a PPO trainer (rayl.rl.ppo; needs rayl.torch)
function rl.PPO(opts) return require("rayl.rl.ppo").new(opts) end

-- The wrappers by name at the top as well: rl.RecordEpisodeStatistics(env), ...
for name, w in pairs(wrappers) do rl[name] = w end

--- rl.np_random(seed) -> a generator seeded as Gymnasium's np_random(seed), and the seed
function rl.np_random(seed) return rng.new(seed) end

classic.register_all(env_mod.register)

return rl
