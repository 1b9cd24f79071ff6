-- spec/observability_spec.lua: rayl stack, memory, timeline, logs, why-pending and human
-- units in rayl status, against a real cluster of the spec's own.
local helpers = require "spec.helpers"
local json = require "rayl.json"

local bin = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("observability commands", function()
  local c, dir

  setup(function()
    c = helpers.start_cluster(bin, "--num-cpus 4")
    dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
  end)

  teardown(function()
    -- The drivers this spec started (timeout passes the signal on; a driver's first
    -- SIGTERM raises in Lua, a second one ends it), then the cluster.
    local pids = {}
    for pid in (helpers.read_file(dir .. "/pids") or ""):gmatch("%d+") do pids[#pids + 1] = pid end
    local function signal_all()
      for _, pid in ipairs(pids) do os.execute("kill " .. pid .. " 2>/dev/null") end
    end
    local function all_gone()
      for _, pid in ipairs(pids) do
        if os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0 then return false end
      end
      return true
    end
    signal_all()
    if not helpers.wait_until(all_gone, 3) then signal_all() end
    helpers.wait_until(all_gone, 3)
    c.stop()
    os.execute("rm -rf " .. dir)
  end)

  -- Starts script (its text) as a driver of the cluster in the background; returns the
  -- path its output goes to.
  local function start_driver(name, text, env)
    local path = dir .. "/" .. name .. ".lua"
    write(path, text)
    local out = dir .. "/" .. name .. ".out"
    os.execute(("%s%s RAYL_ADDRESS=%s timeout 120 %s %s > %s 2>&1 & echo $! >> %s/pids"):format(c.env, env or "",
      c.address, bin, path, out, dir))
    return out
  end

  local function wait_file(path, needle, seconds)
    return helpers.wait_until(function() return (helpers.read_file(path) or ""):find(needle, 1, true) ~= nil end,
      seconds or 30)
  end

  it("rayl stack shows a running task's functions, and the task of one in a compiled loop", function()
    local out = start_driver("stack", [[
local rayl = require "rayl"
rayl.init()
local busy = rayl.remote(function()
  local function wait_in_lua_here()
    local t = os.time()
    while os.time() - t < 15 do end
  end
  jit.off(wait_in_lua_here) -- interpreted: its stack is read at its next instruction
  wait_in_lua_here()
  return 1
end)
local spin = rayl.remote(function()
  local x, t = 0, os.clock()
  while os.clock() - t < 15 do x = x + 1 end -- a compiled loop: no Lua stack to read
  return x
end)
local napper = rayl.remote(function() os.execute("sleep 15") return 1 end) -- in C: wait4
local a, b, n = busy:remote(), spin:remote(), napper:remote()
print("submitted")
io.stdout:flush()
rayl.get({a, b, n})
]])
    assert.is_true(wait_file(out, "submitted"))
    local text
    assert.is_true(helpers.wait_until(function()
      text = c.run("stack")
      return text:find("in function 'wait_in_lua_here'", 1, true) and text:find("in compiled code", 1, true)
        and text:find("in wait4", 1, true)
    end, 14) or error(text))
    assert.matches("task: [^\n]*stack%.lua:3\n[^\n]*\n[^\n]*in function 'wait_in_lua_here'", text)
    -- the spinning task, by name, on a CPU; the one in os.execute, blocked in wait4
    assert.matches("task: [^\n]*stack%.lua:12\n  %(in compiled code or a C function[^\n]*\n  where: on a CPU", text)
    assert.matches("task: [^\n]*stack%.lua:17\n[^\n]*\n  where: in C: blocked in system call %d+, in wait4", text)
    assert.matches("%(driver%)[^\n]*\n  task: %(idle%)\n  stack traceback:\n[^\n]*in function 'get'", text)
    assert.matches("rayl stack: unknown option '%-%-bogus'", c.run("stack --bogus"))
    assert.matches("No node matches 'ffffffffffff'", c.run("stack --node ffffffffffff"))
    local node = text:match("on node (%x+)")
    assert.matches("in function 'wait_in_lua_here'", c.run("stack --node " .. node))
  end)

  it("rayl memory shows a put object's size and call site", function()
    local out = start_driver("memory", [[
local rayl = require "rayl"
rayl.init()
local big = rayl.put(string.rep("m", 3 * 1024 * 1024))
local Store = rayl.remote({ __init = function(self) end,
  blob = function(self) return string.rep("b", 200 * 1024) end })
local s = Store:remote()
local blob = s.blob:remote()
rayl.wait({ blob })
local inner = rayl.put(string.rep("i", 150 * 1024))
local outer = rayl.put({ inner })
inner = nil
local arg = rayl.put(string.rep("a", 120 * 1024))
local slow = rayl.remote(function(x) os.execute("sleep 20") return #x end)
local pending = slow:remote(arg)
arg = nil
collectgarbage()
collectgarbage()
print("put done")
io.stdout:flush()
os.execute("sleep 30")
]], "RAYL_RECORD_REF_CREATION_SITES=1 ")
    assert.is_true(wait_file(out, "put done"))
    local text = c.run("memory --sort-by size")
    assert.matches("3%.%d%dMiB", text)
    assert.matches("memory%.lua:3", text)
    assert.matches("200%.%d%dKiB[^\n]*memory%.lua:7", text) -- an actor method's result
    assert.matches("150%.00KiB[^\n]* captured +[^\n]*memory%.lua:9", text) -- only inside outer
    assert.matches("120%.00KiB[^\n]* pinned by a task +[^\n]*memory%.lua:12", text) -- only slow's argument
    assert.matches("pending[^\n]* local +[^\n]*memory%.lua:14", text) -- slow's result
    assert.matches("local", text)
    assert.matches("%-%-%- owner pid %d+ %(driver%) on node %x+: %d+ objects?, [%d.]+MiB", c.run("memory --group-by owner"))
    assert.matches("%x+ +3%.00MiB +%x+", c.run("list objects")) -- human units in rayl list too
    assert.matches('"object_size": ?3145%d%d%d', c.run("list objects --format json"))
    local bad = c.run("memory --sort-by color")
    assert.matches("%-%-sort%-by must be size or age, not 'color'", bad)
  end)

  it("rayl timeline writes a Chrome trace with one event per task", function()
    local out = start_driver("timeline", [[
local rayl = require "rayl"
rayl.init()
local f = rayl.remote(function(i) return i end)
local refs = {}
for i = 1, 5 do refs[i] = f:options{name = "timeline_task"}:remote(i) end
rayl.get(refs)
local Counter = rayl.remote({ __init = function(self) self.n = 0 end,
  incr = function(self) self.n = self.n + 1 return self.n end })
local ctr = Counter:remote()
rayl.get(ctr.incr:remote())
print("done")
]])
    assert.is_true(wait_file(out, "done"))
    local trace = dir .. "/trace.json"
    local events, said
    assert.is_true(helpers.wait_until(function()
      said = c.run("timeline -o " .. trace)
      events = json.decode(helpers.read_file(trace) or "") or {}
      local n = 0
      for _, e in ipairs(events) do n = n + (e.name == "timeline_task" and 1 or 0) end
      local methods = 0
      for _, e in ipairs(events) do methods = methods + (e.cat == "actor" and e.name:find("%.incr$") and 1 or 0) end
      return n == 5 and methods == 1
    end, 15) or error(said .. tostring(helpers.read_file(trace)):sub(1, 600)))
    for _, e in ipairs(events) do
      assert.equal("X", e.ph)
      assert.is_true(e.dur >= 0 and e.ts > 0)
    end
  end)

  it("rayl status names the missing resource; a blocked get warns after RAYL_PENDING_WARN_S", function()
    local out = start_driver("infeasible", [[
local rayl = require "rayl"
rayl.init()
local f = rayl.remote(function() return 1 end):options{resources = {unobtainium = 1}}
print(pcall(rayl.get, f:remote(), {timeout = 6}))
]], "RAYL_PENDING_WARN_S=2 ")
    assert.is_true(wait_file(out, "this rayl.get has waited", 20), helpers.read_file(out))
    assert.matches("unobtainium", helpers.read_file(out))
    local status = c.run("status")
    assert.matches("infeasible tasks/actors: need {[^}]*unobtainium: 1[^}]*}, no node has unobtainium", status)
  end)

  it("rayl status says what pending tasks wait for", function()
    local out = start_driver("pending", [[
local rayl = require "rayl"
rayl.init()
local f = rayl.remote(function() os.execute("sleep 6") return 1 end):options{resources = {slot = 1}}
local refs = {}
for i = 1, 3 do refs[i] = f:remote() end
print("submitted")
io.stdout:flush()
rayl.get(refs)
]])
    c.join("--num-cpus 1 --resources '{\"slot\": 1}'")
    assert.is_true(wait_file(out, "submitted"))
    local status
    assert.is_true(helpers.wait_until(function()
      status = c.run("status")
      return status:find("pending tasks/actors (waiting for these resources to be free)", 1, true) ~= nil
    end, 10) or error(status))
    assert.matches("{[^}]*slot: 1[^}]*}: %d%+ pending", status)
    assert.matches('"waiting_for": "these resources to be free"', c.run("status --format json"))
  end)

  it("rayl status shows memory in human units; --format json keeps raw numbers", function()
    local status = c.run("status")
    assert.matches("memory: %d+%.%d%dGiB", status)
    assert.is_nil(status:find("memory: %d%d%d%d%d%d%d"))
    assert.matches('"memory": %d%d%d%d%d%d', c.run("status --format json"))
  end)

  it("rayl logs PATTERN finds a line a task printed", function()
    local out = start_driver("logs", [[
local rayl = require "rayl"
rayl.init()
local f = rayl.remote(function() print("needle-in-the-logs-42") return 1 end)
rayl.get(f:remote())
print("done")
]])
    assert.is_true(wait_file(out, "done"))
    local text
    assert.is_true(helpers.wait_until(function()
      text = c.run("logs needle-in-the-logs")
      return text:find("needle-in-the-logs-42", 1, true) ~= nil
    end, 10), text)
    assert.matches("worker%-%d+%.out:%d+: needle%-in%-the%-logs%-42", text)
  end)

  it("rayl logs --follow prints lines written after it started", function()
    local follow = dir .. "/logs-follow.txt"
    os.execute(("%stimeout 20 %s logs --follow needle-followed > %s 2>&1 & echo $! >> %s/pids"):format(c.env, bin,
      follow, dir))
    os.execute("sleep 1")
    local out = start_driver("follow", [[
local rayl = require "rayl"
rayl.init()
local f = rayl.remote(function() print("needle-followed-7") return 1 end)
rayl.get(f:remote())
print("done")
]])
    assert.is_true(wait_file(out, "done"))
    assert.is_true(wait_file(follow, "needle-followed-7", 10), helpers.read_file(follow))
    assert.matches("worker%-%d+%.out:%d+: needle%-followed%-7", helpers.read_file(follow))
  end)

  it("each command says when no cluster runs", function()
    local env = "RAYL_TMPDIR=" .. dir .. "/none RAYL_ADDRESS= "
    for _, cmd in ipairs({ "stack", "memory", "timeline -o -", "logs x" }) do
      local text = helpers.sh(env .. bin .. " " .. cmd)
      assert.matches("no cluster is running", text, 1, cmd)
    end
  end)
end)

describe("rayl logs across machines", function()
  -- A second node manager with a RAYL_TMPDIR of its own: its session folder (and so its
  -- workers' logs) is where the head's machine does not look, as on another machine.
  local c, other, dir

  setup(function()
    c = helpers.start_cluster(bin, "--num-cpus 1")
    other, dir = os.tmpname(), os.tmpname()
    os.remove(other)
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local key = helpers.sh("ls " .. c.dir .. "/session_*/cluster.key"):match("[^\n]+")
    local out = helpers.sh(("RAYL_TMPDIR=%s %s start --address %s --cluster-key %s --num-cpus 1 "
      .. "--resources '{\"far\": 1}'"):format(other, bin, c.address, key))
    assert(out:find("Joined the cluster", 1, true), out)
  end)

  teardown(function()
    for pid in (helpers.read_file(dir .. "/pids") or ""):gmatch("%d+") do
      os.execute("kill " .. pid .. " 2>/dev/null")
    end
    helpers.sh("RAYL_TMPDIR=" .. other .. " " .. bin .. " stop")
    c.stop()
    os.execute("rm -rf " .. other .. " " .. dir)
  end)

  local function far_task(needle)
    local path = dir .. "/" .. needle .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(([[
local rayl = require "rayl"
rayl.init()
local f = rayl.remote({ resources = { far = 1 } }, function() print("%s") return 1 end)
rayl.get(f:remote())
print("done")
]]):format(needle))
    f:close()
    return helpers.sh(("%sRAYL_ADDRESS=%s timeout 60 %s %s"):format(c.env, c.address, bin, path))
  end

  it("finds a line a task printed on the other node, whose logs are not in this machine's folders", function()
    assert.truthy(far_task("needle-far-node-77"):find("done", 1, true))
    -- Not in any folder of the head's RAYL_TMPDIR: only the other node manager has it.
    assert.equal("", helpers.sh("grep -rl needle-far-node-77 " .. c.dir .. " 2>/dev/null"))
    assert.truthy(helpers.sh("grep -rl needle-far-node-77 " .. other):find("worker%-%d+%.out"))
    local text
    assert.is_true(helpers.wait_until(function()
      text = c.run("logs needle-far-node")
      return text:find("needle-far-node-77", 1, true) ~= nil
    end, 10), text)
    -- Two nodes: each line names its node (the other one's id) and file.
    local nodes = json.decode(c.run("status --format json")).nodes
    local far_id
    for _, n in ipairs(nodes) do if n.total.far then far_id = n.node_id end end
    assert.matches(far_id:sub(1, 12) .. "/worker%-%d+%.out:%d+: needle%-far%-node%-77", text)
  end)

  it("--follow prints what a task on the other node prints after it started", function()
    local follow = dir .. "/far-follow.txt"
    os.execute(("%stimeout 30 %s logs --follow needle-far-followed > %s 2>&1 & echo $! >> %s/pids"):format(c.env, bin,
      follow, dir))
    os.execute("sleep 1")
    assert.truthy(far_task("needle-far-followed-9"):find("done", 1, true))
    assert.is_true(helpers.wait_until(function()
      return (helpers.read_file(follow) or ""):find("needle-far-followed-9", 1, true) ~= nil
    end, 10), helpers.read_file(follow))
  end)
end)

describe("rayl.obs units", function()
  local obs = require "rayl.obs"

  it("writes bytes and durations as people read them", function()
    assert.equal("16.48GiB", obs.bytes(17693336371))
    assert.equal("512B", obs.bytes(512))
    assert.equal("1.50KiB", obs.bytes(1536))
    assert.equal("850ms", obs.duration(0.85))
    assert.equal("12.3s", obs.duration(12.34))
    assert.equal("4m05s", obs.duration(245))
    assert.equal("2h03m", obs.duration(7380))
    assert.equal("3d04h", obs.duration(273600))
  end)
end)
