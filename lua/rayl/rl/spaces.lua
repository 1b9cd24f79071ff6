-- rayl.rl.spaces: Gymnasium's spaces (Box, Discrete, MultiDiscrete, Tuple, Dict) in Lua.
--
-- Values: a Box value is a flat Lua array of prod(shape) numbers in row-major order (a
-- plain number when shape is {}); Discrete, a whole number; MultiDiscrete, an array of
-- whole numbers; Tuple, an array of its spaces' values; Dict, a table keyed like it.
-- Each space samples from its own generator (rayl.rl.rng, NumPy's streams), seeded
-- with space:seed(n); bounded Box, Discrete and MultiDiscrete samples are the ones
-- Gymnasium draws for the same seed.
local ffi = require "ffi"
local rng = require "rayl.rl.rng"

local M = {}

local floor, huge = math.floor, math.huge
local f32 = ffi.new("float[1]")

--- spaces.float32(x) -> x rounded to the nearest float32 (as NumPy's cast)
local function float32(x)
  f32[0] = x
  return f32[0]
end
M.float32 = float32

local INT_RANGE = {
  int8 = { -128, 127 }, int16 = { -32768, 32767 }, int32 = { -2147483648, 2147483647 },
  int64 = { -2 ^ 63, 2 ^ 63 }, uint8 = { 0, 255 }, uint16 = { 0, 65535 }, uint32 = { 0, 4294967295 },
  uint64 = { 0, 2 ^ 64 },
}
local FLOATS = { float32 = true, float64 = true }

local function check_dtype(dtype, what, level)
  if FLOATS[dtype] or INT_RANGE[dtype] then return dtype end
  error(("%s: unknown dtype '%s' (float32, float64, int8/16/32/64, uint8/16/32/64)")
    :format(what, tostring(dtype)), level + 1)
end

local function is_int(x) return type(x) == "number" and x == floor(x) and x == x end

local function shape_str(shape)
  if #shape == 1 then return ("(%d,)"):format(shape[1]) end
  local parts = {}
  for i, d in ipairs(shape) do parts[i] = tostring(d) end
  return "(" .. table.concat(parts, ", ") .. ")"
end
M.shape_str = shape_str

-- The shortest decimal that reads back as x (as x's float32 when single is set).
local function num_str(x, single)
  if x == huge then return "inf" elseif x == -huge then return "-inf" end
  if x == floor(x) and math.abs(x) < 1e15 then return ("%.1f"):format(x) end
  for digits = 6, 17 do
    local s = ("%." .. digits .. "g"):format(x)
    local back = tonumber(s)
    if back == x or (single and float32(back) == x) then return s end
  end
  return ("%.17g"):format(x)
end

-- Values that a space's methods see as arrays: Lua tables and rayl.arrays.
local function is_array(x)
  local t = type(x)
  return t == "table" or (t == "userdata" and getmetatable(x) == "rayl.array")
end

------------------------------------------------------------------------------
-- Space: the base of every space (generator, seeding, equality).
------------------------------------------------------------------------------

local Space = {}
M.Space = Space

local function space_index(class)
  return function(self, key)
    if key == "np_random" then
      local g = rng.new(nil)
      rawset(self, "np_random", g)
      return g
    end
    return class[key]
  end
end

local function new_class(name)
  local class = { __name = name }
  class.__index = space_index(class)
  class.__eq = function(a, b) return a:equals(b) end
  class.__tostring = function(s) return s:repr() end
  return setmetatable(class, { __index = Space })
end

--- space:seed([seed]) -> the seed used: reseeds the space's generator (nil: from the OS).
function Space:seed(seed)
  local g, used = rng.new(seed)
  rawset(self, "np_random", g)
  return used
end

--- spaces.is_space(x) -> true when x is one of these spaces
function M.is_space(x)
  local mt = type(x) == "table" and getmetatable(x)
  return mt ~= nil and mt ~= false and type(mt.__name) == "string" and mt.repr ~= nil and mt.contains ~= nil
end

------------------------------------------------------------------------------
-- Box
------------------------------------------------------------------------------

local Box = new_class("Box")
M.Box = Box

local function flatten(v, out)
  if type(v) ~= "table" then
    out[#out + 1] = v
  else
    for i = 1, #v do flatten(v[i], out) end
  end
  return out
end

local function nested_shape(v)
  local shape = {}
  while type(v) == "table" do
    shape[#shape + 1] = #v
    v = v[1]
  end
  return shape
end

local function product(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end

-- The bound at flat index i of a number, flat table or nested table, cast to dtype.
local function bounds(v, n, name, dtype, level)
  local flat = type(v) == "table" and flatten(v, {}) or nil
  if flat and #flat ~= n then
    error(("Box: %s has %d values, but the shape holds %d"):format(name, #flat, n), level + 1)
  end
  local out = {}
  for i = 1, n do
    local x = flat and flat[i] or v
    if type(x) ~= "number" or x ~= x then
      error(("Box: %s[%d] must be a number, got %s"):format(name, i, tostring(x)), level + 1)
    end
    if dtype == "float32" then
      x = float32(x)
    elseif INT_RANGE[dtype] then
      local r = INT_RANGE[dtype]
      if x == -huge then x = r[1] elseif x == huge then x = r[2] end
      if x ~= floor(x) then
        error(("Box: %s[%d] = %s is not whole, but the dtype is %s"):format(name, i, tostring(x), dtype), level + 1)
      end
    end
    out[i] = x
  end
  return out
end

--- spaces.Box(low, high[, shape[, dtype]]) or spaces.Box{ low=, high=, shape=, dtype= }:
--- a box in R^shape; low and high are numbers (the same for every element) or tables
--- (flat row-major, or nested); dtype "float32" by default.
function Box.new(low, high, shape, dtype)
  if type(low) == "table" and (low.low ~= nil or low.high ~= nil or low.shape ~= nil) and high == nil then
    low, high, shape, dtype = low.low, low.high, low.shape, low.dtype
  end
  dtype = check_dtype(dtype or "float32", "Box", 2)
  if low == nil or high == nil then error("Box needs low and high (numbers or tables)", 2) end
  if shape == nil then
    if type(low) == "table" then shape = nested_shape(low)
    elseif type(high) == "table" then shape = nested_shape(high)
    else error("Box: with scalar low and high, give a shape (e.g. {4})", 2) end
  elseif type(shape) == "number" then
    shape = { shape }
  end
  if type(shape) ~= "table" then error("Box: shape must be a table of sizes, e.g. {4}", 2) end
  for i, d in ipairs(shape) do
    if not is_int(d) or d < 0 then
      error(("Box: shape[%d] must be a whole number >= 0, got %s"):format(i, tostring(d)), 2)
    end
  end
  local n = product(shape)
  local self = setmetatable({ shape = { unpack(shape) }, dtype = dtype, n = n }, Box)
  self.low = bounds(low, n, "low", dtype, 2)
  self.high = bounds(high, n, "high", dtype, 2)
  for i = 1, n do
    if self.low[i] > self.high[i] then
      error(("Box: low[%d] = %s is above high[%d] = %s"):format(i, num_str(self.low[i]), i, num_str(self.high[i])), 2)
    end
  end
  return self
end

--- box:is_bounded([manner]) -> true when every element is bounded ("both", "below", "above")
function Box:is_bounded(manner)
  manner = manner or "both"
  for i = 1, self.n do
    local below, above = self.low[i] > -huge, self.high[i] < huge
    if (manner ~= "above" and not below) or (manner ~= "below" and not above) then return false end
  end
  return true
end

-- The element at flat index i cast to the box's dtype (nil when it is not a number).
function Box:cast(x)
  if type(x) ~= "number" or x ~= x then return nil end
  if self.dtype == "float32" then return float32(x) end
  return x
end

--- box:sample() -> a value: uniform on bounded elements (Gymnasium's draws), exponential
--- on half-bounded ones, normal on unbounded ones; whole numbers for integer dtypes.
function Box:sample()
  local g, out, int = self.np_random, {}, INT_RANGE[self.dtype]
  local low, high = self.low, self.high
  -- Gymnasium draws the unbounded, then the half-bounded, then the bounded elements.
  for i = 1, self.n do
    if low[i] == -huge and high[i] == huge then out[i] = g:normal() end
  end
  for i = 1, self.n do
    if low[i] > -huge and high[i] == huge then out[i] = low[i] + g:exponential() end
  end
  for i = 1, self.n do
    if low[i] == -huge and high[i] < huge then out[i] = (int and high[i] + 1 or high[i]) - g:exponential() end
  end
  for i = 1, self.n do
    if low[i] > -huge and high[i] < huge then out[i] = g:uniform(low[i], int and high[i] + 1 or high[i]) end
  end
  for i = 1, self.n do
    local x = out[i]
    if int then
      x = math.min(math.max(floor(x), low[i]), high[i])
    elseif self.dtype == "float32" then
      x = float32(x)
    end
    out[i] = x
  end
  if #self.shape == 0 then return out[1] end
  return out
end

--- box:contains(x) -> true when x has the box's shape and each element, cast to its
--- dtype, lies within [low, high] (whole for integer dtypes)
function Box:contains(x)
  local int = INT_RANGE[self.dtype]
  if #self.shape == 0 then
    if type(x) == "table" and #x == 1 then x = x[1] end
    local v = self:cast(x)
    return v ~= nil and v >= self.low[1] and v <= self.high[1] and (not int or v == floor(v))
  end
  if not is_array(x) or #x ~= self.n then return false end
  for i = 1, self.n do
    local v = self:cast(x[i])
    if v == nil or v < self.low[i] or v > self.high[i] or (int and v ~= floor(v)) then return false end
  end
  return true
end

-- Why x is not in the box (nil when it is): for check_env's messages.
function Box:explain(x)
  if #self.shape == 0 then
    if self:contains(x) then return nil end
    return ("%s is not a number within [%s, %s]"):format(tostring(x), num_str(self.low[1]), num_str(self.high[1]))
  end
  if not is_array(x) then return ("expected a table of %d numbers, got %s"):format(self.n, type(x)) end
  if #x ~= self.n then return ("expected %d numbers (shape %s), got %d"):format(self.n, shape_str(self.shape), #x) end
  for i = 1, self.n do
    local v = self:cast(x[i])
    if v == nil then return ("element %d is %s, not a number"):format(i, tostring(x[i])) end
    if v < self.low[i] or v > self.high[i] then
      return ("element %d = %s is outside [%s, %s]"):format(i, num_str(x[i]), num_str(self.low[i]), num_str(self.high[i]))
    end
    if INT_RANGE[self.dtype] and v ~= floor(v) then return ("element %d = %s is not whole"):format(i, num_str(x[i])) end
  end
  return nil
end

function Box:equals(o)
  if getmetatable(o) ~= Box or o.dtype ~= self.dtype or #o.shape ~= #self.shape then return false end
  for i, d in ipairs(self.shape) do if o.shape[i] ~= d then return false end end
  for i = 1, self.n do
    if o.low[i] ~= self.low[i] or o.high[i] ~= self.high[i] then return false end
  end
  return true
end

local function bound_repr(v, single)
  local same = true
  for i = 2, #v do if v[i] ~= v[1] then same = false break end end
  if same and #v > 0 then return num_str(v[1], single) end
  local parts = {}
  for i = 1, #v do parts[i] = num_str(v[i], single) end
  return "[" .. table.concat(parts, " ") .. "]"
end

function Box:repr()
  local single = self.dtype == "float32"
  return ("Box(%s, %s, %s, %s)"):format(bound_repr(self.low, single), bound_repr(self.high, single),
    shape_str(self.shape), self.dtype)
end

------------------------------------------------------------------------------
-- Discrete
------------------------------------------------------------------------------

local Discrete = new_class("Discrete")
M.Discrete = Discrete

--- spaces.Discrete(n[, start]) -> the whole numbers start, ..., start + n - 1
function Discrete.new(n, start)
  if type(n) == "table" then n, start = n.n, n.start end
  if not is_int(n) or n < 1 then error(("Discrete: n must be a whole number >= 1, got %s"):format(tostring(n)), 2) end
  start = start or 0
  if not is_int(start) then error(("Discrete: start must be a whole number, got %s"):format(tostring(start)), 2) end
  return setmetatable({ n = n, start = start, shape = {}, dtype = "int64" }, Discrete)
end

--- discrete:sample([mask]) -> start + a uniform draw in [0, n) (Gymnasium's); with mask
--- (a table of n 0/1 values), uniform among the allowed actions (start if none)
function Discrete:sample(mask)
  if mask == nil then return self.start + self.np_random:integers(self.n) end
  if type(mask) ~= "table" or #mask ~= self.n then
    error(("Discrete.sample: mask must be a table of %d zeros and ones"):format(self.n), 2)
  end
  local valid = {}
  for i = 1, self.n do
    if mask[i] == 1 then valid[#valid + 1] = i - 1
    elseif mask[i] ~= 0 then error(("Discrete.sample: mask[%d] = %s is not 0 or 1"):format(i, tostring(mask[i])), 2) end
  end
  if #valid == 0 then return self.start end
  return self.start + valid[self.np_random:integers(#valid) + 1]
end

function Discrete:contains(x)
  return is_int(x) and x >= self.start and x < self.start + self.n
end

function Discrete:explain(x)
  if self:contains(x) then return nil end
  return ("%s is not a whole number in [%d, %d]"):format(tostring(x), self.start, self.start + self.n - 1)
end

function Discrete:equals(o)
  return getmetatable(o) == Discrete and o.n == self.n and o.start == self.start
end

function Discrete:repr()
  if self.start ~= 0 then return ("Discrete(%d, start=%d)"):format(self.n, self.start) end
  return ("Discrete(%d)"):format(self.n)
end

------------------------------------------------------------------------------
-- MultiDiscrete
------------------------------------------------------------------------------

local MultiDiscrete = new_class("MultiDiscrete")
M.MultiDiscrete = MultiDiscrete

--- spaces.MultiDiscrete(nvec[, start]) -> arrays whose i-th element is in
--- [start[i], start[i] + nvec[i]) (start: a table, or a number for all; default 0)
function MultiDiscrete.new(nvec, start)
  if type(nvec) == "table" and nvec.nvec then nvec, start = nvec.nvec, nvec.start end
  if type(nvec) ~= "table" or #nvec == 0 then error("MultiDiscrete: nvec must be a non-empty table of counts", 2) end
  local self = setmetatable({ nvec = {}, start = {}, shape = { #nvec }, dtype = "int64", n = #nvec }, MultiDiscrete)
  for i = 1, #nvec do
    if not is_int(nvec[i]) or nvec[i] < 1 then
      error(("MultiDiscrete: nvec[%d] must be a whole number >= 1, got %s"):format(i, tostring(nvec[i])), 2)
    end
    local s = type(start) == "table" and start[i] or start or 0
    if not is_int(s) then error(("MultiDiscrete: start[%d] must be a whole number"):format(i), 2) end
    self.nvec[i], self.start[i] = nvec[i], s
  end
  return self
end

--- md:sample() -> floor(random() * nvec[i]) + start[i] for each i (Gymnasium's draws)
function MultiDiscrete:sample()
  local g, out = self.np_random, {}
  for i = 1, self.n do out[i] = floor(g:random() * self.nvec[i]) + self.start[i] end
  return out
end

function MultiDiscrete:contains(x)
  return self:explain(x) == nil
end

function MultiDiscrete:explain(x)
  if not is_array(x) or #x ~= self.n then return ("expected a table of %d whole numbers"):format(self.n) end
  for i = 1, self.n do
    local v = x[i]
    if not is_int(v) or v < self.start[i] or v >= self.start[i] + self.nvec[i] then
      return ("element %d = %s is not a whole number in [%d, %d]"):format(i, tostring(v), self.start[i],
        self.start[i] + self.nvec[i] - 1)
    end
  end
  return nil
end

function MultiDiscrete:equals(o)
  if getmetatable(o) ~= MultiDiscrete or o.n ~= self.n then return false end
  for i = 1, self.n do
    if o.nvec[i] ~= self.nvec[i] or o.start[i] ~= self.start[i] then return false end
  end
  return true
end

function MultiDiscrete:repr()
  local zero = true
  for i = 1, self.n do if self.start[i] ~= 0 then zero = false end end
  local s = "MultiDiscrete([" .. table.concat(self.nvec, " ") .. "]"
  if not zero then s = s .. ", start=[" .. table.concat(self.start, " ") .. "]" end
  return s .. ")"
end

------------------------------------------------------------------------------
-- Tuple and Dict
------------------------------------------------------------------------------

-- Seeds a composite space: an int seeds its own generator, which draws one seed per
-- subspace (Gymnasium's scheme); a table gives each subspace its seed; nil: all fresh.
local function seed_composite(self, seed, keys)
  local out = {}
  if seed == nil or type(seed) == "number" or type(seed) == "string" then
    local g
    if seed ~= nil then g = rng.new(seed); rawset(self, "np_random", g) end
    for _, k in ipairs(keys) do out[k] = self.spaces[k]:seed(g and g:integers(2147483647) or nil) end
    return out
  end
  if type(seed) ~= "table" then error("seed must be a number, a table of seeds or nil", 3) end
  for _, k in ipairs(keys) do out[k] = self.spaces[k]:seed(seed[k]) end
  return out
end

local Tuple = new_class("Tuple")
M.Tuple = Tuple

--- spaces.Tuple{ space1, space2, ... } -> arrays of one value per space
function Tuple.new(list)
  if type(list) ~= "table" or #list == 0 then error("Tuple needs a non-empty table of spaces", 2) end
  for i, s in ipairs(list) do
    if not M.is_space(s) then error(("Tuple: element %d is not a space"):format(i), 2) end
  end
  local keys = {}
  for i = 1, #list do keys[i] = i end
  return setmetatable({ spaces = { unpack(list) }, keys = keys }, Tuple)
end

function Tuple:seed(seed) return seed_composite(self, seed, self.keys) end

function Tuple:sample()
  local out = {}
  for i, s in ipairs(self.spaces) do out[i] = s:sample() end
  return out
end

function Tuple:explain(x)
  if type(x) ~= "table" or #x ~= #self.spaces then return ("expected a table of %d values"):format(#self.spaces) end
  for i, s in ipairs(self.spaces) do
    local why = s:explain(x[i])
    if why then return ("[%d]: %s"):format(i, why) end
  end
  return nil
end

function Tuple:contains(x) return self:explain(x) == nil end

function Tuple:equals(o)
  if getmetatable(o) ~= Tuple or #o.spaces ~= #self.spaces then return false end
  for i, s in ipairs(self.spaces) do if not s:equals(o.spaces[i]) then return false end end
  return true
end

function Tuple:repr()
  local parts = {}
  for i, s in ipairs(self.spaces) do parts[i] = s:repr() end
  return "Tuple(" .. table.concat(parts, ", ") .. ")"
end

local Dict = new_class("Dict")
M.Dict = Dict

--- spaces.Dict{ name = space, ... } -> tables with one value per name (names sorted)
function Dict.new(map)
  if type(map) ~= "table" then error("Dict needs a table of named spaces", 2) end
  local keys = {}
  for k, s in pairs(map) do
    if type(k) ~= "string" then error("Dict: keys must be strings, got " .. type(k), 2) end
    if not M.is_space(s) then error(("Dict: '%s' is not a space"):format(k), 2) end
    keys[#keys + 1] = k
  end
  if #keys == 0 then error("Dict needs at least one space", 2) end
  table.sort(keys)
  local spaces = {}
  for _, k in ipairs(keys) do spaces[k] = map[k] end
  return setmetatable({ spaces = spaces, keys = keys }, Dict)
end

function Dict:seed(seed) return seed_composite(self, seed, self.keys) end

function Dict:sample()
  local out = {}
  for _, k in ipairs(self.keys) do out[k] = self.spaces[k]:sample() end
  return out
end

function Dict:explain(x)
  if type(x) ~= "table" then return "expected a table keyed " .. table.concat(self.keys, ", ") end
  for _, k in ipairs(self.keys) do
    local why = self.spaces[k]:explain(x[k])
    if why then return ("['%s']: %s"):format(k, why) end
  end
  for k in pairs(x) do
    if self.spaces[k] == nil then return ("unexpected key '%s'"):format(tostring(k)) end
  end
  return nil
end

function Dict:contains(x) return self:explain(x) == nil end

function Dict:equals(o)
  if getmetatable(o) ~= Dict or #o.keys ~= #self.keys then return false end
  for i, k in ipairs(self.keys) do
    if o.keys[i] ~= k or not self.spaces[k]:equals(o.spaces[k]) then return false end
  end
  return true
end

function Dict:repr()
  local parts = {}
  for i, k in ipairs(self.keys) do parts[i] = ("'%s': %s"):format(k, self.spaces[k]:repr()) end
  return "Dict(" .. table.concat(parts, ", ") .. ")"
end

-- Each class is also callable: spaces.Box(...), spaces.Discrete(2), ...
for _, class in ipairs({ Box, Discrete, MultiDiscrete, Tuple, Dict }) do
  getmetatable(class).__call = function(_, ...) return class.new(...) end
end

--- spaces.flatdim(space) -> how many numbers one value takes in a flat batch row
--- (Box: prod(shape); Discrete: 1; MultiDiscrete: #nvec), nil for Tuple and Dict
function M.flatdim(space)
  local mt = getmetatable(space)
  if mt == Box or mt == MultiDiscrete then return space.n end
  if mt == Discrete then return 1 end
  return nil
end

return M
