-- rayl.worker: how a worker process runs one task (called from the C worker loop).
local core = require "rayl.core"
local errors = require "rayl.errors"
local runtime_env = require "rayl.runtime_env"
require "rayl" -- registers the classes values may carry (errors, remote functions)

local worker = {}

-- The error of a task that LuaJIT could not allocate for: the failed task's garbage
-- is collected first, so that building the error has room.
local function out_of_memory(name)
  collectgarbage("collect")
  local ok, context = pcall(core.context)
  context = ok and context or {}
  return errors.new("OutOfMemoryError", ("task %s ran out of memory in worker pid %s on node %s: LuaJIT could "
    .. "not allocate more (not enough memory); memory limit: %s"):format(name, tostring(context.pid),
    tostring(context.node_id), core.memory_limit()),
    { task = name, node_id = context.node_id, pid = context.pid })
end

--- worker.run(fn, name, ...) -> true, results... | false, error
function worker.run(fn, name, ...)
  -- LuaJIT calls no handler for an allocation failure: xpcall returns its bare message.
  local handled = false
  local function finish(ok, ...)
    if ok or handled or (...) ~= "not enough memory" then return ok, ... end
    return false, out_of_memory(name)
  end
  return finish(xpcall(fn, function(e)
    -- The user's frames only: not this wrapper (nor the C API's trampoline), not
    -- xpcall's builtin frame.
    local lines = {}
    for line in debug.traceback("", 2):gmatch("[^\n]+") do
      if not line:find("[builtin#", 1, true) and not line:find("rayl/worker.lua", 1, true)
          and not line:find("rayl/embed.lua", 1, true) then
        lines[#lines + 1] = line
      end
    end
    local tb = "\n" .. table.concat(lines, "\n")
    local ok, context = pcall(core.context)
    local err = errors.from_task(e, name, tb, ok and context or nil)
    handled = true
    return err
  end, ...))
end

-- An actor's state: this worker runs at most one actor, for its whole life.
local actor = { self = nil, dead = nil, name = nil, max_concurrency = 1 }

-- The coroutines running calls of a concurrent actor (filled in by the C loop):
-- rayl.get and rayl.wait yield in them instead of blocking the worker.
worker.threads = setmetatable({}, { __mode = "k" })

function worker.in_call_coroutine()
  local co = coroutine.running()
  return co ~= nil and worker.threads[co] == true
end

-- How many calls may run at once: the default group's max_concurrency plus every
-- concurrency group's limit (the C loop starts up to this many coroutines).
function worker.concurrency()
  local n = 0
  for _, g in pairs(actor.groups or {}) do n = n + g.limit end
  return math.max(n, actor.max_concurrency)
end

--- worker.create_actor(class, name, sys, ...) -> true | false, ActorDiedError
--- sys: { max_concurrency = n, concurrency_groups = { name = limit } } from the
--- actor's options; methods join a group through class.__options[m].concurrency_group.
function worker.create_actor(class, name, sys, ...)
  actor.max_concurrency = sys and sys.max_concurrency or 1
  if sys and sys.concurrency_groups then
    actor.groups = { [""] = { limit = actor.max_concurrency, active = 0 } }
    for g, limit in pairs(sys.concurrency_groups) do actor.groups[g] = { limit = limit, active = 0 } end
    actor.method_group = {}
    for m, o in pairs(type(class.__options) == "table" and class.__options or {}) do
      if type(o) == "table" and o.concurrency_group then actor.method_group[m] = o.concurrency_group end
    end
  end
  local self = setmetatable({}, { __index = class })
  if type(class.__init) == "function" then
    local ok, err = worker.run(class.__init, name .. ".__init", self, ...)
    if not ok then
      local why = errors.is(err) and err.message or tostring(err)
      actor.dead = errors.new("ActorDiedError", ("the actor %s could not start: %s"):format(name, why),
        { cause = err, traceback = errors.is(err) and err.traceback or nil })
      return false, actor.dead
    end
  end
  actor.self, actor.name = self, name
  return true
end

--- worker.call_actor(method, name, ...) -> true, results... | false, error
function worker.call_actor(method, name, ...)
  if actor.dead then return false, actor.dead end
  local fn = actor.self and actor.self[method]
  if type(fn) ~= "function" then
    return false, errors.new("TaskError", ("actor %s has no method '%s'"):format(tostring(actor.name), method))
  end
  local group = actor.groups and actor.groups[actor.method_group[method] or ""]
  if not group then return worker.run(fn, name, actor.self, ...) end
  -- A concurrency group: wait (yielding to the actor's other calls) for a free slot.
  while group.active >= group.limit do coroutine.yield() end
  group.active = group.active + 1
  local results = { n = 0 }
  local function keep(...) results = { n = select("#", ...), ... } end
  keep(worker.run(fn, name, actor.self, ...))
  group.active = group.active - 1
  return unpack(results, 1, results.n)
end

--- worker.setup_runtime_env(spec, session_dir) -> nil | error message: applies the
--- runtime_env this worker was started for (called once, before any task).
function worker.setup_runtime_env(spec, session_dir)
  local ok, err = pcall(runtime_env.setup, spec, session_dir)
  if not ok then return errors.is(err) and err.message or tostring(err) end
  return err
end

--- True inside an actor's worker.
function worker.in_actor() return actor.self ~= nil end

return worker
