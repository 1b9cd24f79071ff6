-- base_dir_spec: the folder rayl keeps a user's clusters in ($RAYL_TMPDIR, default
-- /tmp/rayl-<uid>) is that user's alone: another user's folder or a symlink is refused,
-- records are never written through a symlink, `rayl stop` signals only its own daemons,
-- the head's database and logs keep secrets from other users, a second user runs rayl
-- beside the first, and old session folders are rotated away. The checks that need a
-- second user run as nobody (uid 65534) when the spec runs as root.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local sh, read = h.sh, h.read_file

local ROOT = sh("id -u"):match("^0%s") ~= nil
local NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp "

-- Runs cmd; returns its output (stdout and stderr) and exit code.
local function run(cmd)
  local out = sh("(" .. cmd .. ") 2>&1; echo \"exit=$?\"")
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return out:gsub("exit=%d+%s*$", ""), code
end

local function trim(s) return (s:gsub("%s+$", "")) end
local function mode(path) return trim(sh("stat -c %a " .. path)) end
local function new_dir() return trim(sh("mktemp -d /tmp/rayl-base-spec-XXXXXX")) end
local function alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0 end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- A script that starts a private cluster (a task runs) and prints its session folder.
local function session_script(dir, extra)
  local path = dir .. "/session.lua"
  write(path, [[
    local rayl = require "rayl"
    local session = rayl.init().session_dir
    assert(rayl.get(rayl.remote(function() return 1 end):remote()) == 1)
    print("session " .. session)
    io.stdout:flush()
  ]] .. (extra or ""))
  return path
end

describe("the base folder", function()
  it("is per user: a second user runs rayl at once, in /tmp/rayl-<uid> (mode 0700)", function()
    if not ROOT then return pending("needs root to run rayl as a second user (nobody, uid 65534)") end
    local existed = sh("test -e /tmp/rayl-65534 && echo yes"):match("yes")
    local dir = new_dir()
    local script = session_script(dir)
    os.execute("chmod 755 " .. dir .. "; chmod 644 " .. script)
    local out, code = run("env -u RAYL_TMPDIR " .. NOBODY .. RAYL .. " " .. script)
    assert.are.equal(0, code, out)
    assert.truthy(out:find("session /tmp/rayl-65534/session_", 1, true), out)
    assert.are.equal("700 nobody", trim(sh("stat -c '%a %U' /tmp/rayl-65534")))
    if not existed then os.execute("rm -rf /tmp/rayl-65534") end
    os.execute("rm -rf " .. dir)
  end)

  it("another user's folder is refused, naming it and RAYL_TMPDIR; nothing is written through its symlinks", function()
    if not ROOT then return pending("needs root to plant a folder as a second user (nobody, uid 65534)") end
    local mine, theirs = new_dir(), new_dir()
    write(mine .. "/victim", "precious\n")
    -- nobody made the folder first (open to all) and planted a symlink to root's file
    os.execute("chown nobody " .. theirs .. " && chmod 777 " .. theirs)
    assert(os.execute(NOBODY .. "ln -s " .. mine .. "/victim " .. theirs .. "/rayl_current_cluster") == 0)
    local env = "RAYL_TMPDIR=" .. theirs .. " "
    local port = h.free_port()
    for _, args in ipairs { "start --head --port " .. port, "stop", "status", session_script(mine) } do
      local out, code = run(env .. RAYL .. " " .. args)
      assert.are_not.equal(0, code, args .. ": " .. out)
      assert.truthy(out:find(theirs .. " belongs to another user", 1, true), args .. ": " .. out)
      assert.truthy(out:find("set RAYL_TMPDIR to a folder of your own", 1, true), args .. ": " .. out)
    end
    assert.are.equal("precious\n", read(mine .. "/victim"))
    assert.are.equal("", sh("ls " .. theirs .. " | grep -v rayl_current_cluster"))
    os.execute("rm -rf " .. mine .. " " .. theirs)
  end)

  it("a symlink is refused as the base folder", function()
    local dir = new_dir()
    os.execute("mkdir " .. dir .. "/real && ln -s " .. dir .. "/real " .. dir .. "/link")
    local out, code = run("RAYL_TMPDIR=" .. dir .. "/link " .. RAYL .. " start --head --port " .. h.free_port())
    assert.are_not.equal(0, code, out)
    assert.truthy(out:find(dir .. "/link is a symlink", 1, true), out)
    assert.truthy(out:find("RAYL_TMPDIR", 1, true), out)
    assert.are.equal("", sh("ls " .. dir .. "/real"))
    os.execute("rm -rf " .. dir)
  end)

  it("records replace a planted symlink instead of following it; folders are narrowed to 0700", function()
    local dir = new_dir()
    local base = dir .. "/base"
    os.execute("mkdir -m 755 " .. base .. " && mkdir -m 777 " .. base .. "/daemons")
    write(dir .. "/victim", "precious\n")
    os.execute("ln -s " .. dir .. "/victim " .. base .. "/rayl_current_cluster")
    local env = "RAYL_TMPDIR=" .. base .. " "
    local port = h.free_port()
    finally(function()
      sh(env .. RAYL .. " stop")
      os.execute("rm -rf " .. dir)
    end)
    local out = sh(env .. RAYL .. " start --head --port " .. port)
    assert.truthy(out:find("Started a rayl head", 1, true), out)
    assert.are.equal("precious\n", read(dir .. "/victim"))
    assert.are.equal("regular file 600", trim(sh("stat -c '%F %a' " .. base .. "/rayl_current_cluster")))
    assert.are.equal("127.0.0.1:" .. port, read(base .. "/rayl_current_cluster"):match("^[^\n]+"))
    assert.are.equal("700", mode(base))
    assert.are.equal("700", mode(base .. "/daemons"))
    -- a record that is a symlink is not read either
    os.execute("mv " .. base .. "/rayl_current_cluster " .. dir .. "/record && ln -s " .. dir .. "/record " .. base ..
      "/rayl_current_cluster")
    out = sh(env .. RAYL .. " status")
    assert.truthy(out:find("no cluster is running on this machine", 1, true), out)
  end)
end)

describe("rayl stop", function()
  it("signals only this cluster's daemons: a pid planted in daemons/ is left running", function()
    -- as nobody where the spec runs as root: rayl's checks, not privileges, protect
    local as = ROOT and NOBODY or ""
    local dir = new_dir()
    if ROOT then os.execute("chown nobody " .. dir) end
    local env = "RAYL_TMPDIR=" .. dir .. "/base "
    local sleeper, impostor = "", ""
    finally(function()
      sh(as .. env .. RAYL .. " stop")
      if impostor ~= "" then os.execute("pkill -P " .. impostor) end
      os.execute("kill " .. sleeper .. " " .. impostor .. " 2>/dev/null; rm -rf " .. dir)
    end)
    local out = sh(as .. env .. RAYL .. " start --head --port " .. h.free_port())
    assert.truthy(out:find("Started a rayl head", 1, true), out)
    local daemons = {}
    for pid in sh(as .. "ls " .. dir .. "/base/daemons"):gmatch("%d+") do daemons[#daemons + 1] = pid end
    assert.are.equal(2, #daemons)
    -- another process of the same user, and one of rayl's own program that is no daemon
    sleeper = trim(sh(as .. "sh -c 'sleep 1000 >/dev/null 2>&1 & echo $!'"))
    local script = dir .. "/wait.lua"
    write(script, "os.execute('exec sleep 1000')\n") -- its child, so pkill -P ends it
    os.execute("chmod 644 " .. script)
    impostor = trim(sh(as .. env .. "sh -c '" .. RAYL .. " " .. script .. " >/dev/null 2>&1 & echo $!'"))
    assert(h.wait_until(function() return alive(impostor) end, 5))
    sh(as .. "sh -c 'echo node > " .. dir .. "/base/daemons/" .. sleeper .. "; echo head > " .. dir ..
      "/base/daemons/" .. impostor .. "'")
    out = sh(as .. env .. RAYL .. " stop")
    assert.truthy(out:find("Stopped 2 rayl processes", 1, true), out)
    assert.truthy(out:find("process " .. sleeper .. " named in", 1, true), out)
    assert.truthy(out:find("process " .. impostor .. " named in", 1, true), out)
    assert.is_true(alive(sleeper))
    assert.is_true(alive(impostor))
    for _, pid in ipairs(daemons) do assert.is_false(alive(pid), "daemon " .. pid .. " still runs") end
    assert.are.equal("", sh("ls " .. dir .. "/base/daemons"))
  end)
end)

describe("the head's database and logs", function()
  it("are this user's alone, and a job's env_vars secret is in no log and no command line", function()
    local dir = new_dir()
    local base, port = dir .. "/base", h.free_port()
    local env = ("RAYL_TMPDIR=%s RAYL_ADDRESS=127.0.0.1:%d "):format(base, port)
    finally(function()
      sh(env .. RAYL .. " stop")
      os.execute("rm -rf " .. dir)
    end)
    local out = sh(env .. RAYL .. " start --head --port " .. port .. " --num-cpus 2")
    assert.truthy(out:find("Started a rayl head", 1, true), out)
    local secret = "s3cr3t-" .. h.free_port() .. "-value"
    os.execute("mkdir " .. dir .. "/wd")
    -- The driver looks for the secret in every process's command line while it runs.
    write(dir .. "/wd/main.lua", [[
      local rayl = require "rayl"
      local secret = os.getenv("TOKEN")
      local leaks = 0
      for pid in io.popen("ls /proc"):lines() do
        local f = pid:match("^%d+$") and io.open("/proc/" .. pid .. "/cmdline")
        if f then
          local cmd = f:read("*a") or ""
          -- the submitting command has it (the user typed it), nothing rayl starts may
          if cmd:find(secret, 1, true) and not cmd:find("job[%z ]submit") then leaks = leaks + 1 end
          f:close()
        end
      end
      print("command lines with the secret: " .. leaks)
      local same = rayl.get(rayl.remote(function() return os.getenv("TOKEN") end):remote()) == secret
      print("the task sees it: " .. tostring(same))
    ]])
    out = sh(env .. RAYL .. " job submit --working-dir " .. dir .. "/wd --runtime-env-json " ..
      "'{\"env_vars\": {\"TOKEN\": \"" .. secret .. "\"}}' -- main.lua 2>&1")
    assert.truthy(out:find("command lines with the secret: 0", 1, true), out)
    assert.truthy(out:find("the task sees it: true", 1, true), out)
    assert.are.equal("700", mode(base))
    assert.are.equal("600", mode(base .. "/gcs.sqlite3"))
    assert.are.equal("600", mode(base .. "/gcs.sqlite3-wal"))
    assert.are.equal("", sh("grep -rl " .. secret .. " " .. base .. "/session_*/logs"))
    assert.truthy(sh("grep -rh 'runtime_env {' " .. base .. "/session_*/logs"):find("env:TOKEN=(hidden)", 1, true))
    if ROOT then
      for _, path in ipairs { base .. "/gcs.sqlite3", base .. "/session_latest/logs" } do
        local got, code = run(NOBODY .. "ls " .. path)
        assert.are_not.equal(0, code, got)
        assert.truthy(got:find("Permission denied", 1, true), got)
      end
    end
  end)
end)

describe("session folders of rayl script.lua", function()
  it("keep the newest RAYL_SESSIONS_KEPT, never one in use, with session_latest at the newest", function()
    local dir = new_dir()
    local base = dir .. "/base"
    local env = "RAYL_TMPDIR=" .. base .. " RAYL_SESSIONS_KEPT=3 "
    -- the session folders (not session_latest, the symlink to the newest)
    local function sessions() return sh("find " .. base .. " -maxdepth 1 -type d -name 'session_*' | sort") end
    finally(function() os.execute("rm -rf " .. dir) end)
    local script = session_script(dir)
    local held = dir .. "/held.lua"
    write(held, (read(script):gsub("io.stdout:flush%(%)", "io.stdout:flush(); os.execute('sleep 6')")))
    local p = io.popen(env .. RAYL .. " " .. held .. " 2>&1")
    local in_use = p:read("*l"):match("^session (.+)$")
    assert.truthy(in_use)
    local last
    for _ = 1, 5 do
      local out, code = run(env .. RAYL .. " " .. script)
      assert.are.equal(0, code, out)
      last = out:match("session (%S+)")
    end
    assert.are.equal("directory", trim(sh("stat -c %F " .. in_use)))
    local listing = sessions()
    local count = select(2, listing:gsub("\n", ""))
    assert.are.equal(4, count, listing) -- the newest 3 and the one in use
    assert.are.equal(last, base .. "/" .. trim(sh("readlink " .. base .. "/session_latest")))
    p:close()
    local out, code = run(env .. RAYL .. " " .. script)
    assert.are.equal(0, code, out)
    listing = sessions()
    assert.are.equal(3, select(2, listing:gsub("\n", "")), listing)
    assert.falsy(listing:find(in_use, 1, true))
    out, code = run("RAYL_TMPDIR=" .. base .. " RAYL_SESSIONS_KEPT=none " .. RAYL .. " " .. script)
    assert.are_not.equal(0, code, out)
    assert.truthy(out:find("RAYL_SESSIONS_KEPT='none' is not a number", 1, true), out)
  end)
end)
