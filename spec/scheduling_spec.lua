-- spec/scheduling_spec.lua: no head-of-line blocking: a task never waits behind a long one while another worker could run it.
local rayl = require "rayl"
local h = require "spec.helpers"

-- A function of its own for each name (its upvalue is part of it): a scheduling class
-- whose run time the driver has not learned yet.
local function sleeper(name)
  return rayl.remote(function(s)
    local _ = name
    os.execute("sleep " .. s)
    return s
  end)
end

-- Waits until the driver has given back the workers of earlier tests: both CPUs free.
local function cpus_free()
  assert(h.wait_until(function() return (rayl.available_resources().CPU or 0) >= 2 end, 5), "the CPUs stay busy")
end

describe("scheduling", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
    -- Two workers started, so that the timings below do not include starting them.
    local warm = sleeper("warm")
    rayl.get { warm:remote(0.3), warm:remote(0.3) }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("rayl.wait{slow(1.0), slow(0.01)} with num_returns = 1 returns the short task well before 1 s", function()
    local slow = sleeper("wait")
    cpus_free()
    local t0 = h.now()
    local long, short = slow:remote(1.0), slow:remote(0.01)
    local ready, pending = rayl.wait({ long, short }, { num_returns = 1 })
    local took = h.now() - t0
    assert.are.equal(1, #ready)
    assert.are.equal(1, #pending)
    assert.are.equal(0.01, rayl.get(ready[1]))
    assert.is_true(took < 0.5, ("the short task came back after %.2f s"):format(took))
    assert.are.equal(1.0, rayl.get(long))
  end)

  it("two 0.3 s tasks on 2 free CPUs run side by side", function()
    -- Each task says when it ran (the monotonic clock is the machine's, shared by all
    -- processes): side by side, each starts before the other ends.
    local pair = rayl.remote(function()
      local core = require "rayl.core"
      local start = core.now()
      os.execute("sleep 0.3")
      return { start, core.now() }
    end)
    cpus_free()
    local t0 = h.now()
    local a, b = unpack(rayl.get { pair:remote(), pair:remote() })
    local took = h.now() - t0
    assert.is_true(a[1] < b[2] and b[1] < a[2],
      ("they ran one after the other: %.3f-%.3f and %.3f-%.3f"):format(a[1] - t0, a[2] - t0, b[1] - t0, b[2] - t0))
    -- One after the other takes 0.6 s at least; side by side about 0.3 s (0.45 s on a
    -- quiet machine; the margin is for a loaded one under the sanitizers).
    assert.is_true(took < 0.55, ("two 0.3 s tasks took %.2f s"):format(took))
  end)

  it("1 long task + 50 short ones on 2 CPUs: the short ones all finish while the long one runs", function()
    local slow = sleeper("long")
    cpus_free()
    local t0 = h.now()
    local long = slow:remote(3)
    local shorts = {}
    for i = 1, 50 do shorts[i] = slow:remote(0.01) end
    local values = rayl.get(shorts)
    local took = h.now() - t0
    assert.are.equal(50, #values)
    local ready = rayl.wait({ long }, { num_returns = 1, timeout = 0 })
    assert.are.equal(0, #ready, "the long task had finished: the short ones waited for it")
    assert.is_true(took < 2.5, ("the short tasks took %.2f s"):format(took))
    assert.are.equal(3, rayl.get(long))
  end)

  it("tasks pipelined behind a task that turns out long are taken back by an idle worker", function()
    -- A class learned short is pipelined several deep on each of its two workers; then
    -- one of its tasks runs 2 s (waiting in rayl, so its worker answers meanwhile) with
    -- short ones pushed behind it. The other worker, once idle, steals them.
    local hold = rayl.remote({ num_cpus = 0 }, function() os.execute("sleep 4") end)
    local f = rayl.remote(function(s, box)
      local r = require "rayl"
      if box then
        r.wait(box, { num_returns = 1, timeout = s })
      else
        local t = os.clock() + s
        while os.clock() < t do end
      end
      return s
    end)
    local blocker = hold:remote() -- first: its worker is leased before f's are
    cpus_free()
    local warm = {}
    for i = 1, 200 do warm[i] = f:remote(0.001) end
    rayl.get(warm)
    local t0 = h.now()
    local long = f:remote(2, { blocker })
    local shorts = {}
    for i = 1, 40 do shorts[i] = f:remote(0.001) end
    rayl.get(shorts)
    local took = h.now() - t0
    local ready = rayl.wait({ long }, { num_returns = 1, timeout = 0 })
    assert.are.equal(0, #ready, "the long task had finished: short ones waited behind it")
    assert.is_true(took < 1.5, ("the short tasks took %.2f s"):format(took))
    assert.are.equal(2, rayl.get(long))
    rayl.cancel(blocker, { force = true })
  end)
end)
