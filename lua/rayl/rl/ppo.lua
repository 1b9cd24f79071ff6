-- rayl.rl.ppo: Proximal Policy Optimization on rayl.torch, as CleanRL's ppo.py and
-- ppo_continuous_action.py (clipped objective, GAE, clipped value loss, entropy bonus,
-- advantage normalization, minibatch epochs, gradient clipping, orthogonal init, learning
-- rate annealing). Env runners are actors that run the policy themselves: the learner puts
-- its weights in the object store once per iteration and each runner returns a whole
-- rollout. With num_env_runners = 0 the envs run in this process.
local ffi = require "ffi"
local errors = require "rayl.errors"
local env_mod = require "rayl.rl.env"
local spaces = require "rayl.rl.spaces"
local vector = require "rayl.rl.vector"
local rng = require "rayl.rl.rng"

local M = {}

local SQRT2 = math.sqrt(2)

ffi.cdef [[
  struct rl_ppo_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clk, struct rl_ppo_timespec *tp);
]]
local TS = ffi.new("struct rl_ppo_timespec")
--- M.now() -> seconds on the monotonic clock
function M.now()
  ffi.C.clock_gettime(1, TS)
  return tonumber(TS.tv_sec) + tonumber(TS.tv_nsec) * 1e-9
end
local FORMAT = "rayl.rl.PPO"

local function get_torch()
  local ok, torch = pcall(require, "rayl.torch")
  if not ok or type(torch) ~= "table" then
    error("rl.PPO needs rayl.torch, which did not load: " .. tostring(torch), 3)
  end
  local avail, why = torch.available()
  if not avail then error("rl.PPO needs rayl.torch (libtorch): " .. tostring(why), 3) end
  return torch
end

------------------------------------------------------------------------------
-- Options
------------------------------------------------------------------------------

-- CleanRL's ppo.py defaults (Discrete actions); Box actions take ppo_continuous_action.py's
-- where the option is not given (CONTINUOUS).
local DEFAULTS = {
  num_env_runners = 0, envs_per_runner = 4, rollout_length = 128, lr = 2.5e-4, gamma = 0.99,
  gae_lambda = 0.95, num_epochs = 4, minibatch_size = 128, clip_coef = 0.2, clip_vloss = true,
  ent_coef = 0.01, vf_coef = 0.5, max_grad_norm = 0.5, norm_adv = true, anneal_lr = true,
  total_timesteps = 500000, seed = 1, hiddens = { 64, 64 }, stats_window = 20, torch_threads = 1,
  max_restarts = 3, restart_timeout = 60,
}
local CONTINUOUS = { rollout_length = 2048, lr = 3e-4, num_epochs = 10, minibatch_size = 64, ent_coef = 0,
                     total_timesteps = 1000000 }
local OTHER = { num_minibatches = true, wrappers = true, env = true, env_config = true, max_episode_steps = true, target_kl = true,
                runner_options = true }

local function bad_opt(name, v, want)
  errors.raise("ValueError", ("rl.PPO: option %s must be %s, got %s"):format(name, want, tostring(v)), 4)
end

local function check_number(o, name, lo, hi, whole)
  local v = o[name]
  if type(v) ~= "number" or v ~= v or v < lo or (hi and v > hi) or (whole and v ~= math.floor(v)) then
    local want = (whole and "a whole number" or "a number") .. " >= " .. lo .. (hi and (" and <= " .. hi) or "")
    bad_opt(name, v, want)
  end
end

local function check_options(o)
  for _, k in ipairs({ "num_env_runners", "seed" }) do check_number(o, k, 0, nil, true) end
  for _, k in ipairs({ "envs_per_runner", "rollout_length", "num_epochs", "minibatch_size", "total_timesteps",
                       "stats_window", "torch_threads" }) do
    check_number(o, k, 1, nil, true)
  end
  check_number(o, "max_restarts", 0, nil, true)
  for _, k in ipairs({ "lr", "clip_coef", "ent_coef", "vf_coef", "max_grad_norm", "restart_timeout" }) do
    check_number(o, k, 0)
  end
  for _, k in ipairs({ "clip_vloss", "norm_adv", "anneal_lr" }) do
    if type(o[k]) ~= "boolean" then bad_opt(k, o[k], "true or false") end
  end
  check_number(o, "gamma", 0, 1)
  check_number(o, "gae_lambda", 0, 1)
  if o.target_kl ~= nil then check_number(o, "target_kl", 0) end
  if type(o.hiddens) ~= "table" or #o.hiddens == 0 then bad_opt("hiddens", o.hiddens, "a table of layer sizes, e.g. {64, 64}") end
  for _, n in ipairs(o.hiddens) do
    if type(n) ~= "number" or n < 1 or n ~= math.floor(n) then bad_opt("hiddens", n, "layer sizes >= 1") end
  end
  local batch = o.num_envs * o.rollout_length
  if o.num_minibatches == nil then -- the most minibatches of at least minibatch_size that split the batch
    local k = math.max(1, math.floor(batch / o.minibatch_size))
    while batch % k ~= 0 do k = k - 1 end
    o.num_minibatches = k
  end
  check_number(o, "num_minibatches", 1, nil, true)
  if batch % o.num_minibatches ~= 0 then
    error(("rl.PPO: the batch (%d envs x rollout_length %d = %d) does not split into num_minibatches = %d"):format(
      o.num_envs, o.rollout_length, batch, o.num_minibatches), 3)
  end
end

-- The options with defaults filled in (Box actions get the continuous defaults).
local function resolve(opts, continuous)
  if type(opts) ~= "table" then
    errors.raise("ValueError", ("rl.PPO takes a table of options: rl.PPO{ env = \"CartPole-v1\" }, got a %s")
      :format(type(opts)), 3)
  end
  for k in pairs(opts) do
    if DEFAULTS[k] == nil and not OTHER[k] then
      local names = {}
      for n in pairs(DEFAULTS) do names[#names + 1] = n end
      for n in pairs(OTHER) do names[#names + 1] = n end
      table.sort(names)
      errors.raise("ValueError", ("rl.PPO: unknown option '%s'; valid options: %s")
        :format(tostring(k), table.concat(names, ", ")), 3)
    end
  end
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  if continuous then for k, v in pairs(CONTINUOUS) do o[k] = v end end
  for k, v in pairs(opts) do o[k] = v end
  o.num_envs = math.max(o.num_env_runners, 1) * o.envs_per_runner
  check_options(o)
  return o
end

------------------------------------------------------------------------------
-- The policy: CleanRL's Agent (separate actor and critic MLPs, tanh, orthogonal init)
------------------------------------------------------------------------------

-- What the policy needs to know of the env (plain data: it travels to runners).
local function describe_env(env)
  local obs, act = env.observation_space, env.action_space
  local dim = spaces.flatdim(obs)
  if not dim or getmetatable(obs) == spaces.Discrete then
    error(("rl.PPO: observations must be a Box, got %s"):format(tostring(obs)), 4)
  end
  local mt = getmetatable(act)
  if mt == spaces.Discrete then
    return { obs_dim = dim, discrete = true, act_dim = act.n, act_start = act.start or 0 }
  elseif mt == spaces.Box then
    local low, high = {}, {}
    for i = 1, act.n do low[i], high[i] = act.low[i], act.high[i] end
    return { obs_dim = dim, discrete = false, act_dim = act.n, act_low = low, act_high = high }
  end
  error(("rl.PPO: actions must be Discrete or Box, got %s"):format(tostring(act)), 4)
end

local function layer(nn, nin, nout, std)
  local l = nn.Linear(nin, nout)
  nn.init.orthogonal_(l.weight, std)
  nn.init.constant_(l.bias, 0)
  return l
end

local function mlp(nn, nin, hiddens, nout, out_std)
  local layers, d = {}, nin
  for _, h in ipairs(hiddens) do
    layers[#layers + 1] = layer(nn, d, h, SQRT2)
    layers[#layers + 1] = nn.Tanh()
    d = h
  end
  layers[#layers + 1] = layer(nn, d, nout, out_std)
  return nn.Sequential(unpack(layers))
end

-- The network: critic, actor and (Box actions) actor_logstd, as CleanRL names them.
local function new_net(torch, desc, hiddens)
  local nn = torch.nn
  local Agent = nn.Module:extend({
    __init = function(self)
      self.critic = mlp(nn, desc.obs_dim, hiddens, 1, 1.0)
      self.actor = mlp(nn, desc.obs_dim, hiddens, desc.act_dim, 0.01)
      if not desc.discrete then self.actor_logstd = nn.Parameter(torch.zeros({ 1, desc.act_dim })) end
    end,
  }, "PPOAgent")
  return Agent()
end

local function distribution(torch, desc, net, obs)
  local out = net.actor(obs)
  if desc.discrete then return torch.distributions.Categorical { logits = out } end
  return torch.distributions.Normal { loc = out, scale = net.actor_logstd:expand_as(out):exp() }
end

-- log-probabilities and entropies per row (Box: summed over the action's dims).
local function logp_entropy(desc, dist, actions)
  if desc.discrete then return dist:log_prob(actions), dist:entropy() end
  return dist:log_prob(actions):sum(-1), dist:entropy():sum(-1)
end

local function value_of(net, obs) return net.critic(obs):reshape(-1) end

------------------------------------------------------------------------------
-- Sampler: envs plus a copy of the policy; collects rollouts (in a runner or in process)
------------------------------------------------------------------------------

local Sampler = {}
Sampler.__index = Sampler
M.Sampler = Sampler

--- Sampler.new(cfg, index[, net]) -> cfg: { env, spec, env_config, max_episode_steps,
--- num_envs, seed, hiddens, desc, torch_threads }; net: the learner's own network (in
--- process), else a new one that sample() loads weights into.
function Sampler.new(cfg, index, net)
  local torch = get_torch()
  require "rayl.rl" -- the built-in envs' registrations (in a runner's process)
  if cfg.spec and not env_mod.registry[cfg.env] then env_mod.register(cfg.env, cfg.spec) end
  if cfg.torch_threads and not net then torch.set_num_threads(cfg.torch_threads) end
  torch.manual_seed(cfg.seed * 7919 + index)
  local self = setmetatable({
    torch = torch, desc = cfg.desc, n = cfg.num_envs, index = index,
    net = net or new_net(torch, cfg.desc, cfg.hiddens),
    venv = vector.make(cfg.env, cfg.num_envs, { config = cfg.env_config, max_episode_steps = cfg.max_episode_steps,
                                                wrappers = cfg.wrappers, autoreset_mode = "same_step" }),
    ep_ret = ffi.new("double[?]", cfg.num_envs), ep_len = ffi.new("int[?]", cfg.num_envs),
  }, Sampler)
  self.obs = self.venv:reset { seed = cfg.seed * 100003 + index * cfg.num_envs }
  self.done = torch.zeros({ cfg.num_envs })
  return self
end

-- The actions the envs get: Discrete shifted by its start; Box clipped to its bounds.
function Sampler:_env_actions(a)
  local d = self.desc
  if d.discrete then
    if d.act_start ~= 0 then return a + d.act_start end
    return a
  end
  if not self.low then
    self.low = self.torch.tensor({ d.act_low })
    self.high = self.torch.tensor({ d.act_high })
  end
  return a:maximum(self.low):minimum(self.high)
end

-- Adds step t's rewards and dones to the buffers and the episode counters.
function Sampler:_record(t, rew, term, trunc, rp, dp, eps)
  local n, rr = self.n, ffi.cast("double *", rew:ptr())
  for i = 0, n - 1 do
    local r = rr[i]
    local done = term[i + 1] or trunc[i + 1]
    rp[t * n + i] = r
    self.ep_ret[i] = self.ep_ret[i] + r
    self.ep_len[i] = self.ep_len[i] + 1
    if done then
      eps.returns[#eps.returns + 1] = self.ep_ret[i]
      eps.lengths[#eps.lengths + 1] = self.ep_len[i]
      self.ep_ret[i], self.ep_len[i] = 0, 0
    end
    dp[i] = done and 1 or 0
  end
end

--- sampler:sample([weights,] T) -> a rollout: { obs {T, n, dim}, actions, logprobs {T, n},
--- values {T, n}, rewards {T, n}, dones {T, n} (done before the step, as CleanRL's),
--- next_value {n}, next_done {n}, episodes = { returns = {...}, lengths = {...} } }
function Sampler:sample(weights, T)
  local torch, desc, net, n = self.torch, self.desc, self.net, self.n
  if weights then net:load_state_dict(weights) end
  local obs_l, act_l, logp_l, val_l, done_l = {}, {}, {}, {}, {}
  local rewards = torch.empty({ T, n })
  local rp = ffi.cast("float *", rewards:data_ptr())
  local eps = { returns = {}, lengths = {} }
  local was = torch.set_grad_enabled(false)
  local ok, err = pcall(function()
    for t = 0, T - 1 do
      local obs = self.obs
      obs_l[t + 1], done_l[t + 1] = obs, self.done
      local dist = distribution(torch, desc, net, obs)
      local a = dist:sample()
      act_l[t + 1] = a
      logp_l[t + 1] = (logp_entropy(desc, dist, a))
      val_l[t + 1] = value_of(net, obs)
      local nobs, rew, term, trunc = self.venv:step(self:_env_actions(a))
      local done = torch.empty({ n })
      self:_record(t, rew, term, trunc, rp, ffi.cast("float *", done:data_ptr()), eps)
      self.obs, self.done = nobs, done
    end
  end)
  local next_value = ok and value_of(net, self.obs) or nil
  torch.set_grad_enabled(was)
  if not ok then error(err, 0) end
  return {
    obs = torch.stack(obs_l), actions = torch.stack(act_l), logprobs = torch.stack(logp_l),
    values = torch.stack(val_l), rewards = rewards, dones = torch.stack(done_l),
    next_value = next_value, next_done = self.done, episodes = eps,
  }
end

-- The env runner actor: a Sampler in its own process.
local RUNNER = {
  __name = "PPOEnvRunner",
  __init = function(self, cfg, index)
    self.sampler = require("rayl.rl.ppo").Sampler.new(cfg, index)
  end,
  sample = function(self, weights, T) return self.sampler:sample(weights, T) end,
  pid = function(self) return require("rayl").get_runtime_context().pid end,
}

------------------------------------------------------------------------------
-- GAE (CleanRL's loop, over plain float arrays)
------------------------------------------------------------------------------

--- M.gae(torch, ro, gamma, lambda) -> advantages, returns ({T, n} tensors)
function M.gae(torch, ro, gamma, lam)
  local T, n = ro.rewards:size(0), ro.rewards:size(1)
  local function fp(t) return ffi.cast("float *", t:contiguous():data_ptr()), t end
  local r, rk = fp(ro.rewards:contiguous())
  local v, vk = fp(ro.values:contiguous())
  local d, dk = fp(ro.dones:contiguous())
  local nv, nvk = fp(ro.next_value:contiguous())
  local nd, ndk = fp(ro.next_done:contiguous())
  local adv = torch.empty({ T, n })
  local a = ffi.cast("float *", adv:data_ptr())
  for i = 0, n - 1 do
    local last = 0
    for t = T - 1, 0, -1 do
      local nonterminal, nextv
      if t == T - 1 then
        nonterminal, nextv = 1 - nd[i], nv[i]
      else
        nonterminal, nextv = 1 - d[(t + 1) * n + i], v[(t + 1) * n + i]
      end
      local delta = r[t * n + i] + gamma * nextv * nonterminal - v[t * n + i]
      last = delta + gamma * lam * nonterminal * last
      a[t * n + i] = last
    end
  end
  local _ = { rk, vk, dk, nvk, ndk } -- keeps the tensors alive until here
  return adv, adv + ro.values
end

------------------------------------------------------------------------------
-- PPO
------------------------------------------------------------------------------

local PPO = {}
PPO.__index = PPO
M.PPO = PPO

-- The env's spaces (made once here) and the spec runners register (nil: built in).
local function probe_env(o)
  if type(o.env) ~= "string" then
    errors.raise("ValueError", ("rl.PPO: option env must be a registered env id, e.g. \"CartPole-v1\", got %s")
      :format(tostring(o.env)), 3)
  end
  local spec = env_mod.spec(o.env, 3)
  local make_opts = {}
  for k, v in pairs(o.env_config or {}) do make_opts[k] = v end
  make_opts.max_episode_steps = o.max_episode_steps
  local env = env_mod.make(o.env, make_opts)
  local desc = describe_env(env)
  if env.close then env:close() end
  return desc, spec
end

--- rl.PPO{ env = id, num_env_runners = 0, envs_per_runner = 4, rollout_length = 128,
---   lr = 2.5e-4, gamma = 0.99, gae_lambda = 0.95, num_epochs = 4, minibatch_size = 128 (or
---   num_minibatches = k: the batch of num_envs * rollout_length steps in k minibatches),
---   clip_coef = 0.2, clip_vloss = true, ent_coef = 0.01, vf_coef = 0.5, max_grad_norm = 0.5,
---   norm_adv = true, anneal_lr = true, total_timesteps = 500000 (the annealing horizon),
---   target_kl = nil, seed = 1, hiddens = {64, 64}, stats_window = 20 (episodes in the
---   return mean), torch_threads = 1, env_config =, max_episode_steps =, wrappers = fn |
---   {fn, ...} (around each env, as rl.vector.make's; runners receive them), runner_options
---   = {actor options}, max_restarts = 3, restart_timeout = 60 } -> a PPO trainer.
--- The defaults are CleanRL's ppo.py's (its 4 envs x 128 steps make 4 minibatches of 128);
--- Box action spaces default to ppo_continuous_action.py's (rollout_length 2048, lr 3e-4,
--- 10 epochs, minibatches of 64, ent_coef 0).
function M.new(opts)
  local torch = get_torch()
  if type(opts) ~= "table" then
    errors.raise("ValueError", ("rl.PPO takes a table of options: rl.PPO{ env = \"CartPole-v1\" }, got a %s")
      :format(type(opts)), 2)
  end
  local probe = { env = opts.env, env_config = opts.env_config, max_episode_steps = opts.max_episode_steps }
  local desc, spec = probe_env(probe)
  local o = resolve(opts, not desc.discrete)
  torch.set_num_threads(o.torch_threads)
  torch.manual_seed(o.seed)
  local self = setmetatable({
    torch = torch, opts = o, desc = desc, iteration = 0, env_steps = 0, episodes_total = 0,
    recent = {}, time_total = 0, gen = rng.new(o.seed),
  }, PPO)
  self.net = new_net(torch, desc, o.hiddens)
  self.params = self.net:parameters()
  self.optimizer = torch.optim.Adam(self.params, { lr = o.lr, eps = 1e-5 })
  local shipped = nil
  if o.num_env_runners > 0 and not spec.builtin then shipped = vector.shipped_spec(o.env, 2) end
  self.sampler_cfg = {
    env = o.env, spec = shipped, env_config = o.env_config, max_episode_steps = o.max_episode_steps,
    num_envs = o.envs_per_runner, seed = o.seed, hiddens = o.hiddens, desc = desc, torch_threads = o.torch_threads,
    wrappers = o.wrappers,
  }
  if o.num_env_runners == 0 then
    self.sampler = Sampler.new(self.sampler_cfg, 0, self.net)
  else
    self:_start_runners()
  end
  return self
end

function PPO:_start_runners()
  local rayl = require "rayl"
  self.rayl = rayl
  local actor_opts = { max_restarts = self.opts.max_restarts, max_task_retries = 0 }
  for k, v in pairs(self.opts.runner_options or {}) do actor_opts[k] = v end
  local Runner = rayl.remote(RUNNER)
  self.runners = {}
  for r = 1, self.opts.num_env_runners do
    self.runners[r] = Runner:options(actor_opts):remote(self.sampler_cfg, r)
  end
end

local function runner_died(err)
  local errors = require("rayl").errors
  return errors.is(err, "ActorDiedError") or errors.is(err, "ActorUnavailableError")
    or errors.is(err, "WorkerCrashedError")
end

-- Runner r's rollout; a runner that died is waited for (rayl restarts it) and asked again.
function PPO:_get_rollout(r, ref, wref, T)
  local rayl = self.rayl
  local ok, res = pcall(rayl.get, ref)
  if ok then return res end
  local deadline = os.time() + self.opts.restart_timeout
  while true do
    if not runner_died(res) then error(res, 0) end
    local msg = tostring(res.message or res)
    if msg:find("could not start", 1, true) then error(res, 0) end -- its __init failed: it would again
    if msg:find("no restarts left", 1, true) or os.time() > deadline then
      error(("rl.PPO: env runner %d died and did not come back (max_restarts = %d, restart_timeout = %d s): %s"):format(
        r, self.opts.max_restarts, self.opts.restart_timeout, msg), 0)
    end
    self.runner_restarts = (self.runner_restarts or 0) + 1
    ok, res = pcall(rayl.get, self.runners[r].sample:remote(wref, T), { timeout = self.opts.restart_timeout })
    if ok then return res end
    os.execute("sleep 0.05")
  end
end

-- One rollout of every env: {T, num_envs} tensors (runners' envs side by side).
function PPO:_collect()
  local T = self.opts.rollout_length
  if self.sampler then return self.sampler:sample(nil, T) end
  local wref = self.rayl.put(self.net:state_dict())
  local refs = {}
  for r, runner in ipairs(self.runners) do refs[r] = runner.sample:remote(wref, T) end
  local parts = {}
  for r = 1, #self.runners do parts[r] = self:_get_rollout(r, refs[r], wref, T) end
  if #parts == 1 then return parts[1] end
  local torch, out = self.torch, { episodes = { returns = {}, lengths = {} } }
  for _, k in ipairs({ "obs", "actions", "logprobs", "values", "rewards", "dones", "next_value", "next_done" }) do
    local list = {}
    for r, p in ipairs(parts) do list[r] = p[k] end
    out[k] = torch.cat(list, k:find("^next_") and 0 or 1)
  end
  for _, p in ipairs(parts) do
    for i, v in ipairs(p.episodes.returns) do
      out.episodes.returns[#out.episodes.returns + 1] = v
      out.episodes.lengths[#out.episodes.lengths + 1] = p.episodes.lengths[i]
    end
  end
  return out
end

-- A random permutation of 0 .. n-1 (Fisher-Yates on the trainer's generator).
function PPO:_permutation(n)
  local p = {}
  for i = 1, n do p[i] = i - 1 end
  for i = n, 2, -1 do
    local j = math.floor(self.gen:random() * i) + 1
    p[i], p[j] = p[j], p[i]
  end
  return p
end

-- One minibatch's gradient step; returns its statistics (numbers).
function PPO:_minibatch(b, idx)
  local torch, o, desc, net = self.torch, self.opts, self.desc, self.net
  local mb_obs = b.obs:index_select(0, idx)
  local mb_act = b.actions:index_select(0, idx)
  local mb_logp, mb_adv = b.logprobs:index_select(0, idx), b.advantages:index_select(0, idx)
  local mb_ret, mb_val = b.returns:index_select(0, idx), b.values:index_select(0, idx)
  local dist = distribution(torch, desc, net, mb_obs)
  local newlogp, entropy = logp_entropy(desc, dist, mb_act)
  local newvalue = value_of(net, mb_obs)
  local logratio = newlogp - mb_logp
  local ratio = logratio:exp()
  local kl, clipfrac = torch.no_grad(function()
    return ((ratio - 1) - logratio):mean():item(), (ratio - 1):abs():gt(o.clip_coef):float():mean():item()
  end)
  if o.norm_adv then mb_adv = (mb_adv - mb_adv:mean()) / (mb_adv:std() + 1e-8) end
  local pg1 = -mb_adv * ratio
  local pg2 = -mb_adv * ratio:clamp(1 - o.clip_coef, 1 + o.clip_coef)
  local pg_loss = pg1:maximum(pg2):mean()
  local v_loss
  if o.clip_vloss then
    local unclipped = (newvalue - mb_ret):square()
    local clipped = mb_val + (newvalue - mb_val):clamp(-o.clip_coef, o.clip_coef)
    v_loss = 0.5 * unclipped:maximum((clipped - mb_ret):square()):mean()
  else
    v_loss = 0.5 * (newvalue - mb_ret):square():mean()
  end
  local ent = entropy:mean()
  local loss = pg_loss - ent * o.ent_coef + v_loss * o.vf_coef
  self.optimizer:zero_grad()
  loss:backward()
  torch.nn.utils.clip_grad_norm(self.params, o.max_grad_norm)
  self.optimizer:step()
  return pg_loss:item(), v_loss:item(), ent:item(), kl, clipfrac
end

-- The rollout flattened to {T * n, ...} with advantages and returns.
function PPO:_batch(ro)
  local torch, o = self.torch, self.opts
  local adv, ret = M.gae(torch, ro, o.gamma, o.gae_lambda)
  local b = {
    obs = ro.obs:reshape({ -1, self.desc.obs_dim }), logprobs = ro.logprobs:reshape(-1),
    advantages = adv:reshape(-1), returns = ret:reshape(-1), values = ro.values:reshape(-1),
  }
  b.actions = self.desc.discrete and ro.actions:reshape(-1) or ro.actions:reshape({ -1, self.desc.act_dim })
  return b
end

-- Updates the policy on one rollout: num_epochs passes over shuffled minibatches.
function PPO:_learn(ro)
  local torch, o = self.torch, self.opts
  local b = self:_batch(ro)
  local size = b.logprobs:size(0)
  local mb = math.floor(size / o.num_minibatches)
  local s, clipsum, n = {}, 0, 0
  for _ = 1, o.num_epochs do
    local perm = self:_permutation(size)
    for start = 0, size - 1, mb do
      local idx = torch.tensor({ unpack(perm, start + 1, start + mb) }, "int64")
      local clipfrac
      s.policy_loss, s.value_loss, s.entropy, s.approx_kl, clipfrac = self:_minibatch(b, idx)
      clipsum, n = clipsum + clipfrac, n + 1
    end
    s.clipfrac = clipsum / n
    if o.target_kl and s.approx_kl > o.target_kl then break end
  end
  local y, v = b.returns, b.values
  local var_y = y:var():item()
  s.explained_variance = var_y == 0 and 0 / 0 or 1 - (y - v):var():item() / var_y
  return s
end

local function mean(list, from)
  local sum, n = 0, 0
  for i = from, #list do sum, n = sum + list[i], n + 1 end
  return n > 0 and sum / n or 0 / 0
end

-- Keeps the last stats_window episodes' returns and lengths.
function PPO:_add_episodes(eps)
  local recent, w = self.recent, self.opts.stats_window
  for i, ret in ipairs(eps.returns) do
    recent[#recent + 1] = { ret, eps.lengths[i] }
    if #recent > w then table.remove(recent, 1) end
  end
  self.episodes_total = self.episodes_total + #eps.returns
end

--- algo:train() -> one iteration (a rollout of every env, then the update): { iteration,
--- env_steps (total), episode_return_mean, episode_len_mean (over the last stats_window
--- episodes; nan before the first ends), episodes_this_iter, episodes_total, time_s (total),
--- time_this_iter_s, fps, lr, policy_loss, value_loss, entropy, approx_kl, clipfrac,
--- explained_variance, runner_restarts }
function PPO:train()
  local o = self.opts
  local start = M.now()
  self.iteration = self.iteration + 1
  if o.anneal_lr then
    local iters = math.max(1, math.ceil(o.total_timesteps / (o.num_envs * o.rollout_length)))
    self.optimizer:set_lr(math.max(0, 1 - (self.iteration - 1) / iters) * o.lr)
  end
  local ro = self:_collect()
  self.env_steps = self.env_steps + o.num_envs * o.rollout_length
  self:_add_episodes(ro.episodes)
  local s = self:_learn(ro)
  local dt = M.now() - start
  self.time_total = self.time_total + dt
  local rets, lens = {}, {}
  for i, e in ipairs(self.recent) do rets[i], lens[i] = e[1], e[2] end
  s.iteration, s.env_steps, s.time_s, s.time_this_iter_s = self.iteration, self.env_steps, self.time_total, dt
  s.episode_return_mean, s.episode_len_mean = mean(rets, 1), mean(lens, 1)
  s.episodes_this_iter, s.episodes_total = #ro.episodes.returns, self.episodes_total
  s.fps = o.num_envs * o.rollout_length / dt
  s.lr = self.optimizer:get_lr()
  s.runner_restarts = self.runner_restarts or 0
  return s
end

------------------------------------------------------------------------------
-- compute_action, save, restore
------------------------------------------------------------------------------

-- obs as a {B, dim} float tensor, and whether it was one observation.
function PPO:_obs_tensor(obs)
  local torch = self.torch
  if torch.is_tensor(obs) then
    if obs:dim() == 1 then return obs:float():reshape({ 1, -1 }), true end
    return obs:float(), false
  end
  if type(obs) == "number" then obs = { obs } end
  if type(obs) ~= "table" or #obs ~= self.desc.obs_dim then
    error(("compute_action: obs must be a table of %d numbers or a tensor {B, %d}, got %s"):format(
      self.desc.obs_dim, self.desc.obs_dim, type(obs) == "table" and ("a table of " .. #obs) or type(obs)), 3)
  end
  return torch.tensor({ obs }), true
end

--- algo:compute_action(obs[, { explore = false }]) -> the policy's action for one
--- observation (a table or 1-d tensor): Discrete: a number (the most probable unless
--- explore); Box: a table (the mean, clipped to the bounds, unless explore). A {B, dim}
--- tensor gives a tensor of B actions.
function PPO:compute_action(obs, opts)
  local torch, desc = self.torch, self.desc
  local x, single = self:_obs_tensor(obs)
  local explore = opts and opts.explore
  local a = torch.no_grad(function()
    local dist = distribution(torch, desc, self.net, x)
    if explore then return dist:sample() end
    return desc.discrete and dist:mode() or dist.mean
  end)
  if not desc.discrete then
    a = a:maximum(torch.tensor({ desc.act_low })):minimum(torch.tensor({ desc.act_high }))
  elseif desc.act_start ~= 0 then
    a = a + desc.act_start
  end
  if not single then return a end
  if desc.discrete then return a[0]:item() end
  return a[0]:totable()
end

local function header_of(self)
  local o = self.opts
  return {
    format = FORMAT, version = 1, env = o.env, iteration = self.iteration, env_steps = self.env_steps,
    hiddens = o.hiddens, obs_dim = self.desc.obs_dim, act_dim = self.desc.act_dim, discrete = self.desc.discrete,
  }
end

--- algo:save(path): the network's state_dict with torch.save (keys "critic.0.weight", ...,
--- as CleanRL's Agent) plus a header (key "__rayl_header__", JSON bytes as uint8).
function PPO:save(path)
  if type(path) ~= "string" then error("save(path): path must be a string", 2) end
  local json = require "rayl.json"
  local sd = {}
  for k, v in pairs(self.net:state_dict()) do sd[k] = v end
  local text = json.encode(header_of(self))
  local bytes = { text:byte(1, -1) }
  sd.__rayl_header__ = self.torch.tensor(bytes, "uint8")
  self.torch.save(sd, path)
  return path
end

-- The header in a loaded checkpoint, or an error naming the file.
local function read_header(torch, sd, path)
  local h = sd.__rayl_header__
  if not h then error(("restore: %s is not an rl.PPO checkpoint (no header)"):format(path), 4) end
  local bytes = h:totable()
  local text = string.char(unpack(bytes))
  local header = require("rayl.json").decode(text)
  if type(header) ~= "table" or header.format ~= FORMAT then
    error(("restore: %s is not an rl.PPO checkpoint (header: %s)"):format(path, text), 4)
  end
  return header
end

--- algo:restore(path): loads a checkpoint saved by save() for the same env and network
--- sizes (iteration and env_steps continue from it; the optimizer starts afresh).
function PPO:restore(path)
  if type(path) ~= "string" then error("restore(path): path must be a string", 2) end
  local torch = self.torch
  local sd = torch.load(path)
  local h = read_header(torch, sd, path)
  local mine = header_of(self)
  for _, k in ipairs({ "obs_dim", "act_dim", "discrete" }) do
    if h[k] ~= mine[k] then
      error(("restore: %s was saved for %s with %s = %s; this trainer has %s"):format(path, tostring(h.env), k,
        tostring(h[k]), tostring(mine[k])), 2)
    end
  end
  sd.__rayl_header__ = nil
  self.net:load_state_dict(sd)
  self.iteration, self.env_steps = h.iteration or 0, h.env_steps or 0
  return self
end

--- algo:stop(): ends the env runner actors
function PPO:stop()
  for _, r in ipairs(self.runners or {}) do pcall(self.rayl.kill, r) end
  self.runners = {}
end

--- algo:runner_pids() -> the env runners' process ids (tests, tools)
function PPO:runner_pids()
  local refs = {}
  for r, runner in ipairs(self.runners or {}) do refs[r] = runner.pid:remote() end
  return #refs > 0 and self.rayl.get(refs) or {}
end

function PPO:__tostring()
  local o = self.opts
  return ("PPO(%s, num_env_runners=%d, envs_per_runner=%d, iteration=%d)"):format(o.env, o.num_env_runners,
    o.envs_per_runner, self.iteration)
end

return M
