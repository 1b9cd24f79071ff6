-- spec/torch_spec.lua: rayl.torch's tensor layer: creation, dtypes, shape ops, math, autograd
-- (against finite differences), errors, files, and tensors through tasks, actors and the store.
local rayl = require "rayl"
local torch = require "rayl.torch"
local h = require "spec.helpers"

local bin = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"
local available, why = torch.available()

-- |a - b| <= tol elementwise over nested tables (or numbers).
local function near(a, b, tol, path)
  tol, path = tol or 1e-5, path or "value"
  if type(a) == "table" then
    assert.are.equal(#b, #a, path .. ": lengths")
    for i = 1, #a do near(a[i], b[i], tol, path .. "[" .. i .. "]") end
    return
  end
  assert(math.abs(a - b) <= tol * math.max(1, math.abs(b)), ("%s: %s vs %s"):format(path, tostring(a), tostring(b)))
end

-- A Lua matrix of n x m pseudo-random values in [-1, 1) (a fixed sequence).
local function lua_matrix(n, m, seed)
  local x, out = seed or 7, {}
  for i = 1, n do
    out[i] = {}
    for j = 1, m do
      x = (x * 1103515245 + 12345) % 2147483648
      out[i][j] = x / 1073741824 - 1
    end
  end
  return out
end

local function lua_matmul(a, b)
  local out = {}
  for i = 1, #a do
    out[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for k = 1, #b do s = s + a[i][k] * b[k][j] end
      out[i][j] = s
    end
  end
  return out
end

local function map2(a, f)
  local out = {}
  for i = 1, #a do
    out[i] = {}
    for j = 1, #a[i] do out[i][j] = f(a[i][j], i, j) end
  end
  return out
end

if not available then
  describe("rayl.torch", function()
    pending("libtorch is not available here: " .. tostring(why))
  end)
  return
end

describe("rayl.torch tensors", function()
  it("the shim's own selftest passes (through the FFI, as ctest torch_shim does from C)", function()
    assert.is_true(torch.selftest())
    assert.truthy(torch.version():match("^%d+%.%d+"))
  end)

  it("tensor() builds from nested tables with each dtype, and reads back", function()
    local a = torch.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
    assert.are.same({ 2, 3 }, a:shape())
    assert.are.equal("float32", a:dtype())
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, a:totable())
    assert.are.equal(6, a:numel())
    assert.are.equal(2, a:dim())
    assert.are.equal(3, a:size(1))
    assert.are.equal(3, a:size(-1))
    local vals = { float32 = { 1.5, -2 }, float64 = { 0.1, 1e300 }, int32 = { -7, 2 ^ 31 - 1 },
                   int64 = { -3, 2 ^ 53 }, uint8 = { 0, 255 } }
    for dtype, v in pairs(vals) do
      local t = torch.tensor(v, { dtype = dtype })
      assert.are.equal(dtype, t:dtype())
      assert.are.same(v, t:totable(), dtype)
    end
    local b = torch.tensor({ true, false, true })
    assert.are.equal("bool", b:dtype())
    assert.are.same({ true, false, true }, b:totable())
    assert.is_true(torch.tensor({ true, false }):any():item())
    local s = torch.tensor(2.5)
    assert.are.same({}, s:shape())
    assert.are.equal(2.5, s:item())
    assert.are.same({ 0 }, torch.tensor({}):shape())
    local err = h.expect_error("ValueError", torch.tensor, { { 1, 2 }, { 3 } })
    assert.truthy(err.message:find("ragged table at data[2]", 1, true))
    h.expect_error("ValueError", torch.tensor, { 1, 2 }, { dtype = "complex" })
  end)

  it("zeros, ones, full, empty, arange, linspace, rand, randn, randint and *_like make what they say", function()
    assert.are.same({ { 0, 0, 0 }, { 0, 0, 0 } }, torch.zeros(2, 3):totable())
    assert.are.same({ { 1, 1 } }, torch.ones({ 1, 2 }):totable())
    assert.are.equal("float64", torch.ones({ 2 }, { dtype = "float64" }):dtype())
    assert.are.same({ 7, 7 }, torch.full({ 2 }, 7, "int32"):totable())
    assert.are.same({ 3, 4 }, torch.empty(3, 4):shape())
    local r = torch.arange(5)
    assert.are.equal("int64", r:dtype())
    assert.are.same({ 0, 1, 2, 3, 4 }, r:totable())
    assert.are.same({ 2, 5, 8 }, torch.arange(2, 10, 3):totable())
    assert.are.equal("float32", torch.arange(0, 1, 0.25):dtype())
    assert.are.same({ 0, 0.25, 0.5, 0.75 }, torch.arange(0, 1, 0.25):totable())
    near(torch.linspace(-1, 1, 5):totable(), { -1, -0.5, 0, 0.5, 1 })
    torch.manual_seed(3)
    local u = torch.rand(1000)
    assert.is_true(u:min():item() >= 0 and u:max():item() < 1)
    near(u:mean():item(), 0.5, 0.1)
    local n = torch.randn(4000)
    near(n:mean():item(), 0, 0.1)
    near(n:std():item(), 1, 0.1)
    torch.manual_seed(3)
    assert.is_true(torch.rand(1000):equal(u))
    local i = torch.randint(2, 5, { 1000 })
    assert.are.equal("int64", i:dtype())
    assert.are.equal(2, i:min():item())
    assert.are.equal(4, i:max():item())
    local r10 = torch.randint(10, { 200 })
    assert.is_true(r10:min():item() >= 0 and r10:max():item() <= 9)
    assert.are.same({ { 0, 0 } }, torch.zeros_like(torch.ones(1, 2)):totable())
    assert.are.equal("int64", torch.ones_like(torch.arange(3)):dtype())
    assert.are.same({ 5, 5 }, torch.full_like(torch.ones(2), 5):totable())
    assert.is_true(torch.tensor({ 1, 2 }, { requires_grad = true }):requires_grad())
  end)

  it("from_array is over the array's memory (no copy) and keeps it alive; to_array gives it back", function()
    local arr = rayl.array("float64", { 1, 2, 3, 4, 5, 6 })
    local t = torch.from_array(arr, { 2, 3 })
    assert.are.equal(arr, t:to_array(), "the array under it, not a copy")
    assert.are.equal(arr, torch.from_array(arr):to_array())
    assert.are.equal(tostring(arr:ptr()):match("0x%x+"), tostring(t:data_ptr()):match("0x%x+"))
    assert.are.equal("float64", t:dtype())
    t:mul_(10)
    assert.are.equal(10, arr[1])
    arr[6] = -1
    assert.are.equal(-1, t[{ 1, 2 }]:item())
    assert.are_not.equal(arr, t[{ 0 }]:to_array(), "part of it: a copy")
    assert.are.same({ 10, 20, 30 }, t[{ 0 }]:to_array():totable())
    local view = t[{ 1 }]
    collectgarbage()
    collectgarbage()
    local before = torch.pinned_count()
    arr, t = nil, nil
    collectgarbage()
    collectgarbage()
    assert.are.equal(before, torch.pinned_count(), "a view keeps the array")
    assert.are.same({ 40, 50, -1 }, view:totable())
    view = nil
    collectgarbage()
    collectgarbage()
    assert.are.equal(before - 1, torch.pinned_count())
    local a = torch.tensor({ { 1, 2 }, { 3, 4 } }, "int32"):t():to_array()
    assert.are.equal("int32", a.dtype)
    assert.are.same({ 1, 3, 2, 4 }, a:totable())
    assert.are.same({ 1, 0 }, torch.tensor({ true, false }):to_array():totable())
    h.expect_error("ValueError", torch.from_array, rayl.array("float32", 4), { 3 })
  end)

  it("reshape, view, squeeze, unsqueeze, permute, cat, stack, index_select, gather and slicing", function()
    local a = torch.arange(12):reshape(3, 4)
    assert.are.same({ { 0, 1, 2, 3 }, { 4, 5, 6, 7 }, { 8, 9, 10, 11 } }, a:totable())
    assert.are.same({ 4, 3 }, a:view({ 4, 3 }):shape())
    assert.are.same({ 12 }, a:flatten():shape())
    assert.are.same({ 3, 1, 4 }, a:unsqueeze(1):shape())
    assert.are.same({ 3, 4 }, a:unsqueeze(0):squeeze():shape())
    assert.are.same({ 1, 3, 4 }, a:unsqueeze(0):squeeze(1):shape())
    assert.are.same({ { 0, 4, 8 }, { 1, 5, 9 }, { 2, 6, 10 }, { 3, 7, 11 } }, a:t():totable())
    assert.are.same({ 4, 3, 1 }, a:unsqueeze(2):permute(1, 0, 2):shape())
    assert.are.same({ 6, 4 }, torch.cat({ a, a }):shape())
    assert.are.same({ 3, 8 }, torch.cat({ a, a }, 1):shape())
    assert.are.same({ 2, 3, 4 }, torch.stack({ a, a }):shape())
    assert.are.same({ 3, 2, 4 }, torch.stack({ a, a }, 1):shape())
    local idx = torch.tensor({ 2, 0 }, "int64")
    assert.are.same({ { 8, 9, 10, 11 }, { 0, 1, 2, 3 } }, a:index_select(0, idx):totable())
    assert.are.same({ { 3, 1 }, { 4, 4 } },
      torch.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }):gather(1, torch.tensor({ { 2, 0 }, { 0, 0 } }, "int64")):totable())
    assert.are.same({ { 1, 2 }, { 5, 6 }, { 9, 10 } }, a:narrow(1, 1, 2):totable())
    assert.are.same({ { 4, 6 } }, a:slice(0, 1, 2):slice(1, 0, nil, 2):totable())
    assert.are.same({ 8, 9, 10, 11 }, a:select(0, -1):totable())
    -- PyTorch-like indexing (0-based): a[1], a[{":", 2}], a[{{0, 2}, "..."}], masks, index tensors.
    assert.are.same({ 4, 5, 6, 7 }, a[1]:totable())
    assert.are.same({ 2, 6, 10 }, a[{ ":", 2 }]:totable())
    assert.are.same({ 3, 7, 11 }, a[{ "...", -1 }]:totable())
    assert.are.same({ { 1, 3 }, { 5, 7 } }, a[{ { 0, 2 }, { 1, nil, 2 } }]:totable())
    assert.are.same({ 9, 10, 11 }, a[a:gt(8)]:totable())
    assert.are.same({ { 8, 9, 10, 11 }, { 0, 1, 2, 3 } }, a[idx]:totable())
    -- Slices are views: writing them writes the tensor.
    local b = a:clone()
    b[{ 0, ":" }] = 100
    b[{ ":", 3 }] = torch.tensor({ -1, -2, -3 }, "int64")
    b[b:eq(5)] = 55
    assert.are.same({ { 100, 100, 100, -1 }, { 4, 55, 6, -2 }, { 8, 9, 10, -3 } }, b:totable())
    assert.are.same({ 0, 1, 2, 3 }, a[0]:totable())
    assert.are.equal(3, #a)
    assert.are.equal(2, #a:split(2))
    local cols = a:unbind(1)
    assert.are.equal(4, #cols)
    assert.are.same({ 3, 7, 11 }, cols[4]:totable())
    h.expect_error("ValueError", function() return a.nothing_here end)
    h.expect_error("TorchError", function() return a:view(5) end)
  end)

  it("+ - * / ^ and unary minus broadcast and take numbers on either side, as PyTorch", function()
    local A, B = lua_matrix(2, 3, 1), lua_matrix(1, 3, 2)
    local a, b = torch.tensor(A, "float64"), torch.tensor(B, "float64")
    near((a + b):totable(), map2(A, function(x, _, j) return x + B[1][j] end))
    near((a - b):totable(), map2(A, function(x, _, j) return x - B[1][j] end))
    near((a * b):totable(), map2(A, function(x, _, j) return x * B[1][j] end))
    near((a / b):totable(), map2(A, function(x, _, j) return x / B[1][j] end))
    near((2 - a):totable(), map2(A, function(x) return 2 - x end))
    near((3 / a):totable(), map2(A, function(x) return 3 / x end))
    near((a * 0.5 + 1):totable(), map2(A, function(x) return x * 0.5 + 1 end))
    near((a ^ 2):totable(), map2(A, function(x) return x * x end))
    near((-a):totable(), map2(A, function(x) return -x end))
    near((2 ^ a):totable(), map2(A, function(x) return 2 ^ x end))
    -- A column against a row: {2, 1} op {3} -> {2, 3}.
    local col = torch.tensor({ { 10 }, { 20 } })
    assert.are.same({ { 11, 12, 13 }, { 21, 22, 23 } }, (col + torch.tensor({ 1, 2, 3 })):totable())
    -- Integral numbers keep integer tensors integer; fractional ones promote to float32.
    local i = torch.arange(3)
    assert.are.equal("int64", (i + 1):dtype())
    assert.are.same({ 1, 2, 3 }, (i + 1):totable())
    assert.are.equal("float32", (i * 0.5):dtype())
    assert.are.same({ 0, 0.5, 1 }, (i * 0.5):totable())
    assert.are.equal("float32", (i / 2):dtype())
    assert.are.same({ 0, 1, 0 }, (i % 2):totable())
    assert.are.same({ 0, 0, 1 }, i:floor_divide(2):totable())
    assert.are.same({ 1, 4, 7 }, i:add(i, 2):add(1):totable())
    assert.are.same({ -1, -1, -1 }, i:sub(i:add(1)):totable())
    h.expect_error("ValueError", function() return a + "x" end)
    local err = h.expect_error("TorchError", function() return a + torch.ones(4) end)
    assert.truthy(err.message:find("must match the size", 1, true))
  end)

  it("comparisons give bool tensors", function()
    local a, b = torch.tensor({ 1, 2, 3 }), torch.tensor({ 3, 2, 1 })
    assert.are.same({ false, true, false }, a:eq(b):totable())
    assert.are.same({ true, false, true }, a:ne(b):totable())
    assert.are.same({ true, false, false }, a:lt(b):totable())
    assert.are.same({ true, true, false }, a:le(b):totable())
    assert.are.same({ false, false, true }, a:gt(b):totable())
    assert.are.same({ false, true, true }, a:ge(2):totable())
    assert.are.equal("bool", a:gt(b):dtype())
    assert.are.same({ false, false, true }, a:gt(b):logical_and(a:ge(3)):totable())
    assert.is_true(a:equal(torch.tensor({ 1, 2, 3 })))
    assert.is_false(a:equal(b))
    assert.is_true(a:allclose(a + 1e-7))
  end)

  it("sum, mean, max, min, argmax, std, var, prod reduce over all, a dim or dims, with keepdim", function()
    local M = lua_matrix(3, 4, 5)
    local t = torch.tensor(M, "float64")
    local total, rows, cols = 0, {}, {}
    for i = 1, 3 do
      rows[i] = 0
      for j = 1, 4 do
        total = total + M[i][j]
        rows[i] = rows[i] + M[i][j]
        cols[j] = (cols[j] or 0) + M[i][j]
      end
    end
    near(t:sum():item(), total)
    near(t:sum(1):totable(), rows)
    near(t:sum(0):totable(), cols)
    near(t:sum({ 0, 1 }):item(), total)
    assert.are.same({ 3, 1 }, t:sum(1, true):shape())
    assert.are.same({ 1, 1 }, t:sum(nil, true):shape())
    near(t:mean():item(), total / 12)
    near(t:mean(0):totable(), { cols[1] / 3, cols[2] / 3, cols[3] / 3, cols[4] / 3 })
    local mx, amx, mn = -math.huge, nil, math.huge
    for i = 1, 3 do
      for j = 1, 4 do
        if M[i][j] > mx then mx, amx = M[i][j], (i - 1) * 4 + (j - 1) end
        mn = math.min(mn, M[i][j])
      end
    end
    near(t:max():item(), mx)
    near(t:min():item(), mn)
    assert.are.equal(amx, t:argmax():item())
    local v, ix = t:max(1)
    for i = 1, 3 do
      local best, bj = -math.huge, nil
      for j = 1, 4 do if M[i][j] > best then best, bj = M[i][j], j - 1 end end
      near(v:totable()[i], best)
      assert.are.equal(bj, ix:totable()[i])
      assert.are.equal(bj, t:argmax(1):totable()[i])
    end
    assert.are.same({ 3, 1 }, select(1, t:max(1, true)):shape())
    local mean = total / 12
    local ss = 0
    for i = 1, 3 do for j = 1, 4 do ss = ss + (M[i][j] - mean) ^ 2 end end
    near(t:std():item(), math.sqrt(ss / 11))
    near(t:std(nil, false):item(), math.sqrt(ss / 12))
    near(t:var():item(), ss / 11)
    local r1 = 0
    for j = 1, 4 do r1 = r1 + (M[1][j] - rows[1] / 4) ^ 2 end
    near(t:std(1):totable()[1], math.sqrt(r1 / 3))
    assert.are.same({ 3, 1 }, t:std(1, true, true):shape())
    assert.are.equal(24, torch.tensor({ 1, 2, 3, 4 }):prod():item())
    assert.are.same({ 2, 12 }, torch.tensor({ { 1, 2 }, { 3, 4 } }):prod(1):totable())
    near(t:norm():item(), math.sqrt(ss + 12 * mean * mean))
    near(t:logsumexp(1):totable()[1], math.log(math.exp(M[1][1]) + math.exp(M[1][2]) + math.exp(M[1][3])
      + math.exp(M[1][4])))
    assert.are.same({ 0, 1, 3, 6 }, torch.arange(4):cumsum(0):totable())
  end)

  it("exp, log, tanh, relu, sigmoid, clamp, softmax, log_softmax, sqrt, abs, pow, maximum, minimum match Lua's math",
    function()
      local M = lua_matrix(2, 5, 9)
      local t = torch.tensor(M, "float64")
      local function sig(x) return 1 / (1 + math.exp(-x)) end
      local function tanh(x) return (math.exp(x) - math.exp(-x)) / (math.exp(x) + math.exp(-x)) end
      near(t:exp():totable(), map2(M, math.exp))
      near(t:abs():log():totable(), map2(M, function(x) return math.log(math.abs(x)) end))
      near(t:tanh():totable(), map2(M, tanh))
      near(t:relu():totable(), map2(M, function(x) return math.max(x, 0) end))
      near(t:sigmoid():totable(), map2(M, sig))
      near(t:clamp(-0.5, 0.5):totable(), map2(M, function(x) return math.min(0.5, math.max(-0.5, x)) end))
      near(t:clamp(0):totable(), map2(M, function(x) return math.max(x, 0) end))
      near(t:clamp(nil, 0):totable(), map2(M, function(x) return math.min(x, 0) end))
      near(t:abs():sqrt():totable(), map2(M, function(x) return math.sqrt(math.abs(x)) end))
      near(t:abs():pow(1.5):totable(), map2(M, function(x) return math.abs(x) ^ 1.5 end))
      near(t:maximum(t * -1):totable(), map2(M, math.abs))
      near(t:minimum(0):totable(), map2(M, function(x) return math.min(x, 0) end))
      local row = M[2]
      local z = 0
      for _, x in ipairs(row) do z = z + math.exp(x) end
      near(t:softmax(1):totable()[2], { math.exp(row[1]) / z, math.exp(row[2]) / z, math.exp(row[3]) / z,
        math.exp(row[4]) / z, math.exp(row[5]) / z })
      near(t:log_softmax(-1):totable()[2][3], row[3] - math.log(z))
      near(t:softmax(0):sum(0):totable(), { 1, 1, 1, 1, 1 })
      h.expect_error("ValueError", function() return t:softmax() end)
      near(torch.exp(t):totable(), t:exp():totable())
      near(torch.where(t:gt(0), t, 0):totable(), t:relu():totable())
      near(t:masked_fill(t:lt(0), 0):totable(), t:relu():totable())
    end)

  it("matmul, linear, conv2d and max_pool2d compute what loops in Lua compute", function()
    local A, B = lua_matrix(3, 4, 11), lua_matrix(4, 2, 12)
    local a, b = torch.tensor(A, "float64"), torch.tensor(B, "float64")
    near(a:matmul(b):totable(), lua_matmul(A, B))
    near((a:mm(b) + 1):relu():totable(), map2(lua_matmul(A, B), function(x) return math.max(x + 1, 0) end))
    local bias = torch.tensor({ 0.5, -0.5 }, "float64")
    near(torch.linear(a, b:t(), bias):totable(), map2(lua_matmul(A, B), function(x, _, j) return x + (j == 1 and 0.5 or -0.5) end))
    local err = h.expect_error("TorchError", function() return torch.ones(2, 3):matmul(torch.ones(2, 2)) end)
    assert.are.equal("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x2)", err.message)
    -- conv2d: one 4x4 image, two 3x3 filters, padding 1, stride 1.
    local img, W = lua_matrix(4, 4, 13), { lua_matrix(3, 3, 14), lua_matrix(3, 3, 15) }
    local x = torch.tensor({ { img } }, "float64")
    local w = torch.tensor({ { W[1] }, { W[2] } }, "float64")
    local y = torch.conv2d(x, w, torch.tensor({ 1, 2 }, "float64"), { padding = 1 })
    assert.are.same({ 1, 2, 4, 4 }, y:shape())
    local got = y:totable()[1]
    for f = 1, 2 do
      for i = 1, 4 do
        for j = 1, 4 do
          local s = f
          for di = -1, 1 do
            for dj = -1, 1 do
              local r, c = i + di, j + dj
              if r >= 1 and r <= 4 and c >= 1 and c <= 4 then s = s + img[r][c] * W[f][di + 2][dj + 2] end
            end
          end
          near(got[f][i][j], s)
        end
      end
    end
    local p = torch.max_pool2d(x, 2):totable()[1][1]
    near(p[1][1], math.max(img[1][1], img[1][2], img[2][1], img[2][2]))
    near(p[2][2], math.max(img[3][3], img[3][4], img[4][3], img[4][4]))
  end)

  it("in-place ops change the tensor and return it; read-only tensors refuse them", function()
    local t = torch.tensor({ 1, 2, 3 }, "float64")
    assert.are.equal(t, t:add_(1))
    assert.are.same({ 2, 3, 4 }, t:totable())
    t:add_(torch.ones(3, "float64"), 2):mul_(2)
    assert.are.same({ 8, 10, 12 }, t:totable())
    t:sub_(2):div_(2)
    assert.are.same({ 3, 4, 5 }, t:totable())
    t:addcmul_(torch.tensor({ 1, 1, 1 }, "float64"), torch.tensor({ 2, 3, 4 }, "float64"), 0.5)
    assert.are.same({ 4, 5.5, 7 }, t:totable())
    t:addcdiv_(torch.tensor({ 2, 3, 4 }, "float64"), torch.tensor({ 2, 3, 4 }, "float64"), -1)
    assert.are.same({ 3, 4.5, 6 }, t:totable())
    t:lerp_(torch.zeros(3, "float64"), 0.5)
    assert.are.same({ 1.5, 2.25, 3 }, t:totable())
    t:copy_(torch.tensor({ 9, 8, 7 }))
    assert.are.same({ 9, 8, 7 }, t:totable())
    t:clamp_(7.5, 8.5)
    assert.are.same({ 8.5, 8, 7.5 }, t:totable())
    t:fill_(2):pow_(3)
    assert.are.same({ 8, 8, 8 }, t:totable())
    t:sqrt_():zero_()
    assert.are.same({ 0, 0, 0 }, t:totable())
    local u = torch.empty(2000):uniform_(-2, 3)
    assert.is_true(u:min():item() >= -2 and u:max():item() < 3)
    local n = torch.empty(4000, "float64"):normal_(5, 2)
    near(n:mean():item(), 5, 0.05)
    near(n:std():item(), 2, 0.05)
    local q = torch.empty(4, 6, "float64"):orthogonal_(2)
    near(q:matmul(q:t()):totable(), map2(lua_matrix(4, 4), function(_, i, j) return i == j and 4 or 0 end), 1e-9)
    local ro = torch.from_array(rayl.array("float32", 3):copy())
    assert.is_false(ro:is_readonly())
  end)

  it("autograd: gradients match finite differences; backward accumulates; zero_grad, detach, no_grad", function()
    local W = torch.tensor(lua_matrix(4, 3, 21), "float64")
    local target = torch.tensor({ { 0.2, 0.3, 0.5 }, { 1, 0, 0 } }, "float64")
    local function f(x)
      local hidden = x:matmul(W):tanh()
      local p = (hidden * 3):softmax(1)
      local l = -(p:log() * target):sum() + x:sigmoid():pow(2):mean() + (x:exp() / (x:abs() + 1)):sum()
      return l + x:std() * 0.1 + x:max(1):sum() * 0.01 + (x * x):clamp(0, 0.5):sum()
    end
    local x = torch.tensor(lua_matrix(2, 4, 22), { dtype = "float64", requires_grad = true })
    local loss = f(x)
    assert.is_true(loss:requires_grad())
    loss:backward()
    local g = x:grad():totable()
    local eps = 1e-6
    torch.no_grad(function()
      for i = 0, 1 do
        for j = 0, 3 do
          local xp, xm = x:detach():clone(), x:detach():clone()
          xp[{ i, j }] = x[{ i, j }]:item() + eps
          xm[{ i, j }] = x[{ i, j }]:item() - eps
          local fd = (f(xp):item() - f(xm):item()) / (2 * eps)
          near(g[i + 1][j + 1], fd, 1e-6, ("d/dx[%d][%d]"):format(i, j))
        end
      end
    end)
    -- A second backward accumulates into grad; zero_grad drops it.
    f(x):backward()
    near(x:grad():totable(), map2(g, function(v) return 2 * v end), 1e-9)
    x:zero_grad()
    assert.is_nil(x:grad())
    -- retain_graph lets a graph be walked twice; without it the second walk fails.
    local y = (x * x):sum()
    y:backward(nil, true)
    y:backward()
    near(x:grad():totable(), map2(x:totable(), function(v) return 4 * v end), 1e-9)
    local z = (x * x):sum()
    z:backward()
    h.expect_error("TorchError", function() z:backward() end)
    -- A gradient for a non-scalar output.
    x:zero_grad()
    local x3 = x * 3
    x3:backward(torch.ones(2, 4, "float64"))
    near(x:grad():totable(), map2(lua_matrix(2, 4), function() return 3 end))
    local err = h.expect_error("TorchError", function() (x * 3):backward() end)
    assert.truthy(err.message:find("scalar outputs", 1, true))
    assert.is_false(x:detach():requires_grad())
    assert.is_false(torch.no_grad(function() return (x * 2):requires_grad() end))
    assert.is_true((x * 2):requires_grad(), "no_grad restored the mode")
    assert.is_false(pcall(torch.no_grad, function() error("boom") end))
    assert.is_true(torch.is_grad_enabled(), "no_grad restores the mode after an error")
    local leaf = torch.zeros(2, { requires_grad = true })
    assert.is_true(leaf:is_leaf())
    h.expect_error("TorchError", function() leaf:add_(1) end)
    torch.no_grad(function() leaf:add_(1) end)
    assert.are.same({ 1, 1 }, leaf:totable())
  end)

  it("losses compute what their formulas compute", function()
    local a = torch.tensor({ { 1, 2 }, { 3, 4 } }, "float64")
    local b = torch.tensor({ { 1.5, 2 }, { 0, 4.5 } }, "float64")
    near(torch.mse_loss(a, b):item(), (0.25 + 0 + 9 + 0.25) / 4)
    near(torch.mse_loss(a, b, "sum"):item(), 9.5)
    assert.are.same({ 2, 2 }, torch.mse_loss(a, b, "none"):shape())
    near(torch.l1_loss(a, b):item(), (0.5 + 0 + 3 + 0.5) / 4)
    -- smooth_l1 (beta 1): 0.5 d^2 when |d| < 1, else |d| - 0.5.
    near(torch.smooth_l1_loss(a, b):item(), (0.125 + 0 + 2.5 + 0.125) / 4)
    local logits = torch.tensor({ { 1, 2, 3 }, { 1, 1, 1 } }, "float64")
    local ce = -((2 - math.log(math.exp(1) + math.exp(2) + math.exp(3))) + (1 - math.log(3 * math.exp(1)))) / 2
    near(torch.cross_entropy(logits, torch.tensor({ 1, 0 }, "int64")):item(), ce)
    near(torch.nll_loss(logits:log_softmax(1), torch.tensor({ 1, 0 }, "int64")):item(), ce)
    h.expect_error("ValueError", torch.mse_loss, a, b, "avg")
    local probs = torch.tensor({ { 0, 1, 0 }, { 0, 0, 1 } })
    assert.are.same({ { 1 }, { 2 } }, torch.multinomial(probs, 1):totable())
    assert.are.same({ { 0, 1, 0 }, { 0, 0, 1 } }, torch.one_hot(torch.tensor({ 1, 2 }, "int64"), 3):totable())
  end)

  it("save and load write and read torch.save's format", function()
    local path = os.tmpname()
    local sd = { ["0.weight"] = torch.randn(3, 2), ["0.bias"] = torch.arange(3), flag = torch.tensor({ true }) }
    torch.save(sd, path)
    local back = torch.load(path)
    for k, v in pairs(sd) do assert.is_true(back[k]:equal(v), k) end
    local f = io.open(path, "rb")
    assert.are.equal("PK", f:read(2), "a zip archive, as torch.save writes")
    f:close()
    os.remove(path)
    local err = h.expect_error("TorchError", torch.load, path)
    assert.truthy(err.message:find("cannot open", 1, true))
    h.expect_error("ValueError", torch.save, { w = 1 }, path)
  end)

  it("dropped tensors are collected as their bytes add up, not only as Lua's heap grows", function()
    local function rss_anon_mb()
      local f = assert(io.open("/proc/self/status"))
      local kb = tonumber(f:read("*a"):match("RssAnon:%s*(%d+)"))
      f:close()
      return kb / 1024
    end
    collectgarbage()
    local before, peak = rss_anon_mb(), 0
    for _ = 1, 200 do -- 200 x 16 MiB made and dropped: 3.2 GB if nothing were collected
      local t = torch.ones(4 * 1024 * 1024) + 1
      peak = math.max(peak, rss_anon_mb() - before)
      t = nil
    end
    assert.is_true(peak < 400, ("anonymous memory grew by %d MiB"):format(peak))
  end)

  it("tostring shows dtype, shape and small tensors' values", function()
    assert.are.equal("tensor(int64, shape {2, 2}: {{1, 2}, {3, 4}})", tostring(torch.tensor({ { 1, 2 }, { 3, 4 } }, "int64")))
    assert.are.equal("tensor(float32, shape {1000})", tostring(torch.zeros(1000)))
    assert.are.equal("tensor(bool, shape {}: true)", tostring(torch.tensor(true)))
  end)

  it("without the library, available() says why and requiring rayl.torch breaks nothing else", function()
    local out = h.sh("RAYL_TORCH_LIB=/nonexistent/librayl_torch.so " .. bin .. [[ -e '
      local rayl, torch = require "rayl", require "rayl.torch"
      print(torch.available())
      local ok, err = pcall(function() return torch.zeros(2) end)
      print(ok, err.type, err.message)
      print(rayl.array("float32", 2).n)']])
    assert.truthy(out:find("false\t/nonexistent/librayl_torch.so does not exist", 1, true), out)
    assert.truthy(out:find("false\tTorchError\trayl.torch is not available", 1, true), out)
    assert.truthy(out:find("\n2\n", 1, true), out)
  end)
end)

describe("rayl.torch across processes", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("a tensor passed to and returned from a task arrives equal (dtype, shape, values, requires_grad)", function()
    local echo = rayl.remote(function(v) return v end)
    local values = {
      torch.randn(3, 4), torch.arange(10):reshape(2, 5), torch.tensor({ true, false }), torch.tensor(7, "int32"),
      torch.zeros(0, 3), torch.tensor({ 1, 2 }, "uint8"), torch.randn(4, 5, "float64"):t(), torch.randn(300, 300),
    }
    for i, t in ipairs(values) do
      local got = rayl.get(echo:remote(t))
      assert.is_true(torch.is_tensor(got), "value " .. i)
      assert.are.equal(t:dtype(), got:dtype())
      assert.are.same(t:shape(), got:shape())
      assert.is_true(got:equal(t), "value " .. i)
    end
    local p = torch.ones(2, { requires_grad = true })
    assert.is_true(rayl.get(echo:remote(p)):requires_grad())
    -- One tensor twice in a value arrives as one tensor; tensors nest in tables.
    local t = torch.ones(3)
    local both = rayl.get(echo:remote({ t, t, { w = t * 2 } }))
    assert.is_true(rawequal(both[1], both[2]))
    assert.are.same({ 2, 2, 2 }, both[3].w:totable())
    local double = rayl.remote(function(x) return (x * 2):sum():item() end)
    assert.are.equal(30, rayl.get(double:remote(torch.arange(6))))
  end)

  it("rayl.put of a tensor gets back a tensor; actors take and return them", function()
    local t = torch.randn(64, 64)
    assert.is_true(rayl.get(rayl.put(t)):equal(t))
    assert.is_true(rayl.get(rayl.put({ a = t })).a:equal(t))
    local Acc = rayl.remote({
      __init = function(self) self.total = require("rayl.torch").zeros(4) end,
      add = function(self, x) self.total:add_(x) return self.total end,
    })
    local acc = Acc:remote()
    rayl.get(acc.add:remote(torch.ones(4)))
    assert.are.same({ 3, 3, 3, 3 }, rayl.get(acc.add:remote(torch.full({ 4 }, 2))):totable())
  end)

  it("a 100 MB tensor put and got on one node is not copied: same address, no anonymous memory growth", function()
    local function rss_anon_kb()
      local f = assert(io.open("/proc/self/status"))
      local kb = tonumber(f:read("*a"):match("RssAnon:%s*(%d+)"))
      f:close()
      return kb
    end
    local big = torch.ones(25 * 1024 * 1024) -- float32: 100 MiB
    local ref = rayl.put(big)
    big = nil
    collectgarbage()
    local before = rss_anon_kb()
    local a, b = rayl.get(ref), rayl.get(ref)
    assert.are.equal(25 * 1024 * 1024, a:sum():item())
    local grown = rss_anon_kb() - before
    assert.are.equal(tostring(a:data_ptr()), tostring(b:data_ptr()))
    assert.is_true(grown < 20 * 1024, ("anonymous memory grew by %d KiB"):format(grown))
    assert.is_true(a:is_readonly())
    local arr = a:to_array()
    assert.is_true(arr.readonly, "to_array gives the read-only view under it")
    assert.are.equal(tostring(a:data_ptr()):match("0x%x+"), tostring(arr:ptr()):match("0x%x+"))
    local err = h.expect_error("TorchError", function() a:add_(1) end)
    assert.truthy(err.message:find("read-only", 1, true))
    assert.are.equal(2, (a:clone():add_(1))[0]:item())
  end)

  it("a libtorch error in a task is a TorchError with libtorch's message, and the worker lives on", function()
    local Net = rayl.remote({
      bad = function() return require("rayl.torch").ones(2, 3):matmul(require("rayl.torch").ones(2, 2)) end,
      good = function() return { require("rayl.core").context().pid, require("rayl.torch").ones(2, 2):sum():item() } end,
    })
    local net = Net:remote()
    local pid = rayl.get(net.good:remote())[1]
    local err = h.expect_error("TorchError", rayl.get, net.bad:remote())
    assert.are.equal("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x2)", err.message)
    assert.are.same({ pid, 4 }, rayl.get(net.good:remote()))
    local bad = rayl.remote(function() return torch.ones(2, 3):view(4) end)
    h.expect_error("TorchError", rayl.get, bad:remote())
    local ok = rayl.remote(function() return torch.ones(2):sum():item() end)
    assert.are.equal(2, rayl.get(ok:remote()))
  end)

  it("workers size libtorch's and OpenBLAS's threads by the task's num_cpus (default 1)", function()
    local env = rayl.remote(function() return { os.getenv("OMP_NUM_THREADS"), os.getenv("OPENBLAS_NUM_THREADS") } end)
    assert.are.same({ "2", "2" }, rayl.get(env:options { num_cpus = 1.5 }:remote()), "without rayl.torch too")
    assert.are.same({ "1", "1" }, rayl.get(env:options { num_cpus = 0.5 }:remote()))
    local user = rayl.remote(function() return os.getenv("OMP_NUM_THREADS") end)
    assert.are.equal("3", rayl.get(user:options { num_cpus = 2, runtime_env = { env_vars = { OMP_NUM_THREADS = "3" } } }
      :remote()), "a user's setting stands")
    local probe = rayl.remote(function()
      local blas = torch.blas_threads()
      return { torch.get_num_threads(), os.getenv("OMP_NUM_THREADS"), os.getenv("OPENBLAS_NUM_THREADS"),
               blas == 0 and "not OpenBLAS" or blas }
    end)
    local blas = torch.blas_threads() == 0 and "not OpenBLAS"
    assert.are.same({ 1, "1", "1", blas or 1 }, rayl.get(probe:remote()))
    assert.are.same({ 2, "2", "2", blas or 2 }, rayl.get(probe:options { num_cpus = 2 }:remote()))
    assert.are.same({ 1, "1", "1", blas or 1 }, rayl.get(probe:remote()))
    local A = rayl.remote({ threads = function() return torch.get_num_threads() end })
    local a = A:options { num_cpus = 2 }:remote()
    assert.are.equal(2, rayl.get(a.threads:remote()))
    rayl.kill(a)
  end)

  it("libtorch is never loaded in the zygote, and workers forked after torch ran elsewhere work", function()
    -- Run torch with 2 threads in one worker, then fork fresh workers (actors) that use it.
    local warm = rayl.remote(function() return torch.randn(256, 256):matmul(torch.randn(256, 256)):sum():item() end)
    rayl.get(warm:options { num_cpus = 2 }:remote())
    local inspect = rayl.remote(function()
      local function read(path)
        local f = io.open(path)
        if not f then return nil end
        local s = f:read("*a")
        f:close()
        return s
      end
      -- The zygote and the workers it forked share its command line and (once reparented)
      -- their parent, the node manager; the zygote started first.
      local function parent_and_start(stat)
        local rest = stat:match("^%d+ %b() (.*)$")
        local fields = {}
        for f in rest:gmatch("%S+") do fields[#fields + 1] = f end
        return fields[2], tonumber(fields[20])
      end
      local node = parent_and_start(read("/proc/self/stat"))
      local zygote, first, with_torch = nil, nil, {}
      for pid in io.popen("ls /proc"):read("*a"):gmatch("%d+") do
        local stat, cmd = read("/proc/" .. pid .. "/stat"), read("/proc/" .. pid .. "/cmdline")
        if stat and cmd and cmd:find("--zygote", 1, true) then
          local parent, start = parent_and_start(stat)
          if parent == node and (not first or start < first) then zygote, first = pid, start end
          if parent == node then
            with_torch[pid] = (read("/proc/" .. pid .. "/maps") or ""):find("libtorch_cpu", 1, true) ~= nil
          end
        end
      end
      local workers_with_torch = 0
      for pid, yes in pairs(with_torch) do
        if yes and pid ~= zygote then workers_with_torch = workers_with_torch + 1 end
      end
      return { zygote ~= nil, with_torch[zygote] == true, workers_with_torch }
    end)
    local seen = rayl.get(inspect:remote())
    assert.is_true(seen[1], "found the zygote")
    assert.is_false(seen[2], "the zygote has no libtorch")
    assert.is_true(seen[3] >= 1, "the worker that ran torch has it (so the check can see it)")
    local Fresh = rayl.remote({
      run = function() return torch.randn(128, 128):matmul(torch.randn(128, 128)):numel() end,
    })
    for _ = 1, 2 do
      local f = Fresh:options { num_cpus = 1 }:remote()
      assert.are.equal(128 * 128, rayl.get(f.run:remote(), { timeout = 60 }))
      rayl.kill(f)
    end
  end)
end)
