-- gpu_sched_spec: GPUs as resources: num_gpus on tasks, actors and placement group
-- bundles with GPUs declared (rayl.init{num_gpus = 2}, rayl start --num-gpus 2), device
-- ids (rayl.get_gpu_ids, CUDA_VISIBLE_DEVICES), infeasible requests, and what rayl
-- status says of a node's GPUs (none here: this machine has no CUDA driver).
local rayl = require "rayl"
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

-- A task's view of its GPUs: ids, CUDA_VISIBLE_DEVICES, pid, and when it ran (the
-- monotonic clock is the machine's, shared by all processes).
local function view(started)
  local r = require "rayl"
  local c = require "rayl.core"
  return { ids = r.get_gpu_ids(), visible = os.getenv("CUDA_VISIBLE_DEVICES"), pid = r.get_runtime_context().pid,
           started = started, ended = c.now() }
end

-- Leaves the file mine and waits up to `seconds` until every file of `all` is there:
-- all of them see each other only if they run at the same time. Then sleeps `hold`.
local function meet(mine, all, seconds, hold)
  local c = require "rayl.core"
  local started = c.now()
  local f = assert(io.open(mine, "w"))
  f:close()
  local deadline = c.now() + seconds
  local function everyone()
    for _, path in ipairs(all) do
      local g = io.open(path)
      if not g then return false end
      g:close()
    end
    return true
  end
  while not everyone() and c.now() < deadline do os.execute("sleep 0.01") end
  local met = everyone()
  if hold > 0 then os.execute("sleep " .. hold) end
  return met, started
end

local on_gpu = rayl.remote({ num_gpus = 1 }, function(mine, all, hold)
  local met, started = meet(mine, all, 20, hold)
  local v = view(started)
  v.met = met
  return v
end)

local function files(n)
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local all = {}
  for i = 1, n do all[i] = dir .. "/" .. i end
  return all, function() os.execute("rm -rf " .. dir) end
end

local function gpus_free()
  assert(h.wait_until(function() return (rayl.available_resources().GPU or 0) == 2 end, 10), "the GPUs stay busy")
end

describe("GPUs declared with rayl.init{num_gpus = 2}", function()
  lazy_setup(function()
    rayl.init { num_cpus = 4, num_gpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("the cluster has 2 GPUs; the driver has no GPU ids", function()
    assert.are.equal(2, rayl.cluster_resources().GPU)
    assert.are.same({}, rayl.get_gpu_ids())
  end)

  it("two num_gpus = 1 tasks run at once, on distinct ids, CUDA_VISIBLE_DEVICES matching", function()
    gpus_free()
    local all, clean = files(2)
    finally(clean)
    local a, b = unpack(rayl.get({ on_gpu:remote(all[1], all, 0.3), on_gpu:remote(all[2], all, 0.3) },
      { timeout = 60 }))
    assert.is_true(a.met and b.met, "they did not run at the same time")
    assert.is_true(a.started < b.ended and b.started < a.ended,
      ("they ran one after the other: %.3f-%.3f and %.3f-%.3f"):format(a.started, a.ended, b.started, b.ended))
    assert.are.equal(1, #a.ids)
    assert.are.equal(1, #b.ids)
    assert.are_not.equal(a.ids[1], b.ids[1])
    for _, v in ipairs { a, b } do
      assert.truthy(v.ids[1] == 0 or v.ids[1] == 1, tostring(v.ids[1]))
      assert.are.equal(tostring(v.ids[1]), v.visible)
    end
  end)

  it("a third num_gpus = 1 task waits until one of the first two ends, and gets its device", function()
    gpus_free()
    local all, clean = files(2)
    finally(clean)
    -- The first two meet and then hold their devices for 1 s; the third holds nothing up.
    local refs = { on_gpu:remote(all[1], all, 1), on_gpu:remote(all[2], all, 1) }
    refs[3] = on_gpu:remote(all[1], {}, 0)
    local a, b, c = unpack(rayl.get(refs, { timeout = 60 }))
    assert.is_true(a.met and b.met, "the first two did not run at the same time")
    -- It started once the task on its device had ended.
    local before = a.ids[1] == c.ids[1] and a or b
    assert.are.same(before.ids, c.ids)
    assert.is_true(c.started >= before.ended - 0.005,
      ("the third started at %.3f, before the first two ended (%.3f, %.3f)"):format(c.started, a.ended, b.ended))
    assert.are.equal(tostring(c.ids[1]), c.visible)
  end)

  it("four num_gpus = 0.5 tasks run at once, two on each device", function()
    gpus_free()
    local all, clean = files(4)
    finally(clean)
    local half = rayl.remote({ num_gpus = 0.5 }, function(mine, everyone)
      local met, started = meet(mine, everyone, 20, 0)
      local v = view(started)
      v.met = met
      return v
    end)
    local refs = {}
    for i = 1, 4 do refs[i] = half:remote(all[i], all) end
    local uses, pids = { [0] = 0, [1] = 0 }, {}
    for _, v in ipairs(rayl.get(refs, { timeout = 60 })) do
      assert.is_true(v.met, "the four did not run at the same time")
      assert.are.equal(1, #v.ids)
      assert.are.equal(tostring(v.ids[1]), v.visible)
      uses[v.ids[1]] = uses[v.ids[1]] + 1
      pids[v.pid] = true
    end
    assert.are.same({ [0] = 2, [1] = 2 }, uses)
    local n = 0
    for _ in pairs(pids) do n = n + 1 end
    assert.are.equal(4, n)
  end)

  it("a task without num_gpus sees no GPU: get_gpu_ids() is {} and CUDA_VISIBLE_DEVICES is empty", function()
    gpus_free()
    -- A worker is bound to its devices for life: the GPU task's is not reused here.
    local gpu_pid = rayl.get(on_gpu:remote(os.tmpname(), {}, 0)).pid
    local plain = rayl.remote(function() return view(0) end)
    local refs = {}
    for i = 1, 6 do refs[i] = plain:remote() end
    for _, v in ipairs(rayl.get(refs, { timeout = 60 })) do
      assert.are.same({}, v.ids)
      assert.are.equal("", v.visible)
      assert.are_not.equal(gpu_pid, v.pid)
    end
  end)

  it("an actor with num_gpus = 1 keeps its device across calls; a task gets the other one", function()
    gpus_free()
    local Holder = rayl.remote({ num_gpus = 1 }, {
      where = function() return view(0) end,
    })
    local actor = Holder:remote()
    local seen = {}
    for i = 1, 3 do seen[i] = rayl.get(actor.where:remote(), { timeout = 60 }) end
    assert.are.equal(1, #seen[1].ids)
    for i = 2, 3 do
      assert.are.same(seen[1].ids, seen[i].ids)
      assert.are.equal(seen[1].pid, seen[i].pid)
    end
    assert.are.equal(tostring(seen[1].ids[1]), seen[1].visible)
    local other = rayl.get(on_gpu:remote(os.tmpname(), {}, 0), { timeout = 60 })
    assert.are.equal(1 - seen[1].ids[1], other.ids[1])
    rayl.kill(actor)
  end)

  it("a placement group bundle {GPU = 1} reserves a device; tasks in it get that device", function()
    gpus_free()
    local util = rayl.util
    local pg = util.placement_group({ { CPU = 1, GPU = 1 } })
    finally(function() util.remove_placement_group(pg) end)
    assert.is_true(pg:wait(30))
    assert.is_true(h.wait_until(function() return rayl.available_resources().GPU == 1 end, 10))
    local half = rayl.remote({ num_gpus = 0.5 }, function() return view(0) end)
    local inside = rayl.get({ half:options { placement_group = pg }:remote(),
      half:options { placement_group = pg }:remote() }, { timeout = 60 })
    assert.are.equal(1, #inside[1].ids)
    assert.are.same(inside[1].ids, inside[2].ids)
    assert.are.equal(tostring(inside[1].ids[1]), inside[1].visible)
    -- Outside the group only the other device is left.
    local outside = rayl.get(on_gpu:remote(os.tmpname(), {}, 0), { timeout = 60 })
    assert.are.equal(1 - inside[1].ids[1], outside.ids[1])
  end)

  it("num_gpus over 1 must be whole (as Ray requires), for tasks, actors, bundles and rayl.init", function()
    local f = rayl.remote(function() end)
    local err = h.expect_error("ValueError", function() return f:options { num_gpus = 1.5 }:remote() end)
    assert.truthy(err.message:find("num_gpus", 1, true), err.message)
    h.expect_error("ValueError", function() return rayl.remote({ num_gpus = 2.5 }, { m = function() end }):remote() end)
    h.expect_error("ValueError", function() return rayl.util.placement_group({ { GPU = 1.5 } }) end)
    h.expect_error("ValueError", function() return f:options { num_gpus = -1 }:remote() end)
    assert.truthy(pcall(function() return f:options { num_gpus = 0.25 } end))
  end)
end)

describe("GPUs of nodes started with rayl start", function()
  local cluster

  -- Runs a driver on the cluster; returns what it printed (stdout and stderr).
  local function driver(code)
    local path = cluster.dir .. "/driver.lua"
    local f = assert(io.open(path, "w"))
    f:write(code)
    f:close()
    return h.sh(cluster.env .. "RAYL_ADDRESS=" .. cluster.address .. " " .. RAYL .. " " .. path)
  end

  lazy_setup(function()
    -- The head's node finds GPUs through the CUDA driver (none here); the second node
    -- declares 2, numbered as its CUDA_VISIBLE_DEVICES says.
    cluster = h.start_cluster(RAYL, "--num-cpus 1")
    local out = h.sh(cluster.env .. "CUDA_VISIBLE_DEVICES=3,5 " .. RAYL .. " start --address " .. cluster.address
      .. " --num-cpus 2 --num-gpus 2")
    assert(out:find("Joined the cluster", 1, true), out)
  end)

  lazy_teardown(function() cluster.stop() end)

  it("rayl status says a node without a CUDA driver has no GPUs, and gives the other's", function()
    local out = cluster.run("status")
    local ok = pcall(require("ffi").load, "libcuda.so.1")
    if not ok then
      assert.truthy(out:find("GPUs: none (no CUDA driver: libcuda.so.1 not found)", 1, true), out)
    else
      assert.truthy(out:find("GPUs: none (") or out:find("found by the CUDA driver", 1, true), out)
    end
    assert.truthy(out:find("GPUs: 2 (declared with --num-gpus; device ids 3,5), 2 of 2 available", 1, true), out)
    local json = require("rayl.json").decode(cluster.run("status --format json"))
    local described = {}
    for _, n in ipairs(json.nodes) do described[#described + 1] = n.gpus end
    table.sort(described)
    assert.truthy(described[1]:find("^2 %(declared with %-%-num%-gpus"), described[1])
  end)

  it("a task with num_gpus = 1 runs on the node that has GPUs, with an id its CUDA_VISIBLE_DEVICES listed", function()
    local out = driver([[
      local rayl = require "rayl"
      local f = rayl.remote({ num_gpus = 1 }, function()
        local r = require "rayl"
        return table.concat(r.get_gpu_ids(), ",") .. "|" .. os.getenv("CUDA_VISIBLE_DEVICES")
      end)
      print("ran:", rayl.get(f:remote(), { timeout = 30 }))
    ]])
    assert.truthy(out:find("ran:\t3|3", 1, true) or out:find("ran:\t5|5", 1, true), out)
  end)

  it("num_gpus = 3 is infeasible: the driver is warned and rayl status lists the demand", function()
    local out = driver(([[
      local rayl = require "rayl"
      local f = rayl.remote({ num_gpus = 3 }, function() return "ran" end)
      local ref = f:remote()
      local ok, err = pcall(rayl.get, ref, { timeout = 2 })
      print("got:", ok, err.type)
      -- rayl status, while the task waits.
      local status
      for _ = 1, 50 do
        local p = io.popen(%q .. " status 2>&1")
        status = p:read("*a")
        p:close()
        if status:find("infeasible", 1, true) then break end
        os.execute("sleep 0.2")
      end
      print(status)
    ]]):format(RAYL))
    assert.truthy(out:find("got:\tfalse\tGetTimeoutError", 1, true), out)
    assert.truthy(out:find("rayl: warning: tasks needing {CPU: 1, GPU: 3} cannot be scheduled", 1, true)
      or out:find("rayl: warning: tasks needing {GPU: 3, CPU: 1} cannot be scheduled", 1, true), out)
    assert.truthy(out:find("no node has that", 1, true), out)
    assert.truthy(out:find("{CPU: 1, GPU: 3}: 1+ infeasible", 1, true)
      or out:find("{GPU: 3, CPU: 1}: 1+ infeasible", 1, true), out)
  end)

  it("rayl start --num-gpus takes a whole number of devices", function()
    local out = h.sh(cluster.env .. RAYL .. " start --address " .. cluster.address .. " --num-gpus 1.5")
    assert.truthy(out:find("rayl start: --num-gpus must be a whole number of devices from 0 to 64, got '1.5'", 1,
      true), out)
  end)
end)
