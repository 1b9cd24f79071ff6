-- examples/gpu/block_reduce.lua: sums a million numbers on the GPU with a block reduction
-- (shared memory and __syncthreads), block sums first, then the sum of those; checks it
-- against Lua. Without a GPU: RAYL_CUDA=sim rayl examples/gpu/block_reduce.lua
local rayl = require "rayl"
local cuda = require "rayl.cuda"

local BLOCK = 256
-- Each block adds its 2 * BLOCK elements in shared memory, halving the active threads
-- each step; __syncthreads makes every step's writes visible before the next reads them.
local reduce = cuda.kernel([[
#define BLOCK 256
extern "C" __global__ void block_reduce(const double *in, double *out, long long n) {
  __shared__ double part[BLOCK];
  int t = threadIdx.x;
  long long i = (long long)blockIdx.x * (2 * BLOCK) + t;
  double v = 0;
  if (i < n) v += in[i];
  if (i + BLOCK < n) v += in[i + BLOCK];
  part[t] = v;
  __syncthreads();
  for (int half = BLOCK / 2; half > 0; half >>= 1) {
    if (t < half) part[t] += part[t + half];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = part[0];
}]], "block_reduce")

-- Reduces buf (a device buffer of float64) to one number, one launch per level.
local function sum(buf)
  local n = #buf
  while n > 1 do
    local blocks = math.ceil(n / (2 * BLOCK))
    local out = cuda.empty(blocks, "float64")
    reduce(blocks, BLOCK, buf, out, n)
    buf, n = out, blocks
  end
  return buf:to_array()[1]
end

print("rayl.cuda mode: " .. cuda.mode())
local n = 1000000
local host = rayl.array("float64", n)
local want = 0
for i = 1, n do
  host[i] = (i % 1000) / 8 -- exact in binary, so every order of adding gives the same sum
  want = want + host[i]
end
local got = sum(cuda.array(host))
print(("sum of %d numbers: %.1f on the device, %.1f in Lua"):format(n, got, want))
assert(got == want, "the sums differ")
