-- torch.lua: rayl.torch figures (tools/bench/torch): element-wise op calls from Lua, and
-- tensor round trips through a task on one node. One JSON line per figure.
local rayl = require "rayl"
local core = require "rayl.core"
local torch = require "rayl.torch"

local function median(xs)
  table.sort(xs)
  return xs[math.ceil(#xs / 2)]
end

local function emit(workload, value, unit)
  print(('{"workload":"%s","value":%.3f,"unit":"%s"}'):format(workload, value, unit))
end

torch.set_num_threads(1)

-- Microseconds per `a + b` (a new tensor each time, freed by the collector).
local function add_us(n, iters)
  local a, b = torch.ones(n), torch.full({ n }, 2)
  local runs = {}
  for r = 1, 5 do
    local t0 = core.now()
    for _ = 1, iters do
      local c = a + b
    end
    runs[r] = (core.now() - t0) / iters * 1e6
  end
  return median(runs)
end

local function method_us(n, iters)
  local a = torch.ones(n)
  local runs = {}
  for r = 1, 5 do
    local t0 = core.now()
    for _ = 1, iters do
      local c = a:mul(2)
    end
    runs[r] = (core.now() - t0) / iters * 1e6
  end
  return median(runs)
end

add_us(1, 20000)
emit("lua_add_1", add_us(1, 100000), "us/op")
emit("lua_add_1024", add_us(1024, 100000), "us/op")
emit("lua_mul_scalar_1", method_us(1, 100000), "us/op")

-- Round trips through a task: the tensor goes as the argument and comes back as the result.
rayl.init { num_cpus = 2 }
local echo = rayl.remote(function(t) return t end)
local function round_trip_ms(value, times)
  rayl.get(echo:remote(value)) -- the worker loads libtorch once
  local runs = {}
  for i = 1, times do
    local t0 = core.now()
    local back = rayl.get(echo:remote(value))
    runs[i] = (core.now() - t0) * 1000
    back = nil
  end
  return median(runs)
end

local mb = torch.randn(256 * 1024) -- float32: 1 MiB
emit("task_round_trip_tensor_1mib", round_trip_ms(mb, 200), "ms")
emit("task_round_trip_array_1mib", round_trip_ms(rayl.array("float32", 256 * 1024), 200), "ms")
emit("task_round_trip_tensor_4kib", round_trip_ms(torch.randn(1024), 200), "ms")
rayl.shutdown()
