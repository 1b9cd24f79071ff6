-- chaos_spec: one minute of tools/chaos: a mixed workload (tasks with retries, nested
-- tasks, actors with restarts, large objects across nodes, a detached actor, work that
-- may not be retried) on a three-node cluster while workers and node managers are
-- killed with kill -9 and nodes are started again. Every retryable result must come
-- back correct, the rest correct or a documented error, and the cluster must be left
-- clean. `tools/chaos --minutes N` runs it longer.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

describe("a mixed workload while processes are killed (tools/chaos)", function()
  -- tools/chaos makes its folder under TMPDIR and removes it when the run passes; a failed
  -- run's folder (every node's logs) is kept and named in the output.
  local dir = os.getenv("TMPDIR") or "/tmp"

  it("gets every retryable result, only documented errors otherwise, and leaves the cluster clean", function()
    -- 60 s of chaos, then at most 60 s per round's results; a hang ends at 480 s.
    local out = h.sh(("TMPDIR=%s RAYL_BIN=%s timeout 480 tools/chaos --minutes 1; echo \"tools/chaos exit status $?\"")
      :format(dir, RAYL))
    assert.falsy(out:find("exit status 124", 1, true), "tools/chaos did not end within 480 s (a hang):\n" .. out)
    assert.truthy(out:find("\nchaos ok:", 1, true), out)
    assert.truthy(out:find("tools/chaos exit status 0", 1, true), out)
    -- What a user would count: every retryable kind's results all correct; kills done.
    for _, kind in ipairs { "task", "nested", "actor", "object", "put", "detached" } do
      local expected, correct = out:match("chaos summary: " .. kind .. "%s+expected%s+(%d+)%s+correct%s+(%d+)")
      assert.truthy(expected, "no summary line for " .. kind .. ":\n" .. out)
      assert.is_true(tonumber(expected) > 0 and expected == correct, kind .. ": " .. tostring(correct) ..
        " of " .. expected .. " correct:\n" .. out)
    end
    local workers, nodes = out:match("chaos ok: .- (%d+) worker kills, (%d+) node kills")
    assert.is_true(tonumber(workers) >= 1 and tonumber(nodes) >= 1, "too few kills:\n" .. out)
    assert.truthy(out:find("cluster clean after", 1, true), out)
  end)
end)
