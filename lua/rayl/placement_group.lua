-- rayl.placement_group: Ray's placement groups (ray.util.placement_group) for Lua:
-- bundles of resources reserved together across the cluster's nodes, and tasks and
-- actors scheduled into them. Exposed as rayl.util.placement_group and friends.
--
--   local pg = rayl.util.placement_group({ {CPU = 1}, {CPU = 1} }, { strategy = "STRICT_SPREAD" })
--   rayl.get(pg:ready())                  -- once every bundle is reserved
--   f:options{ scheduling_strategy = rayl.util.PlacementGroupSchedulingStrategy{
--     placement_group = pg, placement_group_bundle_index = 1 } }:remote()
--   rayl.util.remove_placement_group(pg)
--
-- Bundles are numbered from 1, as pg.bundle_specs is (Ray counts from 0); index -1
-- means any bundle of the group.
local core = require "rayl.core"
local errors = require "rayl.errors"
local options = require "rayl.options"
local utf8 = require "rayl.utf8"

local raise = errors.raise
local show = options.show

local M = {}

local STRATEGIES = { PACK = true, SPREAD = true, STRICT_PACK = true, STRICT_SPREAD = true }

local PlacementGroup = {}
PlacementGroup.__index = PlacementGroup
M.PlacementGroup = PlacementGroup

local SchedulingStrategy = {}
SchedulingStrategy.__index = SchedulingStrategy

local removed = {} -- ids of groups this process removed

local function is_pg(v) return getmetatable(v) == PlacementGroup end

local function format_resources(r)
  local names = {}
  for k in pairs(r) do names[#names + 1] = k end
  table.sort(names)
  for i, k in ipairs(names) do names[i] = ("%s = %s"):format(k, tostring(r[k])) end
  return "{" .. table.concat(names, ", ") .. "}"
end

local function check_bundles(bundles, level)
  if type(bundles) ~= "table" or #bundles == 0 then
    raise("ValueError", ("placement_group expects a non-empty list of bundles, e.g. { {CPU = 1}, {CPU = 1} }, got %s")
      :format(type(bundles) == "table" and "an empty table" or show(bundles)), level + 1)
  end
  local count = 0
  for _ in pairs(bundles) do count = count + 1 end
  if count ~= #bundles then
    raise("ValueError", "the bundles must be a list (a table with keys 1..n only)", level + 1)
  end
  local copy = {}
  for i, b in ipairs(bundles) do
    if type(b) ~= "table" then
      raise("ValueError", ("bundle %d must be a table of resources such as {CPU = 1}, got %s"):format(i, type(b)),
        level + 1)
    end
    copy[i] = {}
    local something = false
    for k, v in pairs(b) do
      if type(k) ~= "string" then
        raise("ValueError", ("bundle %d: resource names are strings such as \"CPU\", got a %s"):format(i, type(k)),
          level + 1)
      end
      if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
        raise("ValueError", ("bundle %d: resource '%s' must be an amount >= 0, got %s"):format(i, k, show(v)),
          level + 1)
      end
      if k == "GPU" and v > 1 and v ~= math.floor(v) then
        raise("ValueError", ("bundle %d: GPU must be a fraction of one GPU (0.5) or a whole number of GPUs (2), "
          .. "got %s"):format(i, tostring(v)), level + 1)
      end
      copy[i][k] = v
      something = something or v > 0
    end
    -- As Ray: a zero amount may be listed, but a bundle must ask for something.
    if not something then
      raise("ValueError", ("bundle %d is empty or asks for zero of everything: each bundle must ask for some "
        .. "resource"):format(i), level + 1)
    end
  end
  return copy
end

local function new_pg(id, specs, strategy, name)
  return setmetatable({ id = id, bundle_specs = specs, bundle_count = #specs, strategy = strategy,
                        name = name ~= "" and name or nil }, PlacementGroup)
end

--- placement_group(bundles, {strategy = "PACK", name = nil, lifetime = nil}) -> PlacementGroup
--- Returns at once; the head reserves the bundles in the background.
function M.placement_group(bundles, opts, level)
  level = (level or 1) + 1
  local specs = check_bundles(bundles, level)
  if opts ~= nil and type(opts) ~= "table" then
    raise("ValueError", ("placement_group's options must be a table, got %s"):format(show(opts)), level)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "strategy" and k ~= "name" and k ~= "lifetime" then
      raise("ValueError", ("unknown option '%s' for placement_group; valid options: lifetime, name, strategy")
        :format(tostring(k)), level)
    end
  end
  local strategy = opts.strategy or "PACK"
  if not STRATEGIES[strategy] then
    raise("ValueError", ("unknown placement strategy %s: expected \"PACK\", \"SPREAD\", \"STRICT_PACK\" or "
      .. "\"STRICT_SPREAD\""):format(tostring(strategy)), level)
  end
  local name = opts.name
  local bad = type(name) == "string" and #name <= 127 and utf8.bad(name)
  if name ~= nil and (type(name) ~= "string" or #name > 127 or bad) then
    raise("ValueError", ("a placement group's name is a UTF-8 string of at most 127 bytes, got %s%s")
      :format(show(name), bad and (" (not UTF-8 at byte %d)"):format(bad) or ""), level)
  end
  if opts.lifetime ~= nil and opts.lifetime ~= "detached" then
    raise("ValueError", ("lifetime must be nil (the group goes with its creator) or \"detached\", got %s")
      :format(show(opts.lifetime)), level)
  end
  M.ensure_init()
  local id = core.pg_create(specs, strategy, opts.name, opts.lifetime == "detached")
  return new_pg(id, specs, strategy, opts.name)
end

--- pg:ready() -> ObjectRef whose value is pg once every bundle is reserved
function PlacementGroup:ready()
  if removed[self.id] then raise("ValueError", ("placement group %s was removed"):format(self.id), 2) end
  return core.pg_ready(self.id, self)
end

--- pg:wait(timeout_seconds = 30) -> true once every bundle is reserved, false on timeout
function PlacementGroup:wait(timeout_seconds)
  if timeout_seconds == nil then timeout_seconds = 30 end
  if type(timeout_seconds) ~= "number" or timeout_seconds < 0 then
    raise("ValueError", ("pg:wait(timeout_seconds) expects a number of seconds >= 0, got %s")
      :format(show(timeout_seconds)), 2)
  end
  if removed[self.id] then return false end
  local ref = core.pg_ready(self.id, self)
  local ready = M.wait({ ref }, { timeout = timeout_seconds })
  return #ready == 1 and core.state(ref) == "ready"
end

function PlacementGroup.__tostring(pg)
  return ("PlacementGroup(%s, %s, %d bundles)"):format(pg.id:sub(1, 8), pg.strategy, #pg.bundle_specs)
end

function PlacementGroup.__eq(a, b) return a.id == b.id end

--- remove_placement_group(pg): frees its bundles; tasks and actors running in them are killed.
function M.remove_placement_group(pg)
  if not is_pg(pg) then
    raise("ValueError", ("remove_placement_group expects a placement group, got %s"):format(show(pg)), 2)
  end
  M.ensure_init()
  core.pg_remove(pg.id)
  removed[pg.id] = true
end

--- get_placement_group(name) -> PlacementGroup, or raises ValueError
function M.get_placement_group(name)
  if type(name) ~= "string" or name == "" then
    raise("ValueError", ("get_placement_group expects a name, got %s"):format(show(name)), 2)
  end
  M.ensure_init()
  local info = core.pg_get(nil, name)[1]
  if not info then raise("ValueError", ("no placement group named '%s'"):format(name), 2) end
  return new_pg(info.id, info.bundles, info.strategy, info.name)
end

local function table_entry(info)
  local to_node = {}
  for i, node in ipairs(info.nodes) do if node then to_node[i] = node end end
  return { placement_group_id = info.id, name = info.name, strategy = info.strategy, state = info.state,
           bundles = info.bundles, bundles_to_node_id = to_node, detached = info.detached }
end

--- placement_group_table(pg) -> { placement_group_id, name, strategy, state, bundles,
--- bundles_to_node_id }; without pg: such a table for every group, keyed by id.
function M.placement_group_table(pg)
  M.ensure_init()
  if pg == nil then
    local all = {}
    for _, info in ipairs(core.pg_get(nil, nil)) do all[info.id] = table_entry(info) end
    return all
  end
  if not is_pg(pg) then raise("ValueError", "placement_group_table expects a placement group (or nothing)", 2) end
  local info = core.pg_get(pg.id, nil)[1]
  if info then return table_entry(info) end
  -- The head forgets a group once it is removed.
  local bundles = {}
  for i, b in ipairs(pg.bundle_specs) do bundles[i] = b end
  return { placement_group_id = pg.id, name = pg.name or "", strategy = pg.strategy, state = "REMOVED",
           bundles = bundles, bundles_to_node_id = {} }
end

--- PlacementGroupSchedulingStrategy{ placement_group = pg, placement_group_bundle_index = -1 }
function M.PlacementGroupSchedulingStrategy(opts)
  if type(opts) ~= "table" then
    raise("ValueError", "PlacementGroupSchedulingStrategy expects a table: { placement_group = pg, "
      .. "placement_group_bundle_index = -1 }", 2)
  end
  for k in pairs(opts) do
    if k ~= "placement_group" and k ~= "placement_group_bundle_index" and k ~= "placement_group_capture_child_tasks" then
      raise("ValueError", ("unknown field '%s' of PlacementGroupSchedulingStrategy"):format(tostring(k)), 2)
    end
  end
  if opts.placement_group_capture_child_tasks then
    raise("ValueError", "placement_group_capture_child_tasks is not available yet: pass the group to child tasks", 2)
  end
  return setmetatable({ placement_group = opts.placement_group,
                        placement_group_bundle_index = opts.placement_group_bundle_index }, SchedulingStrategy)
end

function M.is_strategy(v) return getmetatable(v) == SchedulingStrategy end

local function fits(bundle, need)
  for k, v in pairs(need) do
    if (bundle[k] or 0) < v then return false end
  end
  return true
end

--- M.strategy_for(opts, resources, placement, what, level) -> { kind = "PG", pg_id = hex,
--- bundle = index from 0 (-1: any) } or nil:
--- the runtime's strategy for task or actor options that name a placement group
--- (scheduling_strategy = PlacementGroupSchedulingStrategy{...}, or the shorthand
--- placement_group = pg, placement_group_bundle_index = i). Raises ValueError when the
--- request cannot fit the bundle(s) it names.
function M.strategy_for(opts, resources, placement, what, level)
  level = level + 1
  local s, pg, index = opts.scheduling_strategy, nil, nil
  if M.is_strategy(s) then
    if opts.placement_group ~= nil or opts.placement_group_bundle_index ~= nil then
      raise("ValueError", "give the placement group either in scheduling_strategy or as placement_group, not both",
        level)
    end
    pg, index = s.placement_group, s.placement_group_bundle_index
  elseif opts.placement_group ~= nil then
    if s ~= nil and s ~= "DEFAULT" then
      raise("ValueError", "placement_group cannot be combined with scheduling_strategy " .. tostring(s), level)
    end
    pg, index = opts.placement_group, opts.placement_group_bundle_index
  elseif opts.placement_group_bundle_index ~= nil then
    raise("ValueError", "placement_group_bundle_index needs placement_group", level)
  else
    return nil
  end
  if not is_pg(pg) then
    raise("ValueError", "placement_group must be a placement group made by rayl.util.placement_group, got "
      .. type(pg), level)
  end
  if removed[pg.id] then raise("ValueError", ("placement group %s was removed"):format(pg.id), level) end
  index = index == nil and -1 or index
  local n = #pg.bundle_specs
  if type(index) ~= "number" or index ~= math.floor(index) or (index ~= -1 and (index < 1 or index > n)) then
    raise("ValueError", ("placement_group_bundle_index must be -1 (any bundle) or a bundle number from 1 to %d, "
      .. "got %s%s"):format(n, tostring(index), index == 0 and " (bundles count from 1 in rayl, as pg.bundle_specs does)"
      or ""), level)
  end
  local need = {}
  for k, v in pairs(resources) do need[k] = v end
  for k, v in pairs(placement or {}) do need[k] = math.max(need[k] or 0, v) end
  local ok = false
  for i = index == -1 and 1 or index, index == -1 and n or index do ok = ok or fits(pg.bundle_specs[i], need) end
  if not ok then
    local hint = placement and placement.CPU and not resources.CPU
      and " (an actor without num_cpus needs 1 CPU free to be placed, as in Ray; give it num_cpus = 0 to fit)" or ""
    if index == -1 then
      raise("ValueError", ("%s asks for %s, more than any bundle of placement group %s holds%s")
        :format(what, format_resources(need), pg.id:sub(1, 8), hint), level)
    end
    raise("ValueError", ("%s asks for %s but bundle %d of placement group %s holds only %s%s")
      :format(what, format_resources(need), index, pg.id:sub(1, 8), format_resources(pg.bundle_specs[index]), hint),
      level)
  end
  return { kind = "PG", pg_id = pg.id, bundle = index == -1 and -1 or index - 1 }
end

--- Connects the module to the rayl table (init and wait).
function M.install(rayl, opts)
  M.ensure_init = opts.ensure_init
  M.wait = rayl.wait
  core.register_class("rayl.PlacementGroup", PlacementGroup)
  core.register_class("rayl.PlacementGroupSchedulingStrategy", SchedulingStrategy)
end

return M
