-- node_death_spec: a node killed (kill -9, node manager and workers) under a 2,000-task
-- SPREAD job with max_retries = 5 loses no task: each run of tools/bench/node_death (a
-- fresh two-node cluster per run) gets every result. `tools/bench/node_death --runs 10`
-- runs the same job ten times.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

describe("a node killed under a SPREAD job with retries", function()
  local dir

  setup(function()
    dir = os.tmpname() -- /tmp/lua_*: tools/test-reap removes it if the spec is stopped
    os.remove(dir)
    assert(os.execute("mkdir -m 700 " .. dir) == 0)
  end)

  teardown(function() os.execute("rm -rf " .. dir) end)

  -- Runs the job once per kill point; returns the tool's output.
  local function job(kill_at)
    return h.sh(("TMPDIR=%s RAYL_BIN=%s timeout 120 tools/bench/node_death --runs 1 --tasks 2000 --kill-at %d --timeout 20")
      :format(dir, RAYL, kill_at))
  end

  it("completes every task when the node dies mid-job", function()
    local out = job(1000)
    assert.truthy(out:find("run 1: node_death ok 2000/2000 tasks", 1, true), out)
    assert.truthy(out:find("node_death: 1 of 1 runs passed", 1, true), out)
  end)

  -- The driver's lease request waited at node 2 when it died, and its leases on node 1
  -- had been given back idle: the retried tasks waited for a lease that never came.
  it("completes every task when the node dies near the end, its retries needing a new lease", function()
    local out = job(1990)
    assert.truthy(out:find("run 1: node_death ok 2000/2000 tasks", 1, true), out)
    assert.truthy(out:find("node_death: 1 of 1 runs passed", 1, true), out)
  end)
end)
