-- rayl.rl_cli: `rayl rl train ENV`: PPO on an environment from the command line, one
-- progress line per iteration (as RLlib's and CleanRL's runs print).
local cli_args = require "rayl.cli_args"

local M = {}

local USAGE = [[
usage: rayl rl train ENV_ID [--stop-return R] [--runners N] [--envs-per-runner N]
                            [--seed S] [--max-steps N] [--save PATH] [--address A]
                            [--rollout-length T] [--lr LR] [--require MODULE]

Trains PPO (rayl.rl.PPO, CleanRL's settings) on ENV_ID (e.g. CartPole-v1), printing one
line per iteration: iteration, env steps, mean episode return, env steps per second,
policy and value losses, entropy and approximate KL. Stops when the mean return reaches
--stop-return or after --max-steps env steps; exits 0 when --stop-return was reached (or
none was given), 1 otherwise.
  --stop-return R       stop once the mean return of recent episodes is >= R
  --runners N           env runner actors (default 2; 0: envs in this process)
  --envs-per-runner N   envs each runner steps (default 8)
  --seed S              seed of the envs, the network and the sampling (default 1)
  --max-steps N         stop after N env steps (default 500000)
  --rollout-length T    steps per env per iteration (default 128)
  --lr LR               Adam's learning rate (default 2.5e-4, annealed to 0 at --max-steps)
  --save PATH           save the trained policy there at the end (rl.PPO's save)
  --require MODULE      require a Lua module first (one that registers a custom env)
  --address A           a cluster to run on (default: a private local one)
]]

local SPEC = {
  { "--stop-return", "number" }, { "--runners", "whole" }, { "--envs-per-runner", "whole" }, { "--seed", "whole" },
  { "--max-steps", "whole" }, { "--rollout-length", "whole" }, { "--lr", "number" }, { "--save", "value" },
  { "--address", "value" }, { "--require", "value" },
}

local function fail(msg, code) cli_args.error(msg, code or 2) end

-- Options and the one positional word (the env id); --help and bad options end the
-- command with their exit code.
local function parse(args)
  local opts, rc = cli_args.parse("rl", USAGE, args, SPEC)
  if not opts then cli_args.exit(rc) end
  if #opts.args ~= 1 then fail("rl train takes one env id (e.g. CartPole-v1)\n" .. USAGE) end
  return opts, opts.args[1]
end

local function fmt(x) return x ~= x and "nan" or ("%.1f"):format(x) end

local function progress(r)
  return ("iter %4d  steps %8d  return %6s  len %6s  fps %6d  policy_loss %8.4f  value_loss %8.3f  entropy %.3f  kl %.5f  time %.1fs")
    :format(r.iteration, r.env_steps, fmt(r.episode_return_mean), fmt(r.episode_len_mean), math.floor(r.fps),
      r.policy_loss, r.value_loss, r.entropy, r.approx_kl, r.time_s)
end

local function train(args)
  local opts, id = parse(args)
  local rayl = require "rayl"
  local rl = require "rayl.rl"
  if opts.require then require(opts.require) end
  local runners = opts.runners or 2
  if runners > 0 then rayl.init { address = opts.address, print_worker_logs = false } end
  local max_steps = opts.max_steps or 500000
  local ok, algo = pcall(rl.PPO, {
    env = id, num_env_runners = runners, envs_per_runner = opts.envs_per_runner or 8,
    seed = opts.seed or 1, rollout_length = opts.rollout_length, lr = opts.lr, total_timesteps = max_steps,
  })
  if not ok then fail(tostring(algo), 1) end
  local stop, reached = opts.stop_return, false
  io.stdout:write(("rayl rl train %s: PPO, %d runners x %d envs, seed %d\n"):format(id, runners,
    algo.opts.envs_per_runner, algo.opts.seed))
  while true do
    local r = algo:train()
    io.stdout:write(progress(r), "\n")
    io.stdout:flush()
    if stop and r.episode_return_mean >= stop then
      reached = true
      io.stdout:write(("reached mean return %.1f >= %g after %d env steps in %.1f s\n"):format(
        r.episode_return_mean, stop, r.env_steps, r.time_s))
      break
    end
    if r.env_steps >= max_steps then
      io.stdout:write(("stopped at --max-steps %d (mean return %s)\n"):format(max_steps, fmt(r.episode_return_mean)))
      break
    end
  end
  if opts.save then io.stdout:write("saved ", algo:save(opts.save), "\n") end
  algo:stop()
  if rayl.is_initialized() then rayl.shutdown() end
  return (reached or not stop) and 0 or 1
end

local COMMANDS = { train = train }

--- M.main(args) -> exit code
function M.main(args) return cli_args.subcommands("rl", USAGE, COMMANDS, args) end

return M
