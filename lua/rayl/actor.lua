-- rayl.actor: actor classes, handles and method calls (API.md "Actors").
-- A class is a table of methods with __init as the constructor; optional fields:
-- __name (shown in messages) and __options = { method = { num_returns = 2 } }.
local core = require "rayl.core"
local errors = require "rayl.errors"
local options = require "rayl.options"
local pgroup = require "rayl.placement_group"

local raise = errors.raise

local M = {}

local CLASS_OPTIONS = {
  num_cpus = "number", num_gpus = "number", resources = "table", memory = "number",
  max_restarts = "number", max_task_retries = "number", max_concurrency = "number",
  name = "string", namespace = "string", lifetime = "string", get_if_exists = "boolean",
  scheduling_strategy = "any", runtime_env = "table", concurrency_groups = "table",
  placement_group = "any", placement_group_bundle_index = "number",
}
local METHOD_OPTIONS = { num_returns = "number", name = "string" }

local check_options -- set by M.install (shared with rayl.init's checks)

local ActorClass = {}
ActorClass.__index = ActorClass
M.ActorClass = ActorClass

local ActorHandle = {}
M.ActorHandle = ActorHandle

local ActorMethod = {}
ActorMethod.__index = ActorMethod

local function class_name(class)
  if type(class.__name) == "string" then return class.__name end
  local fn = class.__init
  if type(fn) ~= "function" then
    for _, v in pairs(class) do if type(v) == "function" then fn = v; break end end
  end
  if not fn then return "Actor" end
  local info = debug.getinfo(fn, "S")
  return ("Actor(%s:%d)"):format(info.short_src, info.linedefined)
end

-- The numbers, names and resources of an actor's options (checked when the class or
-- its options() are made, so nothing is created with them).
local function check_class_options(opts, level)
  local what = "an actor class"
  options.amounts(what, opts, { "num_cpus", "memory" }, level + 1)
  options.gpus(what, "num_gpus", opts.num_gpus, level + 1)
  options.resources(what, "resources", opts.resources, level + 1)
  for _, k in ipairs { "max_restarts", "max_task_retries" } do -- -1: without limit
    if opts[k] ~= nil then options.count(what, k, opts[k], -1, nil, level + 1) end
  end
  if opts.max_concurrency ~= nil then
    options.count(what, "max_concurrency", opts.max_concurrency, 1, 1024, level + 1)
  end
  for g, limit in pairs(opts.concurrency_groups or {}) do
    if type(g) ~= "string" then
      raise("ValueError", ("option 'concurrency_groups' of %s maps group names (strings) to limits, got the key %s")
        :format(what, options.show(g)), level + 1)
    end
    options.count(what, "concurrency_groups." .. g, limit, 1, 1024, level + 1)
  end
  if opts.name ~= nil then options.name(what, "name", opts.name, level + 1) end
  if opts.namespace ~= nil then options.name(what, "namespace", opts.namespace, level + 1) end
  if opts.lifetime ~= nil and opts.lifetime ~= "detached" and opts.lifetime ~= "non_detached" then
    raise("ValueError", ("option 'lifetime' of %s must be \"detached\" or \"non_detached\", got %s")
      :format(what, options.show(opts.lifetime)), level + 1)
  end
end

-- A method's num_returns (from the class's __options or h.method:options).
local function check_num_returns(what, v, level)
  if v ~= nil then options.count(what, "num_returns", v, 1, 1024, level + 1) end
end

--- M.new_class(class_table, options) -> ActorClass (rayl.remote on a table)
function M.new_class(class, opts, level)
  check_options(opts, CLASS_OPTIONS, "an actor class", level + 1)
  check_class_options(opts, level + 1)
  local methods = {}
  for k, v in pairs(class) do
    if type(k) == "string" and type(v) == "function" and k ~= "__init" then methods[k] = true end
  end
  if class.__init ~= nil and type(class.__init) ~= "function" then
    raise("ValueError", "an actor class's __init must be a function", level + 1)
  end
  if class.__options ~= nil and type(class.__options) ~= "table" then
    raise("ValueError", "an actor class's __options must be a table { method = { num_returns = k } }", level + 1)
  end
  for m, o in pairs(class.__options or {}) do
    if type(o) ~= "table" then
      raise("ValueError", ("__options.%s of an actor class must be a table, got %s"):format(tostring(m), type(o)),
        level + 1)
    end
    check_num_returns(("the method '%s' (__options)"):format(tostring(m)), o.num_returns, level + 1)
  end
  local shared = { name = class_name(class), methods = methods, method_options = class.__options or {} }
  local ok, key, blob = pcall(core.export, class, "the actor class " .. shared.name)
  if ok then shared.key, shared.blob = key, blob else shared.export_error = key end
  return setmetatable({ _opts = opts, _shared = shared }, ActorClass)
end

function ActorClass:__tostring()
  return ("ActorClass(%s)"):format(self._shared.name)
end

function ActorClass:options(opts)
  if getmetatable(self) ~= ActorClass then
    raise("ValueError", "options is a method: use A:options{...} (a colon), not A.options{...}", 2)
  end
  check_options(opts, CLASS_OPTIONS, "options()", 2)
  local merged = {}
  for k, v in pairs(self._opts) do merged[k] = v end
  for k, v in pairs(opts) do merged[k] = v end
  check_class_options(merged, 2)
  return setmetatable({ _opts = merged, _shared = self._shared }, ActorClass)
end

-- The key a named actor is registered under with the head. The namespace's length
-- comes first, so no (namespace, name) pair can spell another's key.
local function name_key(name, namespace) return ("actor:%d:%s:%s"):format(#namespace, namespace, name) end

-- The owner a detached actor's handles name (RL_ACTOR_OWNER_HEAD in core_worker.h).
local HEAD_OWNER = "head"

local function encode_handle(h)
  local names = {}
  for m in pairs(rawget(h, "_methods")) do names[#names + 1] = m end
  table.sort(names)
  return table.concat({ rawget(h, "_id"), rawget(h, "_owner"), rawget(h, "_class"),
    tostring(rawget(h, "_max_task_retries")), table.concat(names, ","), rawget(h, "_name") or "",
    rawget(h, "_namespace") or "" }, "\n")
end

local function decode_handle(s)
  local f = {}
  for part in (s .. "\n"):gmatch("(.-)\n") do f[#f + 1] = part end
  local methods = {}
  for m in f[5]:gmatch("[^,]+") do methods[m] = true end
  -- A detached actor's handle names the head as its owner: the head knows where it runs.
  return setmetatable({ _id = f[1], _owner = f[2], _class = f[3], _max_task_retries = tonumber(f[4]) or 0,
    _methods = methods, _name = f[6] ~= "" and f[6] or nil, _namespace = f[7] ~= "" and f[7] or nil }, ActorHandle)
end

local function get_named(name, namespace)
  local s = core.kv_get(name_key(name, namespace))
  return s and decode_handle(s) or nil
end

local default_namespace = "default"
function M.set_default_namespace(ns) default_namespace = ns or "default" end

--- Class:remote(...) -> ActorHandle, at once
function ActorClass:remote(...)
  if getmetatable(self) ~= ActorClass then
    raise("ValueError", "remote is a method: use A:remote(...) (a colon), not A.remote(...)", 2)
  end
  M.ensure_init()
  local opts, shared = self._opts, self._shared
  if shared.export_error then error(shared.export_error, 2) end
  local concurrency = opts.max_concurrency or 1
  for m, o in pairs(shared.method_options) do
    local g = type(o) == "table" and o.concurrency_group
    if g and not (opts.concurrency_groups or {})[g] then
      raise("ValueError", ("method '%s' uses concurrency group '%s', which the actor's concurrency_groups "
        .. "option does not define"):format(m, g), 2)
    end
  end
  local namespace = opts.namespace or default_namespace
  if opts.name then
    local existing = get_named(opts.name, namespace)
    if existing and core.actor_state(existing._id) ~= "dead" then
      if opts.get_if_exists then return existing end
      raise("ValueError", ("an actor named '%s' already exists in namespace '%s'"):format(opts.name, namespace), 2)
    end
  end
  -- Ray's defaults: an actor needs 1 CPU free to be placed and holds none while it
  -- lives, unless it asks for CPUs.
  local res, placement = {}, {}
  for k, v in pairs(opts.resources or {}) do res[k] = v end
  if opts.num_cpus and opts.num_cpus > 0 then res.CPU = opts.num_cpus end
  if opts.num_gpus and opts.num_gpus > 0 then res.GPU = opts.num_gpus end
  if opts.memory then res.memory = opts.memory end
  if opts.num_cpus == nil then placement.CPU = 1 end
  local strategy = pgroup.strategy_for(opts, res, placement, "the actor " .. shared.name, 2)
    or M.strategy(opts.scheduling_strategy, 2)
  M.check_affinity(strategy, 2)
  local id = core.actor_create(shared.key, shared.blob, {
    resources = res, placement = placement, max_restarts = opts.max_restarts or 0,
    max_task_retries = opts.max_task_retries or 0, name = shared.name,
    strategy = strategy,
    detached = opts.lifetime == "detached",
    name_key = opts.name and name_key(opts.name, namespace) or nil,
    runtime_env = M.runtime_env_string(opts.runtime_env, 2),
    actor_name = opts.name, namespace = namespace,
  }, { max_concurrency = concurrency, concurrency_groups = opts.concurrency_groups }, ...)
  -- Callers of a detached actor ask the head where it runs (it outlives this process).
  local owner = opts.lifetime == "detached" and HEAD_OWNER or core.endpoint()
  local h = setmetatable({ _id = id, _owner = owner, _class = shared.name, _methods = shared.methods,
    _max_task_retries = opts.max_task_retries or 0, _method_options = shared.method_options,
    _name = opts.name, _namespace = opts.name and namespace or nil }, ActorHandle)
  if not opts.name and opts.lifetime ~= "detached" then
    -- Every copy of the handle (here, in tasks, in other actors) carries this ref; once
    -- none is left anywhere the actor is freed, after the calls already made (as Ray).
    h._life = core.put(true)
    core.actor_tie(id, h._life)
  end
  if opts.name then core.kv_put(name_key(opts.name, namespace), encode_handle(h)) end
  return h
end

-- h.method is made on each access: a cache keyed by the handle would keep the handle
-- alive (LuaJIT's weak tables have no ephemerons), and with it the actor.
function ActorHandle.__index(h, key)
  if type(key) == "string" and key:sub(1, 1) == "_" then return nil end -- unset fields
  local methods = rawget(h, "_methods")
  if type(key) ~= "string" or not methods[key] then
    raise("ValueError", ("actor class %s has no method '%s'"):format(rawget(h, "_class"), tostring(key)), 2)
  end
  local defaults = (rawget(h, "_method_options") or {})[key] or {}
  return setmetatable({ _handle = h, _method = key, _opts = {
    num_returns = defaults.num_returns or 1, name = rawget(h, "_class") .. "." .. key,
    max_task_retries = rawget(h, "_max_task_retries"),
  } }, ActorMethod)
end

function ActorHandle.__tostring(h)
  return ("ActorHandle(%s, %s)"):format(rawget(h, "_class"), rawget(h, "_id"):sub(1, 8))
end

function ActorHandle.__eq(a, b) return rawget(a, "_id") == rawget(b, "_id") end

--- h.method:remote(...) -> ObjectRef (num_returns refs)
function ActorMethod:remote(...)
  if getmetatable(self) ~= ActorMethod then
    raise("ValueError", "remote is a method: use h.method:remote(...) (a colon), not h.method.remote(...)", 2)
  end
  M.ensure_init()
  local h = self._handle
  return core.actor_call(rawget(h, "_id"), rawget(h, "_owner"), self._method, self._opts, ...)
end

--- h.method:options{num_returns = k}
function ActorMethod:options(opts)
  if getmetatable(self) ~= ActorMethod then
    raise("ValueError", "options is a method: use h.method:options{...} (a colon), not h.method.options{...}", 2)
  end
  check_options(opts, METHOD_OPTIONS, "an actor method's options()", 2)
  local merged = {}
  for k, v in pairs(self._opts) do merged[k] = v end
  for k, v in pairs(opts) do merged[k] = v end
  check_num_returns("an actor method's options()", merged.num_returns, 2)
  options.label("an actor method's options()", "name", opts.name, 2)
  return setmetatable({ _handle = self._handle, _method = self._method, _opts = merged }, ActorMethod)
end

function ActorMethod:__tostring()
  return ("ActorMethod(%s)"):format(self._opts.name)
end

function ActorMethod:__call()
  raise("ValueError", ("actor methods are called with :remote(), e.g. h.%s:remote(...)"):format(self._method), 2)
end

local function is_handle(h) return getmetatable(h) == ActorHandle end

--- rayl.kill(handle, {no_restart = true})
function M.kill(h, opts)
  M.ensure_init()
  if not is_handle(h) then raise("ValueError", "rayl.kill expects an actor handle, got " .. options.show(h), 2) end
  opts = check_options(opts, { no_restart = "boolean" }, "rayl.kill", 2)
  local no_restart = opts.no_restart ~= false
  local name, ns = rawget(h, "_name"), rawget(h, "_namespace")
  if no_restart and name then core.kv_put(name_key(name, ns), nil) end
  core.actor_kill(rawget(h, "_id"), rawget(h, "_owner"), no_restart)
end

--- rayl.get_actor(name, {namespace = ...}) -> handle, or raises ValueError
function M.get_actor(name, opts)
  M.ensure_init()
  options.name("rayl.get_actor", "name", name, 2)
  opts = check_options(opts, { namespace = "string" }, "rayl.get_actor", 2)
  local namespace = options.name("rayl.get_actor", "namespace", opts.namespace or default_namespace, 2)
  local h = get_named(name, namespace)
  if not h then
    raise("ValueError", ("no actor named '%s' in namespace '%s'"):format(name, namespace), 2)
  end
  return h
end

--- rayl.exit_actor(): ends the actor this code runs in (its current call fails with
--- ActorDiedError, as do later ones).
function M.exit_actor()
  local ok, worker = pcall(require, "rayl.worker")
  if not (ok and core.is_worker() and worker.in_actor()) then
    raise("ValueError", "rayl.exit_actor() can only be called inside an actor method", 2)
  end
  io.stdout:flush()
  io.stderr:flush()
  os.exit(0)
end

--- Adds the actor API to the rayl table.
function M.install(rayl, opts)
  check_options = opts.check_options
  M.ensure_init = opts.ensure_init
  M.strategy = rayl.strategy
  M.check_affinity = rayl.check_affinity
  M.runtime_env_string = rayl.runtime_env_string
  rayl.kill, rayl.get_actor, rayl.exit_actor = M.kill, M.get_actor, M.exit_actor
  rayl.ActorClass, rayl.ActorHandle = ActorClass, ActorHandle
  core.register_class("rayl.ActorHandle", ActorHandle)
  core.register_class("rayl.ActorClass", ActorClass)
end

return M
