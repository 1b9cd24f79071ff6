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

  it("an idle worker's memory does not grow with the tasks it ran or submitted (twice 50,000 tasks, 20,000 from a worker)", function()
    local noop = rayl.remote(function() return 1 end)
    -- A worker that submits tasks of its own (an owner, like a driver): an actor, so
    -- that the same process is measured after each round.
    local Client = rayl.remote({
      submit = function(self, n)
        local r = require "rayl"
        local f = r.remote(function() return 1 end)
        local refs = {}
        for i = 1, n do refs[i] = f:remote() end
        r.get(refs)
        return r.get_runtime_context().pid
      end,
    })
    local client = Client:options{ num_cpus = 0 }:remote()
    local pid = rayl.remote(function() return require("rayl").get_runtime_context().pid end)
    -- One round: 50,000 tasks, 20,000 submitted by the client; then idle, so that the
    -- workers give back what the tasks left. Returns the RSS in kB of the workers that
    -- ran them and of the client.
    local function round()
      for _ = 1, 50 do
        local refs = {}
        for i = 1, 1000 do refs[i] = noop:remote() end
        rayl.get(refs, { timeout = 60 })
      end
      local rss = {}
      for _ = 1, 20 do rss[rayl.get(client.submit:remote(1000), { timeout = 60 })] = true end
      for _, p in ipairs(rayl.get { pid:remote(), pid:remote() }) do rss[p] = true end
      os.execute("sleep 2")
      for p in pairs(rss) do rss[p] = assert(rss_kb(p)) end
      return rss
    end
    local maps = io.open("/proc/" .. rayl.get(pid:remote()) .. "/maps")
    local sanitized = maps and maps:read("*a"):find("libasan", 1, true)
    if maps then maps:close() end
    if sanitized then
      return pending("a sanitizer build's workers carry ASan's shadow memory: their size is measured in the normal build")
    end
    -- A worker's first tasks as an owner grow its tables and allocators once (to about
    -- 2 MB over a fresh worker's here); what grows again from one round to the next is
    -- a leak.
    local client_pid = rayl.get(client.submit:remote(1))
    local first = round()
    local second = round()
    for p, kb in pairs(second) do
      if first[p] then
        assert.is_true(kb < first[p] + 1024, ("worker pid %d grew from %.2f MB to %.2f MB over 50,000 more tasks")
          :format(p, first[p] / 1024, kb / 1024))
      end
    end
    assert.is_true(first[client_pid] ~= nil and second[client_pid] ~= nil, "the client was not measured in both rounds")
    -- And stays near a worker that has run nothing (an actor's own process): within
    -- that one-time growth and 1 MB more. The program's own size is `rayl
    -- microbenchmark`'s idle_worker_rss_mb.
    local Fresh = rayl.remote({ pid = function() return require("rayl").get_runtime_context().pid end })
    local fresh = rayl.get(Fresh:options{ num_cpus = 0 }:remote().pid:remote(), { timeout = 60 })
    local fresh_kb = assert(rss_kb(fresh))
    for p, kb in pairs(second) do
      assert.is_true(kb < fresh_kb + 3072, ("worker pid %d holds %.2f MB, a fresh worker %.2f MB")
        :format(p, kb / 1024, fresh_kb / 1024))
    end
  end)
end)
