-- detached_actor_spec: detached named actors are owned by the head once their creating
-- driver exits (as Ray's GCS owns them): kill -9 of the actor's worker restarts it
-- (__init run again) for callers from new drivers, kill -9 of its node restarts it on
-- the other node, spent max_restarts give ActorDiedError at once, and a restarted head
-- still knows them (its SQLite file).
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local sh = h.sh

-- The class every creating driver defines: n counts calls since the last __init.
local CLASS = [[
  local rayl = require "rayl"
  local K = rayl.remote({
    __init = function(self) self.n = 0 end,
    incr = function(self) self.n = self.n + 1; return self.n end,
    where = function()
      local ctx = require("rayl").get_runtime_context()
      return { ctx.pid, ctx.node_id }
    end,
  })
]]

describe("a detached named actor whose driver has exited", function()
  local cluster, dir, env

  local function driver(code)
    local f = assert(io.open(dir .. "/driver.lua", "w"))
    f:write(code)
    f:close()
    return sh(env .. "RAYL_ADDRESS=" .. cluster.address .. " timeout 120 " .. RAYL .. " " .. dir .. "/driver.lua")
  end

  -- A new driver: get_actor(name), one incr (at most 60 s) and where it runs.
  local function call(name)
    return driver(([[
      local rayl = require "rayl"
      local k = rayl.get_actor(%q)
      local t0 = require("rayl.core").now()
      local n = rayl.get(k.incr:remote(), { timeout = 60 })
      local w = rayl.get(k.where:remote())
      print(("n=%%d pid=%%d node=%%s secs=%%.1f"):format(n, w[1], w[2], require("rayl.core").now() - t0))
    ]]):format(name))
  end

  local function create(name, options)
    local out = driver(CLASS .. ([[
      local k = K:options{ name = %q, lifetime = "detached", max_restarts = 2 %s }:remote()
      print("created", rayl.get(k.incr:remote(), { timeout = 60 }))
    ]]):format(name, options or ""))
    assert.truthy(out:find("created\t1", 1, true), out)
  end

  local function field(out, key) return out:match(key .. "=(%S+)") end

  local function kill9(pid)
    assert.truthy(tonumber(pid), "not a pid: " .. tostring(pid))
    assert.are.equal(0, os.execute("kill -9 " .. pid) and 0 or 1)
  end

  lazy_setup(function()
    cluster = h.start_cluster(RAYL, "--num-cpus 2 --heartbeat-timeout-ms 1500")
    dir, env = cluster.dir, cluster.env
    cluster.join("--num-cpus 2 --resources '{\"two\": 1}'")
  end)

  lazy_teardown(function() cluster.stop() end)

  it("answers a new driver, and after kill -9 of its worker is restarted (__init again)", function()
    create("worker_killed")
    local out = call("worker_killed")
    assert.are.equal("2", field(out, "n"), out) -- the same actor: its state lives on
    local pid = field(out, "pid")
    kill9(pid)
    out = call("worker_killed")
    assert.are.equal("1", field(out, "n"), out) -- __init ran again
    assert.are_not.equal(pid, field(out, "pid"), out)
    assert.truthy(tonumber(field(out, "secs")) < 20, out)
  end)

  it("is restarted with the __init arguments it was created with (the head keeps them)", function()
    local out = driver([[
      local rayl = require "rayl"
      local K = rayl.remote({
        __init = function(self, start, blob) self.n, self.blob = start, blob end,
        incr = function(self) self.n = self.n + 1; return self.n end,
        show = function(self)
          return ("pid=%d n=%d len=%d ends=%s"):format(require("rayl").get_runtime_context().pid, self.n,
            #self.blob, self.blob:sub(1, 3) .. self.blob:sub(-3))
        end,
      })
      local k = K:options{ name = "with_args", lifetime = "detached", max_restarts = 1 }
        :remote(40, "abc" .. ("-"):rep(20000) .. "xyz")
      print("created", rayl.get(k.incr:remote(), { timeout = 60 }))
      print(rayl.get(k.show:remote()))
    ]])
    assert.truthy(out:find("created\t41", 1, true), out)
    kill9(field(out, "pid"))
    out = driver([[
      local rayl = require "rayl"
      local k = rayl.get_actor("with_args")
      print("incr", rayl.get(k.incr:remote(), { timeout = 60 }))
      print(rayl.get(k.show:remote()))
    ]])
    assert.truthy(out:find("incr\t41", 1, true), out) -- __init(40, blob) ran again
    assert.are.equal("20006", field(out, "len"), out)
    assert.are.equal("abcxyz", field(out, "ends"), out)
  end)

  it("once max_restarts are used up, a caller gets ActorDiedError at once, not a timeout", function()
    create("spent")
    for round = 1, 2 do
      local out = call("spent")
      kill9(field(out, "pid"))
      out = call("spent")
      assert.are.equal("1", field(out, "n"), "restart " .. round .. ": " .. out)
    end
    local out = driver([[
      local rayl = require "rayl"
      local core = require "rayl.core"
      local k = rayl.get_actor("spent")
      local w = rayl.get(k.where:remote())
      os.execute("kill -9 " .. w[1])
      os.execute("sleep 2") -- the head hears of the death with the next heartbeat
      local t0 = core.now()
      local ok, err = pcall(rayl.get, k.incr:remote(), { timeout = 60 })
      print("third death:", ok, type(err) == "table" and err.type or tostring(err), core.now() - t0 < 10)
      print("named:", pcall(rayl.get_actor, "spent"))
    ]])
    assert.truthy(out:find("third death:\tfalse\tActorDiedError\ttrue", 1, true), out)
    assert.truthy(out:find("named:\tfalse", 1, true), out) -- its name is free again
  end)

  it("restarts on the other node when its node is killed", function()
    local out = driver(CLASS .. [[
      local two = rayl.remote({ resources = { two = 1 } }, function()
        return require("rayl").get_runtime_context().node_id
      end)
      local node2 = rayl.get(two:remote())
      local k = K:options{ name = "node_killed", lifetime = "detached", max_restarts = 2,
                           scheduling_strategy = { node_id = node2, soft = true } }:remote()
      print("created", rayl.get(k.incr:remote(), { timeout = 60 }))
      local w = rayl.get(k.where:remote())
      print("on node 2:", w[2] == node2)
    ]])
    assert.truthy(out:find("on node 2:\ttrue", 1, true), out)
    out = call("node_killed")
    local node2, pid = field(out, "node"), field(out, "pid")
    -- "[n]ode" keeps the pattern from matching this shell's own command line.
    local nm = sh("pgrep -f 'rayl [n]ode .*" .. dir .. "' | sort -n | tail -1"):match("%d+")
    kill9(nm)
    kill9(pid)
    -- Calls made before the head sees the node dead go to the dead worker and fail
    -- (ActorDiedError, as calls in flight do without max_task_retries): wait for it.
    assert.truthy(h.wait_until(function()
      os.execute("sleep 0.2")
      return cluster.run("status --format json"):find('"alive": false', 1, true) ~= nil
    end, 20), "the head did not see node 2 die")
    out = call("node_killed")
    assert.are.equal("1", field(out, "n"), out)
    assert.truthy(field(out, "node") and field(out, "node") ~= node2, out)
  end)

  it("is still restarted after the head is killed and started again (its spec is in SQLite)", function()
    create("head_restarted")
    local head = sh("pgrep -f 'rayl [h]ead .*" .. dir .. "'"):match("%d+")
    kill9(head)
    os.execute("sleep 1")
    local started = cluster.run("start --head --port " .. cluster.port .. " --num-cpus 2 --heartbeat-timeout-ms 1500")
    assert.truthy(started:find("Restarted the rayl head", 1, true), started)
    local out = call("head_restarted")
    assert.are.equal("2", field(out, "n"), out)
    kill9(field(out, "pid"))
    out = call("head_restarted")
    assert.are.equal("1", field(out, "n"), out)
  end)
end)
