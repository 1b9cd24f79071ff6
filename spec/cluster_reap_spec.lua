-- cluster_reap_spec: a driver killed on one node leaves nothing held on another: the node
-- manager that sees it die tells the head, the head tells every node manager, and the
-- one where it leased workers releases them (and kills its actors there).
local json = require "dkjson"
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local free_port = h.free_port

describe("a driver SIGKILLed on node 1 that filled node 2", function()
  local dir, addr, env

  local function run(args) return h.sh(env .. RAYL .. " " .. args) end

  -- Node 2's available amount of `sim` as `rayl status --format json` says.
  local function sim_available()
    local status = json.decode(run("status --format json"))
    for _, n in ipairs(status and status.nodes or {}) do
      if n.total.sim == 2 then return n.available.sim or 0 end
    end
  end

  lazy_setup(function()
    dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local port = free_port()
    addr = "127.0.0.1:" .. port
    env = ("RAYL_TMPDIR=%s "):format(dir)
    local out = run("start --head --port " .. port .. " --num-cpus 1")
    assert.truthy(out:find("Started a rayl head", 1, true), out)
    out = run("start --address " .. addr .. " --num-cpus 2 --resources '{\"sim\": 2}'")
    assert.truthy(out:find("Joined the cluster", 1, true), out)
  end)

  lazy_teardown(function()
    os.execute("touch " .. dir .. "/stop")
    local pid = tonumber(h.read_file(dir .. "/driver.pid") or "") -- if a failure left it running
    if pid then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
    run("stop")
    os.execute("rm -rf " .. dir)
  end)

  it("frees node 2's resources within a few seconds; its actor and task workers are gone", function()
    -- An actor and a long task, each holding one `sim`, which only node 2 has. The task
    -- waits for a file (in short sleeps, so nothing outlives its worker for long).
    local f = assert(io.open(dir .. "/driver.lua", "w"))
    f:write([[
      local rayl = require "rayl"
      local Holder = rayl.remote({ resources = { sim = 1 } }, {
        pid = function() return require("rayl").get_runtime_context().pid end })
      local long = rayl.remote({ resources = { sim = 1 }, name = "reap_long" }, function(stop)
        while not io.open(stop) do os.execute("sleep 0.2") end
      end)
      local holder = Holder:remote()
      print("actor pid", rayl.get(holder.pid:remote()))
      local ref = long:remote("]] .. dir .. [[/stop")
      io.stdout:flush()
      rayl.get(ref)
    ]])
    f:close()
    os.execute(("sh -c '%sRAYL_ADDRESS=%s %s %s/driver.lua > %s/driver.out 2>&1 & echo $! > %s/driver.pid' " ..
      "< /dev/null > /dev/null 2>&1"):format(env, addr, RAYL, dir, dir, dir))
    local actor_pid
    assert.truthy(h.wait_until(function()
      actor_pid = tonumber((h.read_file(dir .. "/driver.out") or ""):match("actor pid\t(%d+)"))
      return actor_pid ~= nil
    end, 60), h.read_file(dir .. "/driver.out"))
    assert.truthy(h.wait_until(function() return sim_available() == 0 end, 30), "node 2 never filled up")
    local driver_pid = tonumber(h.read_file(dir .. "/driver.pid"))
    local task_pid
    assert.truthy(h.wait_until(function()
      local rows = json.decode(run("list tasks --filter name=reap_long --format json 2>/dev/null")) or {}
      task_pid = rows[1] and rows[1].state == "RUNNING" and rows[1].worker_pid
      return task_pid ~= nil
    end, 30), "the long task is not listed as running")

    local killed_at = h.now()
    assert.are.equal(0, os.execute("kill -9 " .. driver_pid))
    assert.truthy(h.wait_until(function() return sim_available() == 2 end, 15),
      "node 2's sim is still held 15 s after its driver was killed: " .. tostring(sim_available()))
    local freed_after = h.now() - killed_at
    assert.truthy(freed_after < 10, freed_after)
    -- The workers that ran for the dead driver are killed, not left running its work.
    local function running(pid) return h.sh("kill -0 " .. pid .. " 2>/dev/null && echo yes || echo no"):find("yes") ~= nil end
    assert.truthy(h.wait_until(function() return not running(actor_pid) and not running(task_pid) end, 10),
      "the dead driver's actor or task worker still runs")

    -- The state API says what happened to them.
    local actors = json.decode(run("list actors --format json 2>/dev/null"))
    assert.are.equal("DEAD", actors[1].state)
    assert.truthy(actors[1].death_cause:find("owner", 1, true), actors[1].death_cause)
    local task = json.decode(run("list tasks --filter name=reap_long --format json 2>/dev/null"))[1]
    assert.are.equal("FAILED", task.state)
    assert.are.equal("OwnerDiedError", task.error_type)

    -- And another driver gets all of node 2's sim at once.
    f = assert(io.open(dir .. "/second.lua", "w"))
    f:write([[
      local rayl = require "rayl"
      local both = rayl.remote({ resources = { sim = 2 } }, function() return "ran with both" end)
      print(rayl.get(both:remote(), { timeout = 30 }))
    ]])
    f:close()
    local out = h.sh(env .. "RAYL_ADDRESS=" .. addr .. " " .. RAYL .. " " .. dir .. "/second.lua")
    assert.truthy(out:find("ran with both", 1, true), out)
  end)
end)
