-- cluster_spec: a long-lived cluster on this machine: `rayl start --head`, a second
-- node with a custom resource, `rayl status`, drivers joining it, `rayl stop`.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local sh = h.sh

describe("a cluster started with rayl start", function()
  local cluster, dir, port, env

  lazy_setup(function()
    cluster = h.start_cluster(RAYL, "--num-cpus 2")
    dir, port, env = cluster.dir, cluster.port, cluster.env
    cluster.join("--num-cpus 1 --resources '{\"sim\": 4}'")
  end)

  lazy_teardown(function() cluster.stop() end)

  local function driver(code)
    local f = assert(io.open(dir .. "/driver.lua", "w"))
    f:write(code)
    f:close()
    return sh(env .. "RAYL_ADDRESS=127.0.0.1:" .. port .. " " .. RAYL .. " " .. dir .. "/driver.lua")
  end

  it("rayl status lists both nodes with their resources", function()
    local out = sh(env .. RAYL .. " status")
    assert.truthy(out:find("2 nodes", 1, true), out)
    assert.truthy(out:find("sim: 4", 1, true), out)
    local json = sh(env .. RAYL .. " status --format json")
    local alive = 0
    for _ in json:gmatch('"alive": true') do alive = alive + 1 end
    assert.are.equal(2, alive, json)
  end)

  it("a driver sees the whole cluster's resources", function()
    local out = driver([[
      local rayl = require "rayl"
      local r = rayl.cluster_resources()
      print("CPU", r.CPU, "sim", r.sim, "nodes", #rayl.nodes())
    ]])
    assert.truthy(out:find("CPU\t3\tsim\t4\tnodes\t2", 1, true), out)
  end)

  it("a task needing a resource only node 2 has runs there; an actor too", function()
    local out = driver([[
      local rayl = require "rayl"
      local where = rayl.remote(function() return require("rayl").get_runtime_context().node_id end)
      local here = rayl.get(where:remote())
      local refs = {}
      for i = 1, 50 do refs[i] = where:options{ resources = { sim = 1 } }:remote() end
      local other = 0
      for _, node in ipairs(rayl.get(refs)) do if node ~= here then other = other + 1 end end
      local A = rayl.remote({ resources = { sim = 1 } }, {
        node = function() return require("rayl").get_runtime_context().node_id end })
      local a = A:remote()
      print("on node 2:", other, rayl.get(a.node:remote()) ~= here)
    ]])
    assert.truthy(out:find("on node 2:\t50\ttrue", 1, true), out)
  end)

  it("a 256 MiB object made on node 2 is read on node 1 intact, and a put travels the other way", function()
    local out = driver([[
      local rayl = require "rayl"
      local n = 256 * 1024 * 1024
      local make = rayl.remote({ resources = { sim = 1 } }, function(size)
        local a = require("rayl").array("uint8", size)
        for i = 1, size, 4093 do a[i] = i % 251 end
        a[size] = 7
        return a
      end)
      local a = rayl.get(make:remote(n))
      local intact = #a == n and a[n] == 7
      for i = 1, n, 4093 do if a[i] ~= i % 251 then intact = false; break end end
      local tail = rayl.remote({ resources = { sim = 1 }, num_returns = 2 }, function(x) return #x, x[#x] end)
      local len, last = tail:remote(rayl.put(a))
      print("transfer:", intact, rayl.get(len) == n, rayl.get(last))
    ]])
    assert.truthy(out:find("transfer:\ttrue\ttrue\t7", 1, true), out)
  end)

  it("SPREAD spreads tasks over both nodes; node affinity pins them (hard and soft)", function()
    os.execute("sleep 1") -- let the head node's view include node 2
    local out = driver([[
      local rayl = require "rayl"
      local where = rayl.remote(function()
        local c = require "rayl.core"
        local t = c.now()
        while c.now() - t < 0.05 do end
        return require("rayl").get_runtime_context().node_id
      end)
      local refs = {}
      for i = 1, 20 do refs[i] = where:options{ scheduling_strategy = "SPREAD" }:remote() end
      local seen, distinct = {}, 0
      for _, node in ipairs(rayl.get(refs)) do
        if not seen[node] then seen[node] = true; distinct = distinct + 1 end
      end
      local pinned = 0
      for _, n in ipairs(rayl.nodes()) do
        for _ = 1, 3 do
          if rayl.get(where:options{ scheduling_strategy = { node_id = n.node_id } }:remote()) == n.node_id then
            pinned = pinned + 1
          end
        end
      end
      local soft = rayl.get(where:options{ scheduling_strategy = { node_id = string.rep("ab", 16), soft = true } }:remote())
      local ok, err = pcall(where.options, where, { scheduling_strategy = "NEAREST" })
      print("spread:", distinct, "pinned:", pinned, "soft:", soft ~= nil, "bad:", err.type)
    ]])
    assert.truthy(out:find("spread:\t2\tpinned:\t6\tsoft:\ttrue\tbad:\tValueError", 1, true), out)
  end)

  it("a detached named actor outlives its driver; the next driver finds it; kill frees it", function()
    local out = driver([[
      local rayl = require "rayl"
      local K = rayl.remote({ __init = function(self) self.n = 0 end,
                              incr = function(self) self.n = self.n + 1; return self.n end })
      local k = K:options{ name = "keeper", namespace = "spec", lifetime = "detached" }:remote()
      print("first:", rayl.get(k.incr:remote()))
    ]])
    assert.truthy(out:find("first:\t1", 1, true), out)
    out = driver([[
      local rayl = require "rayl"
      local k = rayl.get_actor("keeper", { namespace = "spec" })
      print("second:", rayl.get(k.incr:remote()))
      rayl.kill(k)
      local ok, err = pcall(rayl.get_actor, "keeper", { namespace = "spec" })
      print("after kill:", ok, err.type)
    ]])
    assert.truthy(out:find("second:\t2", 1, true), out)
    assert.truthy(out:find("after kill:\tfalse\tValueError", 1, true), out)
  end)

  it("a named (not detached) actor's name is free again once its driver exits", function()
    local code = [[
      local rayl = require "rayl"
      local K = rayl.remote({ ping = function() return "pong" end })
      print("made:", rayl.get(K:options{ name = "again" }:remote().ping:remote()))
    ]]
    assert.truthy(driver(code):find("made:\tpong", 1, true))
    local out = driver(code)
    assert.truthy(out:find("made:\tpong", 1, true), out)
  end)

  it("rayl.init{address = 'auto'} finds the cluster started on this machine", function()
    local f = assert(io.open(dir .. "/auto.lua", "w"))
    f:write([[
      local rayl = require "rayl"
      rayl.init{ address = "auto" }
      print("nodes", #rayl.nodes())
    ]])
    f:close()
    local out = sh(env .. RAYL .. " " .. dir .. "/auto.lua")
    assert.truthy(out:find("nodes\t2", 1, true), out)
  end)

  it("a bad address gives a clear error", function()
    local out = sh(env .. "RAYL_ADDRESS=nonsense " .. RAYL .. " -e 'require(\"rayl\").init()'")
    assert.truthy(out:find("HOST:PORT", 1, true), out)
    out = sh(env .. "RAYL_ADDRESS=127.0.0.1:1 " .. RAYL .. " -e 'require(\"rayl\").init()'")
    assert.truthy(out:find("did not answer", 1, true), out)
  end)

  it("rayl stop stops every daemon it started", function()
    local out = sh(env .. RAYL .. " stop")
    assert.truthy(out:find("Stopped 3 rayl processes", 1, true), out)
    os.execute("sleep 0.3")
    assert.are.equal("", sh("pgrep -f 'rayl (head|node|worker) .*" .. dir .. "' || true"))
    assert.truthy(sh(env .. RAYL .. " status"):find("no cluster is running", 1, true))
  end)
end)

describe("a cluster that loses a node", function()
  local cluster, dir, port, env

  lazy_setup(function()
    cluster = h.start_cluster(RAYL, "--num-cpus 2 --resources '{\"shared\": 100}' --heartbeat-timeout-ms 1500")
    dir, port, env = cluster.dir, cluster.port, cluster.env
    cluster.join("--num-cpus 2 --resources '{\"shared\": 100}'")
  end)

  lazy_teardown(function() cluster.stop() end)

  it("kill -9 of node 2's node manager during a 2,000-task job: every result arrives, status shows it dead", function()
    -- "[n]ode" keeps the pattern from matching this shell's own command line.
    local node2 = sh("pgrep -f 'rayl [n]ode .*" .. dir .. "' | sort -n | tail -1"):match("%d+")
    assert.truthy(node2)
    local f = assert(io.open(dir .. "/job.lua", "w"))
    f:write([[
      local rayl = require "rayl"
      local core = require "rayl.core"
      local work = rayl.remote({ resources = { shared = 1 } }, function(i)
        local c = require "rayl.core"
        local t = c.now()
        while c.now() - t < 0.002 do end
        return i
      end)
      local refs = {}
      for i = 1, 2000 do refs[i] = work:remote(i) end
      local ok = 0
      for i, r in ipairs(refs) do
        if rayl.get(r) == i then ok = ok + 1 end
        if i == 100 then os.execute("kill -9 ]] .. node2 .. [[") end
      end
      print("results:", ok)
    ]])
    f:close()
    local out = sh(env .. "RAYL_ADDRESS=127.0.0.1:" .. port .. " " .. RAYL .. " " .. dir .. "/job.lua")
    assert.truthy(out:find("results:\t2000", 1, true), out)
    local status
    for _ = 1, 40 do
      status = sh(env .. RAYL .. " status")
      if status:find("DEAD", 1, true) then break end
      os.execute("sleep 0.1")
    end
    assert.truthy(status:find("DEAD", 1, true), status)
  end)

  it("a node started while another is being declared dead joins (the death does not hide it)", function()
    cluster.join("--num-cpus 1 --resources '{\"short_lived\": 1}'")
    local doomed = sh("pgrep -f 'rayl [n]ode .*" .. dir .. ".*--resource short_lived=' | tail -1"):match("%d+")
    assert.truthy(doomed)
    -- Killed 0.8 s before the next node starts: the head declares it dead (1.5 s without a
    -- heartbeat) while `rayl start` waits for the new node to be listed.
    os.execute("kill -9 " .. doomed .. "; sleep 0.8")
    local out = cluster.run("start --address " .. cluster.address .. " --num-cpus 1 --resources '{\"late\": 1}'")
    assert.truthy(out:find("Joined the cluster", 1, true), out)
    local status = sh(env .. RAYL .. " status")
    assert.truthy(status:match("alive%s+total {[^}]*late: 1"), status)
  end)
end)

describe("objects made on another node", function()
  local cluster

  lazy_setup(function()
    cluster = h.start_cluster(RAYL, "--num-cpus 1 --object-store-memory " .. 64 * 1024 * 1024)
    cluster.join("--num-cpus 1 --resources '{\"far\": 1}'")
  end)

  lazy_teardown(function() cluster.stop() end)

  -- Runs a driver: `code` after a prelude that defines make(i) (a 12 MiB array made on
  -- the node offering "far", i in its first and last bytes; also returns that node's id).
  local function driver(code)
    local f = assert(io.open(cluster.dir .. "/objects.lua", "w"))
    f:write([[
      local rayl = require "rayl"
      local state = require "rayl.util.state"
      local MB = 1024 * 1024
      local make = rayl.remote({ resources = { far = 1 } }, function(i)
        local a = rayl.array("uint8", 12 * MB)
        a[1], a[#a] = i, i
        return a, require("rayl").get_runtime_context().node_id
      end)
    ]] .. code)
    f:close()
    return h.sh(cluster.env .. "RAYL_ADDRESS=" .. cluster.address .. " " .. RAYL .. " " .. cluster.dir .. "/objects.lua")
  end

  it("a node reading more of them than its store holds drops the copies it pulled, least recently used first, instead of spilling them", function()
    local out = driver([[
      local here = rayl.get_runtime_context().node_id
      local refs, where = {}, {}
      for i = 1, 8 do refs[i], where[i] = make:options({ num_returns = 2 }):remote(i) end
      local function read(i)
        local a = rayl.get(refs[i])
        local ok = a[1] == i and a[#a] == i
        a = nil
        collectgarbage()
        return ok
      end
      local read_ok = 0
      for i = 1, 8 do read_ok = read_ok + (read(i) and 1 or 0) end
      local spilled_here = 0
      for _, o in ipairs(state.list_objects({ limit = 1000 })) do
        if o.node_id == here and o.spilled then spilled_here = spilled_here + 1 end
      end
      print("elsewhere", rayl.get(where[1]) ~= here, "read", read_ok, "again", read(1), "spilled here", spilled_here)
    ]])
    -- 8 objects of 12 MiB read on a node with a 64 MiB store: the oldest copies make room
    -- (the first is pulled again when read again) and nothing is written to disk there.
    assert.truthy(out:find("elsewhere\ttrue\tread\t8\tagain\ttrue\tspilled here\t0", 1, true), out)
  end)

  it("are deleted on the node that made them once their owner drops them; one still held stays", function()
    local out = driver([[
      local kept, far = make:options({ num_returns = 2 }):remote(0)
      far = rayl.get(far)
      -- 12 more, each read here and dropped.
      local read_ok = 0
      for i = 1, 12 do
        local ref = make:remote(i)
        local a = rayl.get(ref)
        if a[1] == i and a[#a] == i then read_ok = read_ok + 1 end
        a, ref = nil, nil
        collectgarbage()
      end
      local on_far
      for _ = 1, 100 do -- the deletes travel asynchronously: up to 10 s
        on_far = 0
        for _, o in ipairs(state.list_objects({ limit = 1000 })) do
          if o.node_id == far then on_far = on_far + 1 end
        end
        if on_far <= 1 then break end
        os.execute("sleep 0.1")
      end
      local k = rayl.get(kept)
      print("read", read_ok, "on far", on_far, "kept", k[1] == 0 and #k == 12 * MB)
    ]])
    assert.truthy(out:find("read\t12\ton far\t1\tkept\ttrue", 1, true), out)
  end)
end)
