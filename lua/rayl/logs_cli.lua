-- rayl.logs_cli: `rayl logs`: searches (and follows) the cluster's logs: each node's
-- session logs, read through that node's node manager (RL_NM_LOGS), so nodes on other
-- machines are searched as well; past sessions from this machine's folders.
local core = require "rayl.core"
local cli_args = require "rayl.cli_args"
local obs = require "rayl.obs"

local M = {}

local USAGE = [[
usage: rayl logs [--follow] [--address HOST:PORT] [--all-sessions] [PATTERN]
Prints the lines of the cluster's logs (the head's, each node manager's, drivers' and
workers' output and logs, in each node's session folder, on whichever machine the node
runs: each node manager sends its own) that contain PATTERN (plain text; every line
when none), as FILE:LINE: TEXT (NODE/FILE:LINE: TEXT when there are several nodes).
  -f, --follow          keep printing matching lines as they are written (Ctrl-C stops)
  --address HOST:PORT   the cluster's head (default: RAYL_ADDRESS, else the cluster
                        `rayl start` runs on this machine)
  --all-sessions        search every session folder kept on this machine instead
                        (past clusters' logs too; only this machine's)]]

local CHUNK = 8 * 1024 * 1024

local function read_all(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Prints the complete lines of text (from a file) that match; f keeps the line count.
-- Returns the bytes used (up to the last newline; all of it when final).
local function emit(f, text, pattern, final)
  local used, pos = 0, 1
  while true do
    local nl = text:find("\n", pos, true)
    if not nl and not (final and pos <= #text) then break end
    local line = text:sub(pos, (nl or #text + 1) - 1)
    f.line = f.line + 1
    if not pattern or line:find(pattern, 1, true) then print(("%s:%d: %s"):format(f.label, f.line, line)) end
    used = nl or #text
    if not nl then break end
    pos = nl + 1
  end
  io.stdout:flush()
  return used
end

-- The log files of every live node, through its node manager: {key -> file}.
local function remote_files(nodes, known)
  for _, n in ipairs(nodes) do
    local ok, listing = pcall(core.obs_logs, n.address)
    if not ok then
      if not n.warned then
        io.stderr:write(("rayl logs: note: %s: its logs are not shown\n"):format(tostring(listing)))
        n.warned = true
      end
    else
      for _, file in ipairs(listing.files) do
        local key = n.address .. "|" .. file.name
        if not known[key] then
          known[key] = { node = n, name = file.name, offset = 0, line = 0,
                         label = #nodes > 1 and (n.node_id or "?"):sub(1, 12) .. "/" .. file.name or file.name }
          known[#known + 1] = known[key]
        end
      end
    end
  end
end

-- Reads a remote file from its offset to its end, printing matching lines.
local function remote_scan(f, pattern, final)
  while true do
    local ok, got = pcall(core.obs_logs, f.node.address, f.name, f.offset, CHUNK)
    if not ok or not got then return end
    local used = emit(f, got.data, pattern, final and #got.data < CHUNK)
    f.offset = got.offset + used
    if #got.data < CHUNK or used == 0 then return end
  end
end

-- The session folders of the daemons `rayl start` recorded (from their command lines).
local function all_sessions(base)
  local out = {}
  local p = io.popen(("ls -1d '%s'/session_2* 2>/dev/null"):format(base))
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

-- --all-sessions: every kept session folder of this machine, read directly.
local function local_logs(o)
  local ok, base = obs.call("logs", core.obs_base_dir)
  if not ok then return 1 end
  local sessions = all_sessions(base)
  if #sessions == 0 then
    io.stderr:write(("rayl logs: no session folders under %s\n"):format(base))
    return 1
  end
  for _, s in ipairs(sessions) do
    local p = io.popen(("ls -1 '%s/logs' 2>/dev/null"):format(s))
    for name in p:lines() do
      local text = read_all(s .. "/logs/" .. name)
      if text then emit({ line = 0, label = s:match("[^/]+$") .. "/" .. name }, text, o.args[1], true) end
    end
    p:close()
  end
  return 0
end

--- main(args): the `rayl logs` command; returns the exit code.
function M.main(args)
  local o, rc = cli_args.parse("logs", USAGE, args,
    { { "-f --follow", "flag" }, { "--all-sessions", "flag" }, { "--address", "value" } })
  if not o then return rc end
  if #o.args > 1 then
    return cli_args.fail("logs", USAGE, ("give one PATTERN (quote it if it has spaces), not %d"):format(#o.args))
  end
  if o.all_sessions then return local_logs(o) end
  local ok, nodes = obs.call("logs", core.obs_nodes, obs.address(o))
  if not ok then return 1 end
  local files = {}
  remote_files(nodes, files)
  for _, f in ipairs(files) do remote_scan(f, o.args[1], not o.follow) end
  while o.follow do
    core.sleep(0.5)
    local ok2, now = pcall(core.obs_nodes, obs.address(o))
    if ok2 then
      for _, n in ipairs(now) do
        for _, old in ipairs(nodes) do if old.address == n.address then n.warned = old.warned end end
      end
      nodes = now
    end
    remote_files(nodes, files)
    for _, f in ipairs(files) do remote_scan(f, o.args[1], false) end
  end
  return 0
end

return M
