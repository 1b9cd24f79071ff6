-- spec/batching_spec.lua: calls and results sent back to back travel together, yet none
-- waits on the ones queued with it, and an idle worker gives back its memory.
local rayl = require "rayl"
local core = require "rayl.core"

-- Spins for s seconds in Lua, calling nothing of rayl's.
local function spin(s)
  local t0, x = core.now(), 0
  while core.now() - t0 < s do
    for i = 1, 10000 do x = (x + i) % 1000003 end
  end
  return x
end

local Log = rayl.remote({ num_cpus = 0 }, {
  __init = function(self) self.log = {} end,
  add = function(self, i) self.log[#self.log + 1] = i; return #self.log end,
  seen = function(self) return self.log end,
  -- The time the call started, then s seconds busy.
  busy = function(_, s)
    local c = require "rayl.core"
    local t = c.now()
    while c.now() - t < s do end
    return t
  end,
  now = function() return require("rayl.core").now() end,
})

local function rss_kb(pid)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return nil end
  local kb = f:read("*a"):match("VmRSS:%s+(%d+)")
  f:close()
  return tonumber(kb)
end

describe("batched calls and results", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("20,000 calls made back to back all run, once each, in the order they were made", function()
    local a = Log:remote()
    local refs = {}
    for i = 1, 20000 do refs[i] = a.add:remote(i) end
    local counts = rayl.get(refs, { timeout = 60 })
    for i = 1, 20000 do assert.equal(i, counts[i]) end
    local seen = rayl.get(a.seen:remote())
    assert.equal(20000, #seen)
    for i = 1, 20000 do assert.equal(i, seen[i]) end
  end)

  it("a call's result does not wait for the long call queued behind it on the actor", function()
    local a = Log:remote()
    rayl.get(a.now:remote())
    local t0 = core.now()
    local short = a.add:remote(1)
    local long = a.busy:remote(3)
    local ready = rayl.wait({ short }, { num_returns = 1, timeout = 2 })
    local took = core.now() - t0
    assert.equal(1, #ready)
    assert.is_true(took < 1, ("the short call's result came %.2f s after it was made"):format(took))
    rayl.get(long, { timeout = 10 })
  end)

  it("calls made just before the driver computes start while it computes, not at its next wait", function()
    local a = Log:remote()
    rayl.get(a.now:remote())
    local t0 = core.now()
    for i = 1, 20 do a.add:remote(i) end -- back to back: these and the next go batched
    local ref = a.busy:remote(0)
    spin(2)
    local started = rayl.get(ref, { timeout = 10 })
    assert.is_true(started - t0 < 1, ("the call started %.2f s after it was made (the driver computed 2 s)")
      :format(started - t0))
  end)

  it("an idle worker's memory after 50,000 tasks, or after submitting 20,000 itself, stays within 1 MB of a fresh worker's", function()
    local noop = rayl.remote(function() return 1 end)
    for _ = 1, 50 do
      local refs = {}
      for i = 1, 1000 do refs[i] = noop:remote() end
      rayl.get(refs, { timeout = 60 })
    end
    -- Workers that submit tasks of their own (as owners, like a driver).
    local client = rayl.remote({ num_cpus = 0 }, function(n)
      local r = require "rayl"
      local f = r.remote(function() return 1 end)
      local refs = {}
      for i = 1, n do refs[i] = f:remote() end
      r.get(refs)
      return r.get_runtime_context().pid
    end)
    local pids = {}
    for _ = 1, 10 do
      for _, p in ipairs(rayl.get({ client:remote(1000), client:remote(1000) }, { timeout = 60 })) do pids[p] = true end
    end
    local pid = rayl.remote(function() return require("rayl").get_runtime_context().pid end)
    for _, p in ipairs(rayl.get { pid:remote(), pid:remote() }) do pids[p] = true end
    for p in pairs(pids) do
      local maps = io.open("/proc/" .. p .. "/maps")
      local sanitized = maps and maps:read("*a"):find("libasan", 1, true)
      if maps then maps:close() end
      if sanitized then
        return pending("a sanitizer build's workers carry ASan's shadow memory: their size is measured in the normal build")
      end
    end
    -- A worker that has run nothing yet (an actor's own process) is the yardstick: the
    -- size of the program itself is for `rayl microbenchmark` (idle_worker_rss_mb).
    local Fresh = rayl.remote({ pid = function() return require("rayl").get_runtime_context().pid end })
    local fresh = rayl.get(Fresh:options{ num_cpus = 0 }:remote().pid:remote(), { timeout = 60 })
    os.execute("sleep 2") -- idle: the workers give back what the tasks left
    local fresh_kb = assert(rss_kb(fresh))
    for p in pairs(pids) do
      local kb = assert(rss_kb(p))
      assert.is_true(kb < fresh_kb + 1024, ("worker pid %d holds %.2f MB, a fresh worker %.2f MB")
        :format(p, kb / 1024, fresh_kb / 1024))
    end
  end)
end)
