-- spec/core_idle_spec.lua: a driver waiting on tasks sleeps; it and its node manager use no CPU meanwhile.
local rayl = require "rayl"

local ticks_per_s
do
  local p = assert(io.popen("getconf CLK_TCK"))
  ticks_per_s = tonumber(p:read("*l")) or 100
  p:close()
end

-- CPU seconds (user + system, all threads) a process has used so far.
local function cpu_seconds(pid)
  local f = assert(io.open("/proc/" .. pid .. "/stat"))
  local stat = f:read("*a")
  f:close()
  -- Fields after the command name: state is 3rd, utime 14th, stime 15th.
  local fields = {}
  for w in stat:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = w end
  return (tonumber(fields[12]) + tonumber(fields[13])) / ticks_per_s
end

local function my_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = tonumber(f:read("*a"):match("^(%d+)"))
  f:close()
  return pid
end

-- The pid of this driver's node manager (a child started by rayl.init).
local function node_manager_pid(driver)
  local p = assert(io.popen("ps -o pid=,args= --ppid " .. driver))
  local pid
  for line in p:lines() do
    local id, args = line:match("^%s*(%d+)%s+(.*)$")
    if args and args:match("rayl node %-%-") then pid = tonumber(id) end
  end
  p:close()
  return assert(pid, "no node manager among the driver's children")
end

-- Runs fn and returns the CPU seconds that each pid used meanwhile.
local function cpu_during(pids, fn)
  local before = {}
  for i, pid in ipairs(pids) do before[i] = cpu_seconds(pid) end
  fn()
  local used = {}
  for i, pid in ipairs(pids) do used[i] = cpu_seconds(pid) - before[i] end
  return used
end

-- A spinning wait uses about a CPU-second per second; a sleeping one next to nothing.
local LIMIT = 0.3

describe("waiting", function()
  local driver, nm

  lazy_setup(function()
    rayl.init { num_cpus = 2 }
    driver = my_pid()
    nm = node_manager_pid(driver)
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  -- A task that sleeps s seconds, and the check that the driver and its node manager
  -- stayed idle (used: CPU-seconds of each, from cpu_during).
  local nap = rayl.remote(function(s)
    os.execute("sleep " .. s)
    return s
  end)
  local function assert_idle(used)
    assert.is_true(used[1] < LIMIT, ("the driver used %.2f CPU-seconds waiting"):format(used[1]))
    assert.is_true(used[2] < LIMIT, ("the node manager used %.2f CPU-seconds meanwhile"):format(used[2]))
  end

  it("rayl.get on tasks queued behind each other on two CPUs uses no CPU while it waits", function()
    -- Six tasks on two CPUs: four wait (with their owner, or behind a task on a worker)
    -- while the driver is blocked in get.
    local refs = {}
    for i = 1, 6 do refs[i] = nap:remote(1.5) end
    local values
    local used = cpu_during({ driver, nm }, function() values = rayl.get(refs) end)
    assert.are.same({ 1.5, 1.5, 1.5, 1.5, 1.5, 1.5 }, values)
    assert_idle(used)
  end)

  it("rayl.wait with a timeout sleeps until the timeout", function()
    local refs = {}
    for i = 1, 2 do refs[i] = nap:remote(2.5) end
    local ready
    local used = cpu_during({ driver, nm }, function() ready = rayl.wait(refs, { num_returns = 2, timeout = 2 }) end)
    assert.are.equal(0, #ready)
    assert_idle(used)
    rayl.get(refs)
  end)
end)
