-- examples/gpu/monte_carlo.lua: estimates pi with 16 GPU tasks of num_gpus = 0.25 (four
-- share a device); each task draws a million points in a kernel with its own seed and
-- counts those inside the unit circle. Without a GPU:
--   RAYL_CUDA=sim rayl examples/gpu/monte_carlo.lua   (declares one GPU to schedule on)
local rayl = require "rayl"
local cuda = require "rayl.cuda"

-- One thread per point: a hash of (seed, index) gives two uniform numbers; the block's
-- hits are added in shared memory, then once per block to the total with atomicAdd.
local count = cuda.kernel([[
__device__ unsigned int mix(unsigned int x) {
  x ^= x >> 16; x *= 0x7feb352dU; x ^= x >> 15; x *= 0x846ca68bU; x ^= x >> 16;
  return x;
}
extern "C" __global__ void count_hits(unsigned int seed, int n, unsigned int *hits) {
  __shared__ unsigned int block_hits;
  if (threadIdx.x == 0) block_hits = 0;
  __syncthreads();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    unsigned int a = mix(seed * 2654435761U + 2 * i), b = mix(a ^ (2 * i + 1));
    float x = a * (1.0f / 4294967296.0f), y = b * (1.0f / 4294967296.0f);
    if (x * x + y * y <= 1.0f) atomicAdd(&block_hits, 1u);
  }
  __syncthreads();
  if (threadIdx.x == 0) atomicAdd(hits, block_hits);
}]], "count_hits")

local sample = rayl.remote({ num_gpus = 0.25 }, function(seed, n)
  local hits = cuda.zeros(1, "int32")
  count(math.ceil(n / 256), 256, seed, n, hits)
  return hits:to_array()[1]
end)

local ok, why = cuda.available()
if not ok then error("no device for the kernels: " .. why, 0) end
-- A GPU machine offers its GPUs; the simulator needs one declared to schedule on.
rayl.init { num_gpus = cuda.mode() == "sim" and 1 or nil }
local tasks, n = 16, 1000000
local refs = {}
for seed = 1, tasks do refs[seed] = sample:remote(seed, n) end
local total = 0
for _, hits in ipairs(rayl.get(refs)) do total = total + hits end
local pi = 4 * total / (tasks * n)
print(("pi is about %.5f (%d tasks x %d points, rayl.cuda mode: %s)"):format(pi, tasks, n, cuda.mode()))
assert(math.abs(pi - math.pi) < 0.01, "the estimate is off")
