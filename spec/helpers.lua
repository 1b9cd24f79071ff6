-- spec/helpers.lua: small shared helpers for the core specs (error checks, counter files, clocks).
local rayl = require "rayl"
local core = require "rayl.core"

local helpers = {}

--- helpers.now() -> monotonic seconds
helpers.now = core.now

--- helpers.expect_error(type, fn, ...) -> err: fn(...) must raise a rayl error of that type.
function helpers.expect_error(kind, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error(("expected a %s, but the call succeeded"):format(kind), 2) end
  if not rayl.errors.is(err, kind) then
    error(("expected a %s, got: %s"):format(kind, type(err) == "table"
      and tostring(err.type) .. ": " .. tostring(err.message) or tostring(err)), 2)
  end
  return err
end

--- helpers.counter_file() -> path of a new temporary file holding "0" (workers are
--- separate processes, so attempts are counted on disk).
function helpers.counter_file()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("0")
  f:close()
  return path
end

--- helpers.read_counter(path) -> the number in the file
function helpers.read_counter(path)
  local f = assert(io.open(path))
  local n = tonumber(f:read("*a"))
  f:close()
  return n
end

--- helpers.wait_until(pred, seconds) -> true once pred() holds, false after the deadline.
function helpers.wait_until(pred, seconds)
  local deadline = core.now() + (seconds or 5)
  repeat
    if pred() then return true end
    rayl.poll()
    os.execute("sleep 0.01")
  until core.now() > deadline
  return pred() and true or false
end

-- Adds one to the number in the file at path and returns the new count (a counter
-- that tasks in separate worker processes share).
function helpers.bump(path)
  local f = assert(io.open(path))
  local n = tonumber(f:read("*a")) + 1
  f:close()
  f = assert(io.open(path, "w"))
  f:write(tostring(n))
  f:close()
  return n
end

-- The TCP ports something listens on now (from /proc/net/tcp and tcp6).
local function listening_ports()
  local ports = {}
  for _, path in ipairs { "/proc/net/tcp", "/proc/net/tcp6" } do
    local f = io.open(path)
    if f then
      for line in f:lines() do
        local port, state = line:match("^%s*%d+:%s+%x+:(%x+)%s+%x+:%x+%s+(%x+)")
        if port and state == "0A" then ports[tonumber(port, 16)] = true end
      end
      f:close()
    end
  end
  return ports
end

local handed_out = {} -- ports this process gave already: a cluster stopped moments ago may linger

-- A TCP port for a test cluster: below the kernel's ephemeral range (32768+), where
-- node managers and workers get theirs, drawn from /dev/urandom so specs running at the
-- same time don't pick the same one, never one that something listens on or that this
-- process handed out before.
function helpers.free_port()
  local busy = listening_ports()
  local f = assert(io.open("/dev/urandom", "rb"))
  for _ = 1, 100 do
    local b1, b2 = f:read(2):byte(1, 2)
    local port = 20000 + (b1 * 256 + b2) % 12000
    if not busy[port] and not handed_out[port] then
      f:close()
      handed_out[port] = true
      return port
    end
  end
  f:close()
  error("no free port in 20000-31999 after 100 draws")
end

-- A cluster of a spec's own from `rayl start --head HEAD_ARGS` (rayl: the rayl binary):
-- c.dir (its RAYL_TMPDIR), c.port, c.address ("127.0.0.1:PORT"), c.env (the shell
-- prefix that points rayl at it), c.run(args) (runs `rayl ARGS` there), c.join(args)
-- (adds a node manager, asserting it joined), c.stop() (stops its daemons, removes dir).
function helpers.start_cluster(rayl, head_args)
  local c = { dir = os.tmpname() }
  os.remove(c.dir) -- rayl makes it, private
  c.port = helpers.free_port()
  c.address = "127.0.0.1:" .. c.port
  c.env = ("RAYL_TMPDIR=%s "):format(c.dir)
  function c.run(args) return helpers.sh(c.env .. rayl .. " " .. args) end
  function c.join(args)
    local out = c.run("start --address " .. c.address .. " " .. (args or ""))
    assert(out:find("Joined the cluster", 1, true), out)
    return out
  end
  function c.stop()
    c.run("stop")
    os.execute("rm -rf " .. c.dir)
  end
  local out = c.run("start --head --port " .. c.port .. " " .. (head_args or ""))
  assert(out:find("Started a rayl head at " .. c.address, 1, true), out)
  return c
end

-- Runs a shell command; returns what it printed on stdout and stderr.
function helpers.sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

-- The contents of the file at path, or nil if it cannot be read.
function helpers.read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

return helpers
