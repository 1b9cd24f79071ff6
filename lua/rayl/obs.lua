-- rayl.obs: what `rayl stack`, `rayl memory`, `rayl timeline` and `rayl logs` share:
-- human units, and reaching the cluster (errors as the user sees them).
local M = {}

--- M.bytes(n) -> "16.48GiB" (as Ray prints memory)
function M.bytes(n)
  local units = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" }
  local u = 1
  n = n or 0
  while n >= 1024 and u < #units do n, u = n / 1024, u + 1 end
  if u == 1 then return ("%dB"):format(n) end
  return ("%.2f%s"):format(n, units[u])
end

--- M.duration(seconds) -> "850ms", "12.3s", "4m05s", "2h03m"
function M.duration(s)
  if s < 1 then return ("%dms"):format(math.floor(s * 1000 + 0.5)) end
  if s < 60 then return ("%.1fs"):format(s) end
  s = math.floor(s)
  if s < 3600 then return ("%dm%02ds"):format(s / 60, s % 60) end
  if s < 86400 then return ("%dh%02dm"):format(s / 3600, s % 3600 / 60) end
  return ("%dd%02dh"):format(s / 86400, s % 86400 / 3600)
end

--- M.address(o) -> the head's address the user means: --address, RAYL_ADDRESS or "auto"
function M.address(o)
  local a = o.address or os.getenv("RAYL_ADDRESS")
  if not a or a == "" then a = "auto" end
  return a
end

--- M.call(cmd, fn, ...) -> true, results... | false (the error printed as one line)
function M.call(cmd, fn, ...)
  local res = { pcall(fn, ...) }
  if res[1] then return unpack(res) end
  local err = res[2]
  local msg = type(err) == "table" and tostring(err.message) or tostring(err):gsub("^[^\n:]+:%d+: ", "")
  io.stderr:write("rayl ", cmd, ": ", msg, "\n")
  return false
end

--- M.processes(cmd, core, address, node) -> {{node=, node_id=, pid=, kind=, endpoint=}...} | nil
--- Every driver and worker of the cluster's live nodes (node: a node id prefix or address).
function M.processes(cmd, core, address, node)
  local ok, nodes, unreachable = M.call(cmd, core.obs_workers, address)
  if not ok then return nil end
  for _, ep in ipairs(unreachable) do
    io.stderr:write(("rayl %s: note: the node manager at %s did not answer: its processes are not shown\n")
      :format(cmd, ep))
  end
  local out = {}
  for _, n in ipairs(nodes) do
    local match = not node or (n.node_id or ""):sub(1, #node) == node or n.address == node
    for _, c in ipairs(match and n.clients or {}) do
      out[#out + 1] = { node = n.address, node_id = n.node_id, pid = c.pid, kind = c.kind, endpoint = c.endpoint }
    end
  end
  table.sort(out, function(a, b)
    if a.node ~= b.node then return a.node < b.node end
    return a.pid < b.pid
  end)
  return out
end

return M
