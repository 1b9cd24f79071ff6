-- tools/chaos.lua: the driver of tools/chaos: a mixed workload (tasks with retries, nested
-- tasks, actors with restarts, large objects across nodes, a detached actor, and work
-- that may not be retried) in rounds on the cluster at RAYL_ADDRESS while tools/chaos
-- kills processes; then checks that the cluster is left clean.
-- Usage: rayl tools/chaos.lua DIR SECONDS RESULT_TIMEOUT_S RAYL_BIN
--   DIR: the run's folder (DIR/kills: one line per kill; the driver writes DIR/stop when
--   the workload's time is over and waits for DIR/restored); prints progress lines,
--   "chaos summary" lines, and "chaos ok" or "chaos FAILED: ..." (exit status 1).
local rayl = require "rayl"
local core = require "rayl.core"
local cjson = require "cjson"

local dir, seconds, result_timeout, rayl_bin = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]
assert(dir and seconds and result_timeout and rayl_bin,
  "usage: rayl tools/chaos.lua DIR SECONDS RESULT_TIMEOUT_S RAYL_BIN")

rayl.init { address = "auto" }

local failures = {} -- what makes the run fail, in the order found
local function fail(msg)
  failures[#failures + 1] = msg
  io.stderr:write("chaos: ", msg, "\n")
end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

-- Kills so far, by kind (tools/chaos appends "worker PID", "node PID", "restart PID").
local function kills()
  local k = { worker = 0, node = 0, restart = 0 }
  local f = io.open(dir .. "/kills")
  if f then
    for line in f:lines() do
      local kind = line:match("^(%a+)")
      if k[kind] then k[kind] = k[kind] + 1 end
    end
    f:close()
  end
  return k
end

-- The documented errors a piece of work that may not be retried can end with.
local TASK_ERRORS = { WorkerCrashedError = true, NodeDiedError = true }
local ACTOR_ERRORS = { ActorDiedError = true, ActorUnavailableError = true }

-- Tallies per workload kind: expected, correct, wrong, missing (no result in time),
-- failed (an error where a correct result was due), and for the non-retryable kinds
-- the documented errors seen.
local KINDS = { "task", "nested", "actor", "object", "put", "detached", "fragile_task", "fragile_actor" }
local tally = {}
for _, k in ipairs(KINDS) do
  tally[k] = { expected = 0, correct = 0, wrong = 0, missing = 0, failed = 0, documented = 0, errors = {} }
end

-- The workload's functions. Each sleeps a little (so kills land while it runs) and
-- returns a value the driver can check.
local function nap(ms)
  local ffi = require "ffi"
  pcall(ffi.cdef, "int usleep(unsigned int);")
  ffi.C.usleep(ms * 1000)
end

-- A byte array of n bytes made from seed, and a position-weighted sum of one (through
-- an FFI pointer: indexing the array from Lua is slow for megabytes).
local function fill(n, seed)
  local a = require("rayl").array("uint8", n)
  local p = require("ffi").cast("uint8_t *", a:ptr())
  for i = 0, n - 1 do p[i] = (i * seed + 7) % 251 end
  return a
end

local function checksum(a)
  local p = require("ffi").cast("const uint8_t *", a:ptr())
  local s = 0
  for i = 0, #a - 1 do s = s + p[i] * (i % 7 + 1) end
  return s
end

local task = rayl.remote({ scheduling_strategy = "SPREAD", max_retries = 20 }, function(i, ms)
  nap(ms)
  return { i = i, v = i * i + 1 }
end)

local inner = rayl.remote({ max_retries = 20 }, function(x)
  nap(5)
  return x * 3
end)
local nested = rayl.remote({ scheduling_strategy = "SPREAD", max_retries = 20 }, function(i)
  local r = require "rayl"
  local a, b = inner:remote(i), inner:remote(i + 1)
  return r.get(a) + r.get(b)
end)

local make = rayl.remote({ scheduling_strategy = "SPREAD", max_retries = 20 }, function(n, seed)
  return fill(n, seed)
end)
local sum = rayl.remote({ scheduling_strategy = "SPREAD", max_retries = 20 }, function(a)
  nap(5)
  return checksum(a)
end)

local fragile = rayl.remote({ scheduling_strategy = "SPREAD", max_retries = 0 }, function(i)
  nap(300)
  return i + 0.5
end)

local Calc = rayl.remote {
  __name = "ChaosCalc",
  __init = function(self, id) self.id = id end,
  calc = function(self, x)
    nap(10)
    return { id = self.id, v = x * x + self.id }
  end,
  sum = function(self, a) return checksum(a) end,
}

local Keeper = rayl.remote {
  __name = "ChaosKeeper",
  __init = function(self) self.base = 1000 end,
  echo = function(self, x)
    nap(5)
    return x + self.base
  end,
}

-- Actors with restarts, spread over the nodes; a detached one (owned by the head once
-- made); a fragile one (no restarts) made again each time it dies.
local calcs = {}
for id = 1, 3 do
  calcs[id] = Calc:options { max_restarts = -1, max_task_retries = -1, scheduling_strategy = "SPREAD" }:remote(id)
end
local keeper_name = "chaos_keeper_" .. tostring(core.now()):gsub("%D", "")
local keeper = Keeper:options { name = keeper_name, namespace = "chaos", lifetime = "detached",
  max_restarts = -1, max_task_retries = -1 }:remote()
local fragile_actor, fragile_made = nil, 0

-- One round's work: items of { kind, ref, check(v) -> nil or what is wrong, retryable }.
local function submit_round(round)
  local items = {}
  local function add(kind, ref, check, retryable)
    items[#items + 1] = { kind = kind, ref = ref, check = check, retryable = retryable }
    tally[kind].expected = tally[kind].expected + 1
  end
  for i = 1, 30 do
    local n = round * 1000 + i
    add("task", task:remote(n, 5 + (n % 40)), function(v)
      if type(v) ~= "table" or v.i ~= n or v.v ~= n * n + 1 then return "not {i=" .. n .. "}" end
    end, true)
  end
  for i = 1, 4 do
    local n = round * 100 + i
    add("nested", nested:remote(n), function(v)
      if v ~= n * 3 + (n + 1) * 3 then return ("%s, not %d"):format(tostring(v), n * 6 + 3) end
    end, true)
  end
  for id, c in ipairs(calcs) do
    for k = 1, 8 do
      local x = round * 10 + k
      add("actor", c.calc:remote(x), function(v)
        if type(v) ~= "table" or v.id ~= id or v.v ~= x * x + id then return "not actor " .. id .. "'s " .. x end
      end, true)
    end
  end
  -- Large objects: made on some node, summed on another, read by the driver; a put
  -- (stored on the head's node) summed by tasks and an actor elsewhere.
  for k = 1, 2 do
    local n, seed = (4 + (round + k) % 3) * 1024 * 1024 + k, round * 2 + k
    local expect = checksum(fill(n, seed))
    local ref = make:remote(n, seed)
    add("object", sum:remote(ref), function(v)
      if v ~= expect then return ("checksum %s, not %d"):format(tostring(v), expect) end
    end, true)
    add("object", ref, function(v)
      if type(v) == "table" or #v ~= n or checksum(v) ~= expect then return "array of " .. n .. " bytes differs" end
    end, true)
  end
  local arr = fill(5 * 1024 * 1024, round + 3)
  local expect = checksum(arr)
  local put = rayl.put(arr)
  local function same(v)
    if v ~= expect then return ("checksum %s, not %d"):format(tostring(v), expect) end
  end
  add("put", sum:remote(put), same, true)
  add("put", sum:remote(put), same, true)
  add("put", calcs[round % 3 + 1].sum:remote(put), same, true)
  -- The detached actor, looked up by name as a later driver would.
  local ok, k = pcall(rayl.get_actor, keeper_name, { namespace = "chaos" })
  if not ok then
    tally.detached.expected = tally.detached.expected + 1
    tally.detached.failed = tally.detached.failed + 1
    fail(("round %d: get_actor(%q) raised %s"):format(round, keeper_name, tostring(k)))
  else
    for j = 1, 5 do
      local x = round * 10 + j
      add("detached", k.echo:remote(x), function(v)
        if v ~= x + 1000 then return ("%s, not %d"):format(tostring(v), x + 1000) end
      end, true)
    end
  end
  -- May not be retried: a documented error is an outcome, a wrong value or a hang is not.
  for i = 1, 3 do
    local n = round * 10 + i
    add("fragile_task", fragile:remote(n), function(v)
      if v ~= n + 0.5 then return ("%s, not %s"):format(tostring(v), n + 0.5) end
    end, false)
  end
  if not fragile_actor then
    fragile_actor = Calc:options { scheduling_strategy = "SPREAD" }:remote(7)
    fragile_made = fragile_made + 1
  end
  for j = 1, 3 do
    local x = round * 10 + j
    add("fragile_actor", fragile_actor.calc:remote(x), function(v)
      if type(v) ~= "table" or v.id ~= 7 or v.v ~= x * x + 7 then return "not the fragile actor's " .. x end
    end, false)
  end
  return items
end

-- Gets every item's result (each with the time left of result_timeout from now) and
-- tallies it.
local function collect(round, items)
  local deadline = core.now() + result_timeout
  for _, it in ipairs(items) do
    local t = tally[it.kind]
    local left = deadline - core.now()
    local ok, v = pcall(rayl.get, it.ref, { timeout = left > 0.01 and left or 0.01 })
    local etype = not ok and (rayl.errors.is(v) and v.type or "raised " .. tostring(v)) or nil
    if ok then
      local wrong = it.check(v)
      if wrong then
        t.wrong = t.wrong + 1
        fail(("round %d: a %s result is wrong: %s"):format(round, it.kind, wrong))
      else
        t.correct = t.correct + 1
      end
    elseif etype == "GetTimeoutError" then
      t.missing = t.missing + 1
      fail(("round %d: a %s result did not come within %d s"):format(round, it.kind, result_timeout))
    else
      t.errors[etype] = (t.errors[etype] or 0) + 1
      local documented = (it.kind == "fragile_task" and TASK_ERRORS[etype])
        or (it.kind == "fragile_actor" and ACTOR_ERRORS[etype])
      if documented then
        t.documented = t.documented + 1
        if it.kind == "fragile_actor" then fragile_actor = nil end -- it died: make another
      else
        t.failed = t.failed + 1
        fail(("round %d: a %s raised %s"):format(round, it.kind, tostring(v):gsub("\n.*", "")))
      end
    end
  end
end

local function done_count()
  local n = 0
  for _, k in ipairs(KINDS) do n = n + tally[k].correct + tally[k].documented end
  return n
end

local t0 = core.now()
local last_progress = t0
local function progress(tag)
  local k = kills()
  print(("chaos %s t=%3ds: kills workers=%d nodes=%d, restarts=%d; results %d (tasks %d, actor calls %d, objects %d, detached %d, documented errors %d); failures %d")
    :format(tag, core.now() - t0, k.worker, k.node, k.restart, done_count(), tally.task.correct + tally.nested.correct,
      tally.actor.correct, tally.object.correct + tally.put.correct, tally.detached.correct,
      tally.fragile_task.documented + tally.fragile_actor.documented, #failures))
  io.stdout:flush()
end

local round = 0
while core.now() - t0 < seconds do
  round = round + 1
  collect(round, submit_round(round))
  if core.now() - last_progress >= 10 then
    progress("progress")
    last_progress = core.now()
  end
end
progress("over")

-- The chaos is over: wait for tools/chaos to bring the cluster back to three nodes,
-- then one more round must come back whole.
local f = assert(io.open(dir .. "/stop", "w"))
f:close()
local t_stop = core.now()
while not exists(dir .. "/restored") do
  if core.now() - t_stop > 60 then
    fail("tools/chaos did not bring the cluster back to three nodes within 60 s")
    break
  end
  os.execute("sleep 0.2")
end
round = round + 1
fragile_actor = nil -- a new one: the last may have been killed after its last call
local before = { task = tally.fragile_task.correct, actor = tally.fragile_actor.correct }
collect(round, submit_round(round))
-- Nothing is killed in this round, so even the work that may not be retried succeeds.
if tally.fragile_task.correct - before.task ~= 3 or tally.fragile_actor.correct - before.actor ~= 3 then
  fail(("the calm round after the chaos: %d of 3 fragile tasks and %d of 3 fragile actor calls succeeded")
    :format(tally.fragile_task.correct - before.task, tally.fragile_actor.correct - before.actor))
end

-- Summary: expected vs got per kind.
print(("chaos summary: %d rounds in %.0f s"):format(round, core.now() - t0))
for _, k in ipairs(KINDS) do
  local t = tally[k]
  local errs = {}
  for e, n in pairs(t.errors) do errs[#errs + 1] = e .. "=" .. n end
  table.sort(errs)
  print(("chaos summary: %-13s expected %5d  correct %5d  documented errors %4d  wrong %d  missing %d  other errors %d%s")
    :format(k, t.expected, t.correct, t.documented, t.wrong, t.missing, t.failed,
      #errs > 0 and "  (" .. table.concat(errs, " ") .. ")" or ""))
end

-- Leave nothing behind: the detached actor killed, every handle and ref dropped.
rayl.kill(keeper)
keeper, calcs, fragile_actor = nil, nil, nil
collectgarbage()
collectgarbage()
rayl.shutdown()

-- The cluster must come back clean: three nodes alive, as many dead as were killed,
-- every resource free, no demand waiting, no actor alive, no worker running a task.
local k = kills()
local problems
local function check_clean()
  problems = {}
  local ok, status = pcall(cjson.decode, sh(rayl_bin .. " status --format json"))
  if not ok then
    problems[#problems + 1] = "rayl status --format json gave no JSON: " .. tostring(status)
    return false
  end
  local alive, dead = 0, 0
  for _, n in ipairs(status.nodes) do
    if n.alive then
      alive = alive + 1
      for r, total in pairs(n.total) do
        if n.available[r] ~= total then
          problems[#problems + 1] = ("node %s: %s available %s of %s"):format(n.node_id:sub(1, 12), r,
            tostring(n.available[r]), tostring(total))
        end
      end
    else
      dead = dead + 1
    end
  end
  if alive ~= 3 then problems[#problems + 1] = ("%d nodes alive, not 3"):format(alive) end
  if dead ~= k.node then problems[#problems + 1] = ("%d nodes dead, but %d were killed"):format(dead, k.node) end
  if #status.demands > 0 then problems[#problems + 1] = ("%d demands wait: %s"):format(#status.demands, cjson.encode(status.demands)) end
  local ok2, actors = pcall(cjson.decode, sh(rayl_bin .. " list actors --format json --limit 100000"))
  if not ok2 then
    problems[#problems + 1] = "rayl list actors gave no JSON: " .. tostring(actors)
  else
    for _, a in ipairs(actors) do
      if a.state ~= "DEAD" then
        problems[#problems + 1] = ("actor %s (%s) is %s"):format(a.actor_id:sub(1, 12), a.class_name, a.state)
      end
    end
  end
  local stack = sh(rayl_bin .. " stack")
  for pid, what in stack:gmatch("Process (%d+) %(worker%)[^\n]*\n%s*task: ([^\n]*)") do
    if what ~= "(idle)" then problems[#problems + 1] = ("worker %s still runs %s"):format(pid, what) end
  end
  return #problems == 0
end
local t_clean = core.now()
while not check_clean() and core.now() - t_clean < 30 do os.execute("sleep 1") end
if #problems > 0 then
  for _, p in ipairs(problems) do fail("rayl status not clean 30 s after the end: " .. p) end
else
  print(("chaos summary: cluster clean after %.1f s (3 nodes alive, %d dead as killed, every resource free, no demand, no actor alive, no worker busy)")
    :format(core.now() - t_clean, k.node))
end

if #failures == 0 then
  print(("chaos ok: %d results correct, %d documented errors, %d worker kills, %d node kills, %d restarts")
    :format(done_count() - (tally.fragile_task.documented + tally.fragile_actor.documented),
      tally.fragile_task.documented + tally.fragile_actor.documented, k.worker, k.node, k.restart))
else
  print(("chaos FAILED: %d problems; the first: %s"):format(#failures, failures[1]))
  os.exit(1)
end
