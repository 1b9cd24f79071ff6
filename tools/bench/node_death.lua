-- node_death.lua: one run of the node-death job (tools/bench/node_death): N SPREAD tasks
-- with max_retries = 5 on the two-node cluster at RAYL_ADDRESS; once KILL_AT of them have
-- finished, runs the shell command KILL (kill -9 of node 2's node manager and workers).
-- Every task must complete. Usage: rayl node_death.lua N KILL_AT TIMEOUT_S KILL
-- Prints "node_death ok N/N ..." or "node_death FAILED ..." (and exits 1).
local rayl = require "rayl"
local core = require "rayl.core"

local n, kill_at, timeout = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
local kill, task_us = arg[4], tonumber(arg[5] or "2000")
assert(n and kill_at and timeout and kill and task_us, "usage: rayl node_death.lua N KILL_AT TIMEOUT_S KILL [TASK_US]")

rayl.init()

-- Both nodes in the driver's view before the job starts, so SPREAD uses node 2.
local function alive_nodes()
  local k = 0
  for _, node in ipairs(rayl.nodes()) do k = k + (node.alive and 1 or 0) end
  return k
end
local t_view = core.now()
while alive_nodes() < 2 do
  if core.now() - t_view > 10 then error("node 2 did not join within 10 s") end
  os.execute("sleep 0.1")
end

local work = rayl.remote({ scheduling_strategy = "SPREAD", max_retries = 5 }, function(i, us)
  local ffi = require "ffi"
  pcall(ffi.cdef, "int usleep(unsigned int);")
  if us > 0 then ffi.C.usleep(us) end -- so that node 2 holds tasks when it dies
  return { i = i, node = rayl.get_runtime_context().node_id }
end)

local t0 = core.now()
local refs = {}
for i = 1, n do refs[i] = work:remote(i, task_us) end
local ready = rayl.wait(refs, { num_returns = kill_at, timeout = timeout })
local t_kill = core.now()
if #ready < kill_at then
  print(("node_death FAILED: only %d of %d tasks finished before the kill (%.1f s)"):format(#ready, kill_at, timeout))
  os.exit(1)
end
os.execute(kill)

-- Every result, each awaited alone so that a lost one is named.
local nodes, lost, wrong = {}, {}, 0
local deadline = t_kill + timeout
for i, ref in ipairs(refs) do
  local left = deadline - core.now()
  local ok, v = pcall(rayl.get, ref, { timeout = left > 0.01 and left or 0.01 })
  if not ok then
    lost[#lost + 1] = ("%d (%s)"):format(i, type(v) == "table" and tostring(v.type) or tostring(v))
  elseif v.i ~= i then
    wrong = wrong + 1
  else
    nodes[v.node] = (nodes[v.node] or 0) + 1
  end
end
local dt = core.now() - t0
local per_node = {}
for node, k in pairs(nodes) do per_node[#per_node + 1] = node:sub(1, 8) .. "=" .. k end
table.sort(per_node)
if #lost == 0 and wrong == 0 then
  print(("node_death ok %d/%d tasks in %.2f s (killed node 2 after %d; ran on %s)"):format(n, n, dt, kill_at,
    table.concat(per_node, " ")))
else
  print(("node_death FAILED: %d of %d tasks lost, %d wrong, after %.2f s; lost: %s"):format(#lost, n, wrong, dt,
    table.concat(lost, ", ", 1, math.min(#lost, 20))))
  os.exit(1)
end
