-- cluster_transfer.lua: a 256 MiB object made on the node offering 'far', read on this
-- node four times; then a 1 GiB one, alone and while small tasks run (tools/bench/cluster).
-- With the argument "transfer-only": the 1 GiB one alone only.
local rayl = require "rayl"
local core = require "rayl.core"
rayl.init()
local make = rayl.remote({ resources = { far = 1 } }, function(n) return require("rayl").array("uint8", n) end)
local rates = {}
for i = 1, 4 do
  local ref = make:remote(256 * 1024 * 1024)
  rayl.wait({ ref })
  local t0 = core.now()
  local a = rayl.get(ref)
  rates[i] = #a / (core.now() - t0) / 1e9
  a, ref = nil, nil
  collectgarbage()
end
print(("object_transfer_gb_per_s first %.2f, then %.2f %.2f %.2f"):format(rates[1], rates[2], rates[3], rates[4]))

-- A 1 GiB object pulled to this node by a task, while small tasks keep running here:
-- their round trips show whether the transfer stalls other traffic.
local transfer_only = arg and arg[1] == "transfer-only"
local ping = rayl.remote(function() return 1 end)
local function ping_ms(until_ref)
  local times = {}
  repeat
    local t0 = core.now()
    rayl.get(ping:remote())
    times[#times + 1] = (core.now() - t0) * 1000
  until (until_ref and #rayl.wait({ until_ref }, { timeout = 0 }) == 1) or (not until_ref and #times >= 200)
  table.sort(times)
  return times[math.ceil(#times / 2)], times[#times], #times
end
local read = rayl.remote(function(box) return #require("rayl").get(box[1]) end)
local big = make:remote(1024 * 1024 * 1024)
rayl.wait({ big })
local t0 = core.now()
assert(rayl.get(read:remote({ big })) == 1024 * 1024 * 1024, "the 1 GiB object arrived short")
print(("object_transfer_1gib_alone_s %.2f (%.2f GB/s, task start included)"):format(core.now() - t0,
  1.073741824 / (core.now() - t0)))
if transfer_only then return end
local idle_p50, idle_max = ping_ms()
big = make:remote(1024 * 1024 * 1024)
rayl.wait({ big })
t0 = core.now()
local n_ref = read:remote({ big })
local p50, max, pings = ping_ms(n_ref)
local secs = core.now() - t0
assert(rayl.get(n_ref) == 1024 * 1024 * 1024, "the 1 GiB object arrived short")
print(("object_transfer_1gib_s %.2f (%.2f GB/s, task start included)"):format(secs, 1.073741824 / secs))
print(("small_task_round_trip_ms idle p50 %.2f max %.2f; during the 1 GiB transfer p50 %.2f max %.2f (%d tasks)")
  :format(idle_p50, idle_max, p50, max, pings))
