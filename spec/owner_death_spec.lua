-- owner_death_spec: on a three-node cluster, what a process sees when another process
-- dies: a borrower that got a ref second-hand (and never dealt with the owner's node)
-- hears of the owner's death and raises OwnerDiedError instead of waiting for ever; a
-- driver with work on several nodes is told of a node's death once, without warnings; a
-- worker that dies with its node gives back what it leased on other nodes; a borrower
-- hears of an owner that died with its whole node.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

describe("a process that dies while others use what it owns", function()
  local cluster

  lazy_setup(function()
    -- The head's node offers "safe"; node 2 "doomed" (killed by the last test); node 3
    -- "other".
    cluster = h.start_cluster(RAYL, "--num-cpus 2 --heartbeat-timeout-ms 1500 --resources '{\"safe\": 1}'")
    cluster.join("--num-cpus 2 --resources '{\"other\": 1}'")
    cluster.join("--num-cpus 2 --resources '{\"doomed\": 1}'")
  end)

  lazy_teardown(function() cluster.stop() end)

  -- Runs code as a driver of the cluster; returns what it printed (stdout and stderr).
  local function driver(code)
    local path = cluster.dir .. "/driver.lua"
    local f = assert(io.open(path, "w"))
    f:write('local rayl = require "rayl"\n' .. code)
    f:close()
    return h.sh(cluster.env .. "RAYL_ADDRESS=" .. cluster.address .. " timeout 120 " .. RAYL .. " " .. path)
  end

  it("a second-hand borrower's get and task raise OwnerDiedError naming the owner when it dies", function()
    local out = driver([[
      -- The owner: an actor on node 2 that puts an object and returns a ref to it.
      local Owner = rayl.remote({
        pid = function(self) local f = io.open("/proc/self/stat"); local p = f:read("*n"); f:close(); return p end,
        make = function(self) return { rayl.put(string.rep("x", 200000)) } end,
      })
      -- The borrower: an actor on the head's node that is handed the ref by the driver.
      local User = rayl.remote({
        hold = function(self, t) self.t = t; return true end,
        get = function(self)
          local ok, err = pcall(rayl.get, self.t[1], { timeout = 30 })
          return tostring(ok) .. " " .. tostring(err)
        end,
        task = function(self)
          local len = rayl.remote(function(s) return #s end)
          local ok, err = pcall(rayl.get, len:remote(self.t[1]), { timeout = 30 })
          return tostring(ok) .. " " .. tostring(err)
        end,
      })
      local owner = Owner:options{ resources = { doomed = 1 } }:remote()
      local user = User:options{ resources = { safe = 1 } }:remote()
      local pid = rayl.get(owner.pid:remote())
      assert(rayl.get(user.hold:remote(owner.make:remote())))
      os.execute("kill -9 " .. pid)
      local t0 = os.time()
      print("get: " .. rayl.get(user.get:remote()))
      print("task: " .. rayl.get(user.task:remote()))
      print("seconds: " .. (os.time() - t0))
    ]])
    assert.truthy(out:find("get: false OwnerDiedError: the owner of this object %(worker %x+ at tcp://[%d.:]+%) died"), out)
    assert.truthy(out:find("task: false OwnerDiedError: the owner of this object", 1, true), out)
    -- Heard of within a few heartbeats, not at the 30 s timeouts.
    assert.is_true(tonumber(out:match("seconds: (%d+)")) < 20, out)
  end)

  it("a driver whose work ran on two nodes hears of one's death once, without a warning", function()
    local out = driver([[
      local where = rayl.remote(function() return rayl.get_runtime_context().node_id end)
      -- Leases on node 3 and node 2: the driver is a client of both node managers.
      local other = rayl.get(where:options{ resources = { other = 1 } }:remote())
      local doomed = rayl.get(where:options{ resources = { doomed = 1 } }:remote())
      assert(other ~= doomed)
      os.execute("pkill -9 -f 'rayl [n]ode .*--resource doomed='")
      -- Until the head declares it dead (1.5 s) and the news reaches the driver.
      local t = os.time()
      repeat
        local alive = false
        for _, n in ipairs(rayl.nodes()) do alive = alive or (n.node_id == doomed and n.alive) end
        os.execute("sleep 0.2")
      until not alive or os.time() - t > 15
      os.execute("sleep 3")
      print("still works:", rayl.get(where:options{ resources = { other = 1 } }:remote()) == other)
      local f = io.open("/proc/self/stat"); print("driver pid:", f:read("*n")); f:close()
    ]])
    assert.truthy(out:find("still works:\ttrue", 1, true), out)
    -- Its log (in the session of the node it joined) tells of the death once, and has no
    -- warning about a message it did not expect.
    local log = h.sh("cat " .. cluster.dir .. "/session_*/logs/driver-" .. out:match("driver pid:\t(%d+)") .. ".log")
    local _, told = log:gsub("node tcp://[%d.:]+ died", "")
    assert.are.equal(1, told, log)
    assert.falsy(log:find("unexpected message type", 1, true), log)
  end)

  it("a worker that dies with its node gives back the workers it leased on other nodes", function()
    -- Node 4 ("gone") runs a task that leases a worker on node 3 ("other") for a nested
    -- task; node 4 is then killed whole, so nobody reports its worker's death to the
    -- head: node 3 must see that its lessee's node died, and free the lease.
    cluster.join("--num-cpus 2 --resources '{\"gone\": 1}'")
    local marker = cluster.dir .. "/nested-started"
    local out = driver(([[
      local outer = rayl.remote(function(marker)
        local nested = rayl.remote(function(m)
          local f = io.open(m, "w"); f:write("started"); f:close()
          os.execute("sleep 120")
        end)
        return rayl.get(nested:options{ resources = { other = 1 } }:remote(marker))
      end)
      local _ = outer:options{ resources = { gone = 1 }, max_retries = 0 }:remote(%q)
      local t = os.time()
      while not io.open(%q) and os.time() - t < 60 do os.execute("sleep 0.1") end
      print("nested started:", io.open(%q) ~= nil)
      os.execute("pkill -9 -f 'rayl [n]ode .*--resource gone='")
      t = os.time()
      local where = rayl.remote(function() return rayl.get_runtime_context().node_id end)
      local ok, node = pcall(rayl.get, where:options{ resources = { other = 1 } }:remote(), { timeout = 40 })
      print("other free again:", ok, node)
      print("seconds:", os.time() - t)
    ]]):format(marker, marker, marker))
    assert.truthy(out:find("nested started:\ttrue", 1, true), out)
    assert.truthy(out:find("other free again:\ttrue\t%x+"), out)
    -- Within a few heartbeats of the death (1.5 s), not when the nested task ends (120 s).
    assert.is_true(tonumber(out:match("seconds:\t(%d+)")) < 20, out)
  end)

  it("a second-hand borrower raises OwnerDiedError when its owner's whole node is killed", function()
    -- Node 5 ("lost") runs the owner; it is killed whole (its node manager and, with it,
    -- its workers), so no node manager reports the owner's death: the head must report
    -- the clients of the node it declares dead.
    cluster.join("--num-cpus 2 --resources '{\"lost\": 1}'")
    local out = driver([[
      local Owner = rayl.remote({
        make = function(self) return { rayl.put(string.rep("x", 200000)) } end,
      })
      local User = rayl.remote({
        hold = function(self, t) self.t = t; return true end,
        get = function(self)
          local ok, err = pcall(rayl.get, self.t[1], { timeout = 30 })
          return tostring(ok) .. " " .. tostring(err)
        end,
      })
      local owner = Owner:options{ resources = { lost = 1 } }:remote()
      local user = User:options{ resources = { safe = 1 } }:remote()
      assert(rayl.get(user.hold:remote(owner.make:remote())))
      os.execute("pkill -9 -f 'rayl [n]ode .*--resource lost='")
      local t0 = os.time()
      print("get: " .. rayl.get(user.get:remote()))
      print("seconds: " .. (os.time() - t0))
    ]])
    -- (It names the owner's endpoint, and the copy's node if the borrower knew where it was.)
    assert.truthy(out:find("get: false OwnerDiedError: the owner of this object %([%w ]*at tcp://[%d.:]+%) died"), out)
    -- Within a few heartbeats of the node's death (1.5 s), not at the 30 s timeout.
    assert.is_true(tonumber(out:match("seconds: (%d+)")) < 20, out)
  end)
end)
