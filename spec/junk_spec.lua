-- junk_spec: a member of the cluster that sends junk (it holds the cluster key, so its
-- frames pass CURVE and reach the daemons): malformed, truncated, oversized and replayed
-- frames to the head's, the node manager's and a worker's sockets while a job runs. Each
-- daemon logs a clear line, drops the message and keeps serving: the job's results are
-- right and the cluster is whole.
local h = require "spec.helpers"
local peer = require "spec.raw_peer"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local frame = peer.frame

-- Random bytes (seeded: a failure can be replayed).
local function random_bytes(n)
  local t = {}
  for k = 1, n do t[k] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

-- The junk: the same list for every daemon, types each of them reads.
local function junk_frames(types)
  math.randomseed(16)
  local frames = {}
  local function add(f) frames[#frames + 1] = f end
  for _ = 1, 30 do add(random_bytes(math.random(0, 300))) end -- malformed: no header at all
  add("\2\62\0\0\145\5") -- another wire version
  for _, t in ipairs(types) do
    local fields = "\148\196\16" .. ("\7"):rep(16) .. "\165hello\129\163CPU\1\123"
    add(frame(t, fields:sub(1, 9))) -- truncated: the array promises 4 fields, 1 is half there
    add(frame(t, "\221\255\255\255\255")) -- oversized: an array of 4 G fields in 5 bytes
    add(frame(t, "\145\219\255\255\255\240")) -- a 4 GB string in 6 bytes
    add(frame(t, "\145\196\3ab")) -- a bin one byte short
    add(frame(t, "\147\192\192\192")) -- fields of the wrong type (nil for all)
    add(frame(t, "\149\165hello\203\127\248\0\0\0\0\0\0\255\222\0\0\146\145\144\145\145")) -- wrong types, NaN
    add(frame(t, "\145" .. ("\145"):rep(5000) .. "\192")) -- nested 5000 deep
    add(frame(t, "\147\1\2")) -- an array one field short of its count
    add(frame(t, "\145\1\1")) -- trailing bytes
    add(frame(t, "\193")) -- msgpack's never-used byte
  end
  add(frame(200, "\144")) -- a type nobody knows
  add(frame(40, "\198\0\16\0\0" .. random_bytes(1048576))) -- 1 MiB of a task that is a string
  add({ frame(62, "\145\5"), random_bytes(50), "\1" }) -- a batch whose second part is junk
  return frames
end

-- A msgpack unsigned integer below 2^32.
local function u32(n)
  return "\206" .. string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256,
    n % 256)
end

-- REGISTER [kind RL_CLIENT_REMOTE, worker_id id, pid, endpoint, job_id]: the junk then
-- reaches the node manager's handlers of clients' requests, as a buggy client's would.
local JUNK_ID = ("\74"):rep(16)
local function register(pid)
  return frame(1, "\149\2\196\16" .. JUNK_ID .. u32(pid) .. "\177tcp://127.0.0.1:9\1")
end

-- A member's frame replayed: the same bytes again and again.
local function replayed(f, n)
  local frames = {}
  for i = 1, n do frames[i] = f end
  return frames
end

describe("a cluster fed junk by a member holding its key", function()
  local c, keys, job_out, job_pid, worker_pid

  local function file(name) return c.dir .. "/" .. name end

  lazy_setup(function()
    c = h.start_cluster(RAYL, "--num-cpus 2")
    local key = h.sh("ls " .. c.dir .. "/session_*/cluster.key | grep -v session_latest | head -1"):gsub("%s+$", "")
    keys = peer.member_keys(key)
    -- The job: an actor (the worker fed junk) counts, tasks square numbers, for ~20 s.
    local script = file("job.lua")
    local f = assert(io.open(script, "w"))
    f:write(([[
      local rayl = require "rayl"
      rayl.init()
      local Counter = rayl.remote({
        __init = function(self) self.n = 0 end,
        add = function(self, k) self.n = self.n + k return self.n end,
        pid = function() return require("rayl").get_runtime_context().pid end,
      })
      local counter = Counter:remote()
      local pidf = assert(io.open(%q, "w"))
      pidf:write(rayl.get(counter.pid:remote()), "\n")
      pidf:close()
      local square = rayl.remote(function(x)
        local t = os.clock() + 0.02
        while os.clock() < t do end
        return x * x
      end)
      local wrong, total = 0, 0
      for round = 1, 60 do
        local refs = {}
        for i = 1, 6 do refs[i] = square:remote(round * 10 + i) end
        local got = rayl.get(refs, { timeout = 60 })
        for i = 1, 6 do if got[i] ~= (round * 10 + i) ^ 2 then wrong = wrong + 1 end end
        total = rayl.get(counter.add:remote(round), { timeout = 60 })
      end
      print(("job done: %%d wrong squares, counter %%d"):format(wrong, total))
    ]]):format(file("actor.pid")))
    f:close()
    job_out = file("job.out")
    job_pid = h.sh(("%sRAYL_ADDRESS=%s %s %s >%s 2>&1 & echo $!"):format(c.env, c.address, RAYL, script, job_out))
      :gsub("%s+$", "")
    assert(h.wait_until(function()
      local p = h.read_file(file("actor.pid"))
      worker_pid = p and tonumber(p:match("%d+"))
      return worker_pid ~= nil
    end, 60), "the job's actor did not start: " .. (h.read_file(job_out) or ""))
  end)

  lazy_teardown(function()
    if job_pid then os.execute("kill " .. job_pid .. " 2>/dev/null") end
    if c then c.stop() end
  end)

  -- The tcp endpoint process pid listens on (its first listening socket).
  local function listening(pid)
    local out = h.sh("ss -ltnpH")
    for line in out:gmatch("[^\n]+") do
      if line:find("pid=" .. pid .. ",", 1, true) then
        local port = line:match("127%.0%.0%.1:(%d+)") or line:match(":(%d+)%s")
        if port then return "tcp://127.0.0.1:" .. port end
      end
    end
  end

  local function logs(pattern) return h.sh("cat " .. c.dir .. "/session_latest/logs/" .. pattern .. " 2>/dev/null") end

  local function count(text, s)
    local n, at = 0, 1
    while true do
      local i = text:find(s, at, true)
      if not i then return n end
      n, at = n + 1, i + 1
    end
  end

  it("each daemon logs and drops every bad frame, keeps serving, and the job's results are right", function()
    local status = c.run("status --format json")
    local node = status:match('"address": "(tcp://[^"]+)"')
    assert.truthy(node, status)
    local worker = listening(worker_pid)
    assert.truthy(worker, "no listening socket for the actor's worker " .. worker_pid .. ":\n" .. h.sh("ss -ltnpH"))
    local targets = {
      { name = "head", endpoint = "tcp://" .. c.address, log = "gcs.log", types = { 60, 61, 62, 64, 65, 120, 121, 141 } },
      { name = "node manager", endpoint = node, log = "node.log", types = { 1, 2, 3, 6, 8, 11, 29 } },
      { name = "worker", endpoint = worker, log = "worker-" .. worker_pid .. ".*", types = { 40, 42, 44, 45, 47 } },
    }
    local before = {}
    for _, t in ipairs(targets) do before[t.name] = count(logs(t.log), "dropped a malformed message") end
    local my_pid = tonumber(h.sh("echo $PPID"):match("%d+"))
    for _, t in ipairs(targets) do
      local frames = junk_frames(t.types)
      if t.name == "node manager" then table.insert(frames, 1, register(my_pid)) end
      peer.send(t.endpoint, keys, frames, 500, { linger = 3000, routing_id = t.name == "node manager" and JUNK_ID or nil })
    end
    -- Replayed: a member's valid request, 200 times over (the head answers each).
    local reply = peer.send("tcp://" .. c.address, keys, replayed(frame(62, "\145\5"), 200), 3000, { linger = 3000 })
    assert.truthy(reply and reply:byte(2) == 63, "the head did not answer a replayed GET_NODES")
    local again = replayed(register(my_pid), 100) -- registrations, and RETURNs of a worker it does not hold
    for _ = 1, 100 do again[#again + 1] = frame(3, "\146\196\16" .. ("\9"):rep(16) .. "\195") end
    peer.send(node, keys, again, 500, { linger = 3000, routing_id = JUNK_ID })
    peer.send(worker, keys, replayed(frame(44, "\146\196\16" .. ("\9"):rep(16) .. "\194"), 200), 500, { linger = 3000 })

    -- Each daemon said it dropped them, in a line naming what and how big.
    assert(h.wait_until(function()
      for _, t in ipairs(targets) do
        if count(logs(t.log), "dropped a malformed message") - before[t.name] < 30 then return false end
      end
      return true
    end, 30))
    for _, t in ipairs(targets) do
      local text = logs(t.log)
      assert.truthy(text:find("dropped a malformed message %(%d+ bytes%)"), t.name .. ":\n" .. text:sub(-3000))
      -- Well-formed frames with fields of the wrong types reach the handlers, which
      -- check each field and say what they dropped.
      local checked = count(text, "dropped") - count(text, "dropped a malformed message")
      assert.is_true(checked >= 5, t.name .. " named only " .. checked .. " bad requests:\n" .. text:sub(-3000))
    end
    -- The head's typed decoders name the message and the field they refused (its
    -- warnings are rate-limited: the first types sent are the ones surely logged).
    local head_log = logs("gcs.log")
    assert.truthy(head_log:find("dropped GCS_HEARTBEAT: field '", 1, true), head_log:sub(-3000))

    -- The actor's worker is the one that started (the job still holds it)...
    assert.is_nil((h.read_file(job_out) or ""):find("job done", 1, true), "the job ended before the junk was sent")
    assert.are.equal("0", h.sh("kill -0 " .. worker_pid .. " 2>&1; echo $?"):match("(%d+)%s*$"),
      "the worker fed junk died:\n" .. logs("worker-" .. worker_pid .. ".*"):sub(-3000))
    -- ... and the job ends with every result right.
    assert(h.wait_until(function() return (h.read_file(job_out) or ""):find("job done", 1, true) end, 120),
      h.read_file(job_out))
    local out = h.read_file(job_out)
    assert.truthy(out:find("job done: 0 wrong squares, counter 1830", 1, true), out)
    status = c.run("status --format json")
    local alive = 0
    for _ in status:gmatch('"alive": true') do alive = alive + 1 end
    assert.are.equal(1, alive, status)
  end)
end)
