-- spec/util_spec.lua: rayl.util: ActorPool, Queue and Pool against a real local cluster.
local rayl = require "rayl"
local util = require "rayl.util"
local h = require "spec.helpers"

local ActorPool, Queue, Pool = util.ActorPool, util.Queue, util.Pool

-- An actor for the ActorPool specs; sleeping uses no CPU so timings hold on 2 cores.
local Doubler = rayl.remote({
  __init = function(self) self.calls = 0 end,
  double = function(self, x, delay)
    if delay and delay > 0 then os.execute("sleep " .. delay) end
    self.calls = self.calls + 1
    if x == "bad" then error("cannot double " .. x) end
    return 2 * x
  end,
})

local function doublers(n)
  local out = {}
  for i = 1, n do out[i] = Doubler:options { num_cpus = 0 }:remote() end
  return out
end

local function kill_all(actors)
  for _, a in ipairs(actors) do rayl.kill(a) end
end

local function collect(iter)
  local out = {}
  for i, v in iter do out[#out + 1] = { i, v } end
  return out
end

describe("rayl.util", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  describe("ActorPool", function()
    local actors, pool

    before_each(function()
      actors = doublers(2)
      pool = ActorPool.new(actors)
    end)

    after_each(function()
      kill_all(actors)
    end)

    it("map yields (index, result) in the order of the values, whatever order they finish in", function()
      -- The first values take longest, so they finish last.
      local delays = { 0.3, 0.2, 0.1, 0, 0, 0 }
      local got = collect(pool:map(function(a, v) return a.double:remote(v, delays[v]) end,
        { 1, 2, 3, 4, 5, 6 }))
      assert.are.same({ { 1, 2 }, { 2, 4 }, { 3, 6 }, { 4, 8 }, { 5, 10 }, { 6, 12 } }, got)
      assert.is_false(pool:has_next())
      assert.is_true(pool:has_free())
    end)

    it("map_unordered yields every result once, as they finish, with the index of its value", function()
      local got = collect(pool:map_unordered(function(a, v)
        return a.double:remote(v, v == 1 and 0.5 or 0)
      end, { 1, 2, 3, 4 }))
      assert.are.equal(4, #got)
      local seen = {}
      for _, p in ipairs(got) do seen[p[1]] = p[2] end
      assert.are.same({ 2, 4, 6, 8 }, seen)
      -- Value 1 sleeps while the other actor works through 2, 3 and 4.
      assert.are.same({ 1, 2 }, got[4])
      assert.are_not.equal(1, got[1][1])
    end)

    it("submit queues work while every actor is busy and starts it when one frees up", function()
      local one = ActorPool.new({ actors[1] })
      assert.is_true(one:has_free())
      assert.is_false(one:has_next())
      local fn = function(a, v) return a.double:remote(v, 0.05) end
      one:submit(fn, 1)
      assert.is_false(one:has_free())
      one:submit(fn, 2)
      one:submit(fn, 3)
      assert.is_true(one:has_next())
      assert.are.equal(2, one:get_next())
      assert.is_false(one:has_free(), "3 is still queued or running")
      assert.are.equal(4, one:get_next())
      assert.are.equal(6, one:get_next())
      assert.is_false(one:has_next())
      assert.is_true(one:has_free())
    end)

    it("get_next(timeout) raises GetTimeoutError while the next result is not ready, and keeps it", function()
      pool:submit(function(a, v) return a.double:remote(v, 0.5) end, 21)
      local t0 = h.now()
      h.expect_error("GetTimeoutError", function() pool:get_next(0.1) end)
      assert.is_true(h.now() - t0 < 0.4)
      assert.is_true(pool:has_next())
      assert.are.equal(42, pool:get_next())
    end)

    it("get_next_unordered returns the first result to finish and raises GetTimeoutError on timeout", function()
      pool:submit(function(a, v) return a.double:remote(v, 0.6) end, 1)
      pool:submit(function(a, v) return a.double:remote(v, 0) end, 2)
      local v, n = pool:get_next_unordered()
      assert.are.equal(4, v)
      assert.are.equal(2, n)
      h.expect_error("GetTimeoutError", function() pool:get_next_unordered(0.05) end)
      assert.are.equal(2, (pool:get_next_unordered()))
      assert.is_false(pool:has_next())
    end)

    it("get_next with nothing submitted raises StopIteration", function()
      h.expect_error("StopIteration", function() pool:get_next() end)
      h.expect_error("StopIteration", function() pool:get_next_unordered() end)
    end)

    it("pop_idle takes idle actors out, push puts them back, and pushing a member is refused", function()
      local a = pool:pop_idle()
      local b = pool:pop_idle()
      assert.is_not_nil(a)
      assert.is_not_nil(b)
      assert.is_nil(pool:pop_idle())
      assert.is_false(pool:has_free())
      pool:push(a)
      assert.is_true(pool:has_free())
      h.expect_error("ValueError", function() pool:push(a) end)
      -- A pushed actor picks up work that was queued while the pool was empty.
      local empty = ActorPool.new({})
      empty:submit(function(x, v) return x.double:remote(v) end, 5)
      assert.is_false(empty:has_free())
      empty:push(b)
      assert.are.equal(10, empty:get_next(5))
    end)

    it("an error in the actor surfaces as a TaskError through map, and the pool stays usable", function()
      local err = h.expect_error("TaskError", function()
        for _ in pool:map(function(a, v) return a.double:remote(v) end, { 1, "bad", 3 }) do end
      end)
      assert.matches("cannot double bad", err.message, 1, true)
      -- map starts afresh: results left over from the failed map are dropped.
      local got = collect(pool:map(function(a, v) return a.double:remote(v) end, { 7, 8 }))
      assert.are.same({ { 1, 14 }, { 2, 16 } }, got)
    end)

    it("fn must return an ObjectRef", function()
      h.expect_error("ValueError", function() pool:submit(function() return 1 end, 1) end)
      assert.is_true(pool:has_free())
    end)
  end)

  describe("Queue", function()
    it("is FIFO and reports size, empty and full", function()
      local q = Queue.new { maxsize = 2 }
      assert.is_true(q:empty())
      assert.is_false(q:full())
      assert.are.equal(0, q:size())
      q:put("a")
      q:put({ x = 1 })
      assert.are.equal(2, q:size())
      assert.are.equal(2, q:qsize())
      assert.is_true(q:full())
      assert.is_false(q:empty())
      assert.are.equal("a", q:get())
      assert.are.same({ x = 1 }, q:get())
      assert.is_true(q:empty())
      q:shutdown()
    end)

    it("an unbounded queue (maxsize 0) is never full and keeps nil items", function()
      local q = Queue.new()
      for i = 1, 50 do q:put_nowait(i) end
      q:put(nil)
      assert.is_false(q:full())
      assert.are.equal(51, q:size())
      for i = 1, 50 do assert.are.equal(i, q:get_nowait()) end
      assert.is_nil(q:get_nowait())
      assert.is_true(q:empty())
      q:shutdown()
    end)

    it("nowait calls raise Queue.Full / Queue.Empty at once", function()
      local q = Queue.new(1)
      local err = h.expect_error(Queue.Empty, function() q:get_nowait() end)
      assert.are.equal("Empty", err.type)
      h.expect_error(Queue.Empty, function() q:get { block = false } end)
      q:put_nowait(1)
      err = h.expect_error(Queue.Full, function() q:put_nowait(2) end)
      assert.are.equal("Full", err.type)
      h.expect_error(Queue.Full, function() q:put(2, { block = false }) end)
      assert.are.equal(1, q:size())
      q:shutdown()
    end)

    it("get and put with a timeout raise Empty / Full once the timeout has passed", function()
      local q = Queue.new { maxsize = 1 }
      local t0 = h.now()
      h.expect_error(Queue.Empty, function() q:get { timeout = 0.3 } end)
      local waited = h.now() - t0
      assert.is_true(waited >= 0.3 and waited < 1.5, "waited " .. waited)
      q:put("x")
      t0 = h.now()
      h.expect_error(Queue.Full, function() q:put("y", { timeout = 0.2 }) end)
      waited = h.now() - t0
      assert.is_true(waited >= 0.2 and waited < 1.5, "waited " .. waited)
      h.expect_error(Queue.Empty, function() Queue.new():get { timeout = 0 } end)
      h.expect_error("ValueError", function() q:get { timeout = -1 } end)
      q:shutdown()
    end)

    it("batch calls add or take all the items or none", function()
      local q = Queue.new(3)
      q:put_nowait_batch({ 1, 2 })
      h.expect_error(Queue.Full, function() q:put_nowait_batch({ 3, 4 }) end)
      assert.are.equal(2, q:size())
      h.expect_error(Queue.Empty, function() q:get_nowait_batch(3) end)
      local items = q:get_nowait_batch(2)
      assert.are.equal(1, items[1])
      assert.are.equal(2, items[2])
      assert.is_true(q:empty())
      q:shutdown()
    end)

    it("can be passed to tasks, which see a Queue: a blocked get returns when a task puts", function()
      local q = Queue.new()
      local producer = rayl.remote(function(queue, n)
        os.execute("sleep 0.3")
        for i = 1, n do queue:put(i * 10) end
        return getmetatable(queue) == require("rayl.util.queue")
      end)
      local ref = producer:remote(q, 3)
      local t0 = h.now()
      assert.are.equal(10, q:get { timeout = 10 })
      assert.is_true(h.now() - t0 >= 0.2)
      assert.are.equal(20, q:get { timeout = 10 })
      assert.are.equal(30, q:get { timeout = 10 })
      assert.is_true(rayl.get(ref))
      q:shutdown()
    end)

    it("a blocked put returns once a consumer actor makes room", function()
      local q = Queue.new(1)
      local Consumer = rayl.remote({
        take = function(self, queue, delay)
          os.execute("sleep " .. delay)
          return queue:get { timeout = 10 }
        end,
      })
      local c = Consumer:options { num_cpus = 0 }:remote()
      q:put("first")
      local taken = c.take:remote(q, 0.3)
      local t0 = h.now()
      q:put("second", { timeout = 10 })
      assert.is_true(h.now() - t0 >= 0.2)
      assert.are.equal("first", rayl.get(taken))
      assert.are.equal("second", q:get_nowait())
      rayl.kill(c)
      q:shutdown()
    end)

    it("rejects bad options", function()
      h.expect_error("ValueError", function() Queue.new { maxsize = -1 } end)
      h.expect_error("ValueError", function() Queue.new { size = 3 } end)
    end)
  end)

  describe("Pool", function()
    local p
    local function square(x) return x * x end
    local list = {}
    for i = 1, 23 do list[i] = i end
    local expected = {}
    for i = 1, 23 do expected[i] = square(i) end

    lazy_setup(function()
      p = Pool.new() -- the cluster's CPU count: 2
    end)

    lazy_teardown(function()
      if p then p:terminate() end
    end)

    local function plain(t)
      local out = {}
      for i = 1, t.n or #t do out[i] = t[i] end
      return out
    end

    it("map returns the same list as a local loop, for any chunksize", function()
      assert.are.same(expected, plain(p:map(square, list)))
      for _, size in ipairs { 1, 3, 23, 100 } do
        assert.are.same(expected, plain(p:map(square, list, size)))
      end
      assert.are.same({}, plain(p:map(square, {})))
    end)

    it("runs on as many actors as the cluster has CPUs, and fn keeps its upvalues", function()
      local k = 7
      local ids = p:map(function(x) return rayl.get_runtime_context().worker_id .. ":" .. x * k end,
        { 1, 2, 3, 4, 5, 6 }, 1)
      local workers = {}
      for i = 1, 6 do
        local id, v = ids[i]:match("^(.*):(%d+)$")
        assert.are.equal(tostring(i * 7), v)
        workers[id] = true
      end
      local n = 0
      for _ in pairs(workers) do n = n + 1 end
      assert.are.equal(2, n)
    end)

    it("map keeps nil results in place (the list has field n)", function()
      local out = p:map(function(x) if x % 2 == 0 then return x end end, { 1, 2, 3, 4 })
      assert.are.equal(4, out.n)
      assert.is_nil(out[1])
      assert.are.equal(2, out[2])
      assert.is_nil(out[3])
      assert.are.equal(4, out[4])
    end)

    it("imap yields (i, result) in order; imap_unordered yields every result once", function()
      local got = collect(p:imap(square, list, 4))
      assert.are.equal(23, #got)
      for i = 1, 23 do assert.are.same({ i, expected[i] }, got[i]) end
      got = collect(p:imap(square, { 3, 4 }))
      assert.are.same({ { 1, 9 }, { 2, 16 } }, got)

      local slow_first = function(x)
        if x == 1 then os.execute("sleep 0.4") end
        return x * x
      end
      got = collect(p:imap_unordered(slow_first, { 1, 2, 3, 4 }))
      local seen = {}
      for _, pr in ipairs(got) do seen[pr[1]] = pr[2] end
      assert.are.same({ 1, 4, 9, 16 }, seen)
      -- Chunks go to the 2 actors in turn: 1 and 3 share an actor, 2 and 4 finish first.
      local pos = {}
      for k, pr in ipairs(got) do pos[pr[1]] = k end
      assert.is_true(pos[1] > pos[2] and pos[1] > pos[4], "the slow element came before faster ones")
    end)

    it("starmap unpacks each argument list", function()
      local out = p:starmap(function(a, b) return a .. "-" .. b end, { { "a", 1 }, { "b", 2 }, { "c", 3 } })
      assert.are.same({ "a-1", "b-2", "c-3" }, plain(out))
      assert.are.same({ 3, 7 }, plain(p:starmap_async(function(a, b) return a + b end, { { 1, 2 }, { 3, 4 } }):get()))
    end)

    it("apply returns all of fn's results; apply_async has get, wait, ready and successful", function()
      local a, b = p:apply(function(x, y) return x + y, x * y end, { 3, 4 })
      assert.are.equal(7, a)
      assert.are.equal(12, b)
      assert.are.equal("none", p:apply(function() return "none" end))

      local r = p:apply_async(function(s) os.execute("sleep " .. s); return "done" end, { 0.4 })
      assert.is_false(r:ready())
      h.expect_error("ValueError", function() r:successful() end)
      h.expect_error("GetTimeoutError", function() r:get(0.05) end)
      r:wait(0.05)
      assert.is_false(r:ready())
      r:wait()
      assert.is_true(r:ready())
      assert.is_true(r:successful())
      assert.are.equal("done", r:get())
      assert.are.equal("done", r:get(0))
    end)

    it("an error in fn surfaces as a TaskError through map, imap, apply and apply_async", function()
      local bad = function(x)
        if x == 3 then error("three is bad") end
        return x
      end
      local err = h.expect_error("TaskError", function() p:map(bad, { 1, 2, 3, 4 }) end)
      assert.matches("three is bad", err.message, 1, true)
      h.expect_error("TaskError", function() for _ in p:imap(bad, { 1, 2, 3 }) do end end)
      h.expect_error("TaskError", function() p:apply(bad, { 3 }) end)
      local r = p:apply_async(bad, { 3 })
      r:wait()
      assert.is_true(r:ready())
      assert.is_false(r:successful())
      h.expect_error("TaskError", function() r:get() end)
      -- The pool still works after its function failed.
      assert.are.same({ 1, 2 }, plain(p:map(bad, { 1, 2 })))
    end)

    it("rejects bad arguments", function()
      h.expect_error("ValueError", function() p:map("square", list) end)
      h.expect_error("ValueError", function() p:map(square, list, 0) end)
      h.expect_error("ValueError", function() Pool.new(0) end)
      -- More processes than the cluster's 2 CPUs could never all start.
      h.expect_error("ValueError", function() Pool.new(3) end)
    end)

    it("close stops new work, join waits for submitted work; terminate ends at once", function()
      p:terminate() -- give its CPUs to the pools below
      p = nil
      local q = Pool.new { processes = 1, initializer = function(v) _G.pool_init = v end, initargs = { "set" } }
      local r = q:apply_async(function() os.execute("sleep 0.3"); return _G.pool_init end)
      q:close()
      h.expect_error("ValueError", function() q:map(square, { 1 }) end)
      h.expect_error("ValueError", function() q:apply_async(square, { 1 }) end)
      local t0 = h.now()
      q:join()
      assert.is_true(r:ready(), "join returned before the submitted work finished")
      assert.is_true(h.now() - t0 >= 0.1)
      assert.are.equal("set", r:get())

      local t = Pool.new(1)
      local slow = t:apply_async(function() os.execute("sleep 5"); return 1 end)
      t:terminate()
      h.expect_error("ValueError", function() t:map(square, { 1 }) end)
      local ok = pcall(function() return slow:get(10) end)
      assert.is_false(ok, "work on a terminated pool should fail")
      local o = Pool.new(1)
      h.expect_error("ValueError", function() o:join() end)
      o:terminate()
    end)
  end)
end)
