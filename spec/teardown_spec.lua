-- teardown_spec: a script's private cluster goes away on every exit path, leaving no
-- processes and no sockets behind (logs stay in the session folder).
local helpers = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

local read = helpers.read_file

local function sleep(s) os.execute("sleep " .. s) end

-- Starts `rayl -e code` in the background; returns a handle once the script has
-- printed its session folder.
local function start(code)
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. dir)
  local prelude = "local rayl = require 'rayl'; rayl.init{num_cpus = 1}; " ..
    "io.stdout:write(rayl.get_runtime_context().session_dir, '\\n'); io.stdout:flush(); "
  local script = dir .. "/script.lua"
  local f = assert(io.open(script, "w"))
  f:write(prelude, code)
  f:close()
  os.execute(("sh -c '%s %s > %s/out 2> %s/err & echo $! > %s/pid; wait $!; echo $? > %s/rc' &")
    :format(RAYL, script, dir, dir, dir, dir))
  local h = { dir = dir }
  for _ = 1, 200 do
    local out, pid = read(dir .. "/out"), read(dir .. "/pid")
    if out and out:match("\n") and pid then
      h.session, h.pid = out:match("^([^\n]+)"), tonumber(pid)
      return h
    end
    if read(dir .. "/rc") then break end
    sleep(0.05)
  end
  error("the script did not start: " .. tostring(read(dir .. "/err")))
end

local function exit_code(h)
  for _ = 1, 200 do
    local rc = read(h.dir .. "/rc")
    if rc and rc:match("%d") then return tonumber(rc) end
    sleep(0.05)
  end
  error("the script did not exit")
end

-- Daemons whose command line names the session; they may take a moment to notice.
local function leftovers(h)
  local found
  for _ = 1, 40 do
    -- The pattern cannot match this shell's own command line ("(head|..." is not "head").
    found = sh("pgrep -f 'rayl (head|node|worker) .*" .. h.session .. "' || true")
    if found == "" then break end
    sleep(0.05)
  end
  return found
end

local function sockets_gone(h)
  for _ = 1, 40 do
    if not read(h.session .. "/sockets/node") and sh("ls " .. h.session .. "/sockets 2>/dev/null") == "" then
      return true
    end
    sleep(0.05)
  end
  return false
end

describe("a script's private cluster", function()
  local BLOCK = "local f = rayl.remote(function() while true do end end); rayl.get(f:remote())"

  it("is torn down when the script ends normally", function()
    local h = start("")
    assert.are.equal(0, exit_code(h))
    assert.are.equal("", leftovers(h))
    assert.is_true(sockets_gone(h))
    assert.is_truthy(read(h.session .. "/logs/node.log"))
  end)

  it("is torn down on an uncaught error (exit code 1)", function()
    local h = start("error('boom')")
    assert.are.equal(1, exit_code(h))
    assert.is_truthy(read(h.dir .. "/err"):find("boom", 1, true))
    assert.are.equal("", leftovers(h))
    assert.is_true(sockets_gone(h))
  end)

  it("is torn down on os.exit(3)", function()
    local h = start("os.exit(3)")
    assert.are.equal(3, exit_code(h))
    assert.are.equal("", leftovers(h))
    assert.is_true(sockets_gone(h))
  end)

  it("is torn down on Ctrl-C (SIGINT) during rayl.get", function()
    local h = start(BLOCK)
    sleep(0.3)
    os.execute("kill -INT " .. h.pid)
    assert.are.equal(130, exit_code(h))
    assert.are.equal("", leftovers(h))
    assert.is_true(sockets_gone(h))
  end)

  it("is torn down on SIGTERM", function()
    local h = start(BLOCK)
    sleep(0.3)
    os.execute("kill -TERM " .. h.pid)
    assert.are.equal(143, exit_code(h))
    assert.are.equal("", leftovers(h))
    assert.is_true(sockets_gone(h))
  end)

  it("ends the processes its tasks started, with the task's worker", function()
    -- A task starts a long child process (its pid to a file) and returns; the script ends.
    local pidfile = os.tmpname()
    local h = start(("local f = rayl.remote(function() os.execute('sleep 300 & echo $! > %s'); "
      .. "return true end); rayl.get(f:remote())"):format(pidfile))
    assert.are.equal(0, exit_code(h))
    assert.are.equal("", leftovers(h))
    local child = tonumber(read(pidfile))
    os.remove(pidfile)
    assert.is_number(child)
    local alive
    for _ = 1, 40 do
      alive = os.execute("kill -0 " .. child .. " 2>/dev/null") == 0
      if not alive then break end
      sleep(0.05)
    end
    if alive then os.execute("kill " .. child) end
    assert.is_false(alive, "the task's child process " .. child .. " outlived the cluster")
  end)

  it("is torn down when the driver is killed with SIGKILL", function()
    local h = start(BLOCK)
    sleep(0.3)
    os.execute("kill -KILL " .. h.pid)
    assert.are.equal(137, exit_code(h))
    assert.are.equal("", leftovers(h))
    assert.is_true(sockets_gone(h))
  end)
end)
