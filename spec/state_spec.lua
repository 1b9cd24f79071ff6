-- state_spec: the state API: rayl.util.state from a driver on its private cluster, and
-- `rayl list` (table and JSON) and `rayl status` demands on a cluster started with
-- `rayl start`: nodes, tasks with their states, actors alive and dead, stored objects.
local rayl = require "rayl"
local json = require "dkjson"
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local free_port = h.free_port

local function sleep(s) os.execute("sleep " .. s) end

-- The rows whose field key is value.
local function where(rows, key, value)
  local out = {}
  for _, r in ipairs(rows) do if r[key] == value then out[#out + 1] = r end end
  return out
end

describe("rayl.util.state on a driver's private cluster", function()
  local state = require "rayl.util.state"

  lazy_setup(function() rayl.init { num_cpus = 2 } end)
  lazy_teardown(function() rayl.shutdown() end)

  it("is rayl.util.state too", function()
    assert.are.equal(state, require("rayl.util").state)
  end)

  it("lists this node, alive, with its resources", function()
    local nodes, info = state.list_nodes()
    assert.are.equal(1, #nodes)
    assert.are.equal(1, info.total)
    local n = nodes[1]
    assert.are.equal(rayl.get_runtime_context().node_id, n.node_id)
    assert.are.equal("ALIVE", n.state)
    assert.are.equal(2, n.resources_total.CPU)
    assert.truthy(n.address:match("^ipc://"), n.address)
  end)

  it("lists named tasks as they are submitted, run, finish and fail", function()
    local gate = os.tmpname()
    local square = rayl.remote({ name = "square" }, function(x) return x * x end)
    local boom = rayl.remote({ name = "boom", max_retries = 0 }, function() error("boom") end)
    local wait = rayl.remote({ name = "wait_gate" }, function(path)
      while not io.open(path .. ".go") do os.execute("sleep 0.02") end
      return "opened"
    end)
    local after = rayl.remote({ name = "after_gate" }, function(x) return x end)
    local refs = {}
    for i = 1, 3 do refs[i] = square:remote(i) end
    assert.are.same({ 1, 4, 9 }, rayl.get(refs))
    assert.are.equal("TaskError", h.expect_error("TaskError", rayl.get, boom:remote()).type)
    local waiting = wait:remote(gate)
    local blocked = after:remote(waiting)
    local me = rayl.get_runtime_context()

    local squares = state.list_tasks { filters = { name = "square" } }
    assert.are.equal(3, #squares)
    for _, t in ipairs(squares) do
      assert.are.equal("FINISHED", t.state)
      assert.are.equal("NORMAL_TASK", t.type)
      assert.are.equal(me.node_id, t.node_id)
      assert.are.equal("number", type(t.worker_pid))
      assert.are.equal(0, t.attempt_number)
      assert.are.equal(me.worker_id, t.owner_id)
      assert.are.equal(32, #t.task_id)
    end
    local failed = state.list_tasks { filters = { { "name", "=", "boom" } } }
    assert.are.equal(1, #failed)
    assert.are.equal("FAILED", failed[1].state)
    assert.are.equal("TaskError", failed[1].error_type)

    local running
    assert.truthy(h.wait_until(function()
      running = state.list_tasks { filters = { name = "wait_gate" } }[1]
      return running and running.state == "RUNNING"
    end, 10), running and running.state)
    assert.are.equal(me.node_id, running.node_id)
    local pending = state.list_tasks { filters = { name = "after_gate" } }
    assert.are.equal("SUBMITTED", pending[1].state)

    assert(io.open(gate .. ".go", "w")):close()
    assert.are.equal("opened", rayl.get(blocked))
    for _, name in ipairs { "wait_gate", "after_gate" } do
      assert.are.equal("FINISHED", state.list_tasks { filters = { name = name } }[1].state)
    end
    os.remove(gate)
    os.remove(gate .. ".go")
  end)

  it("lists actors with their class, name and state; a killed actor is DEAD with its cause", function()
    local Counter = rayl.remote({
      __name = "StateCounter",
      incr = function(self) self.n = (self.n or 0) + 1; return self.n end,
      pid = function() return require("rayl").get_runtime_context().pid end,
    })
    local c = Counter:options { name = "state_ctr", namespace = "state_ns" }:remote()
    local pid = rayl.get(c.pid:remote())
    local rows = state.list_actors { filters = { name = "state_ctr" } }
    assert.are.equal(1, #rows)
    local a = rows[1]
    assert.are.equal("ALIVE", a.state)
    assert.are.equal("StateCounter", a.class_name)
    assert.are.equal("state_ns", a.namespace)
    assert.are.equal(pid, a.pid)
    assert.are.equal(rayl.get_runtime_context().node_id, a.node_id)
    assert.is_false(a.is_detached)
    local calls = state.list_tasks { filters = { actor_id = a.actor_id } }
    assert.are.equal(2, #calls) -- the creation and the pid call
    assert.are.equal(1, #where(calls, "type", "ACTOR_CREATION_TASK"))
    assert.are.equal("StateCounter.pid", where(calls, "type", "ACTOR_TASK")[1].name)

    rayl.kill(c)
    local dead
    assert.truthy(h.wait_until(function()
      dead = state.list_actors { filters = { actor_id = a.actor_id } }[1]
      return dead.state == "DEAD"
    end, 10), dead.state)
    assert.truthy(dead.death_cause:find("killed by rayl.kill", 1, true), dead.death_cause)
  end)

  it("lists the objects in the store with their sizes; small ones stay inline with their owner", function()
    local big = rayl.put(string.rep("x", 1000000))
    local arr = rayl.array("float64", 50000)
    local stored = rayl.put(arr)
    local small = rayl.put("small")
    local rows = state.list_objects()
    local byid = {}
    for _, o in ipairs(rows) do byid[o.object_id] = o end
    local o = byid[big:hex()]
    assert.truthy(o, "the 1 MB object is not listed")
    assert.truthy(o.object_size >= 1000000 and o.object_size < 1000100, o.object_size)
    assert.are.equal(rayl.get_runtime_context().node_id, o.node_id)
    assert.are.equal(rayl.get_runtime_context().worker_id, o.owner_id)
    assert.are.equal("IN_MEMORY", o.state)
    assert.is_false(o.spilled)
    assert.are.equal("number", type(o.pins))
    assert.truthy(byid[stored:hex()].object_size >= 400000, byid[stored:hex()].object_size)
    assert.is_nil(byid[small:hex()])
  end)

  it("filters like Ray's (=, !=, id prefixes) and keeps the most recent rows within the limit", function()
    local named = rayl.remote({ name = "limited" }, function(i) return i end)
    local refs = {}
    for i = 1, 5 do refs[i] = named:remote(i) end
    rayl.get(refs)
    local last2, info = state.list_tasks { filters = { name = "limited" }, limit = 2 }
    assert.are.equal(5, info.total)
    assert.are.equal(2, #last2)
    local all = state.list_tasks { filters = { name = "limited" } }
    assert.are.equal(all[4].task_id, last2[1].task_id)
    assert.are.equal(all[5].task_id, last2[2].task_id)
    local prefix = all[1].task_id:sub(1, 24)
    assert.are.equal(1, #state.list_tasks { filters = { task_id = prefix } })
    assert.are.equal(0, #state.list_tasks { filters = { { "state", "!=", "finished" }, { "name", "=", "limited" } } })
    assert.are.equal(5, #state.list_tasks { filters = { { "state", "=", "finished" }, { "name", "=", "LIMITED" } } })
    local err = h.expect_error("ValueError", state.list_tasks, { filters = { colour = "red" } })
    assert.truthy(err.message:find("cannot filter tasks by 'colour'", 1, true), err.message)
    assert.truthy(err.message:find("task_id", 1, true), err.message)
    h.expect_error("ValueError", state.list_tasks, { filters = { { "state", "~", "x" } } })
    h.expect_error("ValueError", state.list_actors, { lmit = 3 })
  end)
end)

describe("rayl list and rayl status on a cluster started with rayl start", function()
  local dir, port, env, addr

  local function run(args) return h.sh(env .. RAYL .. " " .. args) end
  -- Its output, stdout and stderr, then "rc=<exit code>".
  local function run_rc(args) return h.sh("{ " .. env .. RAYL .. " " .. args .. "; echo rc=$?; }") end

  -- Writes a driver script and starts it in the background; returns its folder.
  local function background(name, code)
    local f = assert(io.open(dir .. "/" .. name .. ".lua", "w"))
    f:write(code)
    f:close()
    os.execute(("sh -c '%sRAYL_ADDRESS=%s %s %s/%s.lua > %s/%s.out 2>&1 & echo $! > %s/%s.pid' " ..
      "< /dev/null > /dev/null 2>&1"):format(env, addr, RAYL, dir, name, dir, name, dir, name))
  end

  local function wait_for(path, text, seconds)
    local out
    local ok = h.wait_until(function()
      out = h.read_file(path) or ""
      return out:find(text, 1, true) ~= nil
    end, seconds or 60)
    assert.truthy(ok, ("%s never said %q: %s"):format(path, text, out))
  end

  local function list_json(args)
    local out = run("list " .. args .. " --format json 2>/dev/null")
    local rows = json.decode(out)
    assert.are.equal("table", type(rows), out)
    return rows
  end

  lazy_setup(function()
    dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    port = free_port()
    addr = "127.0.0.1:" .. port
    env = ("RAYL_TMPDIR=%s "):format(dir)
    local out = run("start --head --port " .. port .. " --num-cpus 2 --num-gpus 0")
    assert.truthy(out:find("Started a rayl head", 1, true), out)
    out = run("start --address " .. addr .. " --num-cpus 1 --num-gpus 0")
    assert.truthy(out:find("Joined the cluster", 1, true), out)
    background("driver", [[
      local rayl = require "rayl"
      local square = rayl.remote({ name = "cli_square" }, function(x) return x * x end)
      local refs = {}
      for i = 1, 4 do refs[i] = square:remote(i) end
      rayl.get(refs)
      pcall(rayl.get, rayl.remote({ name = "cli_boom", max_retries = 0 }, function() error("no") end):remote())
      local K = rayl.remote({ ping = function() return "pong" end })
      local keeper = K:options{ name = "cli_keeper" }:remote()
      local detached = K:options{ name = "cli_detached", lifetime = "detached" }:remote()
      rayl.get({ keeper.ping:remote(), detached.ping:remote() })
      -- 3 CPUs: three actors holding one each (made one at a time, so each finds the
      -- free CPU), and a fourth that must wait; a GPU task no node can run.
      local Hold = rayl.remote({ num_cpus = 1 }, { ping = function() return "held" end })
      local holders = {}
      for i = 1, 3 do
        holders[i] = Hold:remote()
        rayl.get(holders[i].ping:remote())
      end
      holders[4] = Hold:remote()
      local gpu = rayl.remote({ num_gpus = 1, name = "cli_gpu" }, function() return 1 end):remote()
      local big = rayl.put(string.rep("y", 2000000))
      print("ready")
      io.stdout:flush()
      local gate = "]] .. dir .. [[/go"
      while not io.open(gate) do rayl.poll(); os.execute("sleep 0.05") end
      print("done")
    ]])
    wait_for(dir .. "/driver.out", "ready")
  end)

  lazy_teardown(function()
    os.execute("touch " .. dir .. "/go")
    -- A driver stuck after a failure must not outlive the spec.
    for _, name in ipairs { "driver", "killer" } do
      local pid = tonumber(h.read_file(dir .. "/" .. name .. ".pid") or "")
      if pid then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
    end
    run("stop")
    os.execute("rm -rf " .. dir)
  end)

  it("rayl list nodes shows both nodes, as a table and as JSON", function()
    local out = run("list nodes")
    assert.truthy(out:find("Total: 2", 1, true), out)
    assert.truthy(out:find("NODE_ID%s+ADDRESS%s+STATE"), out)
    local rows = list_json("nodes")
    assert.are.equal(2, #rows)
    for _, n in ipairs(rows) do
      assert.are.equal("ALIVE", n.state)
      assert.are.equal(32, #n.node_id)
      assert.truthy(out:find(n.node_id:sub(1, 12), 1, true), out) -- shortened in the table
    end
    assert.are.equal(3, rows[1].resources_total.CPU + rows[2].resources_total.CPU)
  end)

  it("rayl list tasks shows the driver's named tasks and their states", function()
    local rows
    assert.truthy(h.wait_until(function()
      rows = list_json("tasks --filter name=cli_square")
      return #rows == 4
    end, 10), #rows)
    for _, t in ipairs(rows) do
      assert.are.equal("FINISHED", t.state)
      assert.are.equal(32, #t.node_id)
    end
    local out = run("list tasks --filter state=FAILED")
    assert.truthy(out:find("cli_boom%s+FAILED%s+NORMAL_TASK%s+%x+%s+%d+%s+TaskError"), out)
    out = run("list tasks --filter name=cli_square --limit 2")
    assert.truthy(out:find("Total: 4 (showing the last 2; use --limit to see more)", 1, true), out)
    assert.truthy(out:find("TASK_ID%s+ATTEMPT_NUMBER%s+NAME%s+STATE"), out)
  end)

  it("rayl list actors and objects show what the running driver holds", function()
    local actors = list_json("actors --filter name=cli_keeper")
    assert.are.equal(1, #actors)
    assert.are.equal("ALIVE", actors[1].state)
    local objects = list_json("objects")
    local found
    for _, o in ipairs(objects) do
      if o.object_size >= 2000000 and o.object_size < 2000100 then found = o end
    end
    assert.truthy(found, "the driver's 2 MB object is not listed")
    assert.are.equal("IN_MEMORY", found.state)
  end)

  it("rayl status shows pending and infeasible resource demands", function()
    local out
    local ok = h.wait_until(function()
      out = run("status")
      return out:find("{CPU: 1}: 1+ pending", 1, true) and out:find("infeasible", 1, true)
    end, 10)
    assert.truthy(ok, out)
    assert.truthy(out:find("{GPU: 1, CPU: 1}: 1+ infeasible", 1, true) or out:find("{CPU: 1, GPU: 1}: 1+ infeasible",
      1, true), out)
    local status = json.decode(run("status --format json"))
    local infeasible = 0
    for _, d in ipairs(status.demands) do if d.infeasible then infeasible = infeasible + d.count end end
    assert.are.equal(1, infeasible)
  end)

  it("when the driver exits its actors are DEAD, a detached one lives on until it is killed", function()
    os.execute("touch " .. dir .. "/go")
    wait_for(dir .. "/driver.out", "done")
    local keeper
    assert.truthy(h.wait_until(function()
      keeper = list_json("actors --filter name=cli_keeper")[1]
      return keeper.state == "DEAD"
    end, 10), keeper.state)
    assert.truthy(keeper.death_cause:find("owner", 1, true), keeper.death_cause)
    assert.are.equal("ALIVE", list_json("actors --filter name=cli_detached")[1].state)
    -- Killed by another driver (not its owner): the head learns it from the node.
    background("killer", [[
      local rayl = require "rayl"
      rayl.kill(rayl.get_actor("cli_detached"))
      print("killed")
    ]])
    wait_for(dir .. "/killer.out", "killed")
    local detached
    assert.truthy(h.wait_until(function()
      detached = list_json("actors --filter name=cli_detached")[1]
      return detached.state == "DEAD"
    end, 10), detached.state)
  end)

  it("rayl list explains bad arguments and a missing cluster", function()
    local out = run_rc("list tasks --filter colour=red")
    assert.truthy(out:find("cannot filter tasks by 'colour'", 1, true), out)
    assert.truthy(out:find("rc=2", 1, true), out)
    out = run_rc("list bananas")
    assert.truthy(out:find("cannot list 'bananas'", 1, true) and out:find("rc=2", 1, true), out)
    out = run_rc("list tasks --format yaml")
    assert.truthy(out:find("--format must be table or json", 1, true) and out:find("rc=2", 1, true), out)
    local empty = os.tmpname()
    os.remove(empty)
    out = h.sh("{ RAYL_TMPDIR=" .. empty .. " RAYL_ADDRESS= " .. RAYL .. " list tasks; echo rc=$?; }")
    assert.truthy(out:find("rayl list: no cluster is running on this machine", 1, true), out)
    assert.truthy(out:find("rc=1", 1, true), out)
  end)
end)
