-- placement_group_spec: placement groups (rayl.util.placement_group) on a private
-- cluster (reserve, ready/wait, tasks and actors in bundles, removal, bad input), and
-- on a cluster started with `rayl start` (strategies across nodes, a group waiting for
-- a node to join, rescheduling when a node dies, groups kept across a head restart).
local rayl = require "rayl"
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local sh = h.sh

-- Two tasks that each leave a file and wait up to `seconds` for the other's: both see
-- each other only if they run at the same time.
local meet = rayl.remote(function(mine, theirs, seconds)
  local c = require "rayl.core"
  local f = assert(io.open(mine, "w"))
  f:close()
  local deadline = c.now() + seconds
  repeat
    local g = io.open(theirs)
    if g then g:close(); return true end
    os.execute("sleep 0.01")
  until c.now() > deadline
  return false
end)

describe("placement groups on a private cluster", function()
  local util

  lazy_setup(function()
    rayl.init { num_cpus = 3 }
    util = rayl.util
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  local function cpus_free() return rayl.available_resources().CPU or 0 end

  it("placement_group returns at once; ready() is an ObjectRef that becomes ready; wait() is true", function()
    local t0 = h.now()
    local pg = util.placement_group({ { CPU = 1 }, { CPU = 1, GPU = 0 } }, { strategy = "PACK", name = "opt" })
    assert.is_true(h.now() - t0 < 0.5)
    assert.are.equal(32, #pg.id)
    assert.are.same({ { CPU = 1 }, { CPU = 1, GPU = 0 } }, pg.bundle_specs)
    local ref = pg:ready()
    assert.are.equal("userdata", type(ref))
    local ready = rayl.wait({ ref }, { timeout = 10 })
    assert.are.equal(1, #ready)
    assert.are.equal(pg, rayl.get(ref)) -- its value is the group itself, as in Ray
    assert.is_true(pg:wait(5))
    local t = util.placement_group_table(pg)
    local node = rayl.get_runtime_context().node_id
    assert.are.same({ "CREATED", "opt", "PACK", node, node },
      { t.state, t.name, t.strategy, t.bundles_to_node_id[1], t.bundles_to_node_id[2] })
    assert.are.equal(pg.id, util.get_placement_group("opt").id)
    assert.truthy(util.placement_group_table()[pg.id])
    -- Names are unique while the group lives.
    local err = h.expect_error("ValueError", util.placement_group, { { CPU = 1 } }, { name = "opt" })
    assert.truthy(err.message:find("named 'opt'", 1, true), err.message)
    util.remove_placement_group(pg)
    assert.are.equal("REMOVED", util.placement_group_table(pg).state)
    h.expect_error("ValueError", util.get_placement_group, "opt")
    assert.is_false(pg:wait(0))
  end)

  it("a bundle of 1 CPU runs its tasks one at a time; one of 1.5 CPUs runs two at once", function()
    local dir = os.tmpname()
    local function pair(pg)
      local a, b = dir .. "-a", dir .. "-b"
      os.remove(a)
      os.remove(b)
      local ra = meet:options { num_cpus = 1, placement_group = pg, placement_group_bundle_index = 1 }:remote(a, b, 1.5)
      local rb = meet:options { num_cpus = 0.5, placement_group = pg, placement_group_bundle_index = 1 }:remote(b, a, 1.5)
      return rayl.get({ ra, rb }, { timeout = 30 })
    end
    local wide = util.placement_group({ { CPU = 1.5 } })
    assert.is_true(wide:wait(10))
    assert.are.same({ true, true }, pair(wide))
    util.remove_placement_group(wide)
    local narrow = util.placement_group({ { CPU = 1 } })
    assert.is_true(narrow:wait(10))
    local met = pair(narrow)
    assert.is_false(met[1] and met[2], "two tasks ran at once in a bundle of 1 CPU")
    assert.is_true(met[1] or met[2]) -- the second saw the first's file: both ran
    util.remove_placement_group(narrow)
    os.remove(dir)
    os.remove(dir .. "-a")
    os.remove(dir .. "-b")
  end)

  it("an actor in a bundle holds its CPU: a second one waits until the first is killed", function()
    local pg = util.placement_group({ { CPU = 1 } })
    local A = rayl.remote({ num_cpus = 1 }, { pid = function() return require("rayl").get_runtime_context().pid end })
    local in_pg = { scheduling_strategy = util.PlacementGroupSchedulingStrategy {
      placement_group = pg, placement_group_bundle_index = -1 } }
    local first = A:options(in_pg):remote()
    assert.is_number(rayl.get(first.pid:remote(), { timeout = 30 }))
    local second = A:options(in_pg):remote()
    local call = second.pid:remote()
    local ready = rayl.wait({ call }, { timeout = 1 })
    assert.are.equal(0, #ready, "the second actor was placed in a full bundle")
    rayl.kill(first)
    assert.is_number(rayl.get(call, { timeout = 30 }))
    util.remove_placement_group(pg)
  end)

  it("a group's CPUs leave available_resources; removal gives them back and ends what ran in it", function()
    assert.is_true(h.wait_until(function() return cpus_free() == 3 end, 5))
    local pg = util.placement_group({ { CPU = 1 }, { CPU = 2 } })
    assert.is_true(pg:wait(10))
    assert.is_true(h.wait_until(function() return cpus_free() == 0 end, 5))
    -- An actor leased from the group, a task running in it and one waiting for it, and a
    -- task that needs a CPU outside it.
    local A = rayl.remote({ num_cpus = 1 }, { sleep = function() os.execute("sleep 30") end })
    local a = A:options { placement_group = pg, placement_group_bundle_index = 2 }:remote()
    local busy = a.sleep:remote()
    local sleep = rayl.remote(function(s) os.execute("sleep " .. s) end)
    local in_pg = sleep:options { placement_group = pg, placement_group_bundle_index = 1 }
    local running, waiting = in_pg:remote(30), in_pg:remote(0)
    local outside = rayl.remote(function() return "ran" end):remote()
    assert.are.equal(0, #rayl.wait({ outside, waiting }, { timeout = 1 }), "a task ran on CPUs the group holds")
    util.remove_placement_group(pg)
    assert.are.equal("ran", rayl.get(outside, { timeout = 30 }))
    h.expect_error("ActorDiedError", rayl.get, busy, { timeout = 30 })
    -- As Ray: tasks of a removed group fail rather than wait forever.
    for _, ref in ipairs { running, waiting } do
      local err = h.expect_error("TaskPlacementGroupRemoved", rayl.get, ref, { timeout = 30 })
      assert.truthy(err.message:find(pg.id, 1, true), err.message)
    end
    assert.is_true(h.wait_until(function() return cpus_free() == 3 end, 5))
  end)

  it("a group can be passed to a task, which schedules work into it", function()
    local pg = util.placement_group({ { CPU = 1 } }, { strategy = "STRICT_PACK" })
    local outer = rayl.remote({ num_cpus = 0 }, function(group)
      local r = require "rayl"
      local inner = r.remote(function() return r.get_runtime_context().node_id end)
      return { r.get(inner:options { placement_group = group }:remote(), { timeout = 30 }), group.strategy }
    end)
    assert.are.same({ rayl.get_runtime_context().node_id, "STRICT_PACK" }, rayl.get(outer:remote(pg), { timeout = 30 }))
    util.remove_placement_group(pg)
  end)

  it("bad input gets a ValueError that says what is wrong", function()
    local function says(fragment, fn, ...)
      local err = h.expect_error("ValueError", fn, ...)
      assert.truthy(err.message:find(fragment, 1, true), err.message)
    end
    says("non-empty list of bundles", util.placement_group, {})
    says("non-empty list of bundles", util.placement_group, "CPU")
    says("bundle 2 is empty", util.placement_group, { { CPU = 1 }, {} })
    says("bundle 1 is empty or asks for zero of everything", util.placement_group, { { CPU = 0, GPU = 0 } })
    says("must be an amount >= 0, got -1", util.placement_group, { { CPU = 1, GPU = -1 } })
    says('must be an amount >= 0, got "x"', util.placement_group, { { CPU = "x" } })
    says("unknown placement strategy NEAREST", util.placement_group, { { CPU = 1 } }, { strategy = "NEAREST" })
    says("unknown option 'stratgy'", util.placement_group, { { CPU = 1 } }, { stratgy = "PACK" })
    says("lifetime must be", util.placement_group, { { CPU = 1 } }, { lifetime = "forever" })
    local pg = util.placement_group({ { CPU = 1 }, { CPU = 0.5 } })
    local f = rayl.remote(function() return 1 end)
    says("bundle 2 of placement group", f.options, f, { placement_group = pg, placement_group_bundle_index = 2 })
    says("more than any bundle", f.options, f, { placement_group = pg, num_cpus = 2 })
    says("count from 1", f.options, f, { placement_group = pg, placement_group_bundle_index = 0 })
    says("from 1 to 2", f.options, f, { placement_group = pg, placement_group_bundle_index = 3 })
    says("needs placement_group", f.options, f, { placement_group_bundle_index = 1 })
    says("must be a placement group", f.options, f, { placement_group = "pg" })
    local A = rayl.remote({ ping = function() return 1 end })
    says("num_cpus = 0", A.remote, A:options { placement_group = pg, placement_group_bundle_index = 2 })
    util.remove_placement_group(pg)
    says("was removed", f.options, f, { placement_group = pg })
    says("expects a placement group", util.remove_placement_group, "pg")
  end)

  it("a group no node can hold stays pending, and its creator is warned once", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write([[
      local rayl = require "rayl"
      rayl.init { num_cpus = 1 }
      local pg = rayl.util.placement_group({ { CPU = 8 } })
      local spread = rayl.util.placement_group({ { CPU = 0.5 }, { CPU = 0.5 } }, { strategy = "STRICT_SPREAD" })
      print("ready:", pg:wait(0.5), spread:wait(0.5), rayl.util.placement_group_table(pg).state)
    ]])
    f:close()
    local out = sh(RAYL .. " " .. path)
    os.remove(path)
    assert.truthy(out:find("ready:\tfalse\tfalse\tPENDING", 1, true), out)
    local _, warnings = out:gsub("cannot be placed", "")
    assert.are.equal(2, warnings, out)
    assert.truthy(out:find("bundle 1 asks for {CPU: 8}, which no node has", 1, true), out)
    assert.truthy(out:find("STRICT_SPREAD needs 2 distinct nodes", 1, true), out)
  end)
end)

describe("placement groups on a cluster started with rayl start", function()
  local cluster, dir, port, env, address

  lazy_setup(function()
    cluster = h.start_cluster(RAYL, "--num-cpus 2 --resources '{\"n1\": 1}' --heartbeat-timeout-ms 2000")
    dir, port, env, address = cluster.dir, cluster.port, cluster.env, cluster.address
    cluster.join("--num-cpus 2 --resources '{\"n2\": 1}'")
  end)

  lazy_teardown(function() cluster.stop() end)

  -- Runs a driver on the cluster. Its code gets `util`, `names(pg)` (the custom
  -- resource n1/n2/n3 of the node holding each bundle, comma-separated) and
  -- `ran_on(pg, i)` (that name for the node a task in bundle i ran on).
  local function driver(code)
    local f = assert(io.open(dir .. "/driver.lua", "w"))
    f:write([[
      local rayl = require "rayl"
      local util = rayl.util
      local function name_of(node_id)
        for _, n in ipairs(rayl.nodes()) do
          if n.node_id == node_id then
            for k in pairs(n.resources) do if k:match("^n%d$") then return k end end
          end
        end
        return "?"
      end
      local function names(pg)
        local t, out = util.placement_group_table(pg), {}
        for i = 1, #pg.bundle_specs do out[i] = t.bundles_to_node_id[i] and name_of(t.bundles_to_node_id[i]) or "-" end
        return table.concat(out, ",")
      end
      local where = rayl.remote({ num_cpus = 0.1 }, function() return require("rayl").get_runtime_context().node_id end)
      local function ran_on(pg, i)
        return name_of(rayl.get(where:options { placement_group = pg, placement_group_bundle_index = i }:remote(),
          { timeout = 30 }))
      end
    ]] .. code)
    f:close()
    return sh(env .. "RAYL_ADDRESS=" .. address .. " " .. RAYL .. " " .. dir .. "/driver.lua")
  end

  local function join(resource)
    return ("%s%s start --address %s --num-cpus 2 --resources '{\"%s\": 1}'"):format(env, RAYL, address, resource)
  end

  it("STRICT_SPREAD puts its bundles on distinct nodes, and tasks run where their bundle is", function()
    local out = driver([[
      local pg = util.placement_group({ { CPU = 1 }, { CPU = 1 } }, { strategy = "STRICT_SPREAD" })
      assert(pg:wait(30))
      local placed = names(pg)
      print("spread:", placed, placed == ran_on(pg, 1) .. "," .. ran_on(pg, 2))
    ]])
    assert.truthy(out:find("spread:\tn1,n2\ttrue", 1, true) or out:find("spread:\tn2,n1\ttrue", 1, true), out)
  end)

  it("STRICT_PACK puts every bundle on one node: the one with the resource a bundle needs", function()
    local out = driver([[
      local pg = util.placement_group({ { CPU = 0.5 }, { CPU = 0.5, n2 = 0.5 } }, { strategy = "STRICT_PACK" })
      assert(pg:wait(30))
      print("pack:", names(pg), ran_on(pg, 1), ran_on(pg, 2))
      local too_big = util.placement_group({ { CPU = 1.5 }, { CPU = 1.5 } }, { strategy = "STRICT_PACK" })
      print("too big:", too_big:wait(1))
    ]])
    assert.truthy(out:find("pack:\tn2,n2\tn2\tn2", 1, true), out)
    assert.truthy(out:find("too big:\tfalse", 1, true), out)
    assert.truthy(out:find("STRICT_PACK needs {CPU: 3} on one node", 1, true), out)
  end)

  it("PACK shares a node when it can, SPREAD spreads, and both use more nodes when they must", function()
    local out = driver([[
      local pack = util.placement_group({ { CPU = 0.5 }, { CPU = 0.5 } })
      local spread = util.placement_group({ { CPU = 0.5 }, { CPU = 0.5 } }, { strategy = "SPREAD" })
      assert(pack:wait(30) and spread:wait(30))
      local p, s = names(pack), names(spread)
      print("pack:", p:sub(1, 2) == p:sub(4, 5), "spread:", s:sub(1, 2) ~= s:sub(4, 5))
      util.remove_placement_group(pack)
      util.remove_placement_group(spread)
      local big = util.placement_group({ { CPU = 1.5 }, { CPU = 1.5 } })
      local many = util.placement_group({ { CPU = 0.1 }, { CPU = 0.1 }, { CPU = 0.1 } }, { strategy = "SPREAD" })
      assert(big:wait(30) and many:wait(30))
      local b = names(big)
      print("big:", b:sub(1, 2) ~= b:sub(4, 5), "many:", names(many):find("-") == nil)
    ]])
    assert.truthy(out:find("pack:\ttrue\tspread:\ttrue", 1, true), out)
    assert.truthy(out:find("big:\ttrue\tmany:\ttrue", 1, true), out)
  end)

  it("a STRICT_SPREAD group with more bundles than nodes waits, and is created when a node joins", function()
    local out = driver([[
      local pg = util.placement_group({ { CPU = 0.5 }, { CPU = 0.5 }, { CPU = 0.5 } }, { strategy = "STRICT_SPREAD" })
      print("before:", pg:wait(1), util.placement_group_table(pg).state)
      os.execute(]] .. ("%q"):format(join("n3")) .. [[)
      print("after:", pg:wait(30), util.placement_group_table(pg).state)
      local placed, seen, distinct = names(pg), {}, 0
      for n in placed:gmatch("n%d") do if not seen[n] then seen[n] = true; distinct = distinct + 1 end end
      print("nodes:", distinct, ran_on(pg, 3) == placed:sub(7, 8))
    ]])
    assert.truthy(out:find("before:\tfalse\tPENDING", 1, true), out)
    assert.truthy(out:find("STRICT_SPREAD needs 3 distinct nodes, one per bundle, and the cluster has 2", 1, true), out)
    assert.truthy(out:find("after:\ttrue\tCREATED", 1, true), out)
    assert.truthy(out:find("nodes:\t3\ttrue", 1, true), out)
  end)

  it("a node dying with a bundle: the group is rescheduled onto the nodes left", function()
    local out = driver([[
      local pg = util.placement_group({ { CPU = 0.5 }, { CPU = 0.5 }, { CPU = 0.5 } }, { strategy = "SPREAD" })
      assert(pg:wait(30))
      local t = util.placement_group_table(pg)
      local victim
      for i = 1, 3 do if names(pg):sub(3 * i - 2, 3 * i - 1) == "n3" then victim = i end end
      -- n3's node manager (its command line names the resource and this cluster's folder)
      os.execute("kill -9 $(pgrep -f 'rayl [n]ode .*]] .. dir .. [[.*n3=')")
      local moved = false
      local deadline = require("rayl.core").now() + 30
      while not moved and require("rayl.core").now() < deadline do
        os.execute("sleep 0.2")
        local now = util.placement_group_table(pg)
        moved = now.state == "CREATED" and now.bundles_to_node_id[victim] ~= t.bundles_to_node_id[victim]
      end
      print("moved:", moved, names(pg):find("n3") == nil, ran_on(pg, victim) ~= "n3")
    ]])
    assert.truthy(out:find("moved:\ttrue\ttrue\ttrue", 1, true), out)
    local logs = sh("cat " .. dir .. "/session_*/logs/gcs.log")
    assert.truthy(logs:find("lost bundles with a dead node: rescheduling them", 1, true), logs)
  end)

  it("a driver's groups go with it; a detached one stays, also across a restart of the head", function()
    local out = driver([[
      local mine = util.placement_group({ { CPU = 1 } }, { name = "mine" })
      local kept = util.placement_group({ { CPU = 0.5 } }, { name = "kept", lifetime = "detached" })
      print("made:", mine:wait(30), kept:wait(30))
    ]])
    assert.truthy(out:find("made:\ttrue\ttrue", 1, true), out)
    out = driver([[ print("next driver:", pcall(util.get_placement_group, "mine"), util.get_placement_group("kept").id) ]])
    assert.truthy(out:find("next driver:\tfalse\t" .. ("%x"):rep(32)), out)
    -- rayl status counts the groups: only the detached one is left.
    local status = sh(env .. RAYL .. " status")
    assert.truthy(status:find("Placement groups: 1 created, 0 pending, 0 rescheduling", 1, true), status)
    assert.truthy(sh(env .. RAYL .. " status --format json"):find(
      '"placement_groups": {"created": 1, "pending": 0, "rescheduling": 0}', 1, true))
    local head = sh("pgrep -f 'rayl [h]ead .*" .. dir .. "'"):match("%d+")
    os.execute("kill -9 " .. head)
    os.execute("sleep 0.5")
    out = sh(env .. RAYL .. " start --head --port " .. port ..
      " --num-cpus 2 --resources '{\"n1\": 1}' --heartbeat-timeout-ms 2000")
    assert.truthy(out:find("Restarted the rayl head", 1, true), out)
    out = driver([[
      local ok = pcall(util.get_placement_group, "mine")
      local kept = util.get_placement_group("kept")
      print("after:", ok, util.placement_group_table(kept).state, ran_on(kept, 1) == names(kept))
      util.remove_placement_group(kept)
    ]])
    assert.truthy(out:find("after:\tfalse\tCREATED\ttrue", 1, true), out)
    out = driver([[ print("gone:", pcall(util.get_placement_group, "kept")) ]])
    assert.truthy(out:find("gone:\tfalse", 1, true), out)
  end)
end)
