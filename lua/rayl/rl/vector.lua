-- rayl.rl.vector: batched environments: in this process (make, SyncVectorEnv) and on env
-- runner actors (remote), with Gymnasium 1.x's autoreset semantics.
--
-- Autoreset: "next_step" (Gymnasium's default, AutoresetMode.NEXT_STEP): the step after an
-- episode ends (terminated or truncated) resets that env and returns its first
-- observation with reward 0 and terminated = truncated = false; the action given to
-- it is ignored. "same_step" resets in the same step; the final observation and info are
-- in infos.final_obs / infos.final_info.
--
-- Batches: observations are one float32 rayl.array of num_envs rows (row-major, each row
-- the flat observation), shaped {num_envs, ...} by venv.obs_shape; with rayl.torch
-- available (and opts.torch ~= false) they are torch tensors of that shape over the
-- same memory. Rewards are a float64 rayl.array; terminated and truncated are tables of
-- booleans; infos follow Gymnasium (infos[key][i] with infos["_" .. key][i] = true
-- where env i set key). Observation spaces without a flat form (Tuple, Dict) come
-- back as a table of per-env observations.
local ffi = require "ffi"
local core_ok, core = pcall(require, "rayl.core")
local env_mod = require "rayl.rl.env"
local spaces = require "rayl.rl.spaces"

local M = {}

local MODES = { next_step = true, same_step = true }

local function new_array(dtype, n)
  if not core_ok then error("rayl.rl.vector needs rayl's runtime (run under the rayl program)", 3) end
  return core.array(dtype, n)
end

local function array_ptr(arr, ctype)
  return ffi.cast(ctype, arr:ptr())
end

-- torch (rayl.torch) when it is there and works, else false.
local torch_mod
local function get_torch()
  if torch_mod == nil then
    torch_mod = false
    local ok, t = pcall(require, "rayl.torch")
    if ok and type(t) == "table" and t.available and t.available() then torch_mod = t end
  end
  return torch_mod
end

local function is_rayl_array(x)
  return type(x) == "userdata" and getmetatable(x) == "rayl.array"
end

local function to_array(x) return x:to_array() end -- a tensor's array (called under pcall)

------------------------------------------------------------------------------
-- Infos, as Gymnasium's vector _add_info
------------------------------------------------------------------------------

local function is_dict(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return false end
  local k = next(v)
  return k == nil or type(k) == "string"
end

local function new_mask(n)
  local m = {}
  for i = 1, n do m[i] = false end
  return m
end

-- Adds env i's info to the batched infos (n envs).
local function add_info(infos, info, i, n)
  for k, v in pairs(info) do
    if is_dict(v) then
      local sub = infos[k]
      if sub == nil then sub = {}; infos[k] = sub end
      add_info(sub, v, i, n)
    else
      local arr = infos[k]
      if arr == nil then
        arr = {}
        local fill = (type(v) == "number" and 0) or (type(v) == "boolean" and false) or nil
        if fill ~= nil then for j = 1, n do arr[j] = fill end end
        infos[k] = arr
      end
      arr[i] = v
    end
    local mk = "_" .. tostring(k)
    local mask = infos[mk]
    if mask == nil then mask = new_mask(n); infos[mk] = mask end
    mask[i] = true
  end
end
M.add_info = add_info

-- Copies batched infos of `count` envs (src) into dst at env offset `off` (total n).
local function merge_infos(dst, src, off, count, n)
  for k, v in pairs(src) do
    if type(k) == "string" and k:sub(1, 1) == "_" and src[k:sub(2)] ~= nil then
      local mask = dst[k]
      if mask == nil then mask = new_mask(n); dst[k] = mask end
      for j = 1, count do if v[j] then mask[off + j] = true end end
    elseif type(v) == "table" and type(next(v)) == "string" then
      local sub = dst[k]
      if sub == nil then sub = {}; dst[k] = sub end
      merge_infos(sub, v, off, count, n)
    elseif type(v) == "table" then
      local arr = dst[k]
      if arr == nil then
        arr = {}
        local fill = (type(v[1]) == "number" and 0) or (type(v[1]) == "boolean" and false) or nil
        if fill ~= nil then for j = 1, n do arr[j] = fill end end
        dst[k] = arr
      end
      for j = 1, count do if v[j] ~= nil then arr[off + j] = v[j] end end
    end
  end
end

------------------------------------------------------------------------------
-- Actions: a table of per-env actions, a rayl.array or a tensor (flat rows).
------------------------------------------------------------------------------

-- Checks a batch of actions: a Lua table holds one action per env; a rayl.array (or a
-- tensor, through to_array) holds them flat, one row of `per` values per env. Returns
-- the actions and per (0 for a table of actions, 1 for scalars in an array). No
-- closures here: this runs every step, and closures stop LuaJIT's compiler.
local function check_actions(actions, n, space)
  if type(actions) ~= "table" and not is_rayl_array(actions) then
    local ok, arr = pcall(to_array, actions)
    if not ok or not is_rayl_array(arr) then
      error(("step: actions must be a table of %d actions, a rayl.array or a tensor, got %s"):format(n, type(actions)), 3)
    end
    actions = arr
  end
  if type(actions) == "table" then
    if #actions ~= n then error(("step: expected %d actions (one per env), got %d"):format(n, #actions), 3) end
    return actions, 0
  end
  local per = spaces.flatdim(space)
  if per == nil then error("step: an array of actions needs a Box, Discrete or MultiDiscrete action space", 3) end
  if #actions ~= n * per then
    error(("step: expected %d action values (%d envs x %d), got %d"):format(n * per, n, per, #actions), 3)
  end
  if getmetatable(space) == spaces.Discrete then return actions, 1 end
  return actions, per
end

-- Env i's action from checked actions.
local function action_at(actions, per, i)
  if per <= 1 then return actions[i] end
  local a = {}
  for j = 1, per do a[j] = actions[(i - 1) * per + j] end
  return a
end
M.action_at = action_at


------------------------------------------------------------------------------
-- SyncVectorEnv: n envs stepped one after another in this process.
------------------------------------------------------------------------------

local SyncVectorEnv = {}
SyncVectorEnv.__index = SyncVectorEnv
M.SyncVectorEnv = SyncVectorEnv

local function batch_space(space, n)
  local mt = getmetatable(space)
  if mt == spaces.Box then
    local low, high = {}, {}
    for i = 1, n do
      for j = 1, space.n do
        low[(i - 1) * space.n + j], high[(i - 1) * space.n + j] = space.low[j], space.high[j]
      end
    end
    return spaces.Box(low, high, { n, unpack(space.shape) }, space.dtype)
  elseif mt == spaces.Discrete then
    local nvec, start = {}, {}
    for i = 1, n do nvec[i], start[i] = space.n, space.start end
    return spaces.MultiDiscrete(nvec, start)
  end
  local list = {}
  for i = 1, n do list[i] = space end
  return spaces.Tuple(list)
end
M.batch_space = batch_space

local function check_opts(opts, level)
  if opts ~= nil and type(opts) ~= "table" then error("rl.vector: opts must be a table", level + 1) end
  opts = opts or {}
  local mode = opts.autoreset_mode or "next_step"
  if not MODES[mode] then
    error(("rl.vector: autoreset_mode must be 'next_step' or 'same_step', got '%s'"):format(tostring(mode)), level + 1)
  end
  return opts, mode
end

--- rl.vector.SyncVectorEnv(envs[, opts]) -> a vector env over the given envs (env
--- tables, or functions that make one), all with the same spaces.
function SyncVectorEnv.new(envs, opts)
  local mode
  opts, mode = check_opts(opts, 2)
  if type(envs) ~= "table" or #envs == 0 then error("SyncVectorEnv needs a non-empty table of envs", 2) end
  local list = {}
  for i, e in ipairs(envs) do
    if type(e) == "function" then e = e() end
    if type(e) ~= "table" then error(("SyncVectorEnv: env %d is a %s, not an env"):format(i, type(e)), 2) end
    list[i] = e
  end
  local single_obs, single_act = list[1].observation_space, list[1].action_space
  for i = 2, #list do
    if list[i].observation_space ~= single_obs or list[i].action_space ~= single_act then
      error(("SyncVectorEnv: env %d's spaces differ from env 1's"):format(i), 2)
    end
  end
  local n = #list
  local dim = spaces.flatdim(single_obs)
  local self = setmetatable({
    envs = list, num_envs = n, autoreset_mode = mode,
    single_observation_space = single_obs, single_action_space = single_act,
    observation_space = batch_space(single_obs, n), action_space = batch_space(single_act, n),
    dim = dim, autoreset = {}, default_seed = opts.seed, seeded = false,
    use_torch = opts.torch ~= false,
  }, SyncVectorEnv)
  if dim then
    local shape = { n }
    for _, d in ipairs(getmetatable(single_obs) == spaces.Box and single_obs.shape or { dim }) do shape[#shape + 1] = d end
    if getmetatable(single_obs) == spaces.Discrete then shape = { n } end
    self.obs_shape = shape
  end
  for i = 1, n do self.autoreset[i] = false end
  return self
end
setmetatable(SyncVectorEnv, { __call = function(_, ...) return SyncVectorEnv.new(...) end })

-- The batch as the caller sees it (a tensor when torch is there).
function SyncVectorEnv:_out(arr)
  if not self.dim then return arr end
  local torch = self.use_torch and get_torch()
  if torch then return torch.from_array(arr, self.obs_shape) end
  return arr
end

-- Writes env i's observation into the batch (p: float pointer) or the list.
local function put_obs(self, batch, p, i, obs)
  local dim = self.dim
  if not dim then
    batch[i] = obs
  elseif type(obs) == "number" then
    p[(i - 1) * dim] = obs
  else
    local base = (i - 1) * dim - 1
    for j = 1, dim do p[base + j] = obs[j] end
  end
end

local function new_batch(self)
  if not self.dim then return {}, nil end
  local arr = new_array("float32", self.num_envs * self.dim)
  return arr, array_ptr(arr, "float *")
end

-- The per-env seeds of reset{seed=}: a number s gives s, s+1, ...; a table, its entries.
local function seeds_for(seed, n, level)
  if seed == nil then return {} end
  if type(seed) == "number" then
    local t = {}
    for i = 1, n do t[i] = seed + i - 1 end
    return t
  end
  if type(seed) ~= "table" or #seed ~= n then
    error(("reset: seed must be a number or a table of %d seeds"):format(n), level + 1)
  end
  return seed
end

--- venv:reset{ seed =, options = } -> obs, infos: resets every env (seed s: env i gets
--- s + i - 1; a table: one seed each; nil: opts.seed at the first reset, else unseeded).
function SyncVectorEnv:reset(opts)
  opts = opts or {}
  local seed = opts.seed
  if seed == nil and not self.seeded then seed = self.default_seed end
  self.seeded = true
  local seeds = seeds_for(seed, self.num_envs, 2)
  local batch, p = new_batch(self)
  local infos = {}
  for i, env in ipairs(self.envs) do
    local obs, info = env:reset { seed = seeds[i], options = opts.options }
    put_obs(self, batch, p, i, obs)
    if info and next(info) then add_info(infos, info, i, self.num_envs) end
    self.autoreset[i] = false
  end
  return self:_out(batch), infos
end

--- venv:step(actions) -> obs, rewards, terminated, truncated, infos (see the file's head)
function SyncVectorEnv:step(actions)
  local n = self.num_envs
  local acts, per = check_actions(actions, n, self.single_action_space)
  local batch, p = new_batch(self)
  local rewards = new_array("float64", n)
  local rp = array_ptr(rewards, "double *")
  local term, trunc, infos = {}, {}, {}
  local next_step = self.autoreset_mode == "next_step"
  for i = 1, n do
    local env = self.envs[i]
    local obs, r, te, tr, info
    if next_step and self.autoreset[i] then
      obs, info = env:reset()
      r, te, tr = 0, false, false
    else
      obs, r, te, tr, info = env:step(action_at(acts, per, i))
      if not next_step and (te or tr) then
        add_info(infos, { final_obs = obs, final_info = info or {} }, i, n)
        obs, info = env:reset()
      end
    end
    put_obs(self, batch, p, i, obs)
    rp[i - 1] = r
    term[i], trunc[i] = te, tr
    if info and next(info) then add_info(infos, info, i, n) end
    self.autoreset[i] = te or tr
  end
  return self:_out(batch), rewards, term, trunc, infos
end

function SyncVectorEnv:close()
  for _, env in ipairs(self.envs) do
    if env.close then env:close() end
  end
end

function SyncVectorEnv:__tostring()
  local id = self.envs[1].spec and self.envs[1].spec.id or tostring(self.envs[1])
  return ("SyncVectorEnv(%s, num_envs=%d)"):format(id, self.num_envs)
end

local MAKE_OPTS = {
  seed = true, max_episode_steps = true, config = true, wrappers = true, autoreset_mode = true, torch = true,
}

local function check_make_opts(opts, valid, what, level)
  for k in pairs(opts or {}) do
    if not valid[k] then
      local names = {}
      for name in pairs(valid) do names[#names + 1] = name end
      table.sort(names)
      error(("%s: unknown option '%s'; valid options: %s"):format(what, tostring(k), table.concat(names, ", ")), level + 1)
    end
  end
end

local function check_count(what, name, v, level)
  if type(v) ~= "number" or v < 1 or v ~= math.floor(v) then
    error(("%s: %s must be a whole number >= 1, got %s"):format(what, name, tostring(v)), level + 1)
  end
end

-- One env of a vector env: made from id with the config, then wrapped.
local function make_one(id, opts)
  local make_opts = {}
  for k, v in pairs(opts.config or {}) do make_opts[k] = v end
  if opts.max_episode_steps ~= nil then make_opts.max_episode_steps = opts.max_episode_steps end
  local env = env_mod.make(id, make_opts)
  local w = opts.wrappers
  if type(w) == "function" or (type(w) == "table" and getmetatable(w) ~= nil) then w = { w } end
  for _, wrap in ipairs(w or {}) do env = wrap(env) end
  return env
end

--- rl.vector.make(id, num_envs[, { seed =, max_episode_steps =, config = {env config},
---   wrappers = fn | {fn, ...}, autoreset_mode = "next_step", torch = true }]) -> a
--- SyncVectorEnv of num_envs envs made with rl.make(id, config).
function M.make(id, n, opts)
  check_count("rl.vector.make", "num_envs", n, 2)
  check_make_opts(opts, MAKE_OPTS, "rl.vector.make", 2)
  opts = opts or {}
  env_mod.spec(id, 2)
  local envs = {}
  for i = 1, n do envs[i] = make_one(id, opts) end
  return SyncVectorEnv.new(envs, opts)
end

------------------------------------------------------------------------------
-- Remote: env runners as rayl actors, one call per batch step per runner.
------------------------------------------------------------------------------

-- The runner actor: a SyncVectorEnv of its envs. Its methods require what they use
-- (they run in another process).
local RUNNER = {
  __name = "EnvRunner",
  __init = function(self, id, spec, n, opts)
    local rl = require "rayl.rl"
    if spec then rl.register(id, spec) end
    opts.torch = false
    self.venv = rl.vector.make(id, n, opts)
  end,
  reset = function(self, seed, options)
    local obs, infos = self.venv:reset { seed = seed, options = options }
    return { obs, infos }
  end,
  step = function(self, actions)
    self.step_calls = (self.step_calls or 0) + 1
    local obs, rew, term, trunc, infos = self.venv:step(actions)
    return { obs, rew, term, trunc, infos }
  end,
  pid = function(self) return require("rayl").get_runtime_context().pid end,
  stats = function(self) return { pid = require("rayl").get_runtime_context().pid, step_calls = self.step_calls or 0 } end,
}

local REMOTE_OPTS = {
  num_runners = true, envs_per_runner = true, seed = true, max_restarts = true, max_episode_steps = true,
  config = true, autoreset_mode = true, torch = true, runner_options = true, restart_timeout = true,
}

local BUILTIN = {
  ["CartPole-v0"] = true, ["CartPole-v1"] = true, ["MountainCar-v0"] = true,
  ["MountainCarContinuous-v0"] = true, ["Pendulum-v1"] = true, ["Acrobot-v1"] = true,
}

local RemoteVectorEnv = {}
RemoteVectorEnv.__index = RemoteVectorEnv
M.RemoteVectorEnv = RemoteVectorEnv

-- The spec a runner registers (nil for ids every process has).
local function shipped_spec(id, level)
  local spec = env_mod.spec(id, level + 1)
  if BUILTIN[id] and spec.builtin then return nil end
  if type(spec.entry) == "table" then
    error(("rl.vector.remote: '%s' is registered with a class table as its entry; runners run in other "
      .. "processes: register it with entry = function(config) return Class.new(config) end or "
      .. "entry = \"module:Class\""):format(id), level + 1)
  end
  local out = {}
  for k, v in pairs(spec) do if k ~= "id" then out[k] = v end end
  return out
end
M.shipped_spec = shipped_spec

--- rl.vector.remote(id[, { num_runners = 2, envs_per_runner = 1, seed =, max_restarts = 3,
---   max_episode_steps =, config =, autoreset_mode =, torch =, runner_options = {actor
---   options, e.g. num_cpus}, restart_timeout = 60 }]) -> a vector env of
--- num_runners * envs_per_runner envs on runner actors. Each step makes one actor call
--- per runner (its actions as one batch). A runner that dies is restarted (up to
--- max_restarts); its envs' episodes are dropped: that step reports them truncated with
--- the new episodes' first observations (infos.runner_restarted), and the next step
--- returns those observations again as the autoreset step (reward 0).
function M.remote(id, opts)
  check_make_opts(opts, REMOTE_OPTS, "rl.vector.remote", 2)
  opts = opts or {}
  local nr, per = opts.num_runners or 2, opts.envs_per_runner or 1
  check_count("rl.vector.remote", "num_runners", nr, 2)
  check_count("rl.vector.remote", "envs_per_runner", per, 2)
  local max_restarts = opts.max_restarts or 3
  if type(max_restarts) ~= "number" or max_restarts < 0 or max_restarts ~= math.floor(max_restarts) then
    error(("rl.vector.remote: max_restarts must be a whole number >= 0, got %s"):format(tostring(max_restarts)), 2)
  end
  local _, mode = check_opts(opts, 2)
  local spec = shipped_spec(id, 2)
  local rayl = require "rayl"
  local probe = make_one(id, opts) -- this process's copy, for the spaces
  local single_obs, single_act = probe.observation_space, probe.action_space
  if probe.close then probe:close() end
  local dim = spaces.flatdim(single_obs)
  if not dim then
    error(("rl.vector.remote: observations must be Box, Discrete or MultiDiscrete to batch, got %s"):format(tostring(single_obs)), 2)
  end
  local n = nr * per
  local runner_opts = { config = opts.config, max_episode_steps = opts.max_episode_steps, autoreset_mode = mode }
  local actor_opts = { max_restarts = max_restarts, max_task_retries = 0 }
  for k, v in pairs(opts.runner_options or {}) do actor_opts[k] = v end
  local Runner = rayl.remote(RUNNER)
  local runners = {}
  for r = 1, nr do runners[r] = Runner:options(actor_opts):remote(id, spec, per, runner_opts) end
  local self = setmetatable({
    rayl = rayl, runners = runners, num_runners = nr, envs_per_runner = per, num_envs = n, id = id,
    autoreset_mode = mode, dim = dim, default_seed = opts.seed, seeded = false, use_torch = opts.torch ~= false,
    single_observation_space = single_obs, single_action_space = single_act,
    observation_space = batch_space(single_obs, n), action_space = batch_space(single_act, n),
    pending = {}, restarts = {}, restart_timeout = opts.restart_timeout or 60,
  }, RemoteVectorEnv)
  local shape = { n }
  if getmetatable(single_obs) == spaces.Box then
    for _, d in ipairs(single_obs.shape) do shape[#shape + 1] = d end
  elseif getmetatable(single_obs) == spaces.MultiDiscrete then
    shape[2] = dim
  end
  self.obs_shape = shape
  for r = 1, nr do self.restarts[r] = 0 end
  return self
end

RemoteVectorEnv._out = SyncVectorEnv._out

-- Env runner r's seeds for a reset with `seed` (nil: none), after `restarts` restarts.
function RemoteVectorEnv:_seed_of(r, seed)
  if seed == nil then return nil end
  if type(seed) == "table" then
    local t = {}
    for j = 1, self.envs_per_runner do t[j] = seed[(r - 1) * self.envs_per_runner + j] end
    return t
  end
  return seed + self.num_envs * self.restarts[r] + (r - 1) * self.envs_per_runner
end

local function copy_rows(dst_ptr, src_arr, off, count)
  local src = array_ptr(src_arr, "float *")
  ffi.copy(dst_ptr + off, src, count * 4)
end

local function runner_died(err)
  local errors = require("rayl").errors
  return errors.is(err, "ActorDiedError") or errors.is(err, "ActorUnavailableError")
    or errors.is(err, "WorkerCrashedError")
end

-- Waits for runner r to be back (restarted by rayl) and resets its envs; returns the
-- reset's { obs, infos }. Raises when the runner is gone for good or the wait times out.
function RemoteVectorEnv:_recover(r, cause)
  local rayl = self.rayl
  self.restarts[r] = self.restarts[r] + 1
  local seed = self.base_seed and self:_seed_of(r, self.base_seed) or nil
  local deadline = os.time() + self.restart_timeout
  local last = cause
  repeat
    local msg = tostring(last and last.message or last)
    if msg:find("no restarts left", 1, true) or msg:find("set max_restarts", 1, true) then break end
    local ok, res = pcall(rayl.get, self.runners[r].reset:remote(seed, nil), { timeout = self.restart_timeout })
    if ok then return res end
    if not runner_died(res) then error(res, 0) end
    last = res
    os.execute("sleep 0.05")
  until os.time() > deadline
  error(("rl.vector.remote: env runner %d of '%s' died and did not come back (max_restarts used up or "
    .. "restart_timeout passed); last error: %s"):format(r, self.id, tostring(last and last.message or last)), 0)
end

--- venv:reset{ seed =, options = } -> obs, infos (one call per runner)
function RemoteVectorEnv:reset(opts)
  opts = opts or {}
  local seed = opts.seed
  if seed == nil and not self.seeded then seed = self.default_seed end
  self.seeded = true
  self.base_seed = seed
  local refs = {}
  for r = 1, self.num_runners do
    self.restarts[r] = 0
    refs[r] = self.runners[r].reset:remote(self:_seed_of(r, seed), opts.options)
  end
  local batch = new_array("float32", self.num_envs * self.dim)
  local p = array_ptr(batch, "float *")
  local infos = {}
  local per = self.envs_per_runner
  for r = 1, self.num_runners do
    local ok, res = pcall(self.rayl.get, refs[r])
    if not ok then
      if not runner_died(res) then error(res, 0) end
      res = self:_recover(r, res)
    end
    copy_rows(p, res[1], (r - 1) * per * self.dim, per * self.dim)
    merge_infos(infos, res[2], (r - 1) * per, per, self.num_envs)
    self.pending[r] = nil
  end
  return self:_out(batch), infos
end

-- The per-runner slices of the actions: tables of actions or rayl.arrays.
function RemoteVectorEnv:_split(actions)
  local per, nr = self.envs_per_runner, self.num_runners
  if type(actions) ~= "table" and not is_rayl_array(actions) then
    local ok, arr = pcall(to_array, actions)
    if not ok or not is_rayl_array(arr) then
      error(("step: actions must be a table of %d actions, a rayl.array or a tensor, got %s"):format(self.num_envs, type(actions)), 3)
    end
    actions = arr
  end
  local out = {}
  if is_rayl_array(actions) then
    local k = #actions / self.num_envs
    if k ~= math.floor(k) or k < 1 then
      error(("step: %d action values do not split over %d envs"):format(#actions, self.num_envs), 3)
    end
    local size = ({ float32 = 4, float64 = 8, int32 = 4, int64 = 8, uint8 = 1 })[actions.dtype]
    local src = ffi.cast("uint8_t *", actions:ptr())
    for r = 1, nr do
      local a = new_array(actions.dtype, per * k)
      ffi.copy(a:ptr(), src + (r - 1) * per * k * size, per * k * size)
      out[r] = a
    end
    return out
  end
  if #actions ~= self.num_envs then
    error(("step: expected %d actions (one per env), got %d"):format(self.num_envs, #actions), 3)
  end
  for r = 1, nr do
    local t = {}
    for j = 1, per do t[j] = actions[(r - 1) * per + j] end
    out[r] = t
  end
  return out
end

--- venv:step(actions) -> obs, rewards, terminated, truncated, infos
function RemoteVectorEnv:step(actions)
  local parts = self:_split(actions)
  local refs = {}
  for r = 1, self.num_runners do
    if not self.pending[r] then refs[r] = self.runners[r].step:remote(parts[r]) end
  end
  local n, per, dim = self.num_envs, self.envs_per_runner, self.dim
  local batch = new_array("float32", n * dim)
  local p = array_ptr(batch, "float *")
  local rewards = new_array("float64", n)
  local rp = array_ptr(rewards, "double *")
  local term, trunc, infos = {}, {}, {}
  for r = 1, self.num_runners do
    local off = (r - 1) * per
    local pending = self.pending[r]
    if pending then
      -- The autoreset step after a restart: the new episodes' first observations.
      self.pending[r] = nil
      copy_rows(p, pending[1], off * dim, per * dim)
      for j = 1, per do rp[off + j - 1], term[off + j], trunc[off + j] = 0, false, false end
    else
      local ok, res = pcall(self.rayl.get, refs[r])
      if ok then
        copy_rows(p, res[1], off * dim, per * dim)
        ffi.copy(rp + off, res[2]:ptr(), per * 8)
        for j = 1, per do term[off + j], trunc[off + j] = res[3][j], res[4][j] end
        merge_infos(infos, res[5], off, per, n)
      else
        if not runner_died(res) then error(res, 0) end
        local fresh = self:_recover(r, res)
        copy_rows(p, fresh[1], off * dim, per * dim)
        for j = 1, per do
          rp[off + j - 1], term[off + j], trunc[off + j] = 0, false, true
          add_info(infos, { runner_restarted = true }, off + j, n)
        end
        if self.autoreset_mode == "next_step" then self.pending[r] = fresh end
      end
    end
  end
  return self:_out(batch), rewards, term, trunc, infos
end

--- venv:runner_pids() -> the process id of each runner (for tests and tools)
function RemoteVectorEnv:runner_pids()
  local refs = {}
  for r = 1, self.num_runners do refs[r] = self.runners[r].pid:remote() end
  return self.rayl.get(refs)
end

--- venv:runner_stats() -> per runner { pid =, step_calls = } (step calls since it started)
function RemoteVectorEnv:runner_stats()
  local refs = {}
  for r = 1, self.num_runners do refs[r] = self.runners[r].stats:remote() end
  return self.rayl.get(refs)
end

--- venv:close(): ends the runner actors
function RemoteVectorEnv:close()
  for _, runner in ipairs(self.runners) do pcall(self.rayl.kill, runner) end
  self.runners = {}
end

function RemoteVectorEnv:__tostring()
  return ("RemoteVectorEnv(%s, num_runners=%d, envs_per_runner=%d)"):format(self.id, self.num_runners, self.envs_per_runner)
end

return M
