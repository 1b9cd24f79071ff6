-- rayl.util.state: the state API (Ray's ray.util.state): the cluster's nodes, tasks,
-- actors and objects as lists of tables; `rayl list` prints them.
--
--   local state = require "rayl.util.state"
--   state.list_tasks{ filters = { { "state", "=", "RUNNING" } }, limit = 100 }
--   state.list_actors{ filters = { state = "DEAD" } }   -- the short form: key = value
--
-- Each function returns rows, info. Rows come in the order the cluster learned of them;
-- when more than `limit` (default 100) match, the most recent `limit` are returned.
-- info: total (how many matched), and notes on what may be missing.
local core = require "rayl.core"
local errors = require "rayl.errors"

local M = {}

M.DEFAULT_LIMIT = 100

-- The fields of each kind of row (the keys filters may use).
M.FIELDS = {
  nodes = { "node_id", "address", "state", "resources_total", "resources_available" },
  tasks = { "task_id", "attempt_number", "name", "state", "job_id", "actor_id", "type", "node_id",
            "worker_pid", "error_type", "owner_id", "owner_pid" },
  actors = { "actor_id", "class_name", "name", "namespace", "state", "job_id", "node_id", "pid",
             "is_detached", "death_cause", "owner_id", "owner_pid" },
  objects = { "object_id", "object_size", "node_id", "owner_id", "pins", "state", "spilled" },
}

-- rayl has one job until `rayl job submit` exists; its id is the one
-- rayl.get_runtime_context() gives.
local JOB_ID = "01000000"

local function raise(kind, msg, level) errors.raise(kind, msg, level + 1) end

local function is_id_field(key) return key:sub(-3) == "_id" end

-- One filter: ids match by prefix (the table shows them shortened), other values as
-- text, ignoring case.
local function matcher(kind, key, op, value, level)
  local known = false
  for _, f in ipairs(M.FIELDS[kind]) do known = known or f == key end
  if not known then
    raise("ValueError", ("cannot filter %s by '%s'; the fields are: %s")
      :format(kind, tostring(key), table.concat(M.FIELDS[kind], ", ")), level + 1)
  end
  if op ~= "=" and op ~= "!=" then
    raise("ValueError", ("filter operator must be \"=\" or \"!=\", got '%s'"):format(tostring(op)), level + 1)
  end
  local want = tostring(value):lower()
  return function(row)
    local v = row[key]
    local have = v == nil and "" or tostring(v):lower()
    local same
    if is_id_field(key) and want ~= "" then same = have:sub(1, #want) == want else same = have == want end
    if op == "=" then return same end
    return not same
  end
end

local function compile_filters(kind, filters, level)
  local preds = {}
  if filters == nil then return preds end
  if type(filters) ~= "table" then
    raise("ValueError", "filters must be a list of { key, op, value } or a table of key = value", level + 1)
  end
  for k, f in pairs(filters) do
    if type(k) == "number" then
      if type(f) ~= "table" or #f ~= 3 then
        raise("ValueError", ("filter %d must be { key, op, value }, e.g. { \"state\", \"=\", \"RUNNING\" }")
          :format(k), level + 1)
      end
      preds[#preds + 1] = matcher(kind, f[1], f[2], f[3], level + 1)
    else
      preds[#preds + 1] = matcher(kind, k, "=", f, level + 1)
    end
  end
  return preds
end

local OPTIONS = { address = "string", filters = "table", limit = "number" }

local function list(kind, opts, level)
  opts = opts or {}
  if type(opts) ~= "table" then
    raise("ValueError", ("list_%s expects a table of options, got a %s"):format(kind, type(opts)), level + 1)
  end
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      raise("ValueError", ("unknown option '%s' for list_%s; valid options: address, filters, limit")
        :format(tostring(k), kind), level + 1)
    end
    if type(v) ~= OPTIONS[k] then
      raise("ValueError", ("option '%s' of list_%s must be a %s, got a %s"):format(k, kind, OPTIONS[k], type(v)),
        level + 1)
    end
  end
  local limit = opts.limit or M.DEFAULT_LIMIT
  if limit < 0 or limit ~= math.floor(limit) then
    raise("ValueError", ("limit must be a whole number >= 0, got %s"):format(tostring(limit)), level + 1)
  end
  local preds = compile_filters(kind, opts.filters, level + 1)
  -- This process's cluster if it has one, else the address given, RAYL_ADDRESS, or the
  -- cluster `rayl start` runs on this machine.
  local address = opts.address
  if not address and not core.is_initialized() then
    address = os.getenv("RAYL_ADDRESS")
    if address == nil or address == "" then address = "auto" end
  end
  local ok, rows, info = pcall(core.state_list, kind, address)
  if not ok then error(rows, level + 1) end
  local matched = {}
  for _, row in ipairs(rows) do
    if kind == "tasks" or kind == "actors" then row.job_id = JOB_ID end
    local keep = true
    for _, p in ipairs(preds) do keep = keep and p(row) end
    if keep then matched[#matched + 1] = row end
  end
  local out = {}
  for i = math.max(1, #matched - limit + 1), #matched do out[#out + 1] = matched[i] end
  info.total = #matched
  return out, info
end

--- list_nodes{ address =, filters =, limit = } -> rows, info
function M.list_nodes(opts) return list("nodes", opts, 2) end
--- list_tasks{...} -> rows, info
function M.list_tasks(opts) return list("tasks", opts, 2) end
--- list_actors{...} -> rows, info
function M.list_actors(opts) return list("actors", opts, 2) end
--- list_objects{...} -> rows, info (the objects in the nodes' stores)
function M.list_objects(opts) return list("objects", opts, 2) end

return M
