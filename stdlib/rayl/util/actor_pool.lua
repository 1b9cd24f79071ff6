-- rayl.util.actor_pool: ActorPool, a set of actors that work is handed to as they
-- free up (Ray's ray.util.ActorPool).
--
--   local pool = ActorPool.new({ A:remote(), A:remote() })
--   for i, v in pool:map(function(a, x) return a.double:remote(x) end, { 1, 2, 3 }) do ... end
--
-- fn(actor, value) must start one call on the actor and return its ObjectRef. When
-- every actor is busy, submit() queues the work and starts it as soon as a result is
-- collected (get_next / get_next_unordered), which hands that actor back to the pool.
local rayl = require "rayl"
local errors = require "rayl.errors"

local ActorPool = {}
ActorPool.__index = ActorPool

local raise = errors.raise

local function timeout_error(level)
  raise("GetTimeoutError", "timed out waiting for a result of the actor pool", level + 1)
end

--- ActorPool.new(actors) -> pool; actors is a list of actor handles.
function ActorPool.new(actors)
  if type(actors) ~= "table" then
    raise("ValueError", "ActorPool.new expects a list of actor handles, got " .. type(actors), 2)
  end
  local self = setmetatable({
    _idle = {},           -- actors with no work
    _busy = {},           -- ref -> { index, actor }
    _by_index = {},       -- submission index -> ref
    _next_task = 0,       -- index of the next submission
    _next_return = 0,     -- index get_next returns next
    _pending = {},        -- { fn, value } waiting for a free actor, from head to tail - 1
    _pending_head = 1,
    _pending_tail = 1,
  }, ActorPool)
  for i = 1, #actors do self._idle[i] = actors[i] end
  return self
end

local function pending_count(self)
  return self._pending_tail - self._pending_head
end

local function dispatch(self, fn, value, level)
  local actor = table.remove(self._idle)
  local ref = fn(actor, value)
  if type(ref) ~= "userdata" then
    table.insert(self._idle, actor)
    raise("ValueError", "the function given to the ActorPool must return the ObjectRef of an "
      .. "actor call (e.g. `return a.method:remote(v)`), got " .. type(ref), level + 1)
  end
  self._busy[ref] = { self._next_task, actor }
  self._by_index[self._next_task] = ref
  self._next_task = self._next_task + 1
end

-- Hands actor back; the oldest queued submission (if any) starts on it.
local function return_actor(self, actor)
  table.insert(self._idle, actor)
  if pending_count(self) > 0 then
    local job = self._pending[self._pending_head]
    self._pending[self._pending_head] = nil
    self._pending_head = self._pending_head + 1
    dispatch(self, job[1], job[2], 3)
  end
end

--- pool:submit(fn, value): runs fn(actor, value) on an idle actor, or queues it until
--- one frees up. Collect results with get_next / get_next_unordered.
function ActorPool:submit(fn, value)
  if type(fn) ~= "function" then
    raise("ValueError", "ActorPool:submit expects a function fn(actor, value), got " .. type(fn), 2)
  end
  if #self._idle > 0 then
    dispatch(self, fn, value, 2)
  else
    self._pending[self._pending_tail] = { fn, value }
    self._pending_tail = self._pending_tail + 1
  end
end

--- pool:has_next() -> true if there are results (or queued work) not yet collected.
function ActorPool:has_next()
  return next(self._busy) ~= nil
end

--- pool:get_next(timeout) -> the next result in submission order. Raises
--- GetTimeoutError if it is not ready within timeout seconds (the work stays
--- pending), StopIteration when nothing is left, and the call's error (e.g. TaskError)
--- if it failed.
function ActorPool:get_next(timeout)
  if not self:has_next() then raise("StopIteration", "no more results to get", 2) end
  if self._next_return >= self._next_task then
    raise("ValueError", "get_next() cannot be called after get_next_unordered()", 2)
  end
  local ref = self._by_index[self._next_return]
  if timeout ~= nil then
    local ready = rayl.wait({ ref }, { timeout = timeout })
    if #ready == 0 then timeout_error(2) end
  end
  self._by_index[self._next_return] = nil
  self._next_return = self._next_return + 1
  local entry = self._busy[ref]
  self._busy[ref] = nil
  return_actor(self, entry[2])
  return rayl.get(ref)
end

-- The next finished result, and the submission index it belongs to.
local function next_unordered(self, timeout, level)
  if not self:has_next() then raise("StopIteration", "no more results to get", level + 1) end
  local refs = {}
  for ref in pairs(self._busy) do refs[#refs + 1] = ref end
  local busy = self._busy
  table.sort(refs, function(a, b) return busy[a][1] < busy[b][1] end)
  local ready = rayl.wait(refs, { num_returns = 1, timeout = timeout })
  if #ready == 0 then timeout_error(level + 1) end
  local ref = ready[1]
  local entry = busy[ref]
  busy[ref] = nil
  self._by_index[entry[1]] = nil
  self._next_return = math.max(self._next_return, entry[1] + 1)
  return_actor(self, entry[2])
  return rayl.get(ref), entry[1]
end

--- pool:get_next_unordered(timeout) -> the next result to finish (any order), and its
--- submission number (1 for the pool's first submit). Errors as get_next.
function ActorPool:get_next_unordered(timeout)
  local value, index = next_unordered(self, timeout, 2)
  return value, index + 1
end

-- Collects (and drops) whatever earlier submissions left, as Ray's map does.
local function drain(self)
  while self:has_next() do
    pcall(next_unordered, self, nil, 1)
  end
end

local function count(values, level)
  if type(values) ~= "table" then
    raise("ValueError", "expected a list of values, got " .. type(values), level + 1)
  end
  return values.n or #values
end

--- pool:map(fn, values) -> iterator of (i, result) in the order of values.
---   for i, r in pool:map(function(a, v) return a.double:remote(v) end, {1, 2, 3}) do end
--- i is the index of the value in values (so nil results do not end the loop). A
--- failed call raises its error (e.g. TaskError) from the loop.
function ActorPool:map(fn, values)
  local n = count(values, 2)
  drain(self)
  for i = 1, n do self:submit(fn, values[i]) end
  local i = 0
  return function()
    if i >= n then return nil end
    i = i + 1
    local v = self:get_next()
    return i, v
  end
end

--- pool:map_unordered(fn, values) -> iterator of (i, result) as the calls finish; i is
--- the index in values of the value that result belongs to.
function ActorPool:map_unordered(fn, values)
  local n = count(values, 2)
  drain(self)
  local base = self._next_task
  for i = 1, n do self:submit(fn, values[i]) end
  local got = 0
  return function()
    if got >= n then return nil end
    got = got + 1
    local v, index = next_unordered(self, nil, 1)
    return index - base + 1, v
  end
end

--- pool:has_free() -> true if an actor is idle and no work is queued.
function ActorPool:has_free()
  return #self._idle > 0 and pending_count(self) == 0
end

--- pool:pop_idle() -> an idle actor removed from the pool, or nil if none is free.
function ActorPool:pop_idle()
  if self:has_free() then return table.remove(self._idle) end
  return nil
end

--- pool:push(actor): adds an actor to the pool (it takes queued work at once).
function ActorPool:push(actor)
  for _, a in ipairs(self._idle) do
    if a == actor then raise("ValueError", "the actor already belongs to this ActorPool", 2) end
  end
  for _, entry in pairs(self._busy) do
    if entry[2] == actor then raise("ValueError", "the actor already belongs to this ActorPool", 2) end
  end
  return_actor(self, actor)
end

return ActorPool
