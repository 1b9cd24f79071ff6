-- examples/pi.lua: estimates pi with 64 parallel Monte Carlo tasks of a million samples each.
local rayl = require "rayl"
local ffi = require "ffi"

-- Wall-clock seconds (os.clock is this process's CPU time, not elapsed time).
ffi.cdef [[
  struct rl_pi_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clk_id, struct rl_pi_timespec *tp);
]]
local function now()
  local ts = ffi.new("struct rl_pi_timespec")
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local t0 = now()

local sample = rayl.remote(function(n, seed)
  math.randomseed(seed); local hits = 0
  for _ = 1, n do local x, y = math.random(), math.random(); if x*x + y*y <= 1 then hits = hits + 1 end end
  return hits
end)
local refs = {}
for i = 1, 64 do refs[i] = sample:remote(1e6, i) end
local total = 0
for _, h in ipairs(rayl.get(refs)) do total = total + h end
print(4 * total / 64e6)

print(string.format("64 tasks x 1e6 samples in %.2f s", now() - t0))
