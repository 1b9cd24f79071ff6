-- spec/core_busy_spec.lua: a driver or worker busy computing (no rayl calls) still answers other processes.
local rayl = require "rayl"
local core = require "rayl.core"

-- Spins for s seconds in compiled Lua, calling nothing of rayl's; returns a checksum.
local function spin(s)
  local clock = require("rayl.core").now
  local t0, x = clock(), 0
  while clock() - t0 < s do
    for i = 1, 100000 do x = (x + i) % 1000003 end
  end
  return x
end

local function read_stamp(path)
  local f = assert(io.open(path))
  local t = tonumber(f:read("*a"))
  f:close()
  return t
end

-- Reads the value inside box (so it must ask its owner) and writes the time to path.
local fetch_and_stamp = rayl.remote(function(box, path)
  local v = rayl.get(box[1])
  local f = assert(io.open(path, "w"))
  f:write(string.format("%.6f", require("rayl.core").now()))
  f:close()
  return v
end)

describe("a busy process", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
    -- Workers started and the function loaded: what is timed below is the protocol.
    rayl.get(fetch_and_stamp:remote({ rayl.put("warm") }, os.tmpname()))
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("a driver in a 5 s compiled loop serves its object to a borrowing task before the loop ends", function()
    local stamp = os.tmpname()
    local obj = rayl.put({ answer = 42 })
    local t0 = core.now()
    local ref = fetch_and_stamp:remote({ obj }, stamp)
    spin(5)
    local spun = core.now() - t0
    assert.are.same({ answer = 42 }, rayl.get(ref, { timeout = 10 }))
    local took = read_stamp(stamp) - t0
    os.remove(stamp)
    assert.is_true(spun >= 5)
    assert.is_true(took < 4, ("the task finished %.2f s after it was submitted (the loop took %.2f s)"):format(took, spun))
  end)

  it("a worker in a long task serves its object to its child task, which finishes first", function()
    local stamp = os.tmpname()
    local parent = rayl.remote(function(path, s)
      local mine = rayl.put("from the parent")
      local child = fetch_and_stamp:remote({ mine }, path)
      local x = spin(s)
      return { rayl.get(child), x }
    end)
    local t0 = core.now()
    local out = rayl.get(parent:remote(stamp, 5), { timeout = 15 })
    local spun = core.now() - t0
    local took = read_stamp(stamp) - t0
    os.remove(stamp)
    assert.are.equal("from the parent", out[1])
    assert.is_true(spun >= 5)
    assert.is_true(took < 4, ("the child finished %.2f s after its parent started (the parent took %.2f s)"):format(took, spun))
  end)
end)
