-- cluster_transfer.lua: a 256 MiB object made on the node offering 'far', read on this
-- node, four times (tools/bench/cluster).
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
