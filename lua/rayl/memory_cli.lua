-- rayl.memory_cli: `rayl memory`: every object the cluster's drivers and workers own,
-- with size, owner, node, the references that hold it and where it was created, as
-- Ray's `ray memory`.
local core = require "rayl.core"
local cli_args = require "rayl.cli_args"
local obs = require "rayl.obs"

local M = {}

local USAGE = [[
usage: rayl memory [--group-by node|owner] [--sort-by size|age] [--address HOST:PORT]
Lists the objects each driver and worker owns: id, size, owner pid, node, what holds it
(local: a handle in the owner; borrowed: another process holds it; pinned by a task: a
pending task carries it; captured: inside another object), and the call site that
created it (file:line, recorded when the owner runs with
RAYL_RECORD_REF_CREATION_SITES=1, as Ray; it costs about half a put), with totals per
group.
  --group-by node|owner   group the objects by node (default) or by owner process
  --sort-by size|age      largest first (default) or oldest first
  --address HOST:PORT     the cluster's head (default: RAYL_ADDRESS, else the cluster
                          `rayl start` runs on this machine)]]

local function usage_error(msg) return cli_args.fail("memory", USAGE, msg) end

-- Every owned object, each with its owner's pid and node.
local function collect(procs)
  local rows, eps = {}, {}
  for i, p in ipairs(procs) do eps[i] = p.endpoint end
  local answers = core.obs_ask("owned", eps, 3000)
  for i, p in ipairs(procs) do
    local owned = answers[i]
    if not owned then
      io.stderr:write(("rayl memory: note: process %d did not answer within 3 s: its objects are not listed\n")
        :format(p.pid))
    else
      for _, obj in ipairs(owned.objects) do
        obj.owner_pid, obj.node, obj.node_id, obj.owner_kind = p.pid, p.node, p.node_id, p.kind
        rows[#rows + 1] = obj
      end
    end
  end
  return rows
end

local function print_group(title, rows)
  local total = 0
  for _, r in ipairs(rows) do total = total + (r.size or 0) end
  print(("--- %s: %d object%s, %s ---"):format(title, #rows, #rows == 1 and "" or "s", obs.bytes(total)))
  print(("%-34s %10s %8s %8s  %-26s %s"):format("OBJECT_ID", "SIZE", "OWNER", "AGE", "REFERENCES", "CALL_SITE"))
  for _, r in ipairs(rows) do
    print(("%-34s %10s %8d %8s  %-26s %s"):format(r.object_id, r.size and obs.bytes(r.size) or "pending", r.owner_pid,
      obs.duration(r.age_ms / 1000), r.refs ~= "" and r.refs or "-",
      r.call_site ~= "" and r.call_site or "?"))
  end
  print()
  return total
end

--- main(args): the `rayl memory` command; returns the exit code.
function M.main(args)
  local o, rc = cli_args.parse("memory", USAGE, args,
    { { "--group-by", "value" }, { "--sort-by", "value" }, { "--address", "value" } })
  if not o then return rc end
  if #o.args > 0 then return usage_error(("unexpected argument '%s'"):format(o.args[1])) end
  local group_by, sort_by = o.group_by or "node", o.sort_by or "size"
  if group_by ~= "node" and group_by ~= "owner" then
    return usage_error(("--group-by must be node or owner, not '%s'"):format(group_by))
  end
  if sort_by ~= "size" and sort_by ~= "age" then
    return usage_error(("--sort-by must be size or age, not '%s'"):format(sort_by))
  end
  local procs = obs.processes("memory", core, obs.address(o))
  if not procs then return 1 end
  local rows = collect(procs)
  table.sort(rows, function(a, b)
    if sort_by == "age" then return a.age_ms > b.age_ms end
    return (a.size or -1) > (b.size or -1)
  end)
  local groups, order = {}, {}
  for _, r in ipairs(rows) do
    local key = group_by == "node" and ("node %s  %s"):format((r.node_id or "?"):sub(1, 12), r.node)
      or ("owner pid %d (%s) on node %s"):format(r.owner_pid, r.owner_kind, (r.node_id or "?"):sub(1, 12))
    if not groups[key] then
      groups[key] = {}
      order[#order + 1] = key
    end
    table.insert(groups[key], r)
  end
  table.sort(order)
  local total = 0
  for _, key in ipairs(order) do total = total + print_group(key, groups[key]) end
  print(("Total: %d object%s, %s"):format(#rows, #rows == 1 and "" or "s", obs.bytes(total)))
  local unknown = 0
  for _, r in ipairs(rows) do unknown = unknown + (r.call_site == "" and 1 or 0) end
  if unknown > 0 then
    print("CALL_SITE ?: not recorded; run the driver with RAYL_RECORD_REF_CREATION_SITES=1 to record "
      .. "where objects are created")
  end
  return 0
end

return M
