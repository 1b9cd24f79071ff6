-- rayl.microbenchmark: Ray's microbenchmark suite (same metric names) on a local
-- cluster; `rayl microbenchmark [--json] [--filter NAME] [--seconds S]`.
local rayl = require "rayl"
local core = require "rayl.core"
local cli_args = require "rayl.cli_args"
local json = require "rayl.json"

local M = {}

local function now() return core.now() end

-- Runs fn (which does `multiplier` operations) repeatedly for about `seconds`, in
-- three trials after a warm-up; returns the mean and spread of ops per second.
local function timeit(fn, multiplier, seconds)
  local warm_until = now() + seconds / 4
  repeat fn() until now() > warm_until
  local rates = {}
  for trial = 1, 3 do
    local start, count = now(), 0
    repeat fn(); count = count + 1 until now() - start > seconds / 3
    rates[trial] = count * multiplier / (now() - start)
  end
  local mean = (rates[1] + rates[2] + rates[3]) / 3
  local var = 0
  for _, r in ipairs(rates) do var = var + (r - mean) ^ 2 end
  return mean, math.sqrt(var / 3)
end

local function rss_mb(pid)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  local kb = text:match("VmRSS:%s+(%d+)")
  return kb and tonumber(kb) / 1024
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Each benchmark: name, function(seconds) -> value, spread, unit.
local benchmarks = {}
local function bench(name, fn) benchmarks[#benchmarks + 1] = { name = name, fn = fn } end

local noop = rayl.remote(function() return 1 end)

bench("single_client_tasks_sync", function(s)
  return timeit(function() rayl.get(noop:remote()) end, 1, s)
end)

bench("single_client_tasks_async", function(s)
  return timeit(function()
    local refs = {}
    for i = 1, 1000 do refs[i] = noop:remote() end
    rayl.get(refs)
  end, 1000, s)
end)

bench("multi_client_tasks_async", function(s)
  -- Two clients (tasks on workers) each submit 1000 tasks and wait for them.
  local client = rayl.remote({ num_cpus = 0 }, function(n)
    local r = require "rayl"
    local f = r.remote(function() return 1 end)
    local refs = {}
    for i = 1, n do refs[i] = f:remote() end
    r.get(refs)
    return n
  end)
  return timeit(function() rayl.get { client:remote(1000), client:remote(1000) } end, 2000, s)
end)

bench("single_client_put_calls", function(s)
  return timeit(function() for i = 1, 1000 do rayl.put(i) end end, 1000, s)
end)

bench("single_client_get_calls", function(s)
  local ref = rayl.put(0)
  return timeit(function() for _ = 1, 1000 do rayl.get(ref) end end, 1000, s)
end)

bench("single_client_put_gigabytes", function(s)
  local arr = rayl.array("uint8", 100 * 1024 * 1024)
  local gb = arr:bytes() / 1e9
  return timeit(function() rayl.put(arr) end, gb, s)
end)

bench("single_client_tasks_and_get_batch", function(s)
  return timeit(function()
    local refs = {}
    for i = 1, 1000 do refs[i] = noop:remote() end
    rayl.get(refs)
  end, 1, s)
end)

bench("single_client_wait_1k_refs", function(s)
  local refs = {}
  for i = 1, 1000 do refs[i] = rayl.put(i) end
  return timeit(function() rayl.wait(refs, { num_returns = #refs }) end, 1, s)
end)

bench("single_client_get_object_containing_10k_refs", function(s)
  local refs = {}
  for i = 1, 10000 do refs[i] = rayl.put(i) end
  local outer = rayl.put(refs)
  return timeit(function() rayl.get(outer) end, 1, s)
end)

bench("cold_start_ms", function()
  local exe = os.getenv("RAYL_BIN") or "rayl"
  local code = "local r = require 'rayl'; assert(r.get(r.remote(function() return 1 end):remote()) == 1)"
  local times = {}
  for i = 1, 5 do
    local start = now()
    assert(os.execute(shell_quote(exe) .. " -e " .. shell_quote(code)) == 0, "cold start run failed")
    times[i] = (now() - start) * 1000
  end
  table.sort(times)
  return times[3], (times[5] - times[1]) / 2, "ms"
end)

bench("idle_worker_rss_mb", function()
  local pid = rayl.remote(function() return require("rayl").get_runtime_context().pid end)
  local pids = {}
  for _, p in ipairs(rayl.get { pid:remote(), pid:remote(), pid:remote(), pid:remote() }) do pids[p] = true end
  local total, n = 0, 0
  for p in pairs(pids) do
    local mb = rss_mb(p)
    if mb then total, n = total + mb, n + 1 end
  end
  return total / math.max(n, 1), 0, "MB"
end)

-- The C API (include/rayl.h), measured by the helper program built beside rayl
-- (tools/bench/embed_bench.c) on its own private cluster: the round trip from
-- rayl_submit_call to its callback in rayl_update, and submissions per second.
bench("c_api", function(s)
  local exe = (os.getenv("RAYL_BIN") or ""):gsub("[^/]*$", "") .. "rayl_embed_bench"
  local p = io.popen(shell_quote(exe) .. " --seconds " .. tostring(s))
  local out = p:read("*a")
  local ok = p:close()
  local rows = {}
  local row = '"name": "([%w_]+)", "value": ([%d.eE+-]+), "spread": [%d.]+, "unit": "([^"]+)"'
  for name, value, unit in out:gmatch(row) do
    rows[#rows + 1] = { name = name, value = tonumber(value), spread = 0, unit = unit }
  end
  if not ok or #rows == 0 then error("the C API benchmark " .. exe .. " failed (is it built?)") end
  return rows
end)

-- Actors (Ray's 1_1 / 1_n / n_n names).
local Counter = rayl.remote({ num_cpus = 0 }, {
  __init = function(self) self.n = 0 end,
  incr = function(self, x) self.n = self.n + (x or 1); return self.n end,
})
local AsyncCounter = rayl.remote({ num_cpus = 0, max_concurrency = 16 }, {
  __init = function(self) self.n = 0 end,
  incr = function(self, x) self.n = self.n + (x or 1); return self.n end,
})

local function async_calls(actor, n, arg)
  local refs = {}
  for i = 1, n do refs[i] = actor.incr:remote(arg) end
  rayl.get(refs)
end

bench("1_1_actor_calls_sync", function(s)
  local a = Counter:remote()
  return timeit(function() rayl.get(a.incr:remote()) end, 1, s)
end)

bench("1_1_actor_calls_async", function(s)
  local a = Counter:remote()
  return timeit(function() async_calls(a, 1000) end, 1000, s)
end)

bench("1_1_actor_calls_concurrent", function(s)
  local a = AsyncCounter:remote()
  return timeit(function() async_calls(a, 1000) end, 1000, s)
end)

bench("1_n_actor_calls_async", function(s)
  local actors = { Counter:remote(), Counter:remote() }
  return timeit(function()
    local refs = {}
    for i = 1, 1000 do refs[i] = actors[i % 2 + 1].incr:remote() end
    rayl.get(refs)
  end, 1000, s)
end)

local function n_n(s, with_arg)
  -- n clients (tasks), each calling its own actor.
  local actors = { Counter:remote(), Counter:remote() }
  local client = rayl.remote({ num_cpus = 0 }, function(a, n, arg)
    local r = require "rayl"
    local refs = {}
    for i = 1, n do refs[i] = a.incr:remote(arg) end
    r.get(refs)
    return n
  end)
  local arg = with_arg and rayl.put(1) or nil
  return timeit(function()
    rayl.get { client:remote(actors[1], 1000, arg), client:remote(actors[2], 1000, arg) }
  end, 2000, s)
end

bench("n_n_actor_calls_async", function(s) return n_n(s, false) end)
bench("n_n_actor_calls_with_arg_async", function(s) return n_n(s, true) end)

bench("1_1_async_actor_calls_sync", function(s)
  local a = AsyncCounter:remote()
  return timeit(function() rayl.get(a.incr:remote()) end, 1, s)
end)

bench("1_1_async_actor_calls_async", function(s)
  local a = AsyncCounter:remote()
  return timeit(function() async_calls(a, 1000) end, 1000, s)
end)

bench("actors_created_per_s", function()
  -- Create 200 actors and call each once (Ray's figure counts creation alone).
  local start = now()
  local actors, refs = {}, {}
  for i = 1, 200 do actors[i] = Counter:remote() end
  for i = 1, 200 do refs[i] = actors[i].incr:remote() end
  rayl.get(refs)
  local rate = 200 / (now() - start)
  for _, a in ipairs(actors) do rayl.kill(a) end
  return rate, 0
end)

bench("idle_actor_rss_mb", function()
  local Pid = rayl.remote({ num_cpus = 0 }, { pid = function() return require("rayl").get_runtime_context().pid end })
  local a = Pid:remote()
  local mb = rss_mb(rayl.get(a.pid:remote()))
  rayl.kill(a)
  return mb or 0, 0, "MB"
end)

bench("placement_group_create/removal", function(s)
  -- Ray's figure: 100 groups of one small bundle created without waiting, waited for
  -- all together, then removed; groups per second.
  local util = rayl.util
  return timeit(function()
    local pgs, refs = {}, {}
    for i = 1, 100 do pgs[i] = util.placement_group({ { CPU = 0.001 } }) end
    for i = 1, 100 do refs[i] = pgs[i]:ready() end
    rayl.get(refs)
    for i = 1, 100 do util.remove_placement_group(pgs[i]) end
  end, 100, s)
end)

--- M.main(args): runs the suite; prints Ray-style lines or JSON.
local USAGE = [[
usage: rayl microbenchmark [--json] [--filter SUBSTRING] [--seconds S]
Runs Ray's microbenchmark metrics on a private local cluster; each figure is ops/s
unless its name says otherwise (cold_start_ms, idle_worker_rss_mb, put_gigabytes: GB/s,
c_api_roundtrip_*_us: microseconds from rayl_submit_call to its callback in rayl_update).
  --json                one JSON array of {name, value, spread, unit} instead of lines
  --filter SUBSTRING    only the benchmarks whose name contains SUBSTRING
  --seconds S           seconds per measurement (default 3)
]]

function M.main(args)
  local o, rc = cli_args.parse("microbenchmark", USAGE, args,
    { { "--json", "flag" }, { "--filter", "value" }, { "--seconds", "value" } })
  if not o then return rc end
  if #o.args > 0 then return cli_args.fail("microbenchmark", USAGE, ("unexpected argument '%s'"):format(o.args[1])) end
  local as_json, filter, seconds = o.json, o.filter, tonumber(o.seconds or 3)
  if not seconds or seconds <= 0 then
    return cli_args.fail("microbenchmark", USAGE, ("--seconds needs a positive number, not '%s'"):format(o.seconds))
  end
  rayl.init { print_worker_logs = false }
  local results = {}
  for _, b in ipairs(benchmarks) do
    if not filter or b.name:find(filter, 1, true) then
      if not as_json then io.stderr:write("running ", b.name, " ...\n") end
      local value, spread, unit = b.fn(seconds)
      -- A benchmark gives one figure, or a list of named rows.
      local rows = type(value) == "table" and value or { { name = b.name, value = value, spread = spread,
        unit = unit or (b.name:find("gigabytes") and "GB/s" or "per second") } }
      for _, r in ipairs(rows) do
        results[#results + 1] = r
        if not as_json then print(("%-48s %s %.2f +- %.2f"):format(r.name, r.unit, r.value, r.spread)) end
      end
    end
  end
  rayl.shutdown()
  if as_json then
    local rows = {}
    for i, r in ipairs(results) do
      rows[i] = json.encode({ name = r.name, value = r.value, spread = r.spread, unit = r.unit })
    end
    print("[" .. table.concat(rows, ",\n ") .. "]")
  end
  return 0
end

return M
