-- rayl: Ray's model for Lua: remote functions, objects, and a cluster to run them on.
-- This module is the user-facing API (API.md); rayl.core is the C runtime under it.
local core = require "rayl.core"
local errors = require "rayl.errors"
local options = require "rayl.options"

local rayl = { errors = errors, version = core.version, array = core.array }

local actor = require "rayl.actor"
local renv = require "rayl.runtime_env"
local pgroup = require "rayl.placement_group"

local raise = errors.raise

local objref_methods = core.objref_methods()

local function is_ref(v)
  if type(v) ~= "userdata" then return false end
  local mt = getmetatable(v)
  return mt ~= nil and mt.__index == objref_methods
end

------------------------------------------------------------------------------
-- Start-up and shutdown
------------------------------------------------------------------------------

local INIT_OPTIONS = {
  address = "string", num_cpus = "number", num_gpus = "number", resources = "table",
  object_store_memory = "number", namespace = "string", runtime_env = "table",
  print_worker_logs = "boolean",
}

local function check_options(opts, valid, what, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    raise("ValueError", ("%s expects a table of options, got %s"):format(what, type(opts)), level + 1)
  end
  for k, v in pairs(opts) do
    local want = valid[k]
    if not want then
      local names = {}
      for name in pairs(valid) do names[#names + 1] = name end
      table.sort(names)
      raise("ValueError", ("unknown option '%s' for %s; valid options: %s")
        :format(tostring(k), what, table.concat(names, ", ")), level + 1)
    end
    if want ~= "any" and type(v) ~= want then
      raise("ValueError", ("option '%s' of %s must be a %s, got %s"):format(k, what, want, type(v)), level + 1)
    end
  end
  return opts
end

local session_dir

-- The job's runtime_env (working_dir as a package key) and its canonical string, set by
-- rayl.init; `generation` changes with each init so cached task strings are redone.
local job_env, job_env_string, generation = {}, "", 0

-- The runtime_env this process's tasks inherit: the job's in a driver; in a worker, the
-- one it was started for (so nested tasks keep it).
local function inherited_env()
  if core.is_worker() then
    return renv.decode(os.getenv("RAYL_RUNTIME_ENV")) or {}, os.getenv("RAYL_RUNTIME_ENV") or ""
  end
  return job_env, job_env_string
end

--- rayl.runtime_env_string(env, level) -> the canonical runtime_env of a task or actor
--- whose options say env (nil: the inherited one), uploading its working_dir if need be.
function rayl.runtime_env_string(env, level)
  local base, base_string = inherited_env()
  if env == nil then return base_string end
  renv.check(env, level + 1)
  return renv.encode(renv.resolve(renv.merge(base, env), level + 1))
end

-- Raises what core.init's failure (err) means for the user: a ConnectionError for a
-- cluster at `address` that cannot be reached, saying what to do, else err itself
-- (a rayl error, such as a ValueError for a bad option, stays what it is).
local function connect_failed(address, err)
  if not address or type(err) ~= "string" then error(err, 0) end
  local msg = err
  local prefix = "cannot connect to " .. address .. ": "
  local at = msg:find(prefix, 1, true)
  local why = at and msg:sub(at + #prefix) or msg
  if why:find("did not answer", 1, true) then
    why = why .. " (is it running? `rayl status` shows it, `rayl start --head` starts one)"
  end
  error(errors.new("ConnectionError", ("cannot reach the cluster at %s: %s"):format(address, why),
    { user_facing = true }), 0)
end

--- rayl.init{...}: connects to a cluster, or starts a private local one.
function rayl.init(opts)
  opts = check_options(opts, INIT_OPTIONS, "rayl.init", 2)
  if core.is_initialized() then
    raise("ValueError", "rayl.init was called twice; call rayl.shutdown() first", 2)
  end
  options.amounts("rayl.init", opts, { "num_cpus" }, 2)
  if opts.num_gpus ~= nil then options.count("rayl.init", "num_gpus", opts.num_gpus, 0, 64, 2) end
  if opts.object_store_memory ~= nil then
    options.count("rayl.init", "object_store_memory", opts.object_store_memory, options.STORE_MIN, nil, 2)
  end
  options.resources("rayl.init", "resources", opts.resources, 2)
  if opts.namespace ~= nil then options.name("rayl.init", "namespace", opts.namespace, 2) end
  if opts.runtime_env then renv.check(opts.runtime_env, 2) end
  -- A driver started by `rayl job submit` inherits the job's runtime_env.
  local inherited, why = renv.decode(os.getenv("RAYL_JOB_RUNTIME_ENV"))
  if not inherited then raise("RuntimeEnvSetupError", "RAYL_JOB_RUNTIME_ENV: " .. why, 2) end
  -- address: a cluster started with `rayl start` ("HOST:PORT" of its head, or "auto"
  -- for the one on this machine); unset: a private local cluster.
  local address = opts.address or os.getenv("RAYL_ADDRESS")
  if address == "" then address = nil end
  actor.set_default_namespace(opts.namespace)
  local started, dir = pcall(core.init, {
    address = address, num_cpus = opts.num_cpus, num_gpus = opts.num_gpus,
    resources = opts.resources, object_store_memory = opts.object_store_memory,
    print_worker_logs = opts.print_worker_logs,
  })
  if not started then connect_failed(address, dir) end
  session_dir = dir
  local ok, err = pcall(function()
    job_env = renv.resolve(renv.merge(inherited, opts.runtime_env), 3)
    job_env_string = renv.encode(job_env)
  end)
  if not ok then
    core.shutdown()
    error(err, 2)
  end
  generation = generation + 1
  return { session_dir = session_dir }
end

local function ensure_init()
  if not core.is_initialized() then rayl.init() end
end

function rayl.is_initialized() return core.is_initialized() end

function rayl.shutdown()
  if core.is_worker() then return end
  core.shutdown()
end

------------------------------------------------------------------------------
-- Remote functions
------------------------------------------------------------------------------

local TASK_OPTIONS = {
  num_cpus = "number", num_gpus = "number", resources = "table", memory = "number",
  max_retries = "number", retry_exceptions = "boolean", num_returns = "number",
  scheduling_strategy = "any", name = "string", runtime_env = "table",
  placement_group = "any", placement_group_bundle_index = "number",
}

local RemoteFunction = {}
RemoteFunction.__index = RemoteFunction
rayl.RemoteFunction = RemoteFunction

local function merge(a, b)
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  for k, v in pairs(b or {}) do out[k] = v end
  return out
end

-- Turns user options into what rayl.core.submit takes.
local function submit_options(opts, level)
  local what = "a remote function"
  options.amounts(what, opts, { "num_cpus", "memory" }, level + 1)
  options.gpus(what, "num_gpus", opts.num_gpus, level + 1)
  local res = {}
  for k, v in pairs(options.resources(what, "resources", opts.resources, level + 1) or {}) do res[k] = v end
  local cpus = opts.num_cpus == nil and 1 or opts.num_cpus
  if cpus > 0 then res.CPU = cpus end
  if opts.num_gpus and opts.num_gpus > 0 then res.GPU = opts.num_gpus end
  if opts.memory then res.memory = opts.memory end
  local n = options.count(what, "num_returns", opts.num_returns or 1, 1, 1024, level + 1)
  -- -1: retry forever
  local retries = options.count(what, "max_retries", opts.max_retries == nil and 3 or opts.max_retries, -1, nil,
    level + 1)
  if opts.runtime_env then renv.check(opts.runtime_env, level + 1) end
  return { resources = res, num_returns = n, max_retries = retries,
           retry_exceptions = opts.retry_exceptions or false, name = options.label(what, "name", opts.name, level + 1),
           strategy = pgroup.strategy_for(opts, res, nil, "the task", level + 1)
             or rayl.strategy(opts.scheduling_strategy, level + 1) }
end

--- Turns scheduling_strategy ("DEFAULT", "SPREAD", or { node_id = hex, soft = bool }:
--- node affinity) into the runtime's form: nil (the default), { kind = "SPREAD" } or
--- { kind = "NODE", node_id = hex, soft = bool } (placement groups: placement_group.lua),
--- which the runtime sends as NM_LEASE's typed strategy (runtime/wire/proto.h).
function rayl.strategy(strategy, level)
  if strategy == nil or strategy == "DEFAULT" then return nil end
  if strategy == "SPREAD" then return { kind = "SPREAD" } end
  if type(strategy) == "table" and strategy.node_id ~= nil then
    local id, soft = strategy.node_id, strategy.soft
    if type(id) ~= "string" or not id:find("^%x+$") or #id ~= 32 then
      raise("ValueError", ("scheduling_strategy.node_id must be a node id (32 hex digits, from rayl.nodes()), got %s")
        :format(options.show(id)), level + 1)
    end
    if soft ~= nil and type(soft) ~= "boolean" then
      raise("ValueError", ("scheduling_strategy.soft must be a boolean, got %s"):format(options.show(soft)), level + 1)
    end
    return { kind = "NODE", node_id = id:lower(), soft = soft or false }
  end
  raise("ValueError", "scheduling_strategy must be \"DEFAULT\", \"SPREAD\", "
    .. "{ node_id = <id from rayl.nodes()>, soft = false } or rayl.util.PlacementGroupSchedulingStrategy{...}, got "
    .. options.show(strategy), level + 1)
end

-- Alive nodes by id, with when the head last said so (a second's cache: submitting in a
-- loop does not ask the head each time).
local alive_nodes = {}

--- rayl.check_affinity(strategy, level): a hard node affinity (kind "NODE", not soft, from
--- rayl.strategy) to a node the head does not list as alive can never be met: raises a
--- ValueError at submission (as Ray fails such a task as unschedulable). A soft one
--- falls back to any node, so it is not checked.
function rayl.check_affinity(strategy, level)
  if not strategy or strategy.kind ~= "NODE" or strategy.soft then return end
  local id = strategy.node_id
  local now = core.now()
  if alive_nodes[id] and now - alive_nodes[id] < 1 then return end
  if core.context().node_id == id then return end -- this node, before the head lists it
  alive_nodes = {}
  for _, node in ipairs(core.nodes()) do
    if node.alive then alive_nodes[node.node_id] = now end
  end
  if not alive_nodes[id] then
    raise("ValueError", ("scheduling_strategy: node %s is not an alive node of the cluster, so a hard node "
      .. "affinity (soft = false) to it can never be met; see rayl.nodes(), or use soft = true to run "
      .. "elsewhere when it is gone"):format(id), level + 1)
  end
end

local function new_remote_function(fn, opts, shared, level)
  check_options(opts, TASK_OPTIONS, "a remote function", level + 1)
  local self = setmetatable({ _fn = fn, _opts = opts, _shared = shared }, RemoteFunction)
  self._submit = submit_options(opts, level + 1)
  self._submit.name = opts.name or shared.name
  return self
end

--- f:remote(...) -> ObjectRef (or num_returns ObjectRefs)
function RemoteFunction:remote(...)
  if getmetatable(self) ~= RemoteFunction then
    raise("ValueError", "remote is a method: use f:remote(...) (a colon), not f.remote(...)", 2)
  end
  ensure_init()
  local shared = self._shared
  rayl.check_affinity(self._submit.strategy, 2)
  if shared.export_error then error(shared.export_error, 2) end
  if self._generation ~= generation then
    self._submit.runtime_env = rayl.runtime_env_string(self._opts.runtime_env, 2)
    self._generation = generation
  end
  return core.submit(shared.key, shared.blob, self._submit, ...)
end

--- f:options{...} -> a copy of f with these options changed
function RemoteFunction:options(opts)
  if getmetatable(self) ~= RemoteFunction then
    raise("ValueError", "options is a method: use f:options{...} (a colon), not f.options{...}", 2)
  end
  return new_remote_function(self._fn, merge(self._opts, check_options(opts, TASK_OPTIONS, "options()", 2)),
    self._shared, 2)
end

function RemoteFunction:__tostring()
  return ("RemoteFunction(%s)"):format(self._shared.name)
end

function RemoteFunction:__call()
  raise("ValueError", "a remote function cannot be called directly; use f:remote(...)", 2)
end

local function has_function(t)
  for _, v in pairs(t) do
    if type(v) == "function" then return true end
  end
  return false
end

--- rayl.remote(fn) / rayl.remote(options, fn)
function rayl.remote(a, b)
  local opts, target = {}, a
  if b ~= nil then opts, target = a, b end
  local swapped = type(b) == "table"
    and (type(a) == "function" or type(a) == "table" and has_function(a) and not has_function(b))
  if swapped then
    local what = type(a) == "function" and "fn" or "class"
    raise("ValueError", ("the options come first: rayl.remote(options, %s), not rayl.remote(%s, options)")
      :format(what, what), 2)
  end
  if type(opts) ~= "table" then
    raise("ValueError", ("rayl.remote(options, fn): options must be a table, got %s"):format(type(opts)), 2)
  end
  if type(target) == "function" then
    local info = debug.getinfo(target, "S")
    local shared = { name = ("%s:%d"):format(info.short_src, info.linedefined) }
    -- Upvalues are captured now, by value (API.md), not at the first call; a value
    -- that cannot travel is reported when the function is called with :remote().
    local ok, key, blob = pcall(core.export, target, "the remote function " .. shared.name)
    if ok then shared.key, shared.blob = key, blob else shared.export_error = key end
    return new_remote_function(target, opts, shared, 2)
  elseif type(target) == "table" then
    return actor.new_class(target, opts, 2)
  end
  raise("ValueError", "rayl.remote expects a function (or options and a function), got " .. type(target), 2)
end

------------------------------------------------------------------------------
-- Objects
------------------------------------------------------------------------------

--- rayl.put(value) -> ObjectRef
function rayl.put(value)
  ensure_init()
  return core.put(value)
end

local function check_timeout(opts, what)
  if opts == nil then return nil end
  check_options(opts, { timeout = "number" }, what, 3)
  return options.timeout(what, "timeout", opts.timeout, 3)
end

-- Inside a call of a concurrent actor (max_concurrency > 1) waiting yields to the
-- worker, which runs the actor's other calls meanwhile.
local function in_call_coroutine()
  local worker = package.loaded["rayl.worker"] -- loaded in worker processes only
  return type(worker) == "table" and worker.in_call_coroutine() or false
end

local function await(refs, count, deadline)
  while true do
    local ready = 0
    for i = 1, #refs do
      if core.state(refs[i]) ~= "pending" then ready = ready + 1 end
    end
    if ready >= count or (deadline and core.now() >= deadline) then return end
    coroutine.yield()
  end
end

--- rayl.get(ref | {refs}, {timeout = s}) -> value | {values}
function rayl.get(refs, opts)
  ensure_init()
  local timeout = check_timeout(opts, "rayl.get")
  if in_call_coroutine() then
    local list, deadline = is_ref(refs) and { refs } or refs, timeout and core.now() + timeout
    if type(list) == "table" then await(list, #list, deadline) end
    if deadline then timeout = math.max(0, deadline - core.now()) end
  end
  if is_ref(refs) then return core.get(refs, timeout) end
  if type(refs) ~= "table" then
    raise("ValueError", "rayl.get expects an ObjectRef or a list of ObjectRefs, got " .. type(refs), 2)
  end
  local deadline = timeout and core.now() + timeout
  local out = {}
  for i = 1, #refs do
    local r = refs[i]
    if not is_ref(r) then
      raise("ValueError", ("rayl.get: element %d of the list is a %s, not an ObjectRef"):format(i, type(r)), 2)
    end
    out[i] = core.get(r, deadline and math.max(0, deadline - core.now()))
  end
  return out
end

--- rayl.wait(refs, {num_returns = 1, timeout = nil}) -> ready, pending
function rayl.wait(refs, opts)
  ensure_init()
  if type(refs) ~= "table" then
    raise("ValueError", "rayl.wait expects a list of ObjectRefs, got " .. options.show(refs), 2)
  end
  opts = check_options(opts, { num_returns = "number", timeout = "number", fetch_local = "boolean" },
    "rayl.wait", 2)
  local n = options.count("rayl.wait", "num_returns", opts.num_returns or 1, 1, math.max(#refs, 1), 2)
  local timeout = options.timeout("rayl.wait", "timeout", opts.timeout, 2)
  if #refs == 0 then return {}, {} end
  local seen = {}
  for i, r in ipairs(refs) do
    if not is_ref(r) then
      raise("ValueError", ("rayl.wait: element %d of the list is a %s, not an ObjectRef"):format(i, type(r)), 2)
    end
    local hex = r:hex()
    if seen[hex] then raise("ValueError", "rayl.wait requires a list of unique ObjectRefs; "
      .. ("elements %d and %d are the same"):format(seen[hex], i), 2) end
    seen[hex] = i
  end
  if in_call_coroutine() then
    local deadline = timeout and core.now() + timeout
    await(refs, n, deadline)
    if deadline then timeout = math.max(0, deadline - core.now()) end
  end
  local flags = core.wait(refs, n, timeout)
  local ready, pending = {}, {}
  for i, r in ipairs(refs) do
    if flags[i] and #ready < n then ready[#ready + 1] = r else pending[#pending + 1] = r end
  end
  return ready, pending
end

--- rayl.cancel(ref, {force = false, recursive = true})
function rayl.cancel(ref, opts)
  ensure_init()
  if not is_ref(ref) then raise("ValueError", "rayl.cancel expects an ObjectRef, got " .. options.show(ref), 2) end
  opts = check_options(opts, { force = "boolean", recursive = "boolean" }, "rayl.cancel", 2)
  return core.cancel(ref, opts.force or false, opts.recursive ~= false)
end

------------------------------------------------------------------------------
-- Non-blocking use from a frame loop
------------------------------------------------------------------------------

local methods = objref_methods
local callbacks = {} -- { ref, fn } waiting for rayl.poll

--- ref:ready() -> true once rayl.get(ref) would not block
function methods.ready(ref)
  ensure_init()
  return core.state(ref) ~= "pending"
end

--- ref:on_ready(function(value, err) ... end): called from rayl.poll()
function methods.on_ready(ref, fn)
  if type(fn) ~= "function" then raise("ValueError", "on_ready expects a function, got " .. options.show(fn), 2) end
  callbacks[#callbacks + 1] = { ref, fn }
end

--- rayl.poll(): runs the callbacks whose refs are ready; never blocks.
function rayl.poll()
  if not core.is_initialized() then return 0 end
  core.poll(0)
  local due, keep = {}, {}
  for _, cb in ipairs(callbacks) do
    if core.state(cb[1]) ~= "pending" then due[#due + 1] = cb else keep[#keep + 1] = cb end
  end
  callbacks = keep
  for _, cb in ipairs(due) do
    local ok, value = pcall(core.get, cb[1], 0)
    if ok then cb[2](value, nil) else cb[2](nil, value) end
  end
  return #due
end

------------------------------------------------------------------------------
-- The cluster
------------------------------------------------------------------------------

--- rayl.await(ref | {refs}): rayl.get, named for use inside concurrent actors.
rayl.await = function(...) return rayl.get(...) end

function rayl.get_runtime_context()
  ensure_init()
  return core.context()
end

--- rayl.get_gpu_ids() -> the ids of the GPUs the node manager gave this worker (the
--- devices its CUDA_VISIBLE_DEVICES lists), e.g. { 0 }; {} in a task or actor without
--- num_gpus, and in a driver (as Ray: the driver's GPUs are not managed).
function rayl.get_gpu_ids()
  local ids = {}
  if not core.is_worker() then return ids end
  for id in (os.getenv("RAYL_GPU_IDS") or ""):gmatch("%d+") do ids[#ids + 1] = tonumber(id) end
  return ids
end

-- The head hears of a new node a moment after the node starts: right after init,
-- wait briefly for this node to be listed.
local function list_nodes()
  local nodes = core.nodes()
  local deadline = core.now() + 2
  while #nodes == 0 and core.now() < deadline do
    core.poll(10)
    nodes = core.nodes()
  end
  return nodes
end

function rayl.nodes()
  ensure_init()
  return list_nodes()
end

local function sum_resources(field)
  local total = {}
  for _, node in ipairs(list_nodes()) do
    if node.alive then
      for k, v in pairs(node[field]) do total[k] = (total[k] or 0) + v end
    end
  end
  return total
end

function rayl.cluster_resources()
  ensure_init()
  return sum_resources("resources")
end

function rayl.available_resources()
  ensure_init()
  return sum_resources("available")
end

-- FFI arrays of numbers travel as raw bytes and arrive as rayl.array; tensors
-- (rayl.torch) travel as raw bytes with their dtype and shape and arrive as tensors
-- (over the shared memory, on the same node). Decoding a tensor loads rayl.torch.
do
  local ok, ffi = pcall(require, "ffi")
  if ok then
    local DTYPES = { double = "float64", float = "float32", int = "int32", int32_t = "int32",
                     int64_t = "int64", ["unsigned char"] = "uint8", uint8_t = "uint8" }
    core.set_cdata_describer(function(v)
      local tensor = package.loaded["rayl.torch.tensor"]
      if tensor and tensor.is_tensor(v) then return tensor.wire_describe(v) end
      local elem = tostring(ffi.typeof(v)):match("^ctype<(.-) %[")
      local dtype = elem and DTYPES[elem]
      if not dtype then return nil end
      return dtype, ffi.sizeof(v) / ffi.sizeof(elem)
    end)
    core.set_tensor_decoder(function(arr, dtype, shape, flags)
      return require("rayl.torch.tensor").wire_decode(arr, dtype, shape, flags)
    end)
  end
end

actor.install(rayl, { check_options = check_options, ensure_init = ensure_init })
pgroup.install(rayl, { ensure_init = ensure_init })

-- rayl.util (stdlib: ActorPool, Queue, Pool, placement groups) loads on first use: it
-- requires rayl itself; rayl.cuda and rayl.torch too (most programs never use them;
-- libtorch itself loads on rayl.torch's first use).
local LAZY = { util = "rayl.util", cuda = "rayl.cuda", torch = "rayl.torch" }
setmetatable(rayl, { __index = function(t, k)
  if not LAZY[k] then return nil end
  local m = require(LAZY[k])
  rawset(t, k, m)
  return m
end })

-- Values of these classes keep their class when they cross processes.
core.register_class("rayl.Error", errors.Error)
core.register_class("rayl.RemoteFunction", RemoteFunction)
core.set_error_class(errors.Error)

return rayl
