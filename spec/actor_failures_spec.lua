-- spec/actor_failures_spec.lua: actors whose worker process dies (kill -9): restarts,
-- retried calls, many pending calls, and no actor process left after shutdown.
local rayl = require "rayl"
local h = require "spec.helpers"
local ah = require "spec.actor_helpers"

local bump = h.bump

-- Counts its own __init runs in a file, remembers its pid, counts calls.
local Victim = rayl.remote({
  __name = "Victim",
  __init = function(self, path)
    self.path, self.n = path, 0
    if path then self.inits = bump(path) end
  end,
  pid = function(self) return require("rayl").get_runtime_context().pid end,
  inits_seen = function(self) return self.inits end,
  incr = function(self) self.n = self.n + 1; return self.n end,
  -- Marks the attempt in the file, then stays busy for `seconds`; returns the attempt.
  slow = function(self, marker, seconds)
    local attempt = bump(marker)
    local t = os.clock() + seconds
    while os.clock() < t do end
    return "done on attempt " .. attempt
  end,
})

-- The pid of the actor's worker, asked from the actor itself.
local function pid_of(actor)
  local pid = rayl.get(actor.pid:remote(), { timeout = 20 })
  assert.are.equal("number", type(pid))
  assert.are_not.equal(rayl.get_runtime_context().pid, pid)
  return pid
end

-- Waits until the file's counter reaches n (a call has started). The actor rewrites the
-- file, so a read may catch it empty: that counts as not yet.
local function wait_counter(path, n)
  assert.is_true(h.wait_until(function()
    local f = io.open(path)
    local count = f and tonumber(f:read("*a"))
    if f then f:close() end
    return (count or 0) >= n
  end, 10), "the call never started")
end

local RAYL = os.getenv("RAYL_BIN") or "./build/bin/rayl"

-- Runs `rayl script` with the code and returns its stdout.
local function run_script(code)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local p = assert(io.popen(RAYL .. " " .. script .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  os.remove(script)
  return out
end

describe("actor failures", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("an actor with max_restarts = 1 comes back after kill -9 with __init run again", function()
    local inits = h.counter_file()
    local v = Victim:options({ max_restarts = 1 }):remote(inits)
    assert.are.same({ 1, 2 }, rayl.get({ v.incr:remote(), v.incr:remote() }, { timeout = 20 }))
    local pid = pid_of(v)
    ah.kill9(pid)
    assert.are_not.equal(pid, ah.wait_restarted(v, pid, 5))
    assert.are.equal(1, rayl.get(v.incr:remote(), { timeout = 10 })) -- state starts over
    assert.are.equal(2, rayl.get(v.inits_seen:remote(), { timeout = 10 }))
    assert.are.equal(2, h.read_counter(inits))
    os.remove(inits)
  end)

  it("an actor with max_restarts = 0 fails its calls with ActorDiedError naming the signal", function()
    local v = Victim:options({ max_restarts = 0 }):remote()
    assert.are.equal(1, rayl.get(v.incr:remote(), { timeout = 20 }))
    ah.kill9(pid_of(v))
    for _ = 1, 2 do
      local err = ah.timed_error("ActorDiedError", v.incr:remote(), 5)
      assert.truthy(err.message:find("SIGKILL", 1, true) or err.message:find("signal 9", 1, true), err.message)
    end
  end)

  it("a restarted actor dies for good once max_restarts is used up", function()
    local v = Victim:options({ max_restarts = 1 }):remote()
    local first = pid_of(v)
    ah.kill9(first)
    ah.kill9(ah.wait_restarted(v, first, 5))
    for _ = 1, 2 do
      local err = ah.timed_error("ActorDiedError", v.incr:remote(), 5)
      assert.truthy(err.message:find("signal 9", 1, true) or err.message:find("SIGKILL", 1, true), err.message)
    end
  end)

  it("max_task_retries = 1 retries a call that was in flight when the worker died", function()
    local marker = h.counter_file()
    local v = Victim:options({ max_restarts = 1, max_task_retries = 1 }):remote()
    local pid = pid_of(v)
    local ref = v.slow:remote(marker, 0.5)
    wait_counter(marker, 1)
    ah.kill9(pid)
    assert.are.equal("done on attempt 2", rayl.get(ref, { timeout = 20 }))
    assert.are_not.equal(pid, pid_of(v))
    os.remove(marker)
  end)

  it("without max_task_retries a call in flight when the worker died fails with ActorDiedError", function()
    local marker = h.counter_file()
    local v = Victim:options({ max_restarts = 1 }):remote()
    local pid = pid_of(v)
    local ref = v.slow:remote(marker, 0.5)
    wait_counter(marker, 1)
    ah.kill9(pid)
    ah.timed_error("ActorDiedError", ref, 5)
    assert.are_not.equal(pid, ah.wait_restarted(v, pid, 5))
    assert.are.equal(1, rayl.get(v.incr:remote(), { timeout = 10 })) -- restarted, count reset
    os.remove(marker)
  end)

  -- Submits a slow call then 999 more, kills the worker during the slow one, and
  -- collects every result with its own pcall. Returns the values and errors.
  local function thousand_then_crash(opts)
    local marker = h.counter_file()
    local v = Victim:options(opts):remote()
    local pid = pid_of(v)
    local refs = { v.slow:remote(marker, 0.5) }
    for i = 2, 1000 do refs[i] = v.incr:remote() end
    wait_counter(marker, 1)
    ah.kill9(pid)
    local t0 = h.now()
    local values, errs, resolved = {}, {}, 0
    for i = 1, 1000 do
      local ok, res = pcall(rayl.get, refs[i], { timeout = 15 })
      if ok then
        values[i] = res
        resolved = resolved + 1
      else
        assert(not rayl.errors.is(res, "GetTimeoutError"), ("call %d hung"):format(i))
        assert(rayl.errors.is(res, "ActorDiedError"), ("call %d: %s"):format(i, tostring(res)))
        errs[i] = res
        resolved = resolved + 1
      end
    end
    local took = h.now() - t0
    assert.are.equal(1000, resolved)
    assert.is_true(took < 15, ("collecting the 1000 results took %.1f s"):format(took))
    os.remove(marker)
    return values, errs
  end

  it("1000 pending calls to an actor that crashes all fail with ActorDiedError (max_restarts = 0)", function()
    local values, errs = thousand_then_crash({ max_restarts = 0 })
    assert.is_nil(next(values), "some calls succeeded on a dead actor")
    assert.is_not_nil(errs[1000])
  end)

  it("1000 pending calls to an actor that crashes and restarts all resolve, in order", function()
    local values, errs = thousand_then_crash({ max_restarts = 1, max_task_retries = 1 })
    local i, err = next(errs)
    assert(i == nil, ("call %s failed although it could be retried: %s"):format(tostring(i), tostring(err)))
    assert.are.equal("done on attempt 2", values[1])
    for i = 2, 1000 do
      if values[i] ~= i - 1 then error(("call %d returned %s"):format(i, tostring(values[i]))) end
    end
  end)

  it("an actor's worker process is gone after the driver's rayl.shutdown()", function()
    local out = run_script([[
      local rayl = require "rayl"
      rayl.init { num_cpus = 1 }
      local A = rayl.remote({ pid = function(self) return require("rayl").get_runtime_context().pid end })
      local a = A:remote()
      print("actor pid " .. rayl.get(a.pid:remote(), { timeout = 20 }))
      rayl.shutdown()
    ]])
    local pid = tonumber(out:match("actor pid (%d+)"))
    assert.is_not_nil(pid, "the script did not print a pid: " .. out)
    assert.is_true(h.wait_until(function() return not ah.alive(pid) end, 3),
      "the actor's worker " .. pid .. " is still running after shutdown")
  end)

  it("an actor's worker process is gone after a script ends without calling shutdown", function()
    local out = run_script([[
      local rayl = require "rayl"
      local A = rayl.remote({ pid = function(self) return require("rayl").get_runtime_context().pid end })
      local a = A:remote()
      print("actor pid " .. rayl.get(a.pid:remote(), { timeout = 20 }))
    ]])
    local pid = tonumber(out:match("actor pid (%d+)"))
    assert.is_not_nil(pid, "the script did not print a pid: " .. out)
    assert.is_true(h.wait_until(function() return not ah.alive(pid) end, 3),
      "the actor's worker " .. pid .. " is still running after the script ended")
  end)
end)
