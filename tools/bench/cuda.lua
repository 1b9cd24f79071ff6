-- tools/bench/cuda.lua: rayl.cuda's figures: kernel cache hits (in memory, and from disk in a
-- new process), NVRTC compile times (first and warm), the simulator's compile and a 1M
-- element elementwise kernel. Usage: tools/rayl tools/bench/cuda.lua [--json]
-- It uses the GPU when there is one, else the simulator; its kernel cache is a new folder.
local ffi = require "ffi"
local core = require "rayl.core"
local C = core.cuda

ffi.cdef "int setenv(const char *name, const char *value, int overwrite);"
local json = arg[1] == "--json"
local cache = os.tmpname()
os.remove(cache)
ffi.C.setenv("RAYL_CUDA_CACHE", cache, 1)
if not C.available("gpu") and (os.getenv("RAYL_CUDA") or "") == "" then ffi.C.setenv("RAYL_CUDA", "sim", 1) end
local cuda = require "rayl.cuda"
local mode = cuda.mode()

local function report(name, value, unit)
  if json then
    print(('{"workload":"%s","mode":"%s","value":%.3f,"unit":"%s"}'):format(name, mode, value, unit))
  else
    print(("%-34s %10.2f %s   (%s)"):format(name, value, unit, mode))
  end
end

local function median(t)
  table.sort(t)
  return t[math.ceil(#t / 2)]
end

local SAXPY = [[
extern "C" __global__ void saxpy(int n, float a, const float *x, float *y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}
]]

-- Cache hits in this process: cuda.kernel() of a kernel compiled before.
cuda.kernel(SAXPY, "saxpy")
local reps, runs = 20000, {}
for r = 1, 5 do
  local t0 = core.now()
  for _ = 1, reps do cuda.kernel(SAXPY, "saxpy") end
  runs[r] = (core.now() - t0) / reps * 1e6
end
report("cache_hit_memory (cuda.kernel)", median(runs), "us")

-- A hit from disk: the first cuda.kernel() of a new process, with the cache warm.
local rayl_bin = os.getenv("RAYL_BIN") or "build/bin/rayl"
local script = os.tmpname()
local f = assert(io.open(script, "w"))
f:write(([[
local core = require "rayl.core"
local cuda = require "rayl.cuda"
local t0 = core.now()
cuda.kernel(%q, "saxpy")
local dt = core.now() - t0
assert(cuda.cache_stats().disk == 1, "not a disk hit")
print(dt * 1e6)
]]):format(SAXPY))
f:close()
runs = {}
for r = 1, 7 do
  local p = io.popen(("RAYL_CUDA=%s RAYL_CUDA_CACHE='%s' '%s' '%s'"):format(mode, cache, rayl_bin, script))
  runs[r] = tonumber(p:read("*a"))
  p:close()
  assert(runs[r], "the disk-hit process failed")
end
os.remove(script)
report("cache_hit_disk (new process)", median(runs), "us")

-- NVRTC alone (no device needed): the first compile in a process, then warm ones.
local ok = C.nvrtc("extern \"C\" __global__ void k(){}", "k", "sm_90", {})
if ok then
  local first
  runs = {}
  for r = 0, 10 do
    local t0 = core.now()
    local ptx = C.nvrtc(SAXPY .. "// " .. r .. "\n", "saxpy", "sm_90", {})
    local dt = (core.now() - t0) * 1e3
    assert(ptx, "NVRTC failed")
    if r == 0 then first = dt else runs[#runs + 1] = dt end
  end
  report("nvrtc_compile_warm (sm_90 cubin)", median(runs), "ms")
  report("nvrtc_compile_next_in_process", first, "ms")
else
  print("nvrtc: not installed here, its figures skipped")
end

-- The simulator: a compile by the host's C++ compiler, and 1M elements of axpb.
if C.available("sim") then
  runs = {}
  for r = 1, 3 do
    local t0 = core.now()
    cuda.kernel(SAXPY .. "// sim " .. r .. " " .. os.time() .. "\n", "saxpy", { sim = true })
    runs[r] = (core.now() - t0) * 1e3
  end
  report("sim_compile (c++, cold)", median(runs), "ms")
  local axpb = cuda.elementwise("float32 x, float32 a, float32 b", "float32 y", "y = a * x + b", "axpb",
    { sim = true })
  local x = cuda.ones(1e6, { dtype = "float32", sim = true })
  local y = cuda.empty(1e6, { dtype = "float32", sim = true })
  axpb(x, 2, 1, y)
  runs = {}
  for r = 1, 5 do
    local t0 = core.now()
    axpb(x, 2, 1, y)
    cuda.synchronize { sim = true }
    runs[r] = (core.now() - t0) * 1e3
  end
  report("sim_elementwise_1M", median(runs), "ms")
end
os.execute(("rm -rf '%s'"):format(cache))
