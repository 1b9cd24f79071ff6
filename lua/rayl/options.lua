-- rayl.options: the checks that every numeric, name and resource option of tasks,
-- actors, rayl.init, rayl.get and rayl.wait goes through, so each rule lives once.
-- Each check raises a ValueError naming the option, where it was given and the value.
local errors = require "rayl.errors"
local utf8 = require "rayl.utf8"

local raise = errors.raise

local M = {}

--- Longest actor name or namespace, in bytes.
M.NAME_MAX = 63
--- Smallest object store a node accepts (bytes): RL_STORE_MIN_BYTES of node/store_service.h.
M.STORE_MIN = 1024 * 1024

-- The value as a message shows it: NaN always as "nan", strings quoted (long ones cut,
-- bytes that are not text escaped), tables and functions by their type.
local function show(v)
  if type(v) == "number" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    return ("%.14g"):format(v)
  end
  if type(v) == "string" then
    local long = #v > 40 and (" (%d bytes)"):format(#v)
    local q = ("%q"):format(long and v:sub(1, 32) .. "..." or v):gsub("\\\n", "\\n")
    -- control bytes always, other bytes where the text is not UTF-8, as \ddd
    q = q:gsub(utf8.bad(q) and "[%c\128-\255]" or "%c", function(c) return "\\" .. c:byte() end)
    return q .. (long or "")
  end
  if v == nil or type(v) == "boolean" then return tostring(v) end
  return "a " .. type(v)
end
M.show = show

local function fail(what, name, rule, v, level)
  raise("ValueError", ("option '%s' of %s must be %s, got %s"):format(name, what, rule, show(v)), level + 1)
end

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

--- M.count(what, name, v, min, max, level) -> v: a whole number from min to max
--- (max nil: no upper limit). what says where the option was given ("rayl.wait").
function M.count(what, name, v, min, max, level)
  if not finite(v) or v ~= math.floor(v) or v < min or (max and v > max) then
    local rule = max and ("a whole number from %d to %d"):format(min, max) or ("a whole number >= %d"):format(min)
    fail(what, name, rule, v, level + 1)
  end
  return v
end

--- M.amount(what, name, v, level) -> v: a finite number >= 0 (CPUs, GPUs, bytes).
function M.amount(what, name, v, level)
  if not finite(v) or v < 0 then fail(what, name, "a finite number >= 0", v, level + 1) end
  return v
end

--- M.gpus(what, name, v, level) -> v: a GPU amount: a fraction of one device (0.5) or
--- whole devices (2); over 1 it must be whole, as Ray requires (nil passes).
function M.gpus(what, name, v, level)
  if v == nil then return nil end
  if not finite(v) or v < 0 or (v > 1 and v ~= math.floor(v)) then
    fail(what, name, "a fraction of one GPU (0.5) or a whole number of GPUs (2)", v, level + 1)
  end
  return v
end

--- M.timeout(what, name, v, level) -> seconds, or nil for no limit (nil or math.huge).
function M.timeout(what, name, v, level)
  if v == nil or v == math.huge then return nil end
  if type(v) ~= "number" or v ~= v or v < 0 then
    fail(what, name, "a number of seconds >= 0 (nil or math.huge: no limit)", v, level + 1)
  end
  return v
end

--- M.name(what, name, v, level) -> v: an actor name or namespace: 1 to NAME_MAX bytes of
--- UTF-8, no control characters (they would be cut or reshape the records names are kept
--- in, and the dashboard's JSON must stay valid).
function M.name(what, name, v, level)
  local bad = type(v) == "string" and #v <= M.NAME_MAX and utf8.bad(v)
  if type(v) ~= "string" or #v == 0 or #v > M.NAME_MAX or v:find("[%z\1-\31\127]") or bad then
    local why = bad and (" (not UTF-8 at byte %d)"):format(bad) or ""
    raise("ValueError", ("option '%s' of %s must be a UTF-8 string of 1 to %d bytes without control characters, "
      .. "got %s%s"):format(name, what, M.NAME_MAX, show(v), why), level + 1)
  end
  return v
end

--- Longest task or method name (what the dashboard, `rayl list` and logs show), in bytes.
M.LABEL_MAX = 256

--- M.label(what, name, v, level) -> v: a task or method name (nil passes): UTF-8 of at
--- most LABEL_MAX bytes without control characters, as the dashboard's JSON and the
--- one-line listings need.
function M.label(what, name, v, level)
  if v == nil then return nil end
  local bad = type(v) == "string" and #v <= M.LABEL_MAX and utf8.bad(v)
  if type(v) ~= "string" or #v > M.LABEL_MAX or v:find("[%z\1-\31\127]") or bad then
    raise("ValueError", ("option '%s' of %s must be a UTF-8 string of at most %d bytes without control characters, "
      .. "got %s%s"):format(name, what, M.LABEL_MAX, show(v), bad and (" (not UTF-8 at byte %d)"):format(bad) or ""),
      level + 1)
  end
  return v
end

--- M.resources(what, name, t, level) -> t: a table of custom resources. CPU and GPU are
--- asked for with num_cpus / num_gpus only (as Ray); the entries themselves are checked
--- where they are read (rayl.core: names, amounts).
function M.resources(what, name, t, level)
  if t == nil then return nil end
  if type(t) ~= "table" then fail(what, name, "a table {name = amount}", t, level + 1) end
  for _, k in ipairs { "CPU", "GPU" } do
    if t[k] ~= nil then
      raise("ValueError", ("option '%s' of %s must not name %s (got %s = %s); use num_%s instead")
        :format(name, what, k, k, show(t[k]), k:lower() .. "s"), level + 1)
    end
  end
  return t
end

--- M.amounts(what, opts, names, level): M.amount for each of these fields that is set.
function M.amounts(what, opts, names, level)
  for _, k in ipairs(names) do
    if opts[k] ~= nil then M.amount(what, k, opts[k], level + 1) end
  end
end

return M
