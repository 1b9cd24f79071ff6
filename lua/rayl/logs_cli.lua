-- rayl.logs_cli: `rayl logs`: searches the logs of the cluster running on this machine
-- (each node's session folder: logs/), and follows them.
local core = require "rayl.core"
local cli_args = require "rayl.cli_args"
local obs = require "rayl.obs"

local M = {}

local USAGE = [[
usage: rayl logs [--follow] [--all-sessions] [PATTERN]
Prints the lines of the cluster's logs (the head's, each node manager's, drivers' and
workers' output and logs, in each node's session folder under $RAYL_TMPDIR) that
contain PATTERN (plain text; every line when none), as FILE:LINE: TEXT.
  -f, --follow          keep printing matching lines as they are written (Ctrl-C stops)
  --all-sessions        also search past sessions' logs, not only the running cluster's]]

local function read_all(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- The session folders of the daemons `rayl start` recorded (from their command lines).
local function live_sessions(base)
  local seen, out = {}, {}
  local p = io.popen(("ls -1 '%s/daemons' 2>/dev/null"):format(base))
  for pid in p:lines() do
    local cmd = pid:match("^%d+$") and read_all("/proc/" .. pid .. "/cmdline")
    local session = cmd and cmd:match("%z%-%-session%z([^%z]+)")
    if session and not seen[session] then
      seen[session] = true
      out[#out + 1] = session
    end
  end
  p:close()
  return out
end

local function all_sessions(base)
  local out = {}
  local p = io.popen(("ls -1d '%s'/session_2* 2>/dev/null"):format(base))
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

local function log_files(sessions)
  local files = {}
  for _, s in ipairs(sessions) do
    local p = io.popen(("ls -1 '%s/logs' 2>/dev/null"):format(s))
    for name in p:lines() do files[#files + 1] = { path = s .. "/logs/" .. name, name = name, session = s } end
    p:close()
  end
  return files
end

-- Prints the matching lines of file f from its offset on; keeps the offset and line.
local function scan(f, pattern, label)
  local h = io.open(f.path)
  if not h then return end
  h:seek("set", f.offset or 0)
  f.line = f.line or 0
  for line in h:lines() do
    f.line = f.line + 1
    if not pattern or line:find(pattern, 1, true) then print(("%s:%d: %s"):format(label(f), f.line, line)) end
  end
  f.offset = h:seek()
  h:close()
  io.stdout:flush()
end

--- main(args): the `rayl logs` command; returns the exit code.
function M.main(args)
  local o, rc = cli_args.parse("logs", USAGE, args, { { "-f --follow", "flag" }, { "--all-sessions", "flag" } })
  if not o then return rc end
  if #o.args > 1 then
    return cli_args.fail("logs", USAGE, ("give one PATTERN (quote it if it has spaces), not %d"):format(#o.args))
  end
  local ok, base = obs.call("logs", core.obs_base_dir)
  if not ok then return 1 end
  local sessions = o.all_sessions and all_sessions(base) or live_sessions(base)
  if #sessions == 0 then
    io.stderr:write(("rayl logs: no cluster is running on this machine (under %s); start one with "
      .. "`rayl start --head`, or use --all-sessions for past sessions' logs\n"):format(base))
    return 1
  end
  local many = #sessions > 1
  local function label(f) return many and (f.session:match("[^/]+$") .. "/" .. f.name) or f.name end
  local files, known = log_files(sessions), {}
  for _, f in ipairs(files) do
    known[f.path] = f
    scan(f, o.args[1], label)
  end
  while o.follow do
    core.sleep(0.5)
    for _, f in ipairs(log_files(sessions)) do
      if not known[f.path] then known[f.path] = f end
      scan(known[f.path], o.args[1], label)
    end
  end
  return 0
end

return M
