-- rayl.util.pool: Pool, Python's multiprocessing.Pool on rayl actors (Ray's
-- ray.util.multiprocessing.Pool).
--
--   local p = Pool.new(4)
--   p:map(function(x) return x * x end, { 1, 2, 3 })  --> { 1, 4, 9 }
--
-- fn is a plain Lua function: it travels as bytecode with its upvalues captured by
-- value (API.md, "Values that cross processes") and the pool's actors call it. map and
-- friends keep fn's first return value; apply returns all of them. Work is cut into
-- chunks, and chunks go to the actors in turn; each actor runs one chunk at a time.
local rayl = require "rayl"
local errors = require "rayl.errors"

local Pool = {}
Pool.__index = Pool

local AsyncResult = {}
AsyncResult.__index = AsyncResult
Pool.AsyncResult = AsyncResult

local raise = errors.raise

local PoolActor

local function actor_class()
  if PoolActor then return PoolActor end
  PoolActor = rayl.remote({
    __init = function(self, initializer, initargs)
      if initializer then initializer(unpack(initargs, 1, initargs.n or #initargs)) end
    end,
    -- Runs fn on each element of chunk (fn(unpack(element)) if star): the list of
    -- first results, with field n.
    run_chunk = function(self, fn, chunk, star)
      local out = { n = chunk.n }
      for i = 1, chunk.n do
        if star then
          local a = chunk[i]
          out[i] = (fn(unpack(a, 1, a.n or #a)))
        else
          out[i] = (fn(chunk[i]))
        end
      end
      return out
    end,
    -- fn(unpack(args)): all its results, with field n.
    apply = function(self, fn, args)
      return (function(...) return { n = select("#", ...), ... } end)(fn(unpack(args, 1, args.n or #args)))
    end,
  })
  return PoolActor
end

local function check_fn(fn, what, level)
  if type(fn) ~= "function" then
    raise("ValueError", ("%s expects a Lua function, got %s"):format(what, type(fn)), level + 1)
  end
end

local function check_running(self, level)
  if self._closed then raise("ValueError", "the Pool is not running (close or terminate was called)", level + 1) end
end

--- Pool.new(processes) or Pool.new{ processes =, initializer = fn, initargs = {...},
--- actor_options = {...} } -> a pool of processes actors (default: the cluster's CPU
--- count). Each actor runs initializer(unpack(initargs)) when it starts. actor_options
--- go to the actors' :options{} (by default num_cpus = 1: one CPU per actor).
function Pool.new(opts)
  if opts == nil then opts = {} end
  if type(opts) == "number" then opts = { processes = opts } end
  if type(opts) ~= "table" then
    raise("ValueError", "Pool.new expects a number of processes or a table of options, got " .. type(opts), 2)
  end
  local valid = { processes = true, initializer = true, initargs = true, actor_options = true }
  for k in pairs(opts) do
    if not valid[k] then
      raise("ValueError", ("unknown option '%s' for Pool.new; valid options: actor_options, initargs, "
        .. "initializer, processes"):format(tostring(k)), 2)
    end
  end
  local n = opts.processes
  if n ~= nil and (type(n) ~= "number" or n < 1 or n ~= math.floor(n)) then
    raise("ValueError", "processes must be a whole number >= 1", 2)
  end
  if opts.initializer ~= nil then check_fn(opts.initializer, "Pool.new's initializer", 2) end
  local actor_opts = { num_cpus = 1 }
  for k, v in pairs(opts.actor_options or {}) do actor_opts[k] = v end
  local cpus = rayl.cluster_resources().CPU or 0
  if n == nil then n = math.max(1, math.floor(cpus)) end
  -- As Ray: actors that could never all be placed would leave work waiting forever.
  local need = (actor_opts.num_cpus or 0) * n
  if need > cpus then
    raise("ValueError", ("a Pool of %d processes needs %s CPUs, but the cluster has %s")
      :format(n, tostring(need), tostring(cpus)), 2)
  end
  local cls = actor_class():options(actor_opts)
  local actors = {}
  for i = 1, n do actors[i] = cls:remote(opts.initializer, opts.initargs or {}) end
  return setmetatable({ _actors = actors, _next = 0, _outstanding = {}, _closed = false }, Pool)
end

-- Submits one call to the next actor in turn; remembers the ref for join().
local function submit(self, method, ...)
  local actor = self._actors[self._next % #self._actors + 1]
  self._next = self._next + 1
  local ref = actor[method]:remote(...)
  local out = self._outstanding
  out[#out + 1] = ref
  if #out >= 64 then -- forget finished calls now and then
    local keep = {}
    for _, r in ipairs(out) do if not r:ready() then keep[#keep + 1] = r end end
    self._outstanding = keep
  end
  return ref
end

local function count(list, what, level)
  if type(list) ~= "table" then
    raise("ValueError", ("%s expects a list, got %s"):format(what, type(list)), level + 1)
  end
  return list.n or #list
end

-- Cuts list[1..n] into chunks of size and submits them: a list of { first index, ref }.
local function submit_chunks(self, fn, list, n, size, star)
  local fref = rayl.put(fn)
  local chunks = {}
  for first = 1, n, size do
    local last = math.min(n, first + size - 1)
    local chunk = { n = last - first + 1 }
    for i = first, last do chunk[i - first + 1] = list[i] end
    chunks[#chunks + 1] = { first, submit(self, "run_chunk", fref, chunk, star) }
  end
  return chunks
end

local function chunk_size(self, chunksize, n, level)
  if chunksize == nil then -- as Python: about four chunks per process
    local size = math.floor(n / (#self._actors * 4))
    if n % (#self._actors * 4) ~= 0 then size = size + 1 end
    return math.max(1, size)
  end
  if type(chunksize) ~= "number" or chunksize < 1 or chunksize ~= math.floor(chunksize) then
    raise("ValueError", "chunksize must be a whole number >= 1", level + 1)
  end
  return chunksize
end

local function new_async(refs, finish)
  return setmetatable({ _refs = refs, _finish = finish }, AsyncResult)
end

local function map_async(self, fn, list, chunksize, star, what, level)
  check_running(self, level + 1)
  check_fn(fn, what, level + 1)
  local n = count(list, what, level + 1)
  local size = chunk_size(self, chunksize, n, level + 1)
  local chunks = submit_chunks(self, fn, list, n, size, star)
  local refs = {}
  for i, c in ipairs(chunks) do refs[i] = c[2] end
  return new_async(refs, function(values)
    local out, k = { n = n }, 0
    for _, chunk in ipairs(values) do
      for j = 1, chunk.n do out[k + j] = chunk[j] end
      k = k + chunk.n
    end
    return out
  end)
end

--- p:map_async(fn, list, chunksize) -> AsyncResult whose get() is p:map's list.
function Pool:map_async(fn, list, chunksize)
  return map_async(self, fn, list, chunksize, false, "Pool:map_async", 2)
end

--- p:map(fn, list, chunksize) -> { fn(list[1]), fn(list[2]), ... } (with field n, as
--- results may be nil). An error in fn raises its TaskError here.
function Pool:map(fn, list, chunksize)
  return map_async(self, fn, list, chunksize, false, "Pool:map", 2):get()
end

--- p:starmap_async(fn, list_of_arg_lists, chunksize) -> AsyncResult of p:starmap.
function Pool:starmap_async(fn, list, chunksize)
  return map_async(self, fn, list, chunksize, true, "Pool:starmap_async", 2)
end

--- p:starmap(fn, { {a, b}, {c, d} }, chunksize) -> { fn(a, b), fn(c, d) }
function Pool:starmap(fn, list, chunksize)
  return map_async(self, fn, list, chunksize, true, "Pool:starmap", 2):get()
end

local function imap_chunks(self, fn, list, chunksize, what, level)
  check_running(self, level + 1)
  check_fn(fn, what, level + 1)
  local n = count(list, what, level + 1)
  if chunksize ~= nil then chunk_size(self, chunksize, n, level + 1) end
  return submit_chunks(self, fn, list, n, chunksize or 1, false)
end

--- p:imap(fn, list, chunksize = 1) -> iterator of (i, fn(list[i])) in list's order:
---   for i, r in p:imap(fn, list) do ... end
function Pool:imap(fn, list, chunksize)
  local chunks = imap_chunks(self, fn, list, chunksize, "Pool:imap", 2)
  local c, j, values = 0, 0, nil
  return function()
    while values == nil or j >= values.n do
      c = c + 1
      if c > #chunks then return nil end
      values, j = rayl.get(chunks[c][2]), 0
    end
    j = j + 1
    return chunks[c][1] + j - 1, values[j]
  end
end

--- p:imap_unordered(fn, list, chunksize = 1) -> iterator of (i, fn(list[i])) in the
--- order the results finish; i says which element each result belongs to.
function Pool:imap_unordered(fn, list, chunksize)
  local chunks = imap_chunks(self, fn, list, chunksize, "Pool:imap_unordered", 2)
  local pending, first_of = {}, {}
  for i, c in ipairs(chunks) do
    pending[i] = c[2]
    first_of[c[2]] = c[1]
  end
  local first, j, values = 0, 0, nil
  return function()
    while values == nil or j >= values.n do
      if #pending == 0 then return nil end
      local ready, rest = rayl.wait(pending, { num_returns = 1 })
      pending = rest
      first, j, values = first_of[ready[1]], 0, rayl.get(ready[1])
    end
    j = j + 1
    return first + j - 1, values[j]
  end
end

--- p:apply_async(fn, args) -> AsyncResult of fn(unpack(args)) run on one actor.
function Pool:apply_async(fn, args)
  check_running(self, 2)
  check_fn(fn, "Pool:apply_async", 2)
  if args ~= nil and type(args) ~= "table" then
    raise("ValueError", "Pool:apply_async expects a list of arguments, got " .. type(args), 2)
  end
  local ref = submit(self, "apply", fn, args or {})
  return new_async({ ref }, function(values)
    local r = values[1]
    return unpack(r, 1, r.n)
  end)
end

--- p:apply(fn, args) -> fn(unpack(args)), run on one of the pool's actors (all of
--- fn's results).
function Pool:apply(fn, args)
  if args ~= nil and type(args) ~= "table" then
    raise("ValueError", "Pool:apply expects a list of arguments, got " .. type(args), 2)
  end
  return self:apply_async(fn, args):get()
end

--- p:close(): no more work may be submitted; what was submitted still runs.
function Pool:close()
  self._closed = true
end

local function kill_actors(self)
  for _, a in ipairs(self._actors) do pcall(rayl.kill, a) end
  self._actors = {}
end

--- p:terminate(): stops the actors now; unfinished work fails with ActorDiedError.
function Pool:terminate()
  self._closed = true
  kill_actors(self)
end

--- p:join(): after close(), waits for all submitted work to finish, then stops the
--- actors.
function Pool:join()
  if not self._closed then raise("ValueError", "Pool:join() needs close() or terminate() first", 2) end
  local out = self._outstanding
  if #out > 0 then rayl.wait(out, { num_returns = #out }) end
  self._outstanding = {}
  kill_actors(self)
end

------------------------------------------------------------------------------
-- AsyncResult
------------------------------------------------------------------------------

--- r:get(timeout) -> the result; raises GetTimeoutError if it is not ready within
--- timeout seconds, or the error fn raised (TaskError).
function AsyncResult:get(timeout)
  local values = rayl.get(self._refs, timeout and { timeout = timeout } or nil)
  return self._finish(values)
end

--- r:wait(timeout): blocks until the result is ready or timeout seconds pass.
function AsyncResult:wait(timeout)
  rayl.wait(self._refs, { num_returns = #self._refs, timeout = timeout })
end

--- r:ready() -> true once the result is ready (or failed).
function AsyncResult:ready()
  for _, ref in ipairs(self._refs) do
    if not ref:ready() then return false end
  end
  return true
end

--- r:successful() -> true if the work finished without an error; raises ValueError
--- if it is not ready yet.
function AsyncResult:successful()
  if not self:ready() then raise("ValueError", "the result is not ready yet", 2) end
  for _, ref in ipairs(self._refs) do
    if not pcall(rayl.get, ref) then return false end
  end
  return true
end

return Pool
