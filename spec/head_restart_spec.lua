-- head_restart_spec: the head of a cluster started with `rayl start` is killed (SIGKILL)
-- and started again with the same command: it loads its tables from its database, the
-- node managers (still running) come back to it, and the KV store and named actors are
-- still there for new drivers.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local sh = h.sh

local read = h.read_file

-- Polls pred every 0.1 s for up to seconds; returns its last result.
local function wait_for(seconds, pred)
  local r = pred()
  for _ = 1, seconds * 10 do
    if r then return r end
    os.execute("sleep 0.1")
    r = pred()
  end
  return r
end

describe("a head killed and started again", function()
  local dir, port, env, address

  local function write(name, code)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(code)
    f:close()
    return dir .. "/" .. name
  end

  local function head_pids()
    return (sh("pgrep -f 'rayl [h]ead .*" .. dir .. "' || true"):gsub("%s+$", ""))
  end

  local function count(pattern)
    return tonumber(sh("pgrep -c -f '" .. pattern .. " .*" .. dir .. "' || true"):match("%d+"))
  end

  -- The background driver: it owns the named actor, so it must outlive the restart.
  local function stop_keeper()
    write("stop", "")
    local pid = tonumber(read(dir .. "/keeper.pid") or "")
    if not pid then return end
    if not wait_for(10, function() return os.execute("kill -0 " .. pid .. " 2>/dev/null") ~= 0 end) then
      os.execute("kill -9 " .. pid .. " 2>/dev/null")
    end
  end

  lazy_setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir) == 0)
    -- A port of our own: math.random is not seeded, so other specs would draw the same one.
    local f = assert(io.open("/dev/urandom", "rb"))
    local b1, b2 = f:read(2):byte(1, 2)
    f:close()
    port = 20000 + (b1 * 256 + b2) % 20000
    assert.are.equal("", sh("ss -ltnH 'sport = :" .. port .. "' 2>/dev/null"), "port " .. port .. " is taken")
    address = "127.0.0.1:" .. port
    env = ("RAYL_TMPDIR=%s "):format(dir)
    local out = sh(env .. RAYL .. " start --head --port " .. port .. " --num-cpus 2")
    assert.truthy(out:find("Started a rayl head at " .. address, 1, true), out)
    out = sh(env .. RAYL .. " start --address " .. address .. " --num-cpus 1 --resources '{\"sim\": 1}'")
    assert.truthy(out:find("Joined the cluster", 1, true), out)
  end)

  lazy_teardown(function()
    stop_keeper()
    sh(env .. RAYL .. " stop")
    os.execute("rm -rf " .. dir)
  end)

  it("a driver keeps a KV value and a named actor (state 1) while the cluster runs", function()
    local script = write("keeper.lua", ([[
      local rayl = require "rayl"
      rayl.init { address = %q }
      require("rayl.core").kv_put("restart_spec:key", "kept across the restart")
      local Keeper = rayl.remote({
        __init = function(self) self.n = 0 end,
        incr = function(self) self.n = self.n + 1; return self.n end,
      })
      local k = Keeper:options { name = "keeper" }:remote()
      local n = rayl.get(k.incr:remote(), { timeout = 30 })
      local f = io.open(%q, "w"); f:write("ready " .. n); f:close()
      while true do -- an owner answers callers of its actor only from inside rayl calls
        rayl.poll()
        local stop = io.open(%q)
        if stop then stop:close(); break end
        os.execute("sleep 0.05")
      end
    ]]):format(address, dir .. "/ready", dir .. "/stop"))
    sh(("sh -c '%s%s %s > %s/keeper.out 2>&1 & echo $! > %s/keeper.pid'"):format(env, RAYL, script, dir, dir))
    local ready = wait_for(60, function() return read(dir .. "/ready") end)
    assert.are.equal("ready 1", ready, read(dir .. "/keeper.out"))
    assert.truthy(read(dir .. "/gcs.sqlite3"), "the head keeps no database in " .. dir)
  end)

  it("killed with SIGKILL, then `rayl start --head` again: it loads its database and both nodes are back", function()
    local pid = head_pids()
    assert.truthy(pid:match("^%d+$"), "expected one head, found: " .. pid)
    assert.are.equal(2, count("rayl [n]ode"))
    os.execute("kill -9 " .. pid)
    assert.truthy(wait_for(5, function() return head_pids() == "" end), "the head did not die")

    local out = sh(env .. RAYL .. " start --head --port " .. port .. " --num-cpus 2")
    assert.truthy(out:find("Restarted the rayl head at " .. address, 1, true), out)
    assert.truthy(out:find("2 nodes are back", 1, true), out)
    assert.truthy(head_pids():match("^%d+$"), "expected one head after the restart")
    assert.are.equal(2, count("rayl [n]ode")) -- the node managers stayed; none was added

    local json = sh(env .. RAYL .. " status --format json")
    local alive, dead = 0, 0
    for _ in json:gmatch('"alive": true') do alive = alive + 1 end
    for _ in json:gmatch('"alive": false') do dead = dead + 1 end
    assert.are.same({ 2, 0 }, { alive, dead }, json)
    assert.truthy(json:find('"sim": 1', 1, true), json)

    -- The new head read the tables (not just a re-registration): its log says so.
    local logs = sh("cat " .. dir .. "/session_*/logs/gcs.log")
    assert.truthy(logs:find("loaded 2 nodes and %d+ KV entries"), logs)
  end)

  it("a new driver finds the KV value and the named actor, whose state is the one from before", function()
    local script = write("after.lua", ([[
      local rayl = require "rayl"
      rayl.init { address = %q }
      print("kv", require("rayl.core").kv_get("restart_spec:key"))
      local k = rayl.get_actor("keeper")
      print("actor", rayl.get(k.incr:remote(), { timeout = 30 }))
      local sim = rayl.remote({ resources = { sim = 1 } }, function() return "ran on the sim node" end)
      print("task", rayl.get(sim:remote(), { timeout = 30 }))
      print("nodes", #rayl.nodes())
    ]]):format(address))
    local out = sh(env .. RAYL .. " " .. script)
    assert.truthy(out:find("kv\tkept across the restart", 1, true), out)
    assert.truthy(out:find("actor\t2", 1, true), out)
    assert.truthy(out:find("task\tran on the sim node", 1, true), out)
    assert.truthy(out:find("nodes\t2", 1, true), out)
  end)

  it("rayl stop stops every daemon and forgets the tables: the next cluster starts empty", function()
    stop_keeper()
    local out = sh(env .. RAYL .. " stop")
    assert.truthy(out:find("Stopped 3 rayl processes", 1, true), out)
    assert.is_nil(read(dir .. "/gcs.sqlite3"))
    assert.truthy(wait_for(5, function() return count("rayl ([h]ead|[n]ode|[w]orker)") == 0 end))
  end)
end)
