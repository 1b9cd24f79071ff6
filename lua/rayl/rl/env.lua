-- rayl.rl.env: the Env base class, the Wrapper base class, and the registry (register/make).
local errors = require "rayl.errors"
local rng = require "rayl.rl.rng"

local M = {}

------------------------------------------------------------------------------
-- Classes: Class:extend(name) makes a subclass; Class(...) or Class.new(...) an
-- instance, through the class's init(self, ...).
------------------------------------------------------------------------------

-- The instances' __index: the lazy generator, `unwrapped`, then the class chain.
local function env_index(class)
  return function(self, key)
    local v = class[key]
    if v ~= nil then return v end
    if key == "np_random" then
      local g = rng.new(nil)
      rawset(self, "np_random", g)
      rawset(self, "np_random_seed", g.seed)
      return g
    elseif key == "unwrapped" then
      return self
    end
    return nil
  end
end

local function make_class(parent, name, index_of)
  local class = { __name = name }
  class.__index = index_of(class)
  class.__tostring = parent and parent.__tostring
  class.__newindex = parent and parent.__newindex
  class.new = function(...)
    local self = setmetatable({}, class)
    local init = class.init
    if init then init(self, ...) end
    return self
  end
  return setmetatable(class, { __index = parent, __call = function(_, ...) return class.new(...) end })
end

------------------------------------------------------------------------------
-- Env
------------------------------------------------------------------------------

--- rl.Env: an optional base class for environments. Subclass with
--- `local Grid = rl.Env:extend("Grid")`, define Grid:init(config), Grid:reset(opts)
--- (calling rl.Env.reset(self, opts) first to seed self.np_random) and Grid:step(a).
local Env = make_class(nil, "Env", env_index)
M.Env = Env
Env.metadata = {}

function Env.__tostring(self)
  local spec = rawget(self, "spec")
  if spec and spec.id then return ("%s<%s>"):format(getmetatable(self).__name, spec.id) end
  return ("%s"):format(getmetatable(self).__name)
end

--- Env:extend(name) -> a subclass (its instances get the class's methods and Env's)
function Env:extend(name)
  return make_class(self, name or "Env", env_index)
end

--- env:reset{ seed=, options= }: seeds self.np_random when a seed is given (a subclass
--- calls it first); returns nothing.
function Env:reset(opts)
  local seed = type(opts) == "table" and opts.seed or nil
  if seed ~= nil then
    local g, used = rng.new(seed)
    rawset(self, "np_random", g)
    rawset(self, "np_random_seed", used)
  end
end

function Env:step()
  error(("%s does not define step(self, action)"):format(tostring(self)), 2)
end

function Env:close() end
function Env:render() return nil end

------------------------------------------------------------------------------
-- Wrapper
------------------------------------------------------------------------------

-- Wrappers look up their class first, then forward to the env they wrap (spaces,
-- `state`, attributes); `unwrapped` is the innermost env.
local function wrapper_index(class)
  return function(self, key)
    local v = class[key]
    if v ~= nil then return v end
    local env = rawget(self, "env")
    if key == "unwrapped" then
      local u = env.unwrapped
      return u == nil and env or u
    end
    return env[key]
  end
end

--- rl.Wrapper: the base of wrappers; Wrapper:extend(name) subclasses it. An instance
--- holds `env`; reset, step, close and every unknown field go to it, and setting
--- `state` on a wrapper sets it on the env it wraps.
local Wrapper = make_class(nil, "Wrapper", wrapper_index)
M.Wrapper = Wrapper

function Wrapper:extend(name)
  return make_class(self, name or "Wrapper", wrapper_index)
end

function Wrapper.__newindex(self, key, value)
  if key == "state" then
    rawget(self, "env").state = value
  else
    rawset(self, key, value)
  end
end

function Wrapper.__tostring(self)
  return ("%s<%s>"):format(getmetatable(self).__name, tostring(rawget(self, "env")))
end

function Wrapper:init(env)
  if type(env) ~= "table" then error(("%s wraps an env (a table), got %s"):format(self.__name, type(env)), 3) end
  rawset(self, "env", env)
end

function Wrapper:reset(opts) return self.env:reset(opts) end
function Wrapper:step(action) return self.env:step(action) end
function Wrapper:close()
  local close = self.env.close
  if close then return close(self.env) end
end
function Wrapper:render()
  local render = self.env.render
  if render then return render(self.env) end
end

------------------------------------------------------------------------------
-- Registry
------------------------------------------------------------------------------

local registry = {}
M.registry = registry

local SPEC_KEYS = {
  entry = true, max_episode_steps = true, reward_threshold = true, kwargs = true,
  nondeterministic = true, order_enforce = true,
}

local function check_spec(id, spec, level)
  if type(id) ~= "string" or id == "" then error("rl.register: id must be a non-empty string", level + 1) end
  if type(spec) ~= "table" then error(("rl.register('%s'): the spec must be a table with entry="):format(id), level + 1) end
  for k in pairs(spec) do
    if not SPEC_KEYS[k] then
      error(("rl.register('%s'): unknown field '%s' (entry, max_episode_steps, reward_threshold, kwargs, nondeterministic)")
        :format(id, tostring(k)), level + 1)
    end
  end
  local entry = spec.entry
  local et = type(entry)
  if et ~= "function" and et ~= "string" and not (et == "table" and (entry.new or getmetatable(entry))) then
    error(("rl.register('%s'): entry must be a function(config) returning an env, a class with new, "
      .. "or \"module:field\""):format(id), level + 1)
  end
  local mes = spec.max_episode_steps
  if mes ~= nil and (type(mes) ~= "number" or mes < 1 or mes ~= math.floor(mes)) then
    error(("rl.register('%s'): max_episode_steps must be a whole number >= 1, got %s"):format(id, tostring(mes)), level + 1)
  end
  if spec.kwargs ~= nil and type(spec.kwargs) ~= "table" then
    error(("rl.register('%s'): kwargs must be a table"):format(id), level + 1)
  end
end

--- rl.register(id, { entry = function(config) ... end | Class | "module:field",
---   max_episode_steps =, reward_threshold =, kwargs = {defaults for config} })
--- Registering an id again replaces it.
function M.register(id, spec)
  check_spec(id, spec, 2)
  local copy = {}
  for k, v in pairs(spec) do copy[k] = v end
  copy.id = id
  registry[id] = copy
  return copy
end

-- Ids close to `id` (same name, other version; same letters ignoring case).
local function suggestions(id)
  local name = id:match("^(.-)%-v%d+$") or id
  local near = {}
  for known in pairs(registry) do
    local kname = known:match("^(.-)%-v%d+$") or known
    if kname:lower() == name:lower() then near[#near + 1] = known end
  end
  table.sort(near)
  return near
end

--- rl.spec(id) -> the registered spec (raises for an unknown id)
function M.spec(id, level)
  local spec = registry[id]
  if spec then return spec end
  local near = suggestions(tostring(id))
  local msg = ("rl.make: no environment registered as '%s'"):format(tostring(id))
  if #near > 0 then
    msg = msg .. "; did you mean " .. table.concat(near, " or ") .. "?"
  else
    local all = {}
    for k in pairs(registry) do all[#all + 1] = k end
    table.sort(all)
    msg = msg .. "; registered: " .. table.concat(all, ", ") .. " (rl.register adds one)"
  end
  errors.raise("ValueError", msg, (level or 1) + 1)
end

local function resolve_entry(entry, id, level)
  if type(entry) == "string" then
    local mod, field = entry:match("^([%w_%.]+):([%w_%.]+)$")
    if not mod then error(("rl.make('%s'): entry '%s' is not \"module:field\""):format(id, entry), level + 1) end
    local ok, m = pcall(require, mod)
    if not ok then error(("rl.make('%s'): cannot require '%s': %s"):format(id, mod, tostring(m)), level + 1) end
    local v = m
    for part in field:gmatch("[^%.]+") do v = type(v) == "table" and v[part] or nil end
    if v == nil then error(("rl.make('%s'): module '%s' has no '%s'"):format(id, mod, field), level + 1) end
    entry = v
  end
  if type(entry) == "function" then return entry end
  if type(entry) == "table" and type(entry.new) == "function" then return entry.new end
  return function(config) return entry(config) end
end

local MAKE_KEYS = { max_episode_steps = true, disable_env_checker = true }

--- rl.make(id[, opts]) -> an env: the registered entry called with the config (the
--- spec's kwargs overlaid with opts), wrapped in TimeLimit when the spec or
--- opts.max_episode_steps (false: none) say so. opts.max_episode_steps is taken by make;
--- every other key of opts goes to the env's config.
function M.make(id, opts)
  local spec = M.spec(id, 2)
  if opts ~= nil and type(opts) ~= "table" then
    errors.raise("ValueError", ("rl.make: opts must be a table, got a %s"):format(type(opts)), 2)
  end
  local config = {}
  for k, v in pairs(spec.kwargs or {}) do config[k] = v end
  for k, v in pairs(opts or {}) do if not MAKE_KEYS[k] then config[k] = v end end
  local create = resolve_entry(spec.entry, id, 2)
  local env = create(config)
  if type(env) ~= "table" then
    error(("rl.make('%s'): the entry returned %s, not an env table"):format(id, type(env)), 2)
  end
  local mes = spec.max_episode_steps
  if opts and opts.max_episode_steps ~= nil then mes = opts.max_episode_steps end
  local inner = env.unwrapped or env
  rawset(inner, "spec", {
    id = id, max_episode_steps = mes or nil, reward_threshold = spec.reward_threshold, kwargs = config,
    entry = spec.entry,
  })
  if mes then
    local wrappers = require "rayl.rl.wrappers"
    env = wrappers.TimeLimit(env, mes)
  end
  return env
end

--- M.reset_bounds(options, low, high, level) -> low, high: Gymnasium's optional
--- options.low / options.high for classic-control resets, checked.
function M.reset_bounds(options, low, high, level)
  if options == nil then return low, high end
  local l, h = options.low, options.high
  if l == nil then l = low end
  if h == nil then h = high end
  l, h = tonumber(l), tonumber(h)
  if l == nil or h == nil then
    error(("reset: options.low and options.high must be numbers, got %s and %s")
      :format(tostring(options.low), tostring(options.high)), (level or 1) + 1)
  end
  if l > h then
    error(("reset: lower bound (%s) must be lower than higher bound (%s)"):format(l, h), (level or 1) + 1)
  end
  return l, h
end

return M
