-- spec/core_objects_spec.lua: put/get of every kind of value, wait, timeouts, cancel and polling.
local rayl = require "rayl"
local core = require "rayl.core"
local h = require "spec.helpers"

-- A task that spins for `s` seconds (CPU time) and returns v.
local slow = rayl.remote({ max_retries = 0 }, function(s, v)
  local t = os.clock() + s
  while os.clock() < t do end
  return v
end)

describe("objects", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("put/get of nil and booleans", function()
    assert.is_nil(rayl.get(rayl.put(nil)))
    assert.are.equal(true, rayl.get(rayl.put(true)))
    assert.are.equal(false, rayl.get(rayl.put(false)))
  end)

  it("put/get of numbers keeps integral values integral and floats exact", function()
    assert.are.equal(3, rayl.get(rayl.put(3)))
    assert.are.equal("3", tostring(rayl.get(rayl.put(3))))
    assert.are.equal(2 ^ 53, rayl.get(rayl.put(2 ^ 53)))
    assert.are.equal(-(2 ^ 53), rayl.get(rayl.put(-(2 ^ 53))))
    assert.are.equal(0, rayl.get(rayl.put(0)))
    assert.are.equal(-7, rayl.get(rayl.put(-7)))
    assert.are.equal(0.1, rayl.get(rayl.put(0.1)))
    assert.are.equal(1e308, rayl.get(rayl.put(1e308)))
    assert.are.equal(math.huge, rayl.get(rayl.put(math.huge)))
    assert.are.equal(-math.huge, rayl.get(rayl.put(-math.huge)))
    local nan = rayl.get(rayl.put(0 / 0))
    assert.is_true(nan ~= nan)
  end)

  it("put/get of strings keeps every byte, including \\0", function()
    local s = "a\0b\0\0c\255\1"
    assert.are.equal(s, rayl.get(rayl.put(s)))
    assert.are.equal("", rayl.get(rayl.put("")))
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    assert.are.equal(all, rayl.get(rayl.put(all)))
  end)

  it("put/get of nested tables with array and hash parts", function()
    local v = { 1, 2, 3, x = { y = { z = "deep" } }, [10] = "sparse", [true] = "bool key", [1.5] = "float key",
                list = { { 1 }, { 2, { 3 } } } }
    assert.are.same(v, rayl.get(rayl.put(v)))
  end)

  it("preserves shared sub-tables and cycles", function()
    local shared = { n = 1 }
    local v = { a = shared, b = shared, list = { shared } }
    local got = rayl.get(rayl.put(v))
    assert.are.equal(got.a, got.b)
    assert.are.equal(got.a, got.list[1])
    assert.are.equal(1, got.a.n)
    local cyc = { name = "c" }
    cyc.self = cyc
    cyc.child = { parent = cyc }
    local gc = rayl.get(rayl.put(cyc))
    assert.are.equal(gc, gc.self)
    assert.are.equal(gc, gc.child.parent)
    assert.are.equal("c", gc.self.name)
  end)

  it("shared sub-tables are preserved through task arguments and returns", function()
    local check = rayl.remote(function(v)
      local t = { v.a == v.b }
      local out = { x = t, y = t }
      return out
    end)
    local shared = {}
    local got = rayl.get(check:remote({ a = shared, b = shared }))
    assert.are.equal(got.x, got.y)
    assert.is_true(got.x[1])
  end)

  it("get of a list keeps the order", function()
    local refs = {}
    for i = 1, 10 do
      -- later refs finish first
      refs[i] = i % 2 == 0 and slow:remote((10 - i) * 0.01, i) or rayl.put(i)
    end
    assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, rayl.get(refs))
    assert.are.same({}, rayl.get({}))
  end)

  it("get with a timeout raises GetTimeoutError and the ref stays usable", function()
    local ref = slow:remote(0.6, "late")
    local t0 = h.now()
    local err = h.expect_error("GetTimeoutError", rayl.get, ref, { timeout = 0.2 })
    local waited = h.now() - t0
    assert.is_true(waited >= 0.19 and waited < 0.5, "waited " .. waited .. " s")
    assert.truthy(tostring(err):find("GetTimeoutError", 1, true))
    h.expect_error("GetTimeoutError", rayl.get, { ref }, { timeout = 0 })
    assert.are.equal("late", rayl.get(ref))
    assert.are.equal("late", rayl.get(ref, { timeout = 0 }))
  end)

  it("bad get arguments raise ValueError", function()
    h.expect_error("ValueError", rayl.get, 42)
    h.expect_error("ValueError", rayl.get, { rayl.put(1), "not a ref" })
    h.expect_error("ValueError", rayl.get, rayl.put(1), { timeout = -1 })
    h.expect_error("ValueError", rayl.get, rayl.put(1), { timeout = "1" })
    h.expect_error("ValueError", rayl.get, rayl.put(1), { wait = 1 })
    h.expect_error("ValueError", rayl.put, rayl.put(1))
  end)

  it("wait returns ready and pending lists of the right sizes", function()
    local fast1, fast2 = rayl.put("a"), rayl.put("b")
    local s1, s2 = slow:remote(0.5, 1), slow:remote(0.5, 2)
    local refs = { s1, fast1, s2, fast2 }
    local ready, pending = rayl.wait(refs, { num_returns = 1 })
    assert.are.equal(1, #ready)
    assert.are.equal(3, #pending)
    ready, pending = rayl.wait(refs, { num_returns = 2 })
    assert.are.equal(2, #ready)
    assert.are.equal(2, #pending)
    assert.are.same({ "a", "b" }, rayl.get(ready))
    local t0 = h.now()
    ready, pending = rayl.wait(refs, { num_returns = 4, timeout = 0.1 })
    assert.is_true(h.now() - t0 < 0.4)
    assert.are.equal(2, #ready)
    assert.are.equal(2, #pending)
    assert.are.same({ 1, 2 }, rayl.get(pending))
    ready, pending = rayl.wait(refs, { num_returns = 4 })
    assert.are.equal(4, #ready)
    assert.are.equal(0, #pending)
  end)

  it("wait with num_returns > #refs raises ValueError", function()
    local refs = { rayl.put(1), rayl.put(2) }
    h.expect_error("ValueError", rayl.wait, refs, { num_returns = 3 })
    h.expect_error("ValueError", rayl.wait, refs, { num_returns = 0 })
    h.expect_error("ValueError", rayl.wait, refs, { nm_returns = 1 })
    h.expect_error("ValueError", rayl.wait, "refs")
    h.expect_error("ValueError", rayl.wait, { 1, 2 })
  end)

  it("wait with a negative timeout raises ValueError, as get does", function()
    h.expect_error("ValueError", rayl.get, rayl.put(1), { timeout = -1 })
    h.expect_error("ValueError", rayl.wait, { rayl.put(1) }, { num_returns = 1, timeout = -1 })
  end)

  it("wait with a repeated ref raises ValueError, as in Ray", function()
    local r = rayl.put(1)
    h.expect_error("ValueError", rayl.wait, { r, r }, { num_returns = 1 })
  end)

  it("wait on an empty list returns two empty lists, as in Ray", function()
    local ready, pending = rayl.wait({})
    assert.are.same({}, ready)
    assert.are.same({}, pending)
  end)

  it("a 5 MB string survives put/get and task arguments and returns", function()
    local parts = {}
    for i = 1, 5 * 1024 do parts[i] = string.char(i % 251) .. string.rep("x", 1022) .. string.char(i % 256) end
    local big = table.concat(parts)
    assert.are.equal(5 * 1024 * 1024, #big)
    assert.is_true(big == rayl.get(rayl.put(big)))
    local echo = rayl.remote(function(s) return s, #s end)
    local two = rayl.remote({ num_returns = 2 }, function(s) return s:reverse(), #s end)
    local rev, len = two:remote(big)
    assert.are.equal(#big, rayl.get(len))
    assert.is_true(big:reverse() == rayl.get(rev))
    assert.is_true(big == rayl.get(echo:remote(rayl.put(big))))
  end)

  it("a 1e6-element float64 array survives put/get and task arguments and returns", function()
    local a = rayl.array("float64", 1e6)
    for i = 1, #a do a[i] = i * 0.5 end
    local b = rayl.get(rayl.put(a))
    assert.are.equal("float64", b.dtype)
    assert.are.equal(1e6, #b)
    assert.are.equal(0.5, b[1])
    assert.are.equal(250000, b[500000])
    assert.are.equal(500000, b[1e6])
    local sum_and_double = rayl.remote({ num_returns = 2 }, function(x)
      local s = 0
      local out = rayl.array(x.dtype, #x)
      for i = 1, #x do
        s = s + x[i]
        out[i] = x[i] * 2
      end
      return s, out
    end)
    local s, doubled = sum_and_double:remote(a)
    assert.are.equal(0.5 * 1e6 * (1e6 + 1) / 2, rayl.get(s))
    local d = rayl.get(doubled)
    assert.are.equal("float64", d.dtype)
    assert.are.equal(1e6, #d)
    assert.are.equal(1, d[1])
    assert.are.equal(1e6, d[1e6])
  end)

  it("20,000 put/get round trips do not pile up objects", function()
    collectgarbage()
    collectgarbage()
    local before = core.object_count()
    for i = 1, 20000 do
      local v = rayl.get(rayl.put(i))
      if v ~= i then error(("round trip %d gave %s"):format(i, tostring(v))) end
    end
    collectgarbage()
    collectgarbage()
    local after = core.object_count()
    assert.is_true(after - before < 100, ("object count grew from %d to %d"):format(before, after))
  end)

  it("ref:ready() is false while the task runs and true after", function()
    local ref = slow:remote(0.3, "r")
    assert.is_false(ref:ready())
    assert.is_true(h.wait_until(function() return ref:ready() end, 5))
    assert.are.equal("r", rayl.get(ref, { timeout = 0 }))
    assert.is_true(rayl.put(1):ready())
  end)

  it("ref:on_ready(cb) is called from rayl.poll() with the value", function()
    local ref = slow:remote(0.2, "polled")
    local calls = {}
    ref:on_ready(function(v, e) calls[#calls + 1] = { v = v, e = e } end)
    rayl.poll()
    assert.are.equal(0, #calls)
    assert.is_true(h.wait_until(function() return #calls > 0 end, 5))
    assert.are.equal(1, #calls)
    assert.are.equal("polled", calls[1].v)
    assert.is_nil(calls[1].e)
    rayl.poll()
    assert.are.equal(1, #calls)
  end)

  it("ref:on_ready(cb) gets (nil, err) for a failed task", function()
    local bad = rayl.remote({ max_retries = 0 }, function() error("poll me") end)
    local got
    bad:remote():on_ready(function(v, e) got = { v = v, e = e } end)
    assert.is_true(h.wait_until(function() return got ~= nil end, 5))
    assert.is_nil(got.v)
    assert.is_true(rayl.errors.is(got.e, "TaskError"))
    assert.truthy(got.e.message:find("poll me", 1, true))
    h.expect_error("ValueError", function() return rayl.put(1):on_ready("not a function") end)
  end)

  it("cancel on a queued task makes get raise TaskCancelledError", function()
    local blockers = { slow:remote(0.5, 1), slow:remote(0.5, 2) }
    local queued = slow:remote(0, "never")
    rayl.cancel(queued)
    h.expect_error("TaskCancelledError", rayl.get, queued, { timeout = 5 })
    assert.are.same({ 1, 2 }, rayl.get(blockers))
    h.expect_error("ValueError", rayl.cancel, "not a ref")
  end)

  -- A parent that notes "started", waits in rayl.get on a child that sleeps `secs` and
  -- then notes "child done", and notes "after get" if its wait returns normally.
  local function parent_and_child(dir, secs)
    local child = rayl.remote({ max_retries = 0 }, function(d, t)
      os.execute("sleep " .. t)
      require("spec.helpers").bump(d .. "/child")
      return true
    end)
    return rayl.remote({ max_retries = 0 }, function(d, t)
      local h2 = require "spec.helpers"
      h2.bump(d .. "/started")
      rayl.get(child:remote(d, t))
      h2.bump(d .. "/after")
      return true
    end)
  end

  local function counters()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir) == 0)
    for _, name in ipairs { "started", "child", "after" } do
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write("0")
      f:close()
    end
    return dir, function(name) return h.read_counter(dir .. "/" .. name) end
  end

  it("cancel stops a running task at its next wait in rayl (TaskCancelledError there)", function()
    local dir, count = counters()
    local parent = parent_and_child(dir, 1)
    local ref = parent:remote(dir, 1)
    assert.is_true(h.wait_until(function() return count("started") == 1 end, 10))
    rayl.cancel(ref)
    h.expect_error("TaskCancelledError", rayl.get, ref, { timeout = 5 })
    os.execute("sleep 1.5")
    -- Its wait raised, so it never went on past it (without the cancel it would have).
    assert.are.equal(0, count("after"))
  end)

  it("cancel is recursive by default: the task's children that have not run yet never run", function()
    -- The parent submits a sleeper and a child that takes the sleeper's result, so the
    -- child is still waiting for its argument when the parent is cancelled.
    local sleeper = rayl.remote({ max_retries = 0 }, function(t) os.execute("sleep " .. t); return t end)
    local child = rayl.remote({ max_retries = 0 }, function(d)
      require("spec.helpers").bump(d .. "/child")
      return true
    end)
    local parent = rayl.remote({ max_retries = 0 }, function(d)
      require("spec.helpers").bump(d .. "/started")
      return rayl.get(child:remote(d, sleeper:remote(1)))
    end)
    for _, recursive in ipairs { false, true } do
      local dir, count = counters()
      local ref = parent:remote(dir)
      assert.is_true(h.wait_until(function() return count("started") == 1 end, 10))
      rayl.cancel(ref, { recursive = recursive })
      h.expect_error("TaskCancelledError", rayl.get, ref, { timeout = 5 })
      if recursive then
        os.execute("sleep 2.5") -- the sleeper is done by now, and nothing ran the child
        assert.are.equal(0, count("child"))
      else
        assert.is_true(h.wait_until(function() return count("child") == 1 end, 10))
      end
    end
  end)

  it("cancelling the first call of a new remote function does not break its later calls", function()
    -- both workers are started and idle, so the first call is pushed to one at once
    local warm = rayl.remote(function(x) return x end)
    assert.are.same({ 1, 2 }, rayl.get({ warm:remote(1), warm:remote(2) }))
    local fresh = rayl.remote({ max_retries = 0 }, function(x)
      local t = os.clock() + 0.3
      while os.clock() < t do end
      return x * 2
    end)
    local first = fresh:remote(1)
    rayl.cancel(first)
    h.expect_error("TaskCancelledError", rayl.get, first, { timeout = 5 })
    assert.are.same({ 4, 6, 8 }, rayl.get({ fresh:remote(2), fresh:remote(3), fresh:remote(4) }, { timeout = 10 }))
  end)

  it("rayl.array round trips dtype, length and values", function()
    for _, case in ipairs {
      { "float32", { 1.5, -2.25, 0 } }, { "float64", { 0.1, 1e300, -3 } }, { "int32", { -2147483648, 7, 2147483647 } },
      { "int64", { -(2 ^ 53), 0, 2 ^ 53 } }, { "uint8", { 0, 128, 255 } },
    } do
      local a = rayl.array(case[1], case[2])
      local b = rayl.get(rayl.put(a))
      assert.are.equal(case[1], b.dtype)
      assert.are.equal(3, #b)
      assert.are.same(case[2], b:totable())
    end
    local empty = rayl.get(rayl.put(rayl.array("int32", 0)))
    assert.are.equal(0, #empty)
    local nested = rayl.get(rayl.put({ arr = rayl.array("uint8", { 1, 2 }) }))
    assert.are.same({ 1, 2 }, nested.arr:totable())
  end)
end)
