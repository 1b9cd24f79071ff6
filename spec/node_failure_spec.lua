-- node_failure_spec: what a driver sees when a node dies under its work: results stored
-- there are rebuilt from lineage (the task runs again elsewhere), also when another
-- process borrowed them, or raise ObjectLostError when they cannot be; actors there
-- restart on another node.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local sh = h.sh

describe("a node that dies holding results", function()
  local cluster, dir, port, env

  lazy_setup(function()
    cluster = h.start_cluster(RAYL, "--num-cpus 2 --heartbeat-timeout-ms 1500")
    dir, port, env = cluster.dir, cluster.port, cluster.env
  end)

  lazy_teardown(function() cluster.stop() end)

  -- Each test gets a fresh second node (custom resource "doomed") and kills it.
  before_each(function() cluster.join("--num-cpus 2 --resources '{\"doomed\": 1}'") end)

  -- Runs a driver; PRELUDE gives it `doomed` (node 2's id), `kill_node2()` and `runs(tag)`
  -- (how many times tasks noted `tag` in a file, across processes).
  local function driver(code)
    -- Node 2's manager offers "doomed" (not the newest pid: pids wrap around).
    local node2 = sh("pgrep -f 'rayl [n]ode .*" .. dir .. ".*--resource doomed=' | tail -1"):match("%d+")
    assert.truthy(node2)
    local prelude = ([[
      local rayl = require "rayl"
      local doomed
      for _, n in ipairs(rayl.nodes()) do
        if n.alive and (n.resources.doomed or 0) > 0 then doomed = n.node_id end
      end
      assert(doomed, "node 2 not found")
      os.execute("sleep 1") -- until the node managers' view of the cluster has node 2
      local RUNS = %q
      local NODE2_PID = %s -- (kill_node2 waits for its death to be declared; this does not)
      local function note(tag) local f = io.open(RUNS .. tag, "a"); f:write("x"); f:close() end
      local function runs(tag)
        local f = io.open(RUNS .. tag); if not f then return 0 end
        local n = #f:read("*a"); f:close(); return n
      end
      local function kill_node2()
        os.execute("kill -9 %s")
        -- Wait until the head has declared it dead (heartbeat timeout 1.5 s).
        local t = os.time()
        repeat
          local alive = false
          for _, n in ipairs(rayl.nodes()) do
            if n.node_id == doomed and n.alive then alive = true end
          end
          if not alive then return end
          os.execute("sleep 0.1")
        until os.time() - t > 10
        error("node 2 was not declared dead")
      end
    ]]):format(dir .. "/runs-", node2, node2)
    local f = assert(io.open(dir .. "/driver.lua", "w"))
    f:write(prelude .. code)
    f:close()
    return sh(env .. "RAYL_ADDRESS=127.0.0.1:" .. port .. " " .. RAYL .. " " .. dir .. "/driver.lua 2>&1")
  end

  it("a task's stored result lost with its node is rebuilt by running the task again", function()
    local out = driver([[
      local make = rayl.remote(function(n)
        note("make")
        local a = rayl.array("float64", n)
        for i = 1, n do a[i] = i * 0.5 end
        return a
      end)
      local ref = make:options{ scheduling_strategy = { node_id = doomed, soft = true } }:remote(200000)
      rayl.wait({ ref })
      assert(runs("make") == 1)
      kill_node2()
      -- Give the driver's node manager time to pass on the node's death.
      os.execute("sleep 1")
      local a = rayl.get(ref, { timeout = 30 })
      local ok = #a == 200000
      for i = 1, 200000, 997 do ok = ok and a[i] == i * 0.5 end
      print("intact:", ok, "runs:", runs("make"))
    ]])
    assert.truthy(out:find("intact:\ttrue\truns:\t2", 1, true), out)
  end)

  it("a chain of lost results is rebuilt in order (the argument first)", function()
    local out = driver([[
      local here = { node_id = doomed, soft = true }
      local make = rayl.remote(function(n)
        note("make2")
        local a = rayl.array("float64", n)
        for i = 1, n do a[i] = i end
        return a
      end)
      local double = rayl.remote(function(a)
        note("double")
        local b = rayl.array("float64", #a)
        for i = 1, #a do b[i] = 2 * a[i] end
        return b
      end)
      local a = make:options{ scheduling_strategy = here }:remote(100000)
      local b = double:options{ scheduling_strategy = here }:remote(a)
      rayl.wait({ b })
      kill_node2()
      os.execute("sleep 1")
      local v = rayl.get(b, { timeout = 30 })
      print("sum:", v[100000] + v[1], "runs:", runs("make2"), runs("double"))
    ]])
    assert.truthy(out:find("sum:\t200002\truns:\t2\t2", 1, true), out)
  end)

  -- The task's worker pulled its argument from the dead node before its owner heard of
  -- the death: it failed with SerializationError ("cannot read argument 1"); now the
  -- owner runs it again once the argument is made again (not counted as a retry).
  it("a task pushed with an argument stored on a node that has just died runs after the argument is rebuilt", function()
    local out = driver([[
      local make = rayl.remote(function(n)
        note("make3")
        local a = rayl.array("uint8", n)
        a[n] = 9
        return a
      end)
      local read = rayl.remote({ max_retries = 0 }, function(a) return #a, a[#a] end)
      local here
      for _, n in ipairs(rayl.nodes()) do if n.alive and n.node_id ~= doomed then here = n.node_id end end
      local ref = make:options{ scheduling_strategy = { node_id = doomed, soft = true } }:remote(4 * 1024 * 1024)
      rayl.wait({ ref })
      os.execute("kill -9 " .. NODE2_PID)
      local len, last = read:options{ scheduling_strategy = { node_id = here }, num_returns = 2 }:remote(ref)
      local ok, n = pcall(rayl.get, len, { timeout = 30 })
      print("read:", ok, tostring(n), ok and rayl.get(last) or "", "runs:", runs("make3"))
    ]])
    assert.truthy(out:find("read:	true	4194304	9	runs:	2", 1, true), out)
  end)

  -- A pull cut short by its source's death left a deleted but still pinned entry in the
  -- puller's store, so the task rebuilding the object there could not store its result
  -- ("already exists in the store (being written, deleted but still referenced)").
  it("an object whose pull was cut short by its node's death is rebuilt on the node that pulled it", function()
    local out = driver([[
      local n = 1024 * 1024 * 1024
      local make = rayl.remote(function(size)
        note("make4")
        local a = rayl.array("uint8", size)
        a[size] = 5
        return a
      end)
      local ref = make:options{ scheduling_strategy = { node_id = doomed, soft = true } }:remote(n)
      rayl.wait({ ref })
      -- Killed while this driver's node pulls the 1 GiB.
      os.execute("(sleep 0.3; kill -9 " .. NODE2_PID .. ") &")
      local ok, a = pcall(rayl.get, ref, { timeout = 60 })
      print("rebuilt:", ok, ok and #a == n and a[n] == 5, "runs:", runs("make4"), ok and "" or tostring(a))
    ]])
    assert.truthy(out:find("rebuilt:	true	true	runs:	2", 1, true), out)
  end)

  it("a result whose task may not be retried (max_retries = 0) raises ObjectLostError", function()
    local out = driver([[
      local make = rayl.remote({ max_retries = 0 }, function(n) return rayl.array("float64", n) end)
      local ref = make:options{ scheduling_strategy = { node_id = doomed, soft = true } }:remote(100000)
      rayl.wait({ ref })
      kill_node2()
      os.execute("sleep 1")
      local ok, err = pcall(rayl.get, ref, { timeout = 30 })
      print("lost:", not ok and rayl.errors.is(err, "ObjectLostError"), tostring(err))
    ]])
    assert.truthy(out:find("lost:\ttrue", 1, true), out)
    assert.truthy(out:find("which died", 1, true), out)
  end)

  -- As in Ray, a borrower whose only copy died with its node asks the object's owner,
  -- which runs the task again (it raised ObjectLostError).
  it("a result borrowed by an actor on another node is rebuilt by its owner when the copy's node dies", function()
    local out = driver([[
      local make = rayl.remote(function(n)
        note("make5")
        local a = rayl.array("float64", n)
        for i = 1, n do a[i] = i * 0.25 end
        return a
      end)
      local User = rayl.remote({
        -- (wait: the actor learns where the copy is, without reading it)
        hold = function(self, t) self.t = t; return #rayl.wait(t, { timeout = 30 }) == 1 end,
        check = function(self)
          local ok, a = pcall(rayl.get, self.t[1], { timeout = 30 })
          if not ok then return "failed " .. tostring(a) end
          local good = #a == 100000
          for i = 1, 100000, 101 do good = good and a[i] == i * 0.25 end
          return "intact " .. tostring(good)
        end,
      })
      local here
      for _, n in ipairs(rayl.nodes()) do if n.alive and n.node_id ~= doomed then here = n.node_id end end
      local user = User:options{ scheduling_strategy = { node_id = here } }:remote()
      local ref = make:options{ scheduling_strategy = { node_id = doomed, soft = true } }:remote(100000)
      rayl.wait({ ref })
      assert(rayl.get(user.hold:remote({ ref })))
      kill_node2()
      print("actor:", rayl.get(user.check:remote()), "runs:", runs("make5"))
    ]])
    assert.truthy(out:find("actor:\tintact true\truns:\t2", 1, true), out)
  end)

  it("a borrower of a lost result its owner cannot rebuild (max_retries = 0) gets ObjectLostError saying why", function()
    local out = driver([[
      local make = rayl.remote({ max_retries = 0 }, function(n) return rayl.array("float64", n) end)
      local User = rayl.remote({
        hold = function(self, t) self.t = t; return true end,
        check = function(self)
          local ok, err = pcall(rayl.get, self.t[1], { timeout = 30 })
          return tostring(not ok and rayl.errors.is(err, "ObjectLostError")) .. " " .. tostring(err)
        end,
      })
      local here
      for _, n in ipairs(rayl.nodes()) do if n.alive and n.node_id ~= doomed then here = n.node_id end end
      local user = User:options{ scheduling_strategy = { node_id = here } }:remote()
      local ref = make:options{ scheduling_strategy = { node_id = doomed, soft = true } }:remote(100000)
      rayl.wait({ ref })
      assert(rayl.get(user.hold:remote({ ref })))
      kill_node2()
      local t0 = os.time()
      print("actor:", rayl.get(user.check:remote()), "seconds:", os.time() - t0)
    ]])
    assert.truthy(out:find("actor:\ttrue ObjectLostError", 1, true), out)
    assert.truthy(out:find("which died and it cannot be made again (its task may not run again: max_retries = 0", 1, true), out)
    assert.is_true(tonumber(out:match("seconds:\t(%d+)")) < 20, out)
  end)

  it("a task running on the dead node with max_retries = 0 raises WorkerCrashedError naming its worker", function()
    local out = driver([[
      local stuck = rayl.remote({ max_retries = 0 }, function()
        local ffi = require "ffi"
        pcall(ffi.cdef, "int getpid(void);")
        local f = io.open(RUNS .. "pid", "w"); f:write(tostring(ffi.C.getpid())); f:close()
        note("stuck")
        os.execute("sleep 60")
      end)
      local ref = stuck:options{ scheduling_strategy = { node_id = doomed, soft = true } }:remote()
      local t = os.time()
      -- (waiting in rayl.wait: the driver answers its lease replies only inside rayl calls)
      while runs("stuck") == 0 and os.time() - t < 10 do rayl.wait({ ref }, { timeout = 0.05 }) end
      local f = io.open(RUNS .. "pid"); local pid = f:read("*a"); f:close()
      kill_node2()
      local ok, err = pcall(rayl.get, ref, { timeout = 30 })
      print("crashed:", not ok and rayl.errors.is(err, "WorkerCrashedError"), "pid:", pid, tostring(err))
    ]])
    local pid = out:match("pid:\t(%d+)")
    assert.truthy(out:find("crashed:\ttrue", 1, true), out)
    assert.truthy(pid, out)
    assert.truthy(out:find("(pid " .. pid .. ") running task", 1, true), out)
  end)

  it("an actor on the dead node restarts on another (max_restarts)", function()
    local out = driver([[
      local Where = rayl.remote({
        __init = function(self) note("init") end,
        node = function(self) return rayl.get_runtime_context().node_id end,
      })
      local a = Where:options{ max_restarts = 1, max_task_retries = 1,
                               scheduling_strategy = { node_id = doomed, soft = true } }:remote()
      local first = rayl.get(a.node:remote())
      kill_node2()
      local second = rayl.get(a.node:remote(), { timeout = 30 })
      print("moved:", first == doomed, second ~= doomed, "inits:", runs("init"))
    ]])
    assert.truthy(out:find("moved:\ttrue\ttrue\tinits:\t2", 1, true), out)
  end)
end)
