-- spec/cuda_spec.lua: rayl.cuda as a user sees it: kernels, elementwise kernels, device
-- buffers, the kernel cache and tasks using them, run in the CPU simulator (RAYL_CUDA=sim)
-- so they run without a GPU; the GPU's own cases run where there is one.
local ffi = require "ffi"
local rayl = require "rayl"
local cuda = require "rayl.cuda"
local h = require "spec.helpers"

ffi.cdef [[
int setenv(const char *name, const char *value, int overwrite);
int unsetenv(const char *name);
]]

local RAYL = os.getenv("RAYL_BIN") or "./build/bin/rayl"

local SAXPY = [[
extern "C" __global__ void saxpy(int n, float a, const float *x, float *y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}]]

local BLOCK_SUM = [[
extern "C" __global__ void block_sum(const float *in, float *out, int n) {
  extern __shared__ float s[];
  int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  s[t] = i < n ? in[i] : 0.0f;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half >>= 1) {
    if (t < half) s[t] += s[t + half];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}]]

local HISTOGRAM = [[
extern "C" __global__ void histogram(const unsigned char *data, int n, unsigned int *bins) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(&bins[data[i] % 16], 1u);
}]]

-- A rayl.array of n values f(i) (i from 1).
local function host(dtype, n, f)
  local a = rayl.array(dtype, n)
  for i = 1, n do a[i] = f(i) end
  return a
end

-- Runs a Lua chunk in a new rayl process (no cluster) with env (a shell prefix); returns
-- its output.
local function run(env, chunk)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(chunk)
  f:close()
  local out = h.sh(("%s %s %s"):format(env, RAYL, path))
  os.remove(path)
  return out
end

local function files(dir, pattern)
  local n, p = 0, io.popen(("ls -a '%s' 2>/dev/null"):format(dir))
  for name in p:lines() do
    if name:find(pattern) then n = n + 1 end
  end
  p:close()
  return n
end

describe("rayl.cuda", function()
  local cache = os.tmpname()
  local sim_ok, sim_why

  lazy_setup(function()
    os.remove(cache) -- the kernel cache's folder: made by rayl.cuda
    ffi.C.setenv("RAYL_CUDA", "sim", 1)
    ffi.C.setenv("RAYL_CUDA_CACHE", cache, 1)
    sim_ok, sim_why = cuda.available()
    rayl.init { num_cpus = 2, num_gpus = 1 } -- the workers inherit RAYL_CUDA and the cache
  end)

  lazy_teardown(function()
    rayl.shutdown()
    ffi.C.unsetenv("RAYL_CUDA")
    ffi.C.unsetenv("RAYL_CUDA_CACHE")
    os.execute(("rm -rf '%s'"):format(cache))
  end)

  -- Skips the calling test, visibly, when this machine has no simulator (no C++ compiler).
  local function need_sim()
    if not sim_ok then
      pending("the CUDA simulator cannot run here: " .. tostring(sim_why))
      return false
    end
    return true
  end

  it("is in simulator mode with RAYL_CUDA=sim, with one device", function()
    assert.are.equal("sim", cuda.mode())
    assert.are.equal(rayl.cuda, cuda)
    if not need_sim() then return end
    assert.is_true((cuda.available()))
    assert.are.equal(1, cuda.device_count())
  end)

  it("runs saxpy; the result equals a plain Lua computation", function()
    if not need_sim() then return end
    local saxpy = cuda.kernel(SAXPY, "saxpy")
    local n = 1000 -- not a multiple of the block: the kernel's bound check matters
    local x = cuda.array(host("float32", n, function(i) return i end))
    local y = cuda.ones(n, "float32")
    saxpy({ math.ceil(n / 256) }, { 256 }, n, 2.0, x, y)
    local out = y:to_array()
    assert.are.equal(n, #out)
    assert.are.equal("float32", out.dtype)
    for i = 1, n do assert.are.equal(2 * i + 1, out[i]) end
    -- :launch{} does the same, on a table of arguments
    saxpy:launch { grid = { 4 }, block = { 256 }, shared_mem = 0, args = { n, -1.0, x, y } }
    out = y:to_array()
    for i = 1, n do assert.are.equal(i + 1, out[i]) end
  end)

  it("frees a device buffer's memory when the garbage collector takes it", function()
    if not need_sim() then return end
    collectgarbage()
    local base = cuda.memory_allocated()
    local keep = cuda.zeros(1000, "float64")
    for _ = 1, 50 do cuda.ones(100000, "int32") end
    assert.is_true(cuda.memory_allocated() >= base + 8000)
    collectgarbage()
    collectgarbage()
    assert.are.equal(base + 8000, cuda.memory_allocated())
    assert.are.equal(1000, #keep)
  end)

  it("copies rayl.arrays passed to a kernel in, and back out unless the parameter is const", function()
    if not need_sim() then return end
    local saxpy = cuda.kernel(SAXPY, "saxpy")
    local x = host("float32", 300, function(i) return i end)
    local y = host("float32", 300, function() return 10 end)
    saxpy(2, 256, 300, 3.0, x, y)
    for i = 1, 300 do
      assert.are.equal(i, x[i]) -- const float *x: untouched
      assert.are.equal(3 * i + 10, y[i])
    end
  end)

  it("runs a shared-memory block reduction with __syncthreads", function()
    if not need_sim() then return end
    local sum = cuda.kernel(BLOCK_SUM, "block_sum")
    local n, block = 1000, 128
    local blocks = math.ceil(n / block)
    local x = host("float32", n, function(i) return (i % 17) - 3 end)
    local out = cuda.zeros(blocks, "float32")
    sum:launch { grid = blocks, block = block, shared_mem = block * 4, args = { cuda.array(x), out, n } }
    local got = out:to_array()
    for b = 1, blocks do
      local want = 0
      for i = (b - 1) * block + 1, math.min(b * block, n) do want = want + x[i] end
      assert.are.equal(want, got[b])
    end
  end)

  it("counts a histogram with atomicAdd", function()
    if not need_sim() then return end
    local hist = cuda.kernel(HISTOGRAM, "histogram")
    local n = 5000
    local data = host("uint8", n, function(i) return (i * 7919) % 256 end)
    local bins = cuda.zeros(16, "int32") -- unsigned int * takes an int32 buffer
    hist(math.ceil(n / 256), 256, data, n, bins)
    local want = {}
    for b = 0, 15 do want[b] = 0 end
    for i = 1, n do want[data[i] % 16] = want[data[i] % 16] + 1 end
    local got = bins:to_array()
    for b = 0, 15 do assert.are.equal(want[b], got[b + 1]) end
  end)

  it("runs elementwise kernels: scalars and arrays, new and given outputs", function()
    if not need_sim() then return end
    local axpb = cuda.elementwise("float32 x, float32 a, float32 b", "float32 y", "y = a * x + b", "axpb")
    local n = 777
    local x = cuda.array(host("float32", n, function(i) return i end))
    local y = axpb(x, 2.0, 1.0)
    assert.is_true(cuda.is_buffer(y))
    assert.are.equal(n, #y)
    local got = y:to_array()
    for i = 1, n do assert.are.equal(2 * i + 1, got[i]) end
    local out = cuda.zeros(n, "float32")
    assert.are.equal(out, axpb(x, 0.5, -1.0, out))
    got = out:to_array()
    for i = 1, n do assert.are.equal(0.5 * i - 1, got[i]) end
    -- a second array where a scalar was, a rayl.array input, two outputs, int64
    local two = cuda.elementwise("int64 p, int64 q", "int64 s, int64 d", "s = p + q; d = p - q", "sum_diff")
    local p = host("int64", 10, function(i) return i * 1000 end)
    local s, d = two(p, cuda.array(host("int64", 10, function(i) return i end), "int64"))
    local sa, da = s:to_array(), d:to_array()
    for i = 1, 10 do
      assert.are.equal(1001 * i, sa[i])
      assert.are.equal(999 * i, da[i])
    end
    local e = h.expect_error("ValueError", axpb, x, 2.0)
    assert.matches("takes 3 inputs", e.message)
    e = h.expect_error("ValueError", axpb, cuda.zeros(3, "int32"), 1, 2)
    assert.matches("input 1 %(x%) is float32, but it holds int32", e.message)
  end)

  it("gives clear errors for an out-of-range grid or block", function()
    if not need_sim() then return end
    local saxpy = cuda.kernel(SAXPY, "saxpy")
    local x, y = cuda.zeros(8), cuda.zeros(8)
    local cases = {
      { {1}, {2048}, "block.x = 2048 is out of range: it must be a whole number from 1 to 1024" },
      { {1}, {32, 32, 2}, "a block of 2048 threads is too big: at most 1024" },
      { {1}, {1, 1, 65}, "block.z = 65 is out of range" },
      { {0}, {32}, "grid.x = 0 is out of range" },
      { {1, 70000}, {32}, "grid.y = 70000 is out of range: it must be a whole number from 1 to 65535" },
      { {1.5}, {32}, "grid.x = 1.5 is out of range" },
      { "x", {32}, "grid must be a number or a table of 1 to 3 numbers" },
      { {1, 2, 3, 4}, {32}, "grid must be a number or a table of 1 to 3 numbers" },
    }
    for _, c in ipairs(cases) do
      local e = h.expect_error("ValueError", saxpy, c[1], c[2], 8, 1.0, x, y)
      assert.matches("kernel 'saxpy': " .. c[3]:gsub("[%(%)%.%-]", "%%%0"), e.message)
    end
  end)

  it("gives clear errors for wrong argument types and counts", function()
    if not need_sim() then return end
    local saxpy = cuda.kernel(SAXPY, "saxpy")
    local x, y, ints = cuda.zeros(8), cuda.zeros(8), cuda.zeros(8, "int32")
    local cases = {
      { { "8", 1.0, x, y }, "argument 1 %(int n%): expected a number %(int%), got a string" },
      { { 2.5, 1.0, x, y }, "argument 1 %(int n%): 2.5 does not fit: expected a whole number from %-2147483648 to 2147483647" },
      { { 2 ^ 31, 1.0, x, y }, "argument 1 %(int n%): 2147483648 does not fit" },
      { { 8, true, x, y }, "argument 2 %(float a%): expected a number %(float%), got a boolean" },
      { { 8, 1.0, ints, y }, "argument 3 %(const float %*x%): the buffer holds int32, but the kernel reads float" },
      { { 8, 1.0, x, 5 }, "argument 4 %(float %*y%): expected a device buffer or a rayl.array, got a number" },
      { { 8, 1.0, x }, "kernel 'saxpy' takes 4 arguments %(int n, float a, const float %*x, float %*y%), got 3" },
      { { 8, 1.0, x, y, 1 }, "takes 4 arguments .*, got 5" },
    }
    for _, c in ipairs(cases) do
      local e = h.expect_error("ValueError", saxpy, 1, 32, unpack(c[1]))
      assert.matches(c[2], e.message)
    end
    -- read-only array views (big values read in place from the object store) are refused
    -- for pointers a kernel may write
    local view = rayl.get(rayl.put(host("float32", 200000, function() return 1 end)))
    local e = h.expect_error("ValueError", saxpy, 1, 32, 8, 1.0, x, view)
    assert.matches("read%-only view", e.message)
    saxpy(1, 32, 8, 1.0, view, y) -- as a const parameter it is fine
    -- a type rayl.cuda cannot pass from Lua, named in the message
    local k = cuda.kernel('extern "C" __global__ void k(float2 v, float *o) { o[0] = v.x; }', "k")
    e = h.expect_error("ValueError", k, 1, 1, 1.0, y)
    assert.matches("argument 1 %(float2 v%): rayl.cuda cannot pass a float2 from Lua", e.message)
  end)

  it("launches kernels whose parameter list cannot be read, but numbers need the signature option", function()
    if not need_sim() then return end
    local src = [[
#define KERNEL(name) extern "C" __global__ void name(float *out, int n)
KERNEL(fill7) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) out[i] = 7; }]]
    local k = cuda.kernel(src, "fill7")
    local sig, why = k:signature()
    assert.is_nil(sig)
    assert.matches("no '__global__ void fill7", why)
    local out = cuda.zeros(10)
    local e = h.expect_error("ValueError", k, 1, 32, out, 10)
    assert.matches("cannot tell the C type of a number.*signature", e.message)
    local typed = cuda.kernel(src, "fill7", { signature = "float *out, int n" })
    typed(1, 32, out, 10)
    local got = out:to_array()
    for i = 1, 10 do assert.are.equal(7, got[i]) end
  end)

  it("raises CompileError with the compiler's line and the offending source lines", function()
    if not need_sim() then return end
    local src = 'extern "C" __global__ void broken(float *x) {\n  x[0] = 1.0f;\n  undefined_thing(x);\n}\n'
    local e = h.expect_error("CompileError", cuda.kernel, src, "broken")
    assert.matches("kernel 'broken' did not compile", e.message)
    assert.matches("undefined_thing", e.log)
    assert.matches(":3:%d+: error", e.message) -- the compiler's own line
    assert.matches(">   3 |   undefined_thing%(x%);", e.message)
    assert.are.same({ 3 }, e.lines)
  end)

  it("NVRTC compiles kernels to PTX and a cubin here; its errors make a CompileError with its line", function()
    local C = require("rayl.core").cuda
    local ptx, cubin = C.nvrtc(SAXPY, "saxpy", "sm_90", { "--use_fast_math" })
    if not ptx and cubin:find("not installed", 1, true) then
      pending("NVRTC is not installed here: " .. cubin)
      return
    end
    assert.matches("%.entry saxpy", ptx)
    assert.are.equal("\127ELF", cubin:sub(1, 4))
    local only_ptx, none = C.nvrtc(SAXPY, "saxpy", "compute_90", {})
    assert.matches("%.version", only_ptx)
    assert.is_nil(none)
    local src = 'extern "C" __global__ void broken(float *x) {\n  x[0] = 1.0f;\n  undefined_thing(x);\n}\n'
    local ok, msg, log = C.nvrtc(src, "broken", "sm_90", {})
    assert.is_nil(ok)
    assert.matches("could not compile broken.cu", msg)
    local e = require("rayl.cuda.kernel").compile_error("broken", src, msg, log)
    assert.are.equal("CompileError", e.type)
    assert.matches('broken.cu%(3%): error: identifier "undefined_thing" is undefined', e.message)
    assert.matches(">   3 |   undefined_thing%(x%);", e.message)
    assert.are.same({ 3 }, e.lines)
  end)

  it("keeps compiled kernels: a second kernel() compiles nothing, a new process reads the disk", function()
    if not need_sim() then return end
    local src = SAXPY .. "\n// cache test " .. tostring(os.time()) .. tostring(math.random())
    local before = cuda.cache_stats()
    cuda.kernel(src, "saxpy")
    local mid = cuda.cache_stats()
    assert.are.equal(before.compiled + 1, mid.compiled)
    local t0 = h.now()
    local reps = 2000
    for _ = 1, reps do cuda.kernel(src, "saxpy") end
    local per_hit = (h.now() - t0) / reps
    local after, dir = cuda.cache_stats()
    assert.are.equal(mid.compiled, after.compiled)
    assert.are.equal(mid.memory + reps, after.memory)
    assert.are.equal(cache, dir)
    assert.is_true(per_hit < 500e-6, ("a cache hit took %.1f us"):format(per_hit * 1e6))
    -- a new process with the same cache folder reads the compiled kernel, compiles nothing
    local out = run(("RAYL_CUDA=sim RAYL_CUDA_CACHE='%s'"):format(cache), ([[
      local cuda = require "rayl.cuda"
      cuda.kernel(%q, "saxpy")
      local s = cuda.cache_stats()
      print("compiled=" .. s.compiled .. " disk=" .. s.disk)
    ]]):format(src))
    assert.matches("compiled=0 disk=1", out)
  end)

  it("two workers compiling the same kernel at once both get it, and one file is kept", function()
    if not need_sim() then return end
    local src = SAXPY .. "\n// race " .. tostring(os.time()) .. tostring(math.random())
    local dir = os.tmpname()
    os.remove(dir)
    assert.is_true(os.execute(("mkdir -p '%s'"):format(dir)) == 0)
    local before = files(cache, "%.sim$")
    local f = rayl.remote(function(me, other)
      local c = require "rayl.cuda"
      io.open(dir .. "/" .. me, "w"):close()
      for _ = 1, 500 do -- until both tasks are here, then compile at once
        if io.open(dir .. "/" .. other) then break end
        os.execute("sleep 0.01")
      end
      local k = c.kernel(src, "saxpy")
      local y = c.zeros(4)
      k(1, 4, 4, 1.0, c.ones(4), y)
      local s = c.cache_stats()
      return { y = y, compiled = s.compiled, disk = s.disk }
    end)
    for _, r in ipairs(rayl.get({ f:remote("a", "b"), f:remote("b", "a") })) do
      assert.are.equal(1, r.y[1])
      assert.are.equal(1, r.compiled + r.disk)
    end
    assert.are.equal(before + 1, files(cache, "%.sim$"))
    assert.are.equal(0, files(cache, "%.tmp%."))
    os.execute(("rm -rf '%s'"):format(dir))
  end)

  it("a device buffer returned from a task arrives as a rayl.array", function()
    if not need_sim() then return end
    local f = rayl.remote(function(n)
      local c = require "rayl.cuda"
      local y = c.array(rayl.array("float64", { 1.5, 2.5, 3.5 }), "float64")
      return { small = y, big = c.ones(n, "int32") }
    end)
    local got = rayl.get(f:remote(100000)) -- 400 KB: referenced in place while encoded
    assert.are.equal("float64", got.small.dtype)
    assert.are.same({ 1.5, 2.5, 3.5 }, { got.small[1], got.small[2], got.small[3] })
    assert.are.equal(100000, #got.big)
    assert.are.equal("int32", got.big.dtype)
    assert.are.equal(1, got.big[1])
    assert.are.equal(1, got.big[100000])
    -- and put() of a buffer stores its bytes
    local back = rayl.get(rayl.put(cuda.array({ 4, 5 }, "int64")))
    assert.are.same({ "int64", 4, 5 }, { back.dtype, back[1], back[2] })
  end)

  it("runs the issue's saxpy as a num_gpus = 1 task", function()
    if not need_sim() then return end
    local saxpy = cuda.kernel(SAXPY, "saxpy")
    local task = rayl.remote({ num_gpus = 1 }, function(n)
      local x, y = cuda.ones(n, "float32"), cuda.zeros(n, "float32")
      saxpy({ math.ceil(n / 256) }, { 256 }, n, 2.0, x, y)
      return { y = y:to_array(), ids = rayl.get_gpu_ids() }
    end)
    local r = rayl.get(task:remote(1e6))
    assert.are.equal(1e6, #r.y)
    assert.are.equal(2, r.y[1])
    assert.are.equal(2, r.y[1e6])
    if #r.ids == 0 then
      pending("num_gpus scheduling (device ids, CUDA_VISIBLE_DEVICES, rayl.get_gpu_ids) is not in this build")
      return
    end
    assert.are.equal(1, #r.ids)
  end)

  it("runs the examples in examples/gpu in the simulator", function()
    if not need_sim() then return end
    local out = run("RAYL_CUDA=sim", "dofile('examples/gpu/block_reduce.lua')")
    assert.matches("sum of 1000000 numbers: 62437500.0 on the device, 62437500.0 in Lua", out)
    out = run("RAYL_CUDA=sim", "dofile('examples/gpu/monte_carlo.lua')")
    assert.matches("pi is about 3%.14%d* %(16 tasks x 1000000 points, rayl.cuda mode: sim%)", out)
  end)

  it("with no driver and no simulator, a kernel call says what is missing and how to simulate", function()
    local out = run("env -u RAYL_CUDA RAYL_CUDA_DRIVER=libcuda-none.so.1", ([[
      local cuda = require "rayl.cuda"
      print("mode=" .. cuda.mode(), "count=" .. cuda.device_count())
      local k = cuda.kernel(%q, "saxpy") -- made without a device: compiled where it runs
      local ok, e = pcall(k, 1, 32, 1, 1.0, nil, nil)
      print(e.type, e.message)
    ]]):format(SAXPY))
    assert.matches("mode=none\tcount=0", out)
    assert.matches("CudaError\trayl.cuda cannot run here: no CUDA driver: libcuda%-none.so.1 not found", out)
    assert.matches("use the simulator: RAYL_CUDA=sim", out)
  end)

  it("runs on a GPU (GPU machines only)", function()
    local ok, why = require("rayl.core").cuda.available("gpu")
    if not ok then
      pending("no GPU here: " .. tostring(why))
      return
    end
    local out = run("RAYL_CUDA=gpu", ([[
      local cuda = require "rayl.cuda"
      local k = cuda.kernel(%q, "saxpy")
      local y = cuda.ones(1000)
      k(4, 256, 1000, 2.0, cuda.ones(1000), y)
      local a = y:to_array()
      print("mode=" .. cuda.mode(), a[1], a[1000])
    ]]):format(SAXPY))
    assert.matches("mode=gpu\t3\t3", out)
  end)
end)
