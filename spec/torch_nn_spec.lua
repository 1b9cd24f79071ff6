-- spec/torch_nn_spec.lua: rayl.torch's nn (modules, layers, init, losses, clip_grad_norm,
-- state_dict, save/load), optim (SGD, Adam, learning-rate changes) and distributions
-- against values computed by hand or in plain Lua; training, and models across tasks.
local rayl = require "rayl"
local torch = require "rayl.torch"
local h = require "spec.helpers"

local available, why = torch.available()

-- |a - b| <= tol * max(1, |b|) elementwise over nested tables (or numbers).
local function near(a, b, tol, path)
  tol, path = tol or 1e-5, path or "value"
  if type(a) == "table" then
    assert.are.equal(#b, #a, path .. ": lengths")
    for i = 1, #a do near(a[i], b[i], tol, path .. "[" .. i .. "]") end
    return
  end
  assert(math.abs(a - b) <= tol * math.max(1, math.abs(b)), ("%s: %s vs %s"):format(path, tostring(a), tostring(b)))
end

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

-- x W^T + b in plain Lua.
local function lua_linear(x, w, b)
  local out = {}
  for i = 1, #x do
    out[i] = {}
    for j = 1, #w do
      local s = b and b[j] or 0
      for k = 1, #x[i] do s = s + x[i][k] * w[j][k] end
      out[i][j] = s
    end
  end
  return out
end

local function map(a, f)
  if type(a) ~= "table" then return f(a) end
  local out = {}
  for i = 1, #a do out[i] = map(a[i], f) end
  return out
end

local function names_of(list)
  local out = {}
  for i, e in ipairs(list) do out[i] = e[1] end
  return out
end

if not available then
  describe("rayl.torch.nn", function()
    pending("libtorch is not available here: " .. tostring(why))
  end)
  return
end

local nn, F = torch.nn, torch.nn.functional

describe("rayl.torch.nn modules", function()
  it("Linear holds weight (out, in) and bias (out) drawn in +-1/sqrt(in), and computes x W^T + b", function()
    torch.manual_seed(1)
    local l = nn.Linear(4, 3)
    assert.are.same({ 3, 4 }, l.weight:shape())
    assert.are.same({ 3 }, l.bias:shape())
    assert.is_true(l.weight:requires_grad() and l.weight:is_leaf())
    assert.is_true(l.weight:abs():max():item() <= 0.5 and l.bias:abs():max():item() <= 0.5)
    assert.is_true(l.weight:std():item() > 0.1, "drawn, not constant")
    local x = lua_matrix(5, 4)
    near(l(torch.tensor(x)):totable(), lua_linear(x, l.weight:totable(), l.bias:totable()), 1e-5)
    local nb = nn.Linear(2, 2, { bias = false })
    assert.is_nil(rawget(nb, "bias"))
    assert.are.same({ "weight" }, names_of(nb:named_parameters()))
    near(nb(torch.tensor({ { 1, 0 } })):totable(), { { nb.weight:totable()[1][1], nb.weight:totable()[2][1] } })
    h.expect_error("ValueError", nn.Linear, 2.5, 3)
  end)

  it("Sequential applies its modules in turn and names parameters 0.weight, 2.bias as PyTorch", function()
    local net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    assert.are.same({ "0.weight", "0.bias", "2.weight", "2.bias" }, names_of(net:named_parameters()))
    assert.are.equal(4, #net:parameters())
    assert.are.equal(3, net:len())
    assert.are.equal(net:get(3), rawget(net, "2"))
    local x = torch.tensor({ { 0.5 }, { -1 } })
    local l1, l2 = net:get(1), net:get(3)
    local hidden = map(lua_linear(x:totable(), l1.weight:totable(), l1.bias:totable()), math.tanh)
    near(net(x):totable(), lua_linear(hidden, l2.weight:totable(), l2.bias:totable()), 1e-5)
    -- A table of modules works too; a class where an instance belongs is a clear error.
    assert.are.equal(2, nn.Sequential({ nn.ReLU(), nn.Identity() }):len())
    local err = h.expect_error("ValueError", nn.Sequential, nn.Linear(1, 1), nn.Tanh)
    assert.truthy(err.message:find("nn.Tanh()", 1, true))
    assert.truthy(tostring(net):find("(0): Linear(in_features=1, out_features=32, bias=true)", 1, true))
  end)

  it("activations and shape layers compute what Lua's math computes", function()
    local v = { { -2, -0.5, 0, 1.5 } }
    local x = torch.tensor(v)
    near(nn.Tanh()(x):totable(), map(v, math.tanh))
    near(nn.ReLU()(x):totable(), map(v, function(a) return math.max(a, 0) end))
    near(nn.Sigmoid()(x):totable(), map(v, function(a) return 1 / (1 + math.exp(-a)) end))
    local z = 0
    for _, a in ipairs(v[1]) do z = z + math.exp(a) end
    near(nn.Softmax(-1)(x):totable(), map(v, function(a) return math.exp(a) / z end))
    near(nn.LogSoftmax(1)(x):totable(), map(v, function(a) return a - math.log(z) end))
    assert.are.same({ 2, 12 }, nn.Flatten()(torch.zeros(2, 3, 4)):shape())
    assert.is_true(nn.Identity()(x):equal(x))
    h.expect_error("ValueError", nn.Softmax)
  end)

  it("Conv2d holds weight (out, in/groups, kh, kw) and computes what a loop in Lua computes", function()
    torch.manual_seed(2)
    local c = nn.Conv2d(2, 3, 3, { padding = 1, stride = 2 })
    assert.are.same({ 3, 2, 3, 3 }, c.weight:shape())
    assert.are.same({ 3 }, c.bias:shape())
    local bound = 1 / math.sqrt(2 * 9)
    assert.is_true(c.weight:abs():max():item() <= bound)
    local x = torch.randn(1, 2, 5, 5)
    local y = c(x)
    assert.are.same({ 1, 3, 3, 3 }, y:shape())
    local xv, w, b = x:totable()[1], c.weight:totable(), c.bias:totable()
    local yv = y:totable()[1]
    for o = 1, 3 do
      for i = 1, 3 do
        for j = 1, 3 do
          local s = b[o]
          for ci = 1, 2 do
            for ki = 1, 3 do
              for kj = 1, 3 do
                local r, q = (i - 1) * 2 + ki - 1, (j - 1) * 2 + kj - 1 -- padded coordinates
                if r >= 1 and r <= 5 and q >= 1 and q <= 5 then s = s + xv[ci][r][q] * w[o][ci][ki][kj] end
              end
            end
          end
          near(yv[o][i][j], s, 1e-4, ("y[%d][%d][%d]"):format(o, i, j))
        end
      end
    end
    assert.are.same({ 4, 1, 3, 3 }, nn.Conv2d(2, 4, 3, { groups = 2, bias = false }).weight:shape())
    h.expect_error("ValueError", nn.Conv2d, 3, 4, 3, { groups = 2 })
  end)

  it("a Module written in Lua collects parameters from its fields (nested, in order), and train/eval reach all", function()
    local Block = nn.Module:extend({
      __init = function(self, n)
        self.fc = nn.Linear(n, n)
        self.scale = nn.Parameter(torch.ones(n))
        self:register_buffer("count", torch.zeros(1))
        self.cache = torch.ones(2) -- a plain tensor: neither parameter nor buffer
      end,
      forward = function(self, x) return self.fc(x):tanh() * self.scale end,
    }, "Block")
    local Net = nn.Module({
      __init = function(self)
        self.body = Block(3)
        self.heads = { nn.Linear(3, 1), nn.Linear(3, 2) } -- a Lua array of modules
        self.w = nn.Parameter(torch.zeros(1))
      end,
      forward = function(self, x)
        local hb = self.body(x)
        return self.heads[1](hb) + self.w, self.heads[2](hb)
      end,
    }, "Net")
    local net = Net()
    assert.are.same({ "w", "body.scale", "body.fc.weight", "body.fc.bias", "heads.0.weight", "heads.0.bias",
                      "heads.1.weight", "heads.1.bias" }, names_of(net:named_parameters()))
    assert.are.same({ "body.count" }, names_of(net:named_buffers()))
    assert.are.same({ "", "body", "body.fc", "heads.0", "heads.1" }, names_of(net:named_modules()))
    local sd = net:state_dict()
    assert.truthy(sd["body.count"] and sd["heads.1.bias"] and not sd["body.cache"])
    assert.is_true(net.training and net.body.fc.training)
    net:eval()
    assert.is_false(net.training or net.body.training or net.body.fc.training or net.heads[2].training)
    net:train()
    assert.is_true(net.heads[2].training)
    local a, b = net(torch.ones(4, 3))
    assert.are.same({ 4, 1 }, a:shape())
    assert.are.same({ 4, 2 }, b:shape())
    -- A frozen parameter is still a parameter (and in the state_dict).
    net.w:requires_grad_(false)
    assert.are.equal(8, #net:parameters())
    local err = h.expect_error("ValueError", function() return nn.Module:extend({})()(torch.ones(1)) end)
    assert.truthy(err.message:find("no forward method", 1, true))
  end)

  it("a Module subclass in Lua trains (its loss falls) with SGD", function()
    torch.manual_seed(3)
    local Affine = nn.Module:extend({
      __init = function(self)
        self.a = nn.Parameter(torch.zeros(1))
        self.b = nn.Parameter(torch.zeros(1))
      end,
      forward = function(self, x) return x * self.a + self.b end,
    })
    local m = Affine()
    local opt = torch.optim.SGD(m:parameters(), { lr = 0.1, momentum = 0.9 })
    local x = torch.linspace(-1, 1, 64)
    local y = x * 2 + 1
    for _ = 1, 200 do
      local loss = F.mse_loss(m(x), y)
      opt:zero_grad()
      loss:backward()
      opt:step()
    end
    near(m.a:item(), 2, 1e-3)
    near(m.b:item(), 1, 1e-3)
  end)

  it("init: orthogonal_ (with gain), constant_, zeros_, uniform_, normal_, xavier_uniform_", function()
    torch.manual_seed(4)
    local w = nn.Linear(8, 5).weight
    assert.are.equal(w, nn.init.orthogonal_(w, math.sqrt(2)))
    local wwt = w:matmul(w:t()):totable() -- 5 x 8 with orthonormal rows, times gain: W W^T = 2 I
    for i = 1, 5 do
      for j = 1, 5 do near(wwt[i][j], i == j and 2 or 0, 1e-5) end
    end
    local tall = nn.init.orthogonal_(torch.empty(6, 3))
    local wtw = tall:t():matmul(tall):totable()
    for i = 1, 3 do
      for j = 1, 3 do near(wtw[i][j], i == j and 1 or 0, 1e-5) end
    end
    assert.is_true(w:requires_grad(), "still a parameter")
    local b = nn.Linear(3, 2).bias
    nn.init.constant_(b, 0.25)
    assert.are.same({ 0.25, 0.25 }, b:totable())
    nn.init.zeros_(b)
    assert.are.same({ 0, 0 }, b:totable())
    local u = nn.init.uniform_(torch.empty(1000), -0.1, 0.1)
    assert.is_true(u:min():item() >= -0.1 and u:max():item() <= 0.1 and u:std():item() > 0.05)
    local n = nn.init.normal_(torch.empty(20000), 3, 0.5)
    near(n:mean():item(), 3, 0.01)
    near(n:std():item(), 0.5, 0.03)
    local x = nn.init.xavier_uniform_(torch.empty(30, 20))
    assert.is_true(x:abs():max():item() <= math.sqrt(6 / 50))
    near(nn.init.calculate_gain("tanh"), 5 / 3)
    h.expect_error("TorchError", nn.init.orthogonal_, torch.empty(3))
  end)
end)

describe("rayl.torch.nn.functional and utils", function()
  it("mse_loss, smooth_l1_loss and cross_entropy (class indices; mean, sum, none) match their formulas", function()
    local a, b = { 1, -2, 3.5, 0 }, { 0.5, -2, 1, 2 }
    local x, y = torch.tensor(a), torch.tensor(b)
    local sq, sl1 = {}, {}
    for i = 1, 4 do
      local d = a[i] - b[i]
      sq[i] = d * d
      sl1[i] = math.abs(d) < 1 and 0.5 * d * d or math.abs(d) - 0.5
    end
    local function sum(t) local s = 0 for _, v in ipairs(t) do s = s + v end return s end
    near(F.mse_loss(x, y):item(), sum(sq) / 4)
    near(F.mse_loss(x, y, { reduction = "sum" }):item(), sum(sq))
    near(F.mse_loss(x, y, "none"):totable(), sq)
    near(F.smooth_l1_loss(x, y):item(), sum(sl1) / 4)
    -- beta = 2: 0.5 d^2 / beta below beta, |d| - beta / 2 above.
    local sl2 = {}
    for i = 1, 4 do
      local d = math.abs(a[i] - b[i])
      sl2[i] = d < 2 and 0.5 * d * d / 2 or d - 1
    end
    near(F.smooth_l1_loss(x, y, { beta = 2, reduction = "none" }):totable(), sl2)
    local logits = { { 1, 2, 0.5 }, { -1, 0, 3 } }
    local target = { 1, 0 } -- 0-based class indices
    local ce = {}
    for i = 1, 2 do
      local z = 0
      for _, v in ipairs(logits[i]) do z = z + math.exp(v) end
      ce[i] = math.log(z) - logits[i][target[i] + 1]
    end
    local L, T = torch.tensor(logits), torch.tensor(target, "int64")
    near(F.cross_entropy(L, T):item(), (ce[1] + ce[2]) / 2)
    near(F.cross_entropy(L, T, { reduction = "sum" }):item(), ce[1] + ce[2])
    near(F.cross_entropy(L, T, "none"):totable(), ce)
    near(F.cross_entropy(L, torch.tensor(target, "int32"), "none"):totable(), ce)
    h.expect_error("ValueError", F.mse_loss, x, y, "average")
    h.expect_error("ValueError", F.mse_loss, x, 3)
    h.expect_error("TorchError", F.cross_entropy, L, torch.tensor({ 5, 0 }, "int64"))
  end)

  it("clip_grad_norm returns the total norm and scales gradients down to max_norm (never up)", function()
    local p1 = nn.Parameter(torch.zeros(2))
    local p2 = nn.Parameter(torch.zeros(1))
    p1:set_grad(torch.tensor({ 3, 0 }))
    p2:set_grad(torch.tensor({ 4 }))
    local total = torch.nn.utils.clip_grad_norm({ p1, p2 }, 1)
    near(total:item(), 5)
    local s = 1 / (5 + 1e-6)
    near(p1:grad():totable(), { 3 * s, 0 })
    near(p2:grad():totable(), { 4 * s })
    near(torch.nn.utils.clip_grad_norm({ p1, p2 }, 10):item(), 1, 1e-5)
    near(p2:grad():totable(), { 4 * s }, 1e-6)
    -- The module's parameters after a backward.
    local net = nn.Linear(3, 1)
    net(torch.ones(2, 3)):sum():backward()
    local norm = torch.nn.utils.clip_grad_norm(net:parameters(), 0.5):item()
    near(norm, math.sqrt(3 * 4 + 4)) -- d/dW = 2 per weight (two rows), d/db = 2
    near(torch.stack({ net.weight:grad():norm(), net.bias:grad():norm() }):norm():item(), 0.5, 1e-5)
  end)
end)

describe("rayl.torch.optim", function()
  -- Two parameters with fixed gradients for a few steps; returns the parameters' values
  -- after each step.
  local function run(make, grads, steps)
    local p = nn.Parameter(torch.tensor({ 1.0, -2.0, 0.5 }, "float64"))
    local opt = make({ p })
    local out = {}
    for s = 1, steps do
      opt:zero_grad()
      p:set_grad(torch.tensor(grads[s], "float64"))
      opt:step()
      out[s] = p:totable()
    end
    return out, opt, p
  end

  local grads = { { 0.1, -0.3, 2.0 }, { -0.2, 0.4, 1.0 }, { 0.3, 0.0, -1.0 } }

  it("SGD with momentum, dampening, weight decay and nesterov follows PyTorch's update rule", function()
    for _, o in ipairs({ { lr = 0.1, momentum = 0.9 }, { lr = 0.05, momentum = 0.5, dampening = 0.1, weight_decay = 0.01 },
                         { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.1 }, { lr = 0.2 } }) do
      local got = run(function(ps) return torch.optim.SGD(ps, o) end, grads, 3)
      local p, buf = { 1.0, -2.0, 0.5 }, nil
      for s = 1, 3 do
        local d = {}
        for i = 1, 3 do d[i] = grads[s][i] + (o.weight_decay or 0) * p[i] end
        if (o.momentum or 0) ~= 0 then
          if not buf then
            buf = { d[1], d[2], d[3] }
          else
            for i = 1, 3 do buf[i] = o.momentum * buf[i] + (1 - (o.dampening or 0)) * d[i] end
          end
          for i = 1, 3 do d[i] = o.nesterov and d[i] + o.momentum * buf[i] or buf[i] end
        end
        for i = 1, 3 do p[i] = p[i] - o.lr * d[i] end
        near(got[s], p, 1e-12, ("SGD %s step %d"):format(tostring(o.momentum), s))
      end
    end
  end)

  it("Adam (and AdamW) follow PyTorch's update rule: moments, bias correction, eps, weight decay", function()
    for _, o in ipairs({ { lr = 0.1 }, { lr = 0.01, betas = { 0.8, 0.99 }, eps = 1e-3, weight_decay = 0.1 },
                         { lr = 0.05, weight_decay = 0.1, adamw = true }, { lr = 0.1, amsgrad = true } }) do
      local got, opt = run(function(ps)
        if o.adamw then return torch.optim.AdamW(ps, { lr = o.lr, weight_decay = o.weight_decay }) end
        return torch.optim.Adam(ps, { lr = o.lr, betas = o.betas, eps = o.eps, weight_decay = o.weight_decay,
                                      amsgrad = o.amsgrad })
      end, grads, 3)
      local b1, b2 = (o.betas or { 0.9 })[1], (o.betas or { 0, 0.999 })[2]
      local eps, wd = o.eps or 1e-8, o.weight_decay or 0
      local p, m, v, vmax = { 1.0, -2.0, 0.5 }, { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 }
      for s = 1, 3 do
        for i = 1, 3 do
          local g = grads[s][i]
          if o.adamw then p[i] = p[i] * (1 - o.lr * wd) else g = g + wd * p[i] end
          m[i] = b1 * m[i] + (1 - b1) * g
          v[i] = b2 * v[i] + (1 - b2) * g * g
          vmax[i] = math.max(vmax[i], v[i])
          local vv = o.amsgrad and vmax[i] or v[i]
          local mhat, vhat = m[i] / (1 - b1 ^ s), math.sqrt(vv) / math.sqrt(1 - b2 ^ s)
          p[i] = p[i] - o.lr * mhat / (vhat + eps)
        end
        near(got[s], p, 1e-12, ("Adam lr %g step %d"):format(o.lr, s))
      end
      local st = opt.state[opt.param_groups[1].params[1]]
      assert.are.equal(3, st.step)
      near(st.exp_avg:totable(), m, 1e-12)
      near(st.exp_avg_sq:totable(), v, 1e-12)
    end
    -- A parameter without a gradient is left alone, and gets no state.
    local a, b = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    local opt = torch.optim.Adam({ a, b }, { lr = 0.5 })
    a:set_grad(torch.ones(2))
    opt:step()
    assert.are.same({ 1, 1 }, b:totable())
    assert.is_nil(opt.state[b])
    near(a:totable(), { 0.5, 0.5 }, 1e-6)
  end)

  it("the learning rate changes between steps through param_groups[1].lr and set_lr", function()
    local p = nn.Parameter(torch.zeros(1, "float64"))
    local opt = torch.optim.SGD({ p }, { lr = 1 })
    local function step()
      opt:zero_grad()
      p:set_grad(torch.ones(1, "float64"))
      opt:step()
      return p:item()
    end
    assert.are.equal(-1, step())
    opt.param_groups[1].lr = 0.5
    assert.are.equal(-1.5, step())
    opt:set_lr(0.25)
    assert.are.equal(0.25, opt:get_lr())
    assert.are.equal(-1.75, step())
    -- Groups with their own options; parameters without a gradient are left alone.
    local a, b = nn.Parameter(torch.zeros(1, "float64")), nn.Parameter(torch.zeros(1, "float64"))
    local o2 = torch.optim.SGD({ { params = { a } }, { params = { b }, lr = 0.1 } }, { lr = 1 })
    a:set_grad(torch.ones(1, "float64"))
    o2:step()
    assert.are.same({ -1 }, a:totable())
    assert.are.same({ 0 }, b:totable())
  end)

  it("zero_grad drops the gradients (or zeroes them); bad options are ValueErrors naming them", function()
    local net = nn.Linear(2, 1)
    local opt = torch.optim.Adam(net:parameters())
    net(torch.ones(1, 2)):sum():backward()
    opt:zero_grad(false)
    assert.are.same({ 0 }, net.bias:grad():totable())
    opt:zero_grad()
    assert.is_nil(net.bias:grad())
    local err = h.expect_error("ValueError", torch.optim.Adam, net:parameters(), { lr = -1 })
    assert.truthy(err.message:find("lr must be a number >= 0, not -1", 1, true))
    err = h.expect_error("ValueError", torch.optim.SGD, net:parameters(), { lr = 0.1, momentun = 0.9 })
    assert.truthy(err.message:find("unknown option 'momentun'", 1, true))
    h.expect_error("ValueError", torch.optim.Adam, net:parameters(), { betas = { 0.9, 1 } })
    h.expect_error("ValueError", torch.optim.SGD, net:parameters(), { nesterov = true })
    h.expect_error("ValueError", torch.optim.SGD, {})
    h.expect_error("ValueError", torch.optim.SGD, { 1, 2 })
  end)

  it("regression: Sequential(Linear(1,32), Tanh, Linear(32,1)) with Adam lr 1e-2 fits sin(3x) to loss < 1e-3 "
    .. "within 500 steps", function()
    torch.manual_seed(10)
    local net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    local opt = torch.optim.Adam(net:parameters(), { lr = 1e-2 })
    local x = torch.linspace(-1, 1, 256):reshape({ 256, 1 })
    local y = x:mul(3):sin()
    local first, loss
    for step = 1, 500 do
      loss = F.mse_loss(net(x), y)
      opt:zero_grad()
      loss:backward()
      opt:step()
      if loss:item() < 1e-3 then
        first = step
        break
      end
    end
    assert(first, "loss after 500 steps: " .. loss:item())
  end)
end)

describe("rayl.torch.distributions", function()
  it("Categorical{logits} and {probs}: probs, log_prob, entropy and mode match the formulas", function()
    local rows = { { 1, 2, 0.5 }, { 0, 0, 0 } }
    local d = torch.distributions.Categorical { logits = torch.tensor(rows) }
    local probs, logp, ent = {}, {}, {}
    for i, r in ipairs(rows) do
      local z = 0
      for _, v in ipairs(r) do z = z + math.exp(v) end
      probs[i], logp[i], ent[i] = {}, {}, 0
      for j, v in ipairs(r) do
        probs[i][j] = math.exp(v) / z
        logp[i][j] = v - math.log(z)
        ent[i] = ent[i] - probs[i][j] * logp[i][j]
      end
    end
    near(d.probs:totable(), probs)
    near(d.logits:totable(), logp)
    assert.are.same({ 2 }, d.batch_shape)
    assert.are.equal(3, d.num_events)
    near(d:log_prob(torch.tensor({ 1, 2 }, "int64")):totable(), { logp[1][2], logp[2][3] })
    near(d:log_prob({ 0, 0 }):totable(), { logp[1][1], logp[2][1] })
    -- log_prob broadcasts over samples of shape sample_shape .. batch_shape.
    near(d:log_prob(torch.tensor({ { 0, 1 }, { 2, 2 } }, "int64")):totable(),
      { { logp[1][1], logp[2][2] }, { logp[1][3], logp[2][3] } })
    near(d:entropy():totable(), ent)
    assert.are.same({ 1, 0 }, d:mode():totable())
    -- probs are normalized; a zero probability has entropy 0 for its part.
    local dp = torch.distributions.Categorical { probs = torch.tensor({ 2, 2, 0 }) }
    near(dp.probs:totable(), { 0.5, 0.5, 0 })
    near(dp:entropy():item(), math.log(2), 1e-5)
    near(dp:log_prob(1):item(), math.log(0.5))
    h.expect_error("ValueError", torch.distributions.Categorical, { logits = torch.zeros(2), probs = torch.ones(2) })
    h.expect_error("ValueError", torch.distributions.Categorical, torch.zeros(2))
  end)

  it("Categorical samples are int64 of shape sample_shape .. batch_shape with frequencies near probs", function()
    torch.manual_seed(5)
    local d = torch.distributions.Categorical { probs = torch.tensor({ { 0.2, 0.5, 0.3 }, { 1, 0, 0 } }) }
    assert.are.same({ 2 }, d:sample():shape())
    assert.are.equal("int64", d:sample():dtype())
    local s = d:sample({ 20000 })
    assert.are.same({ 20000, 2 }, s:shape())
    local col = s:select(1, 0)
    for k, p in ipairs({ 0.2, 0.5, 0.3 }) do
      near(col:eq(k - 1):float():mean():item(), p, 0.02, "frequency of class " .. (k - 1))
    end
    assert.is_true(s:select(1, 1):eq(0):all():item(), "a class of probability 1 always")
  end)

  it("Normal{loc, scale}: log_prob, entropy, mean, stddev match the formulas; samples and rsample", function()
    local loc, scale = { 0, 1.5, -2 }, { 1, 0.5, 2 }
    local d = torch.distributions.Normal { loc = torch.tensor(loc), scale = torch.tensor(scale) }
    local x = { 0.3, 1, 1 }
    local lp, ent = {}, {}
    for i = 1, 3 do
      lp[i] = -(x[i] - loc[i]) ^ 2 / (2 * scale[i] ^ 2) - math.log(scale[i]) - 0.5 * math.log(2 * math.pi)
      ent[i] = 0.5 + 0.5 * math.log(2 * math.pi) + math.log(scale[i])
    end
    near(d:log_prob(torch.tensor(x)):totable(), lp)
    near(d:entropy():totable(), ent)
    near(d.mean:totable(), loc)
    near(d.stddev:totable(), scale)
    near(d.variance:totable(), { 1, 0.25, 4 })
    -- Numbers broadcast against tensors.
    local b = torch.distributions.Normal { loc = 1, scale = torch.tensor({ 1, 2 }) }
    assert.are.same({ 2 }, b.batch_shape)
    near(b.mean:totable(), { 1, 1 })
    torch.manual_seed(6)
    local s = d:sample({ 20000 })
    assert.are.same({ 20000, 3 }, s:shape())
    assert.is_false(s:requires_grad())
    near(s:mean(0):totable(), loc, 0.05)
    near(s:std(0):totable(), scale, 0.05)
    -- rsample: gradients reach loc and scale (d(x)/d(loc) = 1 per draw).
    local mu = nn.Parameter(torch.zeros(1))
    local r = torch.distributions.Normal { loc = mu, scale = 1 }:rsample({ 4 })
    r:sum():backward()
    assert.are.same({ 4 }, mu:grad():totable())
    h.expect_error("ValueError", torch.distributions.Normal, { loc = 0, scale = torch.tensor({ 1, 0 }) })
    h.expect_error("ValueError", torch.distributions.Normal, { loc = 0 })
  end)

  it("kl_divergence of two Normals and of two Categoricals matches the formulas", function()
    local p = torch.distributions.Normal { loc = 0.5, scale = 2 }
    local q = torch.distributions.Normal { loc = -1, scale = 1 }
    near(torch.distributions.kl_divergence(p, q):item(), math.log(1 / 2) + (4 + 1.5 ^ 2) / 2 - 0.5, 1e-5)
    local a = torch.distributions.Categorical { probs = torch.tensor({ 0.25, 0.75, 0 }) }
    local c = torch.distributions.Categorical { probs = torch.tensor({ 0.5, 0.25, 0.25 }) }
    near(torch.distributions.kl_divergence(a, c):item(), 0.25 * math.log(0.5) + 0.75 * math.log(3), 1e-5)
  end)
end)

describe("rayl.torch state_dict, save and load", function()
  it("state_dict maps names to tensors sharing the parameters; load_state_dict copies them back", function()
    torch.manual_seed(7)
    local a = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    local b = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    local sd = a:state_dict()
    local keys = {}
    for k in pairs(sd) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.are.same({ "0.bias", "0.weight", "2.bias", "2.weight" }, keys)
    assert.is_true(sd["0.weight"]:shares_memory(a:get(1).weight))
    assert.is_false(sd["0.weight"]:requires_grad())
    local x = torch.randn(5, 2)
    assert.is_false(a(x):equal(b(x)))
    local r = b:load_state_dict(sd)
    assert.are.same({}, r.missing_keys)
    assert.is_true(a(x):equal(b(x)))
    assert.is_true(b:get(1).weight:requires_grad(), "loading keeps them parameters")
  end)

  it("load_state_dict names missing and unexpected keys and shape mismatches, and copies nothing then", function()
    local net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    local before = net:get(1).weight:clone()
    local sd = net:state_dict()
    local bad = { ["0.weight"] = torch.zeros(3, 2), ["0.bias"] = sd["0.bias"], ["2.weight"] = torch.zeros(1, 4),
                  ["9.bias"] = torch.zeros(1) }
    local err = h.expect_error("ValueError", net.load_state_dict, net, bad)
    assert.truthy(err.message:find('Missing key(s) in state_dict: "2.bias".', 1, true), err.message)
    assert.truthy(err.message:find('Unexpected key(s) in state_dict: "9.bias".', 1, true), err.message)
    assert.truthy(err.message:find("size mismatch for 2.weight: copying a param with shape {1, 4} from checkpoint, "
      .. "the shape in current model is {1, 3}.", 1, true), err.message)
    assert.is_true(net:get(1).weight:equal(before), "nothing copied")
    -- strict = false: missing and unexpected keys are reported, the rest copied.
    local r = net:load_state_dict({ ["0.weight"] = torch.zeros(3, 2), extra = torch.ones(1) }, false)
    assert.are.same({ "0.bias", "2.weight", "2.bias" }, r.missing_keys)
    assert.are.same({ "extra" }, r.unexpected_keys)
    assert.are.same({ 0, 0 }, net:get(1).weight:totable()[1])
    h.expect_error("ValueError", net.load_state_dict, net, { ["0.weight"] = 1 }, false)
  end)

  it("torch.save and torch.load round-trip a state_dict through a file libtorch reads", function()
    torch.manual_seed(8)
    local net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    local path = os.tmpname()
    torch.save(net:state_dict(), path)
    local f = io.open(path, "rb")
    assert.are.equal("PK", f:read(2), "torch.save's zip format")
    f:close()
    local copy = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    copy:load_state_dict(torch.load(path))
    os.remove(path)
    local x = torch.randn(3, 1, 4, 4)
    assert.is_true(net(x):equal(copy(x)))
  end)
end)

describe("rayl.torch models across tasks", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("a model trained in one task, its state_dict returned, loaded in another task gives the same outputs", function()
    local function build()
      local nn_ = require("rayl.torch").nn
      return nn_.Sequential(nn_.Linear(1, 16), nn_.Tanh(), nn_.Linear(16, 1))
    end
    local train = rayl.remote(function(steps)
      local t = require "rayl.torch"
      t.manual_seed(11)
      local net = build()
      local opt = t.optim.Adam(net:parameters(), { lr = 1e-2 })
      local x = t.linspace(-1, 1, 64):reshape(64, 1)
      local y = x:mul(2):sin()
      local loss
      for _ = 1, steps do
        loss = t.nn.functional.mse_loss(net(x), y)
        opt:zero_grad()
        loss:backward()
        opt:step()
      end
      return net:state_dict(), net(x):detach(), loss:item()
    end)
    local predict = rayl.remote(function(sd, x)
      local net = build()
      net:load_state_dict(sd)
      return net(x):detach()
    end)
    local sd_ref, out_ref, loss_ref = train:options({ num_returns = 3 }):remote(200)
    local loss = rayl.get(loss_ref)
    assert.is_true(loss < 0.05, "trained: " .. loss)
    local x = torch.linspace(-1, 1, 64):reshape(64, 1)
    local there = rayl.get(predict:remote(sd_ref, x))
    assert.is_true(there:equal(rayl.get(out_ref)), "same outputs in another task")
    -- And here, from the state_dict got back.
    local here = build()
    here:load_state_dict(rayl.get(sd_ref))
    assert.is_true(here(x):equal(there))
  end)

  it("a libtorch error from a call LuaJIT compiled (a hot training loop) is a TorchError, not a crash", function()
    local hot = rayl.remote(function()
      local t = require "rayl.torch"
      local a, b, wrong = t.ones(2, 3), t.ones(3, 2), t.ones(2, 2)
      local function mm(x, y) return x:matmul(y) end
      for _ = 1, 5000 do mm(a, b) end -- compiled by now
      local failed, message = 0, nil
      for i = 1, 200 do
        local ok, err = pcall(mm, a, i % 2 == 0 and wrong or b)
        if not ok then failed, message = failed + 1, err.type .. ": " .. err.message end
      end
      return failed, message
    end)
    local got = rayl.get({ hot:options({ num_returns = 2 }):remote() })
    local failed, message = got[1], got[2]
    assert.are.equal(100, failed)
    assert.truthy(message:find("TorchError: mat1 and mat2 shapes cannot be multiplied", 1, true), message)
  end)
end)
