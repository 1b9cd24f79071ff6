-- rayl.list: `rayl list nodes|tasks|actors|objects`: the state API (rayl.util.state) as
-- an aligned table (ids shortened) or, with --format json, a JSON array of every field.
local state = require "rayl.util.state"
local cli_args = require "rayl.cli_args"
local json = require "rayl.json"
local obs = require "rayl.obs"

local M = {}

local USAGE = [[
usage: rayl list nodes|tasks|actors|objects [--format table|json] [--address HOST:PORT]
                 [--filter KEY=VALUE]... [--filter KEY!=VALUE]... [--limit N]
Lists what the cluster knows (Ray's `ray list`). Tasks and actors are reported by
their owners at most about once a second; the head keeps the last 100,000 tasks.
  --format table|json   an aligned table (default), or a JSON array of every field
  --address HOST:PORT   the cluster's head (default: RAYL_ADDRESS, else the cluster
                        `rayl start` runs on this machine)
  --filter KEY=VALUE    only rows whose KEY is VALUE (KEY!=VALUE: is not); ids match by
                        prefix, values ignore case; repeat to combine
  --limit N             at most N rows, the most recent (default 100)
Fields: rayl list KIND --help-fields]]

-- Columns of the table (all fields go to JSON).
local COLUMNS = {
  nodes = { "node_id", "address", "state", "resources_total", "resources_available" },
  tasks = { "task_id", "attempt_number", "name", "state", "type", "node_id", "worker_pid", "error_type" },
  actors = { "actor_id", "class_name", "name", "state", "node_id", "pid" },
  objects = { "object_id", "object_size", "node_id", "owner_id", "pins", "state" },
}

-- ---- the table ----

local function resources(r)
  local names = {}
  for k in pairs(r) do names[#names + 1] = k end
  table.sort(names)
  local parts = {}
  for _, k in ipairs(names) do
    local v = r[k]
    if k == "memory" or k == "object_store_memory" then
      parts[#parts + 1] = ("%s: %s"):format(k, obs.bytes(v))
    else
      parts[#parts + 1] = ("%s: %g"):format(k, v)
    end
  end
  return table.concat(parts, ", ")
end

-- The shortest prefix (at least 12 digits) telling apart every id in the column.
local function id_width(rows, key)
  local width = 12
  local ids = {}
  for _, row in ipairs(rows) do if row[key] then ids[#ids + 1] = row[key] end end
  table.sort(ids)
  for i = 2, #ids do
    local a, b, n = ids[i - 1], ids[i], 0
    while n < #a and a:sub(n + 1, n + 1) == b:sub(n + 1, n + 1) do n = n + 1 end
    if n + 1 > width and a ~= b then width = n + 1 end
  end
  return width
end

local function cell(row, key, widths)
  local v = row[key]
  if v == nil then return "" end
  if type(v) == "table" then return resources(v) end
  if key == "object_size" then return obs.bytes(v) end -- raw bytes in --format json
  if widths[key] then return v:sub(1, widths[key]) end
  if type(v) == "number" then return ("%d"):format(v) end
  return tostring(v)
end

local function print_table(kind, rows)
  local cols = COLUMNS[kind]
  local widths = {}
  for _, key in ipairs(cols) do
    if key:sub(-3) == "_id" then widths[key] = id_width(rows, key) end
  end
  local lines = { {} }
  for i, key in ipairs(cols) do lines[1][i] = key:upper() end
  for _, row in ipairs(rows) do
    local line = {}
    for i, key in ipairs(cols) do line[i] = cell(row, key, widths) end
    lines[#lines + 1] = line
  end
  local size = {}
  for _, line in ipairs(lines) do
    for i, text in ipairs(line) do size[i] = math.max(size[i] or 0, #text) end
  end
  for _, line in ipairs(lines) do
    local out = {}
    for i, text in ipairs(line) do
      out[i] = i < #line and text .. string.rep(" ", size[i] - #text) or text
    end
    print((table.concat(out, "  "):gsub("%s+$", "")))
  end
end

-- ---- arguments ----

local KINDS = { nodes = "list_nodes", tasks = "list_tasks", actors = "list_actors", objects = "list_objects" }

local function usage_error(msg) return cli_args.fail("list", USAGE, msg) end

-- The options, or nil and the exit code (usage printed).
local function parse(args)
  local o, rc = cli_args.parse("list", USAGE, args, { { "--format", "value" }, { "--address", "value" },
    { "--filter", "list" }, { "--limit", "whole" }, { "--help-fields", "flag" } })
  if not o then return nil, rc end
  o.format = o.format or "table"
  if o.format ~= "table" and o.format ~= "json" then return nil, usage_error("--format must be table or json") end
  local filters = {}
  for i, f in ipairs(o.filter) do
    local key, op, v = f:match("^%s*([%w_]+)%s*(!?=)%s*(.-)%s*$")
    if not key then return nil, usage_error(("--filter '%s' is not KEY=VALUE or KEY!=VALUE"):format(f)) end
    filters[i] = { key, op, v }
  end
  o.filters = filters
  if #o.args > 1 then return nil, usage_error(("unexpected argument '%s'"):format(o.args[2])) end
  o.kind = o.args[1]
  return o
end

--- main(args): the `rayl list` command; returns the exit code.
function M.main(args)
  local o, rc = parse(args)
  if not o then return rc end
  if not o.kind then return usage_error("say what to list: nodes, tasks, actors or objects") end
  if not KINDS[o.kind] then
    return usage_error(("cannot list '%s': choose nodes, tasks, actors or objects"):format(o.kind))
  end
  if o.help_fields then
    print(("Fields of %s: %s"):format(o.kind, table.concat(state.FIELDS[o.kind], ", ")))
    return 0
  end
  local ok, rows, info = pcall(state[KINDS[o.kind]], { address = o.address, filters = o.filters, limit = o.limit })
  if not ok then
    -- (a plain error names the line of the call; the user did not write it)
    local msg = type(rows) == "table" and tostring(rows.message) or tostring(rows):gsub("^[^\n:]+:%d+: ", "")
    io.stderr:write("rayl list: ", msg, "\n")
    return (type(rows) == "table" and rows.type == "ValueError") and 2 or 1
  end
  local notes = {}
  if (info.evicted or 0) > 0 then
    notes[#notes + 1] = ("the head keeps the last 100,000 tasks: %d older ones are gone"):format(info.evicted)
  end
  if (info.dropped or 0) > 0 then
    notes[#notes + 1] = ("%d task events were not reported (owners report at most 10,000 a second each): "
      .. "some tasks are missing"):format(info.dropped)
  end
  for _, node in ipairs(info.unreachable or {}) do
    notes[#notes + 1] = ("the node manager at %s did not answer: its objects are not listed"):format(node)
  end
  if o.format == "json" then
    local parts = {}
    for i, row in ipairs(rows) do parts[i] = json.encode(row) end
    print("[" .. table.concat(parts, ",\n ") .. "]")
  else
    local shown = #rows < info.total and (" (showing the last %d; use --limit to see more)"):format(#rows) or ""
    print(("Total: %d%s"):format(info.total, shown))
    if #rows > 0 then
      print()
      print_table(o.kind, rows)
    end
  end
  for _, note in ipairs(notes) do io.stderr:write("rayl list: note: ", note, "\n") end
  return 0
end

return M
