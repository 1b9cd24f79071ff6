-- torch.lua: rayl.torch figures (tools/bench/torch): element-wise op calls from Lua, a
-- Linear(64, 64) + Adam training step, and tensor round trips through a task on one node.
-- One JSON line per figure.
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

-- A training step through rayl.torch, as torch_step.cpp runs it in C++: Linear(64, 64) on a
-- batch of 64, MSE loss, backward, Adam (lr 1e-3), from the same seed. Microseconds per
-- step over 15 runs of 400: the median wall time, the median and least CPU time (the
-- least is what other programs on a busy machine disturb least), and the last loss.
local function adam_steps(name, to_none)
  local nn, F = torch.nn, torch.nn.functional
  torch.manual_seed(0)
  local lin = nn.Linear(64, 64)
  local opt = torch.optim.Adam(lin:parameters(), { lr = 1e-3 })
  local x, y = torch.randn(64, 64), torch.randn(64, 64)
  local set_to_none = to_none and true or false
  local wall, cpu, loss = {}, {}, nil
  for r = 1, name and 15 or 1 do
    local t0, c0 = core.now(), os.clock()
    for _ = 1, name and 400 or 500 do
      opt:zero_grad(set_to_none)
      loss = F.mse_loss(lin(x), y)
      loss:backward()
      opt:step()
    end
    wall[r], cpu[r] = (core.now() - t0) / 400 * 1e6, (os.clock() - c0) / 400 * 1e6
  end
  if not name then return end
  local least = math.min(unpack(cpu))
  print(('{"workload":"%s","value":%.3f,"unit":"us/step","cpu_us":%.3f,"cpu_min_us":%.3f,"loss":%.9g}'):format(
    name, median(wall), median(cpu), least, loss:item()))
end

adam_steps(nil, true) -- warm-up
adam_steps("lua_linear64_adam_step", true)
adam_steps("lua_linear64_adam_step_zero_in_place", false)

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
