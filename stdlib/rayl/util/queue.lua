-- rayl.util.queue: Queue, a FIFO queue whose items live in one actor, so drivers,
-- tasks and actors can share it (Ray's ray.util.queue.Queue).
--
--   local q = Queue.new{ maxsize = 10 }
--   q:put(item)                       -- blocks while the queue is full
--   local item = q:get{ timeout = 1 } -- raises an error of type Queue.Empty after 1 s
--
-- The actor runs one call at a time and never waits: its methods only try (put if
-- there is room, take if there is an item). A blocking put/get runs on the caller's
-- side: it tries, and while the queue is full/empty sleeps a little (1 ms, doubling up
-- to 20 ms) and tries again until it succeeds or the timeout passes. So a blocked
-- caller never holds the actor, and other callers' puts and gets go through; a
-- waiting caller notices a change within ~20 ms.
--
-- A Queue holds only its actor handle and maxsize. This module's table is the
-- instances' metatable, so a Queue passed to a task or actor arrives as a Queue: the
-- codec sends the metatable by its module name and the receiver requires it.
local rayl = require "rayl"
local core = require "rayl.core"
local errors = require "rayl.errors"

local Queue = {}
Queue.__index = Queue

--- The error types get/put raise (as rayl.errors.TaskError is "TaskError"):
--- rayl.errors.is(err, Queue.Empty), rayl.errors.is(err, Queue.Full).
Queue.Empty = "Empty"
Queue.Full = "Full"

local raise = errors.raise

local POLL_MIN, POLL_MAX = 0.001, 0.02

-- The actor that holds the items: a ring of slots from head to tail - 1 (an item
-- may be nil). Its methods never block.
local QueueActor

local function actor_class()
  if QueueActor then return QueueActor end
  QueueActor = rayl.remote({
    __init = function(self, maxsize)
      self.maxsize, self.items, self.head, self.tail = maxsize, {}, 1, 1
    end,
    size = function(self) return self.tail - self.head end,
    empty = function(self) return self.tail == self.head end,
    full = function(self) return self.maxsize > 0 and self.tail - self.head >= self.maxsize end,
    -- -> true if the item was added, false if the queue is full
    put_nowait = function(self, item)
      if self.maxsize > 0 and self.tail - self.head >= self.maxsize then return false end
      self.items[self.tail] = item
      self.tail = self.tail + 1
      return true
    end,
    -- -> true if all were added, false (adding none) if they do not fit
    put_nowait_batch = function(self, items)
      local n = items.n or #items
      if self.maxsize > 0 and self.tail - self.head + n > self.maxsize then return false end
      for i = 1, n do
        self.items[self.tail] = items[i]
        self.tail = self.tail + 1
      end
      return true
    end,
    -- -> { item } (a box, as the item may be nil), or false if the queue is empty
    get_nowait = function(self)
      if self.tail == self.head then return false end
      local item = self.items[self.head]
      self.items[self.head] = nil
      self.head = self.head + 1
      return { item }
    end,
    -- -> a list of n items (with field n), or false if fewer than n are queued
    get_nowait_batch = function(self, n)
      if self.tail - self.head < n then return false end
      local out = { n = n }
      for i = 1, n do
        out[i] = self.items[self.head]
        self.items[self.head] = nil
        self.head = self.head + 1
      end
      return out
    end,
  })
  return QueueActor
end

--- Queue.new{ maxsize = 0, actor_options = {} } -> a queue; maxsize 0 means
--- unbounded. actor_options go to the actor's :options{} (by default num_cpus = 0).
--- Queue.new(n) is Queue.new{ maxsize = n }.
function Queue.new(opts)
  if opts == nil then opts = {} end
  if type(opts) == "number" then opts = { maxsize = opts } end
  if type(opts) ~= "table" then
    raise("ValueError", "Queue.new expects a table of options { maxsize = n }, got " .. type(opts), 2)
  end
  for k in pairs(opts) do
    if k ~= "maxsize" and k ~= "actor_options" then
      raise("ValueError", ("unknown option '%s' for Queue.new; valid options: actor_options, maxsize")
        :format(tostring(k)), 2)
    end
  end
  local maxsize = opts.maxsize or 0
  if type(maxsize) ~= "number" or maxsize < 0 or maxsize ~= math.floor(maxsize) then
    raise("ValueError", "maxsize must be a whole number >= 0 (0: unbounded)", 2)
  end
  local actor_opts = { num_cpus = 0 }
  for k, v in pairs(opts.actor_options or {}) do actor_opts[k] = v end
  local actor = actor_class():options(actor_opts):remote(maxsize)
  return setmetatable({ actor = actor, maxsize = maxsize }, Queue)
end

local function call(self, method, ...)
  return rayl.get(self.actor[method]:remote(...))
end

--- q:size() -> the number of items queued now (q:qsize() is the same).
function Queue:size() return call(self, "size") end
Queue.qsize = Queue.size

--- q:empty() -> true if no item is queued.
function Queue:empty() return call(self, "empty") end

--- q:full() -> true if maxsize items are queued (never, when maxsize is 0).
function Queue:full() return call(self, "full") end

local function sleep(seconds)
  local deadline = core.now() + seconds
  while true do
    local left = deadline - core.now()
    if left <= 0 then return end
    core.poll(math.max(1, math.floor(left * 1000 + 0.5)))
  end
end

-- Reads { block = true, timeout = nil }; returns block, timeout.
local function block_options(opts, what, level)
  if opts == nil then return true, nil end
  if type(opts) ~= "table" then
    raise("ValueError", ("%s expects a table of options { block =, timeout = }, got %s")
      :format(what, type(opts)), level + 1)
  end
  for k in pairs(opts) do
    if k ~= "block" and k ~= "timeout" then
      raise("ValueError", ("unknown option '%s' for %s; valid options: block, timeout")
        :format(tostring(k), what), level + 1)
    end
  end
  local timeout = opts.timeout
  if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0) then
    raise("ValueError", "'timeout' must be a non-negative number", level + 1)
  end
  return opts.block ~= false, timeout
end

-- Calls try() until it succeeds, sleeping between tries, or raises kind after timeout.
local function retry(try, timeout, kind, message, level)
  local deadline = timeout and core.now() + timeout
  local delay = POLL_MIN
  while true do
    local ok, item = try()
    if ok then return item end
    local now = core.now()
    if deadline and now >= deadline then raise(kind, message, level + 1) end
    sleep(deadline and math.min(delay, deadline - now) or delay)
    delay = math.min(delay * 2, POLL_MAX)
  end
end

--- q:put(item, { block = true, timeout = nil }): adds item. If the queue is full it
--- waits for room (forever, or up to timeout seconds, then raises Queue.Full); with
--- block = false it raises Queue.Full at once.
function Queue:put(item, opts)
  local block, timeout = block_options(opts, "Queue:put", 2)
  if not block then return self:put_nowait(item) end
  retry(function() return call(self, "put_nowait", item) end, timeout, Queue.Full,
    ("the queue is full (maxsize %d) and stayed full for %s s"):format(self.maxsize, tostring(timeout)), 2)
end

--- q:get({ block = true, timeout = nil }) -> the oldest item. If the queue is empty it
--- waits for one (forever, or up to timeout seconds, then raises Queue.Empty); with
--- block = false it raises Queue.Empty at once.
function Queue:get(opts)
  local block, timeout = block_options(opts, "Queue:get", 2)
  if not block then return self:get_nowait() end
  return retry(function()
    local box = call(self, "get_nowait")
    if box then return true, box[1] end
    return false
  end, timeout, Queue.Empty,
    ("the queue is empty and stayed empty for %s s"):format(tostring(timeout)), 2)
end

--- q:put_nowait(item): adds item, or raises Queue.Full.
function Queue:put_nowait(item)
  if not call(self, "put_nowait", item) then
    raise(Queue.Full, ("the queue is full (maxsize %d)"):format(self.maxsize), 2)
  end
end

--- q:get_nowait() -> the oldest item, or raises Queue.Empty.
function Queue:get_nowait()
  local box = call(self, "get_nowait")
  if not box then raise(Queue.Empty, "the queue is empty", 2) end
  return box[1]
end

--- q:put_nowait_batch(items): adds all of items (a list), or none of them and raises
--- Queue.Full if they do not all fit.
function Queue:put_nowait_batch(items)
  if type(items) ~= "table" then
    raise("ValueError", "put_nowait_batch expects a list of items, got " .. type(items), 2)
  end
  if not call(self, "put_nowait_batch", items) then
    raise(Queue.Full, ("%d items do not fit in the queue (maxsize %d)")
      :format(items.n or #items, self.maxsize), 2)
  end
end

--- q:get_nowait_batch(n) -> a list of the n oldest items, or raises Queue.Empty (taking
--- none) if fewer than n are queued.
function Queue:get_nowait_batch(n)
  if type(n) ~= "number" or n < 0 or n ~= math.floor(n) then
    raise("ValueError", "get_nowait_batch expects a whole number of items >= 0", 2)
  end
  local items = call(self, "get_nowait_batch", n)
  if not items then raise(Queue.Empty, ("fewer than %d items are queued"):format(n), 2) end
  return items
end

--- q:shutdown(): ends the queue's actor; the queue cannot be used afterwards.
function Queue:shutdown()
  if self.actor then rayl.kill(self.actor) end
end

return Queue
