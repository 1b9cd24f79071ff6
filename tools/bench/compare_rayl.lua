-- tools/bench/compare_rayl.lua: the rayl side of tools/bench/compare.
--
-- Runs the workloads of compare_peers.py on a private local cluster of 2 CPUs and
-- prints one JSON line per figure on stdout, e.g.
--   {"workload":"sync_tasks","value":1234.5,"unit":"tasks/s"}
-- Progress goes to stderr. Each workload: a warm-up, then the median of 3 runs.
local rayl = require "rayl"
local core = require "rayl.core"

local now = core.now

local SYNC_TASKS = 1000
local ASYNC_TASKS = 10000
local PUT_BYTES = 100 * 1024 * 1024
local RUNS = 3

local function progress(...)
  io.stderr:write("[rayl] ", string.format(...), "\n")
  io.stderr:flush()
end

local function emit(workload, value, unit)
  io.stdout:write(string.format('{"workload":"%s","value":%.6g,"unit":"%s"}\n', workload, value, unit))
  io.stdout:flush()
end

local function median(xs)
  local s = { unpack(xs) }
  table.sort(s)
  return s[math.floor((#s + 1) / 2)]
end

-- Calls run() once as a warm-up, then RUNS times; run() returns elapsed seconds.
-- Returns the median of work / elapsed.
local function measure(name, work, run)
  progress("%s: warm-up", name)
  run()
  local rates = {}
  for i = 1, RUNS do
    rates[i] = work / run()
    progress("%s: run %d: %.4g", name, i, rates[i])
  end
  return median(rates)
end

rayl.init { num_cpus = 2 }

local echo = rayl.remote(function(x) return x end)

-- Submit one task, wait for it, repeat.
emit("sync_tasks", measure("sync_tasks", SYNC_TASKS, function()
  local t0 = now()
  for i = 1, SYNC_TASKS do
    assert(rayl.get(echo:remote(i)) == i)
  end
  return now() - t0
end), "tasks/s")

-- Submit all, then wait for all.
emit("async_tasks", measure("async_tasks", ASYNC_TASKS, function()
  local t0 = now()
  local refs = {}
  for i = 1, ASYNC_TASKS do refs[i] = echo:remote(i) end
  local values = rayl.get(refs)
  local dt = now() - t0
  assert(#values == ASYNC_TASKS and values[ASYNC_TASKS] == ASYNC_TASKS)
  return dt
end), "tasks/s")

-- 100 MiB binary object: put copies it into the object store; get of a fresh ref
-- returns a read-only view of the stored bytes (no copy on the same node).
local data = rayl.array("uint8", PUT_BYTES)
local gb = data:bytes() / 1e9
local ref

emit("put_100mib", measure("put_100mib", gb, function()
  ref = nil
  collectgarbage()
  local t0 = now()
  ref = rayl.put(data)
  return now() - t0
end), "GB/s")

emit("get_100mib", measure("get_100mib", gb, function()
  ref = rayl.put(data) -- a fresh object each run, not a value cached by a previous get
  collectgarbage()
  local t0 = now()
  local view = rayl.get(ref)
  local dt = now() - t0
  assert(view:bytes() == PUT_BYTES)
  return dt
end), "GB/s")

ref = nil
rayl.shutdown()
