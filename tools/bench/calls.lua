-- calls.lua: N async actor calls and N tasks from one driver, results checked: a fixed
-- workload for counting the driver's instructions per call (valgrind --tool=callgrind
-- rayl tools/bench/calls.lua N, for two N: the difference divided by their difference).
local rayl = require "rayl"
rayl.init({ num_cpus = 2 })
local N = tonumber(arg and arg[1]) or 20000
local A = rayl.remote({ ping = function(self, x) return x end })
local a = A:remote()
rayl.get(a.ping:remote(1))
local refs = {}
for i = 1, N do refs[i] = a.ping:remote(i) end
local sum = 0
for _, v in ipairs(rayl.get(refs)) do sum = sum + v end
assert(sum == N * (N + 1) / 2, "actor calls: wrong sum")
local f = rayl.remote(function(x) return x end)
refs = {}
for i = 1, N do refs[i] = f:remote(i) end
sum = 0
for _, v in ipairs(rayl.get(refs)) do sum = sum + v end
assert(sum == N * (N + 1) / 2, "tasks: wrong sum")
