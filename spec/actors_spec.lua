-- spec/actors_spec.lua: actors as users see them: handles, state, ordering, passing handles,
-- method options, errors, named actors, rayl.kill and rayl.exit_actor.
local rayl = require "rayl"
local h = require "spec.helpers"
local ah = require "spec.actor_helpers"

-- Keeps the CPU busy for about `seconds` (os.clock is CPU time, so this is a busy loop).
local function spin(seconds)
  local t = os.clock() + seconds
  while os.clock() < t do end
end

local Counter = rayl.remote({
  __name = "Counter",
  __init = function(self, start) self.n = start or 0 end,
  incr = function(self, k) self.n = self.n + (k or 1); return self.n end,
  value = function(self) return self.n end,
  pid = function(self) return require("rayl").get_runtime_context().pid end,
  fail = function(self, msg) self.n = self.n + 1000; error(msg) end,
  pair = function(self) return self.n, self.n * 2 end,
  __options = { pair = { num_returns = 2 } },
})

local Env = rayl.remote({
  __init = function(self, seed) self.state = seed end,
  step = function(self, a) self.state = self.state + a; return self.state end,
})

describe("actors", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  describe("handles and state", function()
    it("Class:remote() returns a handle at once, before a slow __init has finished", function()
      local Slow = rayl.remote({
        __init = function(self, x, y) spin(0.6); self.sum = x + y end,
        get = function(self) return self.sum end,
      })
      local t0 = h.now()
      local a = Slow:remote(3, 4)
      local took = h.now() - t0
      assert.are.equal(rayl.ActorHandle, getmetatable(a))
      assert.is_true(took < 0.3, ("Class:remote() took %.2f s"):format(took))
      assert.are.equal(7, rayl.get(a.get:remote(), { timeout = 10 }))
    end)

    it("__init runs with the arguments and methods see and change self", function()
      local c = Counter:remote(10)
      assert.are.equal(15, rayl.get(c.incr:remote(5), { timeout = 10 }))
      assert.are.equal(16, rayl.get(c.incr:remote(), { timeout = 10 }))
      assert.are.equal(16, rayl.get(c.value:remote(), { timeout = 10 }))
    end)

    it("8 actors each stepped once return their own states", function()
      local envs = {}
      for i = 1, 8 do envs[i] = Env:remote(i * 100) end
      local refs = {}
      for i = 1, 8 do refs[i] = envs[i].step:remote(i) end
      local got = rayl.get(refs, { timeout = 20 })
      for i = 1, 8 do assert.are.equal(i * 100 + i, got[i]) end
      -- and each keeps its own state for the next step
      for i = 1, 8 do refs[i] = envs[i].step:remote(1) end
      got = rayl.get(refs, { timeout = 20 })
      for i = 1, 8 do assert.are.equal(i * 100 + i + 1, got[i]) end
    end)

    it("calls from one caller run in submission order", function()
      local c = Counter:remote(0)
      local refs = {}
      for i = 1, 500 do refs[i] = c.incr:remote() end
      local got = rayl.get(refs, { timeout = 20 })
      assert.are.equal(500, #got)
      for i = 1, 500 do
        if got[i] ~= i then error(("call %d returned %s"):format(i, tostring(got[i]))) end
      end
    end)

    it("a handle prints the class name", function()
      assert.truthy(tostring(Counter:remote()):find("Counter", 1, true))
    end)
  end)

  describe("handles travel", function()
    it("as a task argument, reaching the same actor", function()
      local c = Counter:remote(0)
      local bump = rayl.remote(function(actor, k) return rayl.get(actor.incr:remote(k)) end)
      assert.are.equal(5, rayl.get(bump:remote(c, 5), { timeout = 10 }))
      assert.are.equal(6, rayl.get(c.incr:remote(1), { timeout = 10 }))
    end)

    it("to a task right after Class:remote(), before the actor has started", function()
      -- Ray's handles are usable at once, from anywhere: a caller other than the owner
      -- must not reach the actor before its __init has run. 50 fresh actors make a
      -- race here show up on most runs.
      local call = rayl.remote(function(t) return rayl.get(t.actor.incr:remote()) end)
      for i = 1, 50 do
        local ok, res = pcall(rayl.get, call:remote({ actor = Counter:remote(i * 10) }), { timeout = 20 })
        assert(ok, ("round %d: %s"):format(i, tostring(res)))
        assert.are.equal(i * 10 + 1, res)
      end
    end)

    it("inside a table passed to a task", function()
      local c = Counter:remote(0)
      local bump_all = rayl.remote(function(t)
        local refs = {}
        for i, actor in ipairs(t.actors) do refs[i] = actor.incr:remote(t.k) end
        return rayl.get(refs)
      end)
      local d = Counter:remote(100)
      local got = rayl.get(bump_all:remote({ actors = { c, d }, k = 7 }), { timeout = 10 })
      assert.are.same({ 7, 107 }, got)
      assert.are.same({ 8, 108 }, rayl.get({ c.incr:remote(), d.incr:remote() }, { timeout = 10 }))
    end)

    it("in another actor's state: B calls A through the handle given to its __init", function()
      local a = Counter:remote(0)
      local B = rayl.remote({
        __init = function(self, other) self.other = other end,
        poke = function(self, k) return rayl.get(self.other.incr:remote(k)) end,
      })
      local b = B:remote(a)
      assert.are.equal(3, rayl.get(b.poke:remote(3), { timeout = 10 }))
      assert.are.equal(7, rayl.get(b.poke:remote(4), { timeout = 10 }))
      assert.are.equal(8, rayl.get(a.incr:remote(1), { timeout = 10 }))
    end)

    it("through rayl.put and rayl.get", function()
      local c = Counter:remote(0)
      local back = rayl.get(rayl.put(c))
      assert.are.equal(rayl.ActorHandle, getmetatable(back))
      assert.are.equal(2, rayl.get(back.incr:remote(2), { timeout = 10 }))
      local boxed = rayl.get(rayl.put({ inner = { c } }))
      assert.are.equal(5, rayl.get(boxed.inner[1].incr:remote(3), { timeout = 10 }))
      assert.are.equal(5, rayl.get(c.value:remote(), { timeout = 10 }))
    end)

    it("returned from a task", function()
      local make = rayl.remote(function() return rayl.get_actor("made_by_task", { namespace = "travel" }) end)
      local c = Counter:options({ name = "made_by_task", namespace = "travel" }):remote(40)
      local back = rayl.get(make:remote(), { timeout = 10 })
      assert.are.equal(42, rayl.get(back.incr:remote(2), { timeout = 10 }))
      assert.are.equal(42, rayl.get(c.value:remote(), { timeout = 10 }))
      rayl.kill(c)
    end)
  end)

  describe("method options", function()
    it("__options in the class sets a method's num_returns", function()
      local c = Counter:remote(21)
      local r1, r2 = c.pair:remote()
      assert.is_not_nil(r2, "pair:remote() returned one ref")
      assert.are.equal(21, rayl.get(r1, { timeout = 10 }))
      assert.are.equal(42, rayl.get(r2, { timeout = 10 }))
    end)

    it("h.m:options{num_returns = 2}:remote() returns two refs", function()
      local Two = rayl.remote({
        split = function(self, s) return s:match("^(.-),(.*)$") end,
      })
      local t = Two:remote()
      local a, b = t.split:options({ num_returns = 2 }):remote("left,right")
      assert.is_not_nil(b, "options{num_returns = 2}:remote() returned one ref")
      assert.are.same({ "left", "right" }, rayl.get({ a, b }, { timeout = 10 }))
      -- the option does not stick to the method
      local one, none = t.split:remote("x,y")
      assert.is_nil(none)
      assert.are.equal("x", rayl.get(one, { timeout = 10 }))
    end)
  end)

  describe("errors", function()
    it("a method that raises gives a TaskError with the message, and the actor lives on", function()
      local c = Counter:remote(1)
      local err = h.expect_error("TaskError", rayl.get, c.fail:remote("the sky fell"), { timeout = 10 })
      assert.truthy(tostring(err.message):find("the sky fell", 1, true), err.message)
      -- state changed before the raise stays (as in Ray), and the next call works
      assert.are.equal(1002, rayl.get(c.incr:remote(), { timeout = 10 }))
    end)

    it("a call cancelled while it waits for its argument fails with TaskCancelledError; later calls run", function()
      local c = Counter:remote(0)
      assert.are.equal(0, rayl.get(c.value:remote(), { timeout = 10 }))
      local slow = rayl.remote(function() os.execute("sleep 0.5"); return 5 end)
      local waiting = c.incr:remote(slow:remote()) -- first in the actor's queue, until its argument is ready
      local after = c.incr:remote(1)
      rayl.cancel(waiting)
      h.expect_error("TaskCancelledError", rayl.get, waiting, { timeout = 5 })
      assert.are.equal(1, rayl.get(after, { timeout = 10 }))
      assert.are.equal(2, rayl.get(c.incr:remote(1), { timeout = 10 }))
    end)

    it("calling a method that does not exist raises ValueError at once, naming class and method", function()
      local c = Counter:remote()
      local err = h.expect_error("ValueError", function() return c.no_such_method:remote() end)
      assert.truthy(err.message:find("Counter", 1, true), err.message)
      assert.truthy(err.message:find("no_such_method", 1, true), err.message)
      assert.are.equal(1, rayl.get(c.incr:remote(), { timeout = 10 }))
    end)

    it("calling h.m() directly raises ValueError", function()
      local c = Counter:remote()
      local err = h.expect_error("ValueError", function() return c.incr() end)
      assert.truthy(err.message:find(":remote", 1, true), err.message)
      h.expect_error("ValueError", function() return c.incr(c, 1) end)
    end)

    it("an __init that raises makes every call fail with ActorDiedError carrying the init error", function()
      local Broken = rayl.remote({
        __name = "Broken",
        __init = function(self) error("no config file at /nowhere") end,
        ping = function(self) return "pong" end,
      })
      local b = Broken:remote()
      for _ = 1, 3 do
        local err = h.expect_error("ActorDiedError", rayl.get, b.ping:remote(), { timeout = 10 })
        assert.truthy(err.message:find("no config file at /nowhere", 1, true), err.message)
      end
    end)
  end)

  describe("named actors", function()
    it("get_actor returns a handle to the same actor", function()
      local c = Counter:options({ name = "ctr", namespace = "ns" }):remote(0)
      assert.are.equal(1, rayl.get(c.incr:remote(), { timeout = 10 }))
      local same = rayl.get_actor("ctr", { namespace = "ns" })
      assert.are.equal(rayl.ActorHandle, getmetatable(same))
      assert.are.equal(2, rayl.get(same.incr:remote(), { timeout = 10 }))
      assert.are.equal(2, rayl.get(c.value:remote(), { timeout = 10 }))
      -- a name lives in its namespace only
      h.expect_error("ValueError", rayl.get_actor, "ctr", { namespace = "other_ns" })
      rayl.kill(c)
    end)

    it("get_actor of an unknown name raises ValueError", function()
      local err = h.expect_error("ValueError", rayl.get_actor, "nobody_by_this_name", { namespace = "ns" })
      assert.truthy(err.message:find("nobody_by_this_name", 1, true), err.message)
    end)

    it("a second actor with the same name raises ValueError; get_if_exists returns the first", function()
      local named = Counter:options({ name = "dup", namespace = "ns" })
      local first = named:remote(50)
      h.expect_error("ValueError", function() return named:remote(0) end)
      local again = Counter:options({ name = "dup", namespace = "ns", get_if_exists = true }):remote(0)
      assert.are.equal(51, rayl.get(again.incr:remote(), { timeout = 10 }))
      assert.are.equal(51, rayl.get(first.value:remote(), { timeout = 10 }))
      rayl.kill(first)
    end)

    it("rayl.kill frees the name", function()
      local named = Counter:options({ name = "freed", namespace = "ns" })
      local first = named:remote(10)
      assert.are.equal(11, rayl.get(first.incr:remote(), { timeout = 10 }))
      rayl.kill(first)
      h.expect_error("ValueError", rayl.get_actor, "freed", { namespace = "ns" })
      local second = named:remote(500)
      assert.are.equal(501, rayl.get(second.incr:remote(), { timeout = 10 }))
      local looked_up = rayl.get_actor("freed", { namespace = "ns" })
      assert.are.equal(502, rayl.get(looked_up.incr:remote(), { timeout = 10 }))
      rayl.kill(second)
    end)
  end)

  describe("rayl.kill", function()
    it("makes calls fail fast with ActorDiedError, including one in flight", function()
      local Busy = rayl.remote({
        ping = function(self) return "pong" end,
        grind = function(self) spin(30); return "finished" end,
      })
      local b = Busy:remote()
      assert.are.equal("pong", rayl.get(b.ping:remote(), { timeout = 10 }))
      local in_flight = b.grind:remote()
      local queued = b.ping:remote()
      os.execute("sleep 0.2")
      rayl.kill(b)
      ah.timed_error("ActorDiedError", in_flight, 2)
      ah.timed_error("ActorDiedError", queued, 2)
      ah.timed_error("ActorDiedError", b.ping:remote(), 2)
    end)

    it("with no_restart = false restarts an actor that has max_restarts = 1 (__init runs again)", function()
      local c = Counter:options({ max_restarts = 1 }):remote(0)
      assert.are.equal(3, rayl.get(c.incr:remote(3), { timeout = 10 }))
      local old_pid = rayl.get(c.pid:remote(), { timeout = 10 })
      rayl.kill(c, { no_restart = false })
      assert.are_not.equal(old_pid, ah.wait_restarted(c, old_pid, 5))
      assert.are.equal(1, rayl.get(c.incr:remote(), { timeout = 10 })) -- __init reset the count
      assert.are.equal(2, rayl.get(c.incr:remote(), { timeout = 10 }))
    end)
  end)

  describe("rayl.exit_actor", function()
    it("inside a method fails that call and later ones with ActorDiedError", function()
      local Quitter = rayl.remote({
        ping = function(self) return "pong" end,
        quit = function(self) rayl.exit_actor(); return "still here" end,
      })
      local q = Quitter:remote()
      assert.are.equal("pong", rayl.get(q.ping:remote(), { timeout = 10 }))
      ah.timed_error("ActorDiedError", q.quit:remote(), 5)
      ah.timed_error("ActorDiedError", q.ping:remote(), 2)
    end)

    it("in the driver raises ValueError", function()
      h.expect_error("ValueError", rayl.exit_actor)
    end)
  end)
  describe("scheduling", function()
    it("a task asking for the same resources as an actor runs on a task worker, not the actor", function()
      local Zero = rayl.remote({ num_cpus = 0 }, {
        pid = function() return require("rayl").get_runtime_context().pid end,
      })
      local z = Zero:remote()
      local actor_pid = rayl.get(z.pid:remote())
      local task = rayl.remote({ num_cpus = 0 }, function() return require("rayl").get_runtime_context().pid end)
      for _ = 1, 5 do assert.are_not.equal(actor_pid, rayl.get(task:remote())) end
      rayl.kill(z)
    end)
  end)
  describe("concurrency", function()
    -- Calls that wait yield to the actor's other calls; `peak` counts how many ran at once.
    local function tracker(opts, class_extra)
      local class = {
        __init = function(self) self.active, self.peak = 0, 0 end,
        wait = function(self, seconds)
          local core = require "rayl.core"
          self.active = self.active + 1
          self.peak = math.max(self.peak, self.active)
          local slow = require("rayl").remote({ num_cpus = 0 }, function(s)
            local c = require "rayl.core"
            local t = c.now()
            while c.now() - t < s do end
            return true
          end)
          require("rayl").get(slow:remote(seconds))
          self.active = self.active - 1
          return core.now()
        end,
        get_peak = function(self) return self.peak end,
      }
      for k, v in pairs(class_extra or {}) do class[k] = v end
      return rayl.remote(opts, class):remote()
    end

    it("max_concurrency = 4 runs four waiting calls at once", function()
      local a = tracker { num_cpus = 0, max_concurrency = 4 }
      local refs = {}
      for i = 1, 4 do refs[i] = a.wait:remote(0.3) end
      rayl.get(refs)
      assert.are.equal(4, rayl.get(a.get_peak:remote()))
    end)

    it("a one-at-a-time actor never overlaps calls", function()
      local a = tracker { num_cpus = 0 }
      local refs = {}
      for i = 1, 3 do refs[i] = a.wait:remote(0.05) end
      rayl.get(refs)
      assert.are.equal(1, rayl.get(a.get_peak:remote()))
    end)

    it("a concurrency group limits its methods", function()
      local a = tracker({ num_cpus = 0, concurrency_groups = { io = 2 } },
        { __options = { wait = { concurrency_group = "io" } } })
      local refs = {}
      for i = 1, 5 do refs[i] = a.wait:remote(0.2) end
      rayl.get(refs)
      assert.are.equal(2, rayl.get(a.get_peak:remote()))
    end)

    it("a method in an undefined concurrency group raises ValueError", function()
      local C = rayl.remote({ num_cpus = 0 }, { __options = { f = { concurrency_group = "io" } }, f = function() end })
      local ok, err = pcall(C.remote, C)
      assert.is_false(ok)
      assert.are.equal("ValueError", err.type)
      assert.truthy(err.message:find("io", 1, true))
    end)
  end)
end)
