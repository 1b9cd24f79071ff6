-- rayl.json: JSON through Debian's lua-cjson, with rayl's conventions on top: a table with
-- n (or a [1]) is an array, so an empty list encodes as [] not {}; whole numbers up to 2^53
-- keep every digit; strings that are not UTF-8 get U+FFFD; NaN and infinities are null.
local cjson = require("cjson").new()
local utf8 = require "rayl.utf8"

cjson.decode_invalid_numbers(false) -- NaN, Infinity and 0x10 are not JSON
cjson.encode_number_precision(14)

local json = { null = cjson.null }

-- Values cjson cannot write as rayl wants travel as a NUL-wrapped string, replaced after.
local MARK = "\0rayl:"
local MARKED = '"\\u0000rayl:([^"]*)\\u0000"'

--- json.decode(text) -> value | nil, error ("... at character N"). Arrays are tables
--- with [1]..[#t]; null is json.null.
function json.decode(text)
  if type(text) ~= "string" then return nil, ("expected JSON text, got a %s"):format(type(text)) end
  local at = utf8.bad(text)
  if at then return nil, ("invalid UTF-8 at character %d"):format(at) end
  local ok, v = pcall(cjson.decode, text)
  if ok then return v end
  return nil, tostring(v)
end

-- A copy of v that cjson encodes as rayl means it; raises on cycles and on functions.
local function prepare(v, stack)
  local t = type(v)
  if t == "string" then return utf8.fix(v) end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return cjson.null end
    if v == math.floor(v) and math.abs(v) >= 1e14 and math.abs(v) <= 2 ^ 53 then
      return ("%s%d\0"):format(MARK, v)
    end
    return v
  end
  if v == nil then return cjson.null end
  if t == "boolean" or v == cjson.null then return v end
  if t ~= "table" then error(("cannot encode a %s as JSON"):format(t), 0) end
  if stack[v] then error("cannot encode a table that contains itself as JSON", 0) end
  stack[v] = true
  local out = {}
  if type(v.n) == "number" or v[1] ~= nil then
    local n = type(v.n) == "number" and v.n or #v
    if n == 0 then out = MARK .. "[]\0" end
    for i = 1, n do out[i] = prepare(v[i], stack) end
  else
    for k, x in pairs(v) do out[utf8.fix(tostring(k))] = prepare(x, stack) end
  end
  stack[v] = nil
  return out
end

--- json.encode(value) -> text. Raises "cannot encode ..." for functions, userdata and
--- tables that contain themselves.
function json.encode(v)
  local text = cjson.encode(prepare(v, {}))
  return (text:gsub(MARKED, "%1"))
end

return json
