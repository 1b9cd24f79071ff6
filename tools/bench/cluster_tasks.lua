-- cluster_tasks.lua: task throughput on the cluster at RAYL_ADDRESS (tools/bench/cluster).
local rayl = require "rayl"
local core = require "rayl.core"
local label, n, strategy = arg[1] or "cluster", tonumber(arg[2]) or 20000, arg[3]
rayl.init()
local f = rayl.remote({ scheduling_strategy = strategy }, function(x) return x end)
rayl.get(f:remote(0)) -- warm up a lease
local t0 = core.now()
local refs = {}
for i = 1, n do refs[i] = f:remote(i) end
local ok = 0
for i, v in ipairs(rayl.get(refs)) do if v == i then ok = ok + 1 end end
local dt = core.now() - t0
print(("tasks_per_s (%s, %d nodes alive, %d/%d results) %.0f"):format(label, #rayl.nodes(), ok, n, n / dt))
