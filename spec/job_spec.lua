-- job_spec: `rayl job` against a cluster started with `rayl start --head`: a driver
-- submitted with its working dir runs on the head node, its output streams back, and
-- its status, logs, stop and listing come from the head (also across a head restart).
local h = require "spec.helpers"
local json = require "rayl.json"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local sh = h.sh

local free_port = h.free_port

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- True once pid no longer runs (or is a zombie nobody reaped yet).
local function gone(pid)
  local stat = h.read_file("/proc/" .. pid .. "/stat")
  return stat == nil or stat:match("%) ([ZX]) ") ~= nil
end

local function wait_for(seconds, pred)
  for _ = 1, seconds * 10 do
    if pred() then return true end
    os.execute("sleep 0.1")
  end
  return pred()
end

describe("rayl job", function()
  local dir, port, env, wd

  -- Runs `rayl job args`; returns its stdout and stderr, then "exit=<code>".
  local function job(args) return sh("{ " .. env .. RAYL .. " job " .. args .. "; } 2>&1; echo \"exit=$?\"") end

  local function status_of(id) return job("status " .. id):match("Status for job '[^']+': (%u+)") end

  lazy_setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/wd/.git") == 0)
    port = free_port()
    env = ("RAYL_TMPDIR=%s RAYL_ADDRESS=127.0.0.1:%d "):format(dir, port)
    local out = sh(env .. RAYL .. " start --head --port " .. port .. " --num-cpus 2")
    assert.truthy(out:find("Started a rayl head", 1, true), out)
    wd = dir .. "/wd"
    write(wd .. "/.git/HEAD", "not shipped")
    write(wd .. "/mymodule.lua", 'return { shout = function(s) return s:upper() .. "!" end }\n')
    write(wd .. "/main.lua", [[
      local rayl = require "rayl"
      local shout = rayl.remote(function(s) return require("mymodule").shout(s) end)
      local refs = {}
      for i = 1, 4 do refs[i] = shout:remote("task " .. i) end
      print(table.concat(rayl.get(refs), " "))
      print("args:", ...)
      print("git shipped:", io.open(".git/HEAD") ~= nil)
    ]])
    write(wd .. "/bad.lua", 'print("about to fail")\nerror("the script failed on purpose")\n')
    -- Records its pid and its child's, then waits in the child (both in the job's group).
    write(wd .. "/long.lua", [[
      print("long job started")
      io.stdout:flush()
      os.execute("echo $PPID $$ > " .. arg[1] .. "; exec sleep 300")
    ]])
  end)

  lazy_teardown(function()
    sh(env .. RAYL .. " stop")
    os.execute("rm -rf " .. dir)
  end)

  local first_id

  it("submit ships the working dir, streams the driver's output and exits 0 when it SUCCEEDED", function()
    local out = job("submit --working-dir " .. wd .. " -- main.lua one two")
    assert.truthy(out:find("Uploaded working_dir " .. wd, 1, true), out)
    first_id = out:match("Job '([^']+)' submitted")
    assert.truthy(first_id, out)
    assert.truthy(out:find("TASK 1! TASK 2! TASK 3! TASK 4!", 1, true), out)
    assert.truthy(out:find("args:\tone\ttwo", 1, true), out)
    assert.truthy(out:find("git shipped:\tfalse", 1, true), out)
    assert.truthy(out:find("Job '" .. first_id .. "' SUCCEEDED", 1, true), out)
    assert.truthy(out:find("exit=0", 1, true), out)
    assert.are.equal("SUCCEEDED", status_of(first_id))
  end)

  it("an entrypoint that starts with rayl runs the head's own rayl, on PATH or not", function()
    local out = job("submit --working-dir " .. wd .. " -- rayl main.lua three")
    assert.truthy(out:find("args:\tthree", 1, true), out)
    assert.truthy(out:match("Job '[^']+' SUCCEEDED"), out)
  end)

  it("a second submission of the unchanged dir reuses the uploaded package", function()
    local out = job("submit --working-dir " .. wd .. " --submission-id again-1 -- main.lua")
    assert.truthy(out:find("Reusing working_dir package rayl_pkg_", 1, true), out)
    assert.is_nil(out:find("Uploaded", 1, true), out)
    assert.truthy(out:find("Job 'again-1' SUCCEEDED", 1, true), out)
    out = job("submit --working-dir " .. wd .. " --submission-id again-1 -- main.lua")
    assert.truthy(out:find("a job with submission id 'again-1' exists already", 1, true), out)
    assert.truthy(out:find("exit=1", 1, true), out)
  end)

  it("logs come back through the head; status and list show the jobs", function()
    local out = job("logs " .. first_id)
    assert.truthy(out:find("TASK 1! TASK 2! TASK 3! TASK 4!", 1, true), out)
    out = job("status " .. first_id)
    assert.truthy(out:find("Entrypoint: main.lua one two", 1, true), out)
    out = job("list")
    assert.truthy(out:find(first_id .. "%s+SUCCEEDED"), out)
    assert.truthy(out:find("again%-1%s+SUCCEEDED"), out)
    out = job("list --format json")
    local listed = {}
    for _, j in ipairs(json.decode(out:match("^[^\n]*")) or {}) do listed[j.submission_id] = j.status end
    assert.are.equal("SUCCEEDED", listed[first_id], out)
    out = job("status raylsubmit_nosuchjob")
    assert.truthy(out:find("no job with submission id 'raylsubmit_nosuchjob'", 1, true), out)
    assert.truthy(out:find("exit=1", 1, true), out)
  end)

  it("a failing script ends FAILED and submit exits 1", function()
    local out = job("submit --working-dir " .. wd .. " -- bad.lua")
    local id = out:match("Job '([^']+)' submitted")
    assert.truthy(out:find("the script failed on purpose", 1, true), out)
    assert.truthy(out:find("Job '" .. id .. "' FAILED: the driver exited with code 1", 1, true), out)
    assert.truthy(out:find("exit=1", 1, true), out)
    assert.are.equal("FAILED", status_of(id))
    assert.truthy(job("logs " .. id):find("about to fail", 1, true))
  end)

  it("stop ends a long job STOPPED and its processes are gone", function()
    local pids = dir .. "/long.pids"
    local out = job("submit --no-wait --submission-id long-1 --working-dir " .. wd .. " -- long.lua " .. pids)
    assert.truthy(out:find("Job 'long-1' submitted", 1, true), out)
    assert.truthy(wait_for(20, function() return h.read_file(pids) ~= nil end), "the driver never started")
    assert.truthy(wait_for(5, function() return job("logs long-1"):find("long job started", 1, true) end))
    assert.are.equal("RUNNING", status_of("long-1"))
    local driver, child = h.read_file(pids):match("(%d+) (%d+)")
    assert.is_false(gone(driver))
    out = job("stop long-1")
    assert.truthy(out:find("Job 'long-1' STOPPED", 1, true), out)
    assert.are.equal("STOPPED", status_of("long-1"))
    assert.truthy(wait_for(5, function() return gone(driver) and gone(child) end), "the job's processes live on")
  end)

  it("a restarted head keeps jobs: a driver that lives on stays RUNNING, a dead one becomes FAILED", function()
    local p1, p2 = dir .. "/keep.pids", dir .. "/lost.pids"
    job("submit --no-wait --submission-id keep-1 --working-dir " .. wd .. " -- long.lua " .. p1)
    job("submit --no-wait --submission-id lost-1 --working-dir " .. wd .. " -- long.lua " .. p2)
    assert.truthy(wait_for(20, function() return h.read_file(p1) and h.read_file(p2) end), "drivers never started")
    local lost_supervisor
    for _, j in ipairs(json.decode(job("list --format json"):match("^[^\n]*"))) do
      if j.submission_id == "lost-1" then lost_supervisor = j.driver_pid end
    end
    assert.truthy(lost_supervisor)
    local head = sh("pgrep -f 'rayl [h]ead .*" .. dir .. "'"):match("%d+")
    assert.truthy(head)
    os.execute("kill -9 " .. head)
    assert.truthy(wait_for(5, function() return gone(head) end))
    os.execute("kill -9 -" .. lost_supervisor) -- the whole job, while the head is down
    local out = sh(env .. RAYL .. " start --head --port " .. port .. " --num-cpus 2")
    assert.truthy(out:find("Restarted the rayl head", 1, true), out)
    assert.are.equal("RUNNING", status_of("keep-1"))
    assert.are.equal("FAILED", status_of("lost-1"))
    assert.truthy(job("status lost-1"):find("the driver was gone when the head restarted", 1, true))
    local driver = h.read_file(p1):match("(%d+)")
    out = job("stop keep-1")
    assert.truthy(out:find("Job 'keep-1' STOPPED", 1, true), out)
    assert.truthy(wait_for(5, function() return gone(driver) end))
  end)

  it("bad input gets clear errors", function()
    local out = job("submit --working-dir " .. dir .. "/nowhere -- main.lua")
    assert.truthy(out:find("working_dir " .. dir .. "/nowhere does not exist", 1, true), out)
    assert.truthy(out:find("exit=1", 1, true), out)
    out = job("submit --runtime-env-json '{\"env_vars\": {\"A-B\": \"1\"}}' -- main.lua")
    assert.truthy(out:find("runtime_env.env_vars: 'A-B' is not a variable name", 1, true), out)
    out = job("submit --runtime-env-json 'nope' -- main.lua")
    assert.truthy(out:find("must be a JSON object", 1, true), out)
    out = job("submit")
    assert.truthy(out:find("give the entrypoint after --", 1, true), out)
    assert.truthy(out:find("exit=2", 1, true), out)
    out = job("frobnicate")
    assert.truthy(out:find("unknown command 'frobnicate'", 1, true), out)
  end)
end)
