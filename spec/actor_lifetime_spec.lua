-- actor_lifetime_spec: an actor is freed once no handle of it is left anywhere (after
-- the calls already made to it), as Ray frees actors whose handles went out of scope;
-- named and detached actors stay.
local rayl = require "rayl"
local core = require "rayl.core"

local Counter = rayl.remote({
  __init = function(self) self.n = 0 end,
  pid = function(self)
    local ffi = require "ffi"
    pcall(ffi.cdef, "int getpid(void);")
    return ffi.C.getpid()
  end,
  incr = function(self) self.n = self.n + 1; return self.n end,
})

local Holder = rayl.remote({
  __init = function(self, h) self.h = h end,
  call = function(self) return rayl.get(self.h.incr:remote()) end,
})

local function alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0 end

-- Collects garbage and lets the driver handle its messages until pid is gone (or 10 s).
local function wait_gone(pid)
  for _ = 1, 100 do
    collectgarbage()
    collectgarbage()
    core.poll(50)
    if not alive(pid) then return true end
  end
  return false
end

describe("actor lifetime", function()
  lazy_setup(function() rayl.init { num_cpus = 2 } end)
  lazy_teardown(function() rayl.shutdown() end)

  it("an actor whose last handle is dropped is freed, after the calls already made to it", function()
    local c = Counter:remote()
    local pid = rayl.get(c.pid:remote())
    local calls = { c.incr:remote(), c.incr:remote(), c.incr:remote() }
    c = nil
    assert.is_true(wait_gone(pid))
    assert.are.same({ 1, 2, 3 }, rayl.get(calls))
  end)

  it("a handle held by another actor keeps the actor alive until that holder is gone", function()
    local c = Counter:remote()
    local pid = rayl.get(c.pid:remote())
    local holder = Holder:remote(c)
    c = nil
    collectgarbage()
    collectgarbage()
    core.poll(300)
    assert.is_true(alive(pid))
    assert.are.equal(1, rayl.get(holder.call:remote()))
    rayl.kill(holder)
    assert.is_true(wait_gone(pid))
  end)

  it("a handle inside a stored object keeps the actor alive while that object lives", function()
    local c = Counter:remote()
    local pid = rayl.get(c.pid:remote())
    local box = rayl.put({ handle = c })
    c = nil
    collectgarbage()
    collectgarbage()
    core.poll(300)
    assert.is_true(alive(pid))
    assert.are.equal(1, rayl.get(rayl.get(box).handle.incr:remote()))
    box = nil
    assert.is_true(wait_gone(pid))
  end)

  it("a named actor is not freed with its handles (rayl.get_actor finds it)", function()
    local c = Counter:options{ name = "lifetime_named" }:remote()
    local pid = rayl.get(c.pid:remote())
    c = nil
    collectgarbage()
    collectgarbage()
    core.poll(300)
    assert.is_true(alive(pid))
    local again = rayl.get_actor("lifetime_named")
    assert.are.equal(1, rayl.get(again.incr:remote()))
    rayl.kill(again)
  end)
end)
