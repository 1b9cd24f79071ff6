-- rayl.rl.rng: NumPy's default generator (SeedSequence + PCG64) in LuaJIT, stream for stream.
--
-- A seed gives the same numbers in every rayl process and on every machine, and the same
-- ones as `np.random.default_rng(seed)` (which Gymnasium's `np_random` is): raw 64-bit
-- words, `random()` (53-bit doubles), `uniform(low, high)` and `integers(n)` (Lemire's
-- bounded method on buffered 32-bit halves, as NumPy does). `normal()` and
-- `exponential()` are exact distributions but not NumPy's ziggurat streams.
local ffi = require "ffi"
local bit = require "bit"

local band, bxor, rshift, lshift, ror = bit.band, bit.bxor, bit.rshift, bit.lshift, bit.ror
local floor = math.floor

ffi.cdef [[
typedef struct rayl_rl_pcg64 {
  uint64_t sh, sl;   /* 128-bit LCG state, high and low words */
  uint64_t ih, il;   /* odd increment */
  uint64_t u32;      /* the upper half of the last word, when has32 */
  int32_t has32;
} rayl_rl_pcg64;
]]

local M = {}

local U64 = ffi.typeof("uint64_t")
local M32 = 0xffffffffULL
local MUL_HI, MUL_LO = 2549297995355413924ULL, 4865540595714422341ULL
local TWO32 = 4294967296

------------------------------------------------------------------------------
-- SeedSequence: 32-bit hashing of the seed's words into a pool, then into state words.
------------------------------------------------------------------------------

local INIT_A, MULT_A, INIT_B, MULT_B = 0x43b0d7e5, 0x931e8875, 0x8b51f9dd, 0x58f38ded
local MIX_L, MIX_R = 0xca01f9dd, 0x4973f715

-- a * b mod 2^32 for a, b in [0, 2^32), exact in doubles (16-bit halves).
local function mul32(a, b)
  local alo, ahi = a % 65536, floor(a / 65536)
  local blo, bhi = b % 65536, floor(b / 65536)
  return (alo * blo + ((alo * bhi + ahi * blo) % 65536) * 65536) % TWO32
end

local function u32(x) return x % TWO32 end -- bit ops' signed results, back to [0, 2^32)

local function hashmix(value, hc)
  value = u32(bxor(value, hc[1]))
  hc[1] = mul32(hc[1], MULT_A)
  value = mul32(value, hc[1])
  return u32(bxor(value, rshift(value, 16)))
end

local function mix(x, y)
  local r = (mul32(MIX_L, x) - mul32(MIX_R, y)) % TWO32
  return u32(bxor(r, rshift(r, 16)))
end

-- The pool (4 words) from the entropy words, as SeedSequence.mix_entropy.
local function mix_entropy(words)
  local pool, hc = {}, { INIT_A }
  for i = 1, 4 do pool[i] = hashmix(words[i] or 0, hc) end
  for src = 1, 4 do
    for dst = 1, 4 do
      if src ~= dst then pool[dst] = mix(pool[dst], hashmix(pool[src], hc)) end
    end
  end
  for src = 5, #words do
    for dst = 1, 4 do pool[dst] = mix(pool[dst], hashmix(words[src], hc)) end
  end
  return pool
end

-- n 64-bit state words (uint64 cdata) from the pool, as SeedSequence.generate_state.
local function generate_state(pool, n)
  local hc, out32 = INIT_B, {}
  for i = 0, 2 * n - 1 do
    local v = u32(bxor(pool[i % 4 + 1], hc))
    hc = mul32(hc, MULT_B)
    v = mul32(v, hc)
    out32[i + 1] = u32(bxor(v, rshift(v, 16)))
  end
  local out = {}
  for k = 1, n do out[k] = U64(out32[2 * k - 1]) + lshift(U64(out32[2 * k]), 32) end
  return out
end

-- The seed's 32-bit words, lowest first (a number or a "0x..." hex string).
local function seed_words(seed)
  local words = {}
  if type(seed) == "string" then
    local hex = seed:match("^0x(%x+)$")
    if not hex then error(("seed string must be hex like '0x1f', got '%s'"):format(seed), 3) end
    for i = #hex, 1, -8 do words[#words + 1] = tonumber(hex:sub(math.max(1, i - 7), i), 16) end
    return words
  end
  if type(seed) ~= "number" or seed < 0 or seed ~= floor(seed) or seed >= 2 ^ 53 then
    error(("seed must be a whole number in [0, 2^53), got %s"):format(tostring(seed)), 3)
  end
  repeat
    words[#words + 1] = seed % TWO32
    seed = floor(seed / TWO32)
  until seed == 0
  return words
end

-- 128 bits from the OS, as a "0x..." string (a seed that reproduces the stream).
local function fresh_entropy()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(16)
  if f then f:close() end
  if not bytes or #bytes < 16 then
    bytes = tostring(os.time()) .. tostring(os.clock()) .. tostring({}) .. ("x"):rep(16)
  end
  return "0x" .. bytes:sub(1, 16):gsub(".", function(c) return ("%02x"):format(c:byte()) end)
end

------------------------------------------------------------------------------
-- PCG64 (XSL-RR 128/64)
------------------------------------------------------------------------------

-- The high 64 bits of the 128-bit product a * b.
local function mulhi(a, b)
  local a0, a1 = band(a, M32), rshift(a, 32)
  local b0, b1 = band(b, M32), rshift(b, 32)
  local p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
  local mid = rshift(p00, 32) + band(p01, M32) + band(p10, M32)
  return p11 + rshift(p01, 32) + rshift(p10, 32) + rshift(mid, 32)
end

local function step(s)
  local sh, sl = s.sh, s.sl
  local lo = sl * MUL_LO
  local hi = mulhi(sl, MUL_LO) + sh * MUL_LO + sl * MUL_HI
  local nl = lo + s.il
  if nl < lo then hi = hi + 1 end
  s.sl, s.sh = nl, hi + s.ih
end

local function next64(s)
  step(s)
  local sh = s.sh
  return ror(bxor(sh, s.sl), tonumber(rshift(sh, 58)))
end

local Generator = {}
Generator.__index = Generator

--- rng.new([seed]) -> a generator and the seed it used: seed is a whole number >= 0 or a
--- "0x..." hex string; nil draws 128 bits from the OS (returned as a hex string).
function M.new(seed)
  if seed == nil then seed = fresh_entropy() end
  local pool = mix_entropy(seed_words(seed))
  local w = generate_state(pool, 4)
  local s = ffi.new("rayl_rl_pcg64")
  -- pcg64_set_seed: initstate = w1:w2 (high:low), initseq = w3:w4; inc = initseq << 1 | 1.
  s.ih = bit.bor(lshift(w[3], 1), rshift(w[4], 63))
  s.il = bit.bor(lshift(w[4], 1), 1ULL)
  s.sh, s.sl = 0ULL, 0ULL
  step(s)
  local lo = s.sl + w[2]
  s.sh = s.sh + w[1] + ((lo < w[2]) and 1ULL or 0ULL)
  s.sl = lo
  step(s)
  return setmetatable({ s = s, seed = seed }, Generator), seed
end

--- g:next_uint64() -> the next raw 64-bit word (uint64 cdata)
function Generator:next_uint64() return next64(self.s) end

--- g:next_uint32() -> the next 32-bit word (a number): the low half of a fresh 64-bit
--- word, then its high half (NumPy's buffering).
function Generator:next_uint32()
  local s = self.s
  if s.has32 ~= 0 then
    s.has32 = 0
    return tonumber(s.u32)
  end
  local w = next64(s)
  s.has32, s.u32 = 1, rshift(w, 32)
  return tonumber(band(w, M32))
end

--- g:random() -> a double uniform in [0, 1) (53 random bits)
function Generator:random()
  return tonumber(rshift(next64(self.s), 11)) * (1.0 / 9007199254740992.0)
end

--- g:uniform(low, high) -> low + (high - low) * random()
function Generator:uniform(low, high)
  return low + (high - low) * self:random()
end

-- A number in [0, rng] for rng < 2^32 (Lemire, on 32-bit words).
local function bounded32(g, rng)
  if rng == 0xffffffff then return g:next_uint32() end
  local excl = rng + 1
  local m = U64(g:next_uint32()) * excl
  local left = tonumber(band(m, M32))
  if left < excl then
    local threshold = (0xffffffff - rng) % excl
    while left < threshold do
      m = U64(g:next_uint32()) * excl
      left = tonumber(band(m, M32))
    end
  end
  return tonumber(rshift(m, 32))
end

-- A number in [0, rng] for 2^32 <= rng < 2^53 (Lemire, on 64-bit words).
local function bounded64(g, rng)
  local excl = U64(rng) + 1
  local w = next64(g.s)
  local left = w * excl
  if left < excl then
    local threshold = (0xffffffffffffffffULL - U64(rng)) % excl
    while left < threshold do
      w = next64(g.s)
      left = w * excl
    end
  end
  return tonumber(mulhi(w, excl))
end

--- g:integers(n) -> a whole number uniform in [0, n) (n >= 1), NumPy's integers(n)
function Generator:integers(n)
  local rng = n - 1
  if rng <= 0 then return 0 end
  if rng <= 0xffffffff then return bounded32(self, rng) end
  return bounded64(self, rng)
end

--- g:normal([mean, std]) -> a normal draw (Marsaglia's polar method)
function Generator:normal(mean, std)
  local spare = self.spare
  if spare then
    self.spare = nil
    return (mean or 0) + (std or 1) * spare
  end
  local u, v, s
  repeat
    u, v = 2 * self:random() - 1, 2 * self:random() - 1
    s = u * u + v * v
  until s > 0 and s < 1
  local f = math.sqrt(-2 * math.log(s) / s)
  self.spare = v * f
  return (mean or 0) + (std or 1) * u * f
end

--- g:exponential([scale]) -> an exponential draw with mean scale (default 1)
function Generator:exponential(scale)
  return -(scale or 1) * math.log(1 - self:random())
end

--- g:state() -> a table that set_state restores (to save and replay a stream)
function Generator:state()
  local s = self.s
  return { sh = s.sh, sl = s.sl, ih = s.ih, il = s.il, u32 = s.u32, has32 = s.has32, spare = self.spare }
end

--- g:set_state(t): restores a state from g:state()
function Generator:set_state(t)
  local s = self.s
  s.sh, s.sl, s.ih, s.il, s.u32, s.has32 = t.sh, t.sl, t.ih, t.il, t.u32, t.has32
  self.spare = t.spare
end

function Generator:__tostring() return ("rl.rng(seed=%s)"):format(tostring(self.seed)) end

M.Generator = Generator
M.seed_words = seed_words

return M
