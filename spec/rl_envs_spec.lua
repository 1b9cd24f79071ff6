-- spec/rl_envs_spec.lua: rayl.rl's environments: the generator against NumPy's streams, the
-- classic-control envs against Gymnasium's equations, spaces, wrappers, seeding, make and the
-- registry, check_env, vector envs (autoreset order) and remote env runners surviving a kill.
local rl = require "rayl.rl"
local rayl = require "rayl"
local h = require "spec.helpers"

local ffi = require "ffi"
local f32buf = ffi.new("float[1]")
local function f32(x) f32buf[0] = x; return f32buf[0] end

local pi, sin, cos = math.pi, math.sin, math.cos

-- Asserts that two arrays of numbers agree within tol (relative to the larger size, and
-- absolute near zero).
local function near(expected, actual, tol, what)
  tol = tol or 1e-6
  assert.are.equal(#expected, #actual, (what or "") .. ": lengths differ")
  for i = 1, #expected do
    local e, a = expected[i], actual[i]
    local scale = math.max(1, math.abs(e))
    if not (math.abs(e - a) <= tol * scale) then
      error(("%s[%d]: expected %.10g, got %.10g"):format(what or "value", i, e, a), 2)
    end
  end
end

local function f32_all(t)
  local out = {}
  for i, v in ipairs(t) do out[i] = f32(v) end
  return out
end

------------------------------------------------------------------------------
-- Reference dynamics, written from Gymnasium's classic_control sources
-- (gymnasium/envs/classic_control/{cartpole,mountain_car,continuous_mountain_car,acrobot,pendulum}.py).
------------------------------------------------------------------------------

-- cartpole.py: Barto, Sutton & Anderson; euler with tau = 0.02, force 10, g 9.8,
-- cart 1.0, pole 0.1, half length 0.5; terminates when |x| > 2.4 or |theta| > 12 deg.
local function cartpole_ref(s, a)
  local x, xd, th, thd = s[1], s[2], s[3], s[4]
  local force = a == 1 and 10.0 or -10.0
  local total, pml = 1.1, 0.05
  local ct, st = cos(th), sin(th)
  local temp = (force + pml * thd ^ 2 * st) / total
  local thacc = (9.8 * st - ct * temp) / (0.5 * (4.0 / 3.0 - 0.1 * ct ^ 2 / total))
  local xacc = temp - pml * thacc * ct / total
  local n = { x + 0.02 * xd, xd + 0.02 * xacc, th + 0.02 * thd, thd + 0.02 * thacc }
  local lim = 12 * 2 * pi / 360
  return n, (n[1] < -2.4 or n[1] > 2.4 or n[3] < -lim or n[3] > lim)
end

-- mountain_car.py: v += (a - 1) * 0.001 - 0.0025 cos(3 p), clipped to 0.07; p += v, clipped
-- to [-1.2, 0.6]; v = 0 at the left wall; done at p >= 0.5; reward -1.
local function mountaincar_ref(s, a)
  local p, v = s[1], s[2]
  v = v + ((a - 1) * 0.001 + cos(3 * p) * (-0.0025))
  v = math.min(math.max(v, -0.07), 0.07)
  p = math.min(math.max(p + v, -1.2), 0.6)
  if p == -1.2 and v < 0 then v = 0 end
  return { p, v }, p >= 0.5 and v >= 0
end

-- continuous_mountain_car.py: force = clip(a, -1, 1); v += 0.0015 force - 0.0025 cos(3p);
-- goal 0.45; reward 100 at the goal minus 0.1 a^2 (a unclipped); state stored as float32.
local function mcc_ref(s, a)
  local p, v = s[1], s[2]
  local force = math.min(math.max(a, -1), 1)
  v = v + (force * 0.0015 - 0.0025 * cos(3 * p))
  v = math.min(math.max(v, -0.07), 0.07)
  p = math.min(math.max(p + v, -1.2), 0.6)
  if p == -1.2 and v < 0 then v = 0 end
  local done = p >= 0.45 and v >= 0
  return { f32(p), f32(v) }, done, (done and 100 or 0) - a * a * 0.1
end

-- acrobot.py: "book" dynamics (Sutton & Barto), masses 1, lengths 1, centres 0.5,
-- inertias 1, g 9.8, one rk4 step of dt 0.2, angles wrapped to [-pi, pi], velocities
-- bounded by 4 pi and 9 pi; done when -cos(t1) - cos(t1 + t2) > 1.
local function acrobot_dsdt(book, a, y)
  local t1, t2, d1v, d2v = y[1], y[2], y[3], y[4]
  local d1 = 0.25 + (1 + 0.25 + cos(t2)) + 2
  local d2 = (0.25 + 0.5 * cos(t2)) + 1
  local phi2 = 0.5 * 9.8 * cos(t1 + t2 - pi / 2)
  local phi1 = -0.5 * d2v ^ 2 * sin(t2) - 2 * 0.5 * d2v * d1v * sin(t2) + 1.5 * 9.8 * cos(t1 - pi / 2) + phi2
  local dd2
  if book then
    dd2 = (a + d2 / d1 * phi1 - 0.5 * d1v ^ 2 * sin(t2) - phi2) / (0.25 + 1 - d2 ^ 2 / d1)
  else
    dd2 = (a + d2 / d1 * phi1 - phi2) / (0.25 + 1 - d2 ^ 2 / d1)
  end
  return { d1v, d2v, -(d2 * dd2 + phi1) / d1, dd2 }
end

local function acrobot_ref(s, action, book)
  local a = ({ [0] = -1, [1] = 0, [2] = 1 })[action]
  local function add(y, k, c) return { y[1] + c * k[1], y[2] + c * k[2], y[3] + c * k[3], y[4] + c * k[4] } end
  local k1 = acrobot_dsdt(book, a, s)
  local k2 = acrobot_dsdt(book, a, add(s, k1, 0.1))
  local k3 = acrobot_dsdt(book, a, add(s, k2, 0.1))
  local k4 = acrobot_dsdt(book, a, add(s, k3, 0.2))
  local n = {}
  for i = 1, 4 do n[i] = s[i] + 0.2 / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) end
  for i = 1, 2 do
    while n[i] > pi do n[i] = n[i] - 2 * pi end
    while n[i] < -pi do n[i] = n[i] + 2 * pi end
  end
  n[3] = math.min(math.max(n[3], -4 * pi), 4 * pi)
  n[4] = math.min(math.max(n[4], -9 * pi), 9 * pi)
  local done = -cos(n[1]) - cos(n[2] + n[1]) > 1
  return n, done, { cos(n[1]), sin(n[1]), cos(n[2]), sin(n[2]), n[3], n[4] }
end

-- pendulum.py: g 10, m 1, l 1, dt 0.05, torque clipped to 2, speed to 8;
-- cost = norm(th)^2 + 0.1 thdot^2 + 0.001 u^2, norm(x) = ((x + pi) mod 2pi) - pi.
local function pendulum_ref(s, u)
  local th, thd = s[1], s[2]
  u = math.min(math.max(u, -2), 2)
  local norm = ((th + pi) % (2 * pi)) - pi
  local cost = norm ^ 2 + 0.1 * thd ^ 2 + 0.001 * u ^ 2
  local nthd = math.min(math.max(thd + (3 * 10 / 2 * sin(th) + 3 * u) * 0.05, -8), 8)
  return { th + nthd * 0.05, nthd }, -cost, { cos(th + nthd * 0.05), sin(th + nthd * 0.05), nthd }
end

describe("rl generator (NumPy's SeedSequence + PCG64)", function()
  it("gives NumPy's raw words, doubles and bounded integers for a seed", function()
    -- np.random.PCG64(0xdeadbeaf).random_raw(); np.random.default_rng(7).integers(...)
    local g = rl.rng.new(0xdeadbeaf)
    assert.are.equal("60d24054e17a0698", bit.tohex(g:next_uint64()))
    g = rl.rng.new(7)
    local bits = {}
    for i = 1, 10 do bits[i] = g:integers(2) end
    assert.are.same({ 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }, bits)
    assert.are.same({ 612176793, 1875941738, 1959843383 },
      { g:integers(2147483647), g:integers(2147483647), g:integers(2147483647) })
    assert.are.equal(821228418382, g:integers(1e12))
    assert.are.equal(0.7970694287520462, g:random())
  end)

  it("gives the initial CartPole state Gymnasium documents for seed 123", function()
    -- cartpole.py's docstring: env.reset(seed=123, options={"low": -0.1, "high": 0.1})
    -- -> array([ 0.03647037, -0.0892358 , -0.05592803, -0.06312564], dtype=float32)
    local env = rl.make("CartPole-v1")
    local obs = env:reset { seed = 123, options = { low = -0.1, high = 0.1 } }
    near({ 0.03647037, -0.0892358, -0.05592803, -0.06312564 }, obs, 2e-7, "obs")
    -- continuous_mountain_car.py's docstring: reset(seed=123, options low -0.7, high -0.5)
    local mcc = rl.make("MountainCarContinuous-v0")
    near({ -0.5635296, 0 }, (mcc:reset { seed = 123, options = { low = -0.7, high = -0.5 } }), 2e-7, "obs")
  end)

  it("repeats a stream from a saved state and takes hex-string seeds", function()
    local g = rl.rng.new(5)
    g:random()
    local saved = g:state()
    local a = { g:random(), g:integers(10) }
    g:set_state(saved)
    assert.are.same(a, { g:random(), g:integers(10) })
    local _, seed = rl.rng.new(nil)
    assert.truthy(seed:match("^0x%x+$"))
    assert.are.equal(rl.rng.new(seed):random(), rl.rng.new(seed):random())
    assert.has_error(function() rl.rng.new(-1) end, "seed must be a whole number in [0, 2^53), got -1")
  end)
end)

describe("rl classic control against Gymnasium's equations", function()
  it("CartPole: hand-derived first step from rest, pushed right", function()
    -- From (0, 0, 0, 0) with force +10: temp = 100/11, thetaacc = -600/41,
    -- xacc = 4400/451, so x_dot = 0.02 * 4400/451 = 88/451 and theta_dot = -12/41.
    local env = rl.make("CartPole-v1")
    env:reset { seed = 0 }
    env.state = { 0, 0, 0, 0 }
    local obs, reward, terminated, truncated, info = env:step(1)
    assert.are.same({ 0, f32(88 / 451), 0, f32(-12 / 41) }, obs)
    assert.are.same({ 1.0, false, false, {} }, { reward, terminated, truncated, info })
    near({ 0, 88 / 451, 0, -12 / 41 }, env.unwrapped.state, 1e-15, "state")
  end)

  it("CartPole: a fixed state and action sequence follow the euler dynamics, then terminate", function()
    local env = rl.make("CartPole-v1")
    env:reset { seed = 0 }
    local s = { 0.01, -0.2, 0.03, 0.4 }
    env.state = { s[1], s[2], s[3], s[4] }
    local actions = { 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }
    local ended = false
    for t, a in ipairs(actions) do
      local done
      s, done = cartpole_ref(s, a)
      local obs, reward, terminated, truncated = env:step(a)
      assert.are.same(f32_all(s), obs, "step " .. t)
      near(s, env.state, 1e-12, "state at step " .. t)
      assert.are.equal(done, terminated, "terminated at step " .. t)
      assert.are.equal(1.0, reward)
      assert.is_false(truncated)
      if done then ended = true break end
    end
    assert.is_true(ended, "the pole should fall within the pushes")
    -- Stepping past termination gives 0 (Gymnasium's steps_beyond_terminated).
    local _, reward, terminated = env:step(1)
    assert.are.same({ 0.0, true }, { reward, terminated })
  end)

  it("CartPole: termination at |x| > 2.4, sutton_barto_reward, truncation at 500 (v1) and 200 (v0)", function()
    local env = rl.make("CartPole-v1")
    env:reset { seed = 1 }
    env.state = { 2.39, 1.0, 0, 0 }
    local _, r, term = env:step(1)
    assert.are.same({ 1.0, true }, { r, term })
    local sb = rl.make("CartPole-v1", { sutton_barto_reward = true })
    sb:reset { seed = 1 }
    local _, r0 = sb:step(1)
    sb.state = { 2.39, 1.0, 0, 0 }
    local _, r1, t1 = sb:step(1)
    assert.are.same({ 0.0, -1.0, true }, { r0, r1, t1 })
    for id, limit in pairs({ ["CartPole-v1"] = 500, ["CartPole-v0"] = 200 }) do
      local e = rl.make(id)
      e:reset { seed = 2 }
      for t = 1, limit do
        e.state = { 0, 0, 0, 0 } -- keep it balanced
        local _, _, te, tr = e:step(t % 2)
        assert.is_false(te)
        assert.are.equal(t == limit, tr, ("%s truncated at step %d"):format(id, t))
      end
    end
  end)

  it("MountainCar: fixed state and actions, the left wall, the goal, truncation at 200", function()
    local env = rl.make("MountainCar-v0")
    env:reset { seed = 0 }
    local s = { -0.5, 0.0 }
    env.state = { s[1], s[2] }
    for t, a in ipairs({ 2, 2, 0, 1, 2, 0, 0, 0, 2, 1 }) do
      s = mountaincar_ref(s, a)
      local obs, r, te, tr = env:step(a)
      assert.are.same(f32_all(s), obs, "step " .. t)
      assert.are.same({ -1.0, false, false }, { r, te, tr })
    end
    env.state = { -1.19, -0.02 }
    local obs = env:step(0)
    assert.are.same({ f32(-1.2), 0 }, obs)
    env.state = { 0.49, 0.02 }
    local _, r, te = env:step(2)
    assert.are.same({ -1.0, true }, { r, te })
    env:reset { seed = 0 }
    for t = 1, 200 do
      env.state = { -0.5, 0 }
      local _, _, _, tr = env:step(1)
      assert.are.equal(t == 200, tr)
    end
  end)

  it("MountainCarContinuous: float32 state, clipped force, reward from the unclipped action", function()
    local env = rl.make("MountainCarContinuous-v0")
    env:reset { seed = 0 }
    local s = { -0.52, 0.001 }
    env.state = { s[1], s[2] }
    for t, a in ipairs({ 1.0, 0.5, -0.25, 2.0, -3.0, 0.75 }) do
      local done, reward
      s, done, reward = mcc_ref(s, a)
      local obs, r, te = env:step({ a })
      assert.are.same(s, obs, "step " .. t)
      assert.are.same(s, env.state)
      assert.are.equal(reward, r)
      assert.are.equal(done, te)
    end
    env.state = { 0.44, 0.02 }
    local _, r, te = env:step({ 2.0 })
    assert.are.same({ 100 - 0.4, true }, { r, te })
  end)

  it("Acrobot: rk4 book dynamics from a fixed state, nips on request, termination", function()
    local env = rl.make("Acrobot-v1")
    env:reset { seed = 0 }
    local s = { 0.1, -0.2, 0.3, -0.4 }
    env.state = { s[1], s[2], s[3], s[4] }
    for t, a in ipairs({ 2, 2, 0, 1, 2, 0, 2, 2, 2, 0, 0, 0, 2 }) do
      local done, obs_ref
      s, done, obs_ref = acrobot_ref(s, a, true)
      local obs, r, te = env:step(a)
      near(f32_all(obs_ref), obs, 1e-6, "obs at step " .. t)
      near(s, env.state, 1e-9, "state at step " .. t)
      assert.are.same({ done and 0.0 or -1.0, done }, { r, te })
    end
    local nips = rl.make("Acrobot-v1", { book_or_nips = "nips" })
    nips:reset { seed = 0 }
    nips.state = { 0.1, -0.2, 0.9, -0.4 }
    local book = rl.make("Acrobot-v1")
    book:reset { seed = 0 }
    book.state = { 0.1, -0.2, 0.9, -0.4 }
    local _, _, nips_obs = acrobot_ref({ 0.1, -0.2, 0.9, -0.4 }, 2, false)
    near(f32_all(nips_obs), (nips:step(2)), 1e-6, "nips obs")
    assert.are_not.same(nips.state, (function() book:step(2) return book.state end)())
    -- Hanging straight up: -cos(pi) - cos(2 pi) = 2 > 1.
    env.state = { pi, 0, 0, 0 }
    local _, r, te = env:step(1)
    assert.are.same({ 0.0, true }, { r, te })
  end)

  it("Pendulum: fixed state and torques, clipping of torque and speed, angle normalisation", function()
    local env = rl.make("Pendulum-v1")
    env:reset { seed = 0 }
    local s = { 3.0, -1.0 }
    env.state = { s[1], s[2] }
    for t, u in ipairs({ 0.5, -2.0, 1.25, 3.0, -0.75, 2.0, 0.0, -5.0 }) do
      local reward, obs_ref
      s, reward, obs_ref = pendulum_ref(s, u)
      local obs, r, te, tr = env:step({ u })
      near(f32_all(obs_ref), obs, 0, "obs at step " .. t)
      near({ reward }, { r }, 1e-12, "reward at step " .. t)
      assert.are.same({ false, false }, { te, tr })
    end
    env.state = { 0, 7.9 }
    env:step({ 2 })
    assert.are.equal(8, env.state[2])
    assert.are.equal(-pi + 0.5, rl.classic_control.angle_normalize(pi + 0.5))
  end)

  it("reset draws the initial states from Gymnasium's ranges; bad bounds are refused", function()
    local ranges = {
      ["CartPole-v1"] = { -0.05, 0.05, -0.05, 0.05, -0.05, 0.05, -0.05, 0.05 },
      ["MountainCar-v0"] = { -0.6, -0.4, 0, 0 },
      ["Acrobot-v1"] = { -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1 },
      ["Pendulum-v1"] = { -pi, pi, -1, 1 },
    }
    for id, r in pairs(ranges) do
      local env = rl.make(id)
      for seed = 1, 50 do
        env:reset { seed = seed }
        for i = 1, #r / 2 do
          local v = env.state[i]
          assert(v >= r[2 * i - 1] and v <= r[2 * i], ("%s state[%d] = %s out of range"):format(id, i, v))
        end
      end
    end
    local acro = rl.make("Acrobot-v1")
    acro:reset { seed = 3 }
    for i = 1, 4 do assert.are.equal(f32(acro.state[i]), acro.state[i]) end -- float32 as Gymnasium
    local cp = rl.make("CartPole-v1")
    assert.has_error(function() cp:reset { options = { low = 0.1, high = -0.1 } } end,
      "reset: lower bound (0.1) must be lower than higher bound (-0.1)")
    assert.has_error(function() rl.make("CartPole-v1"):step(0) end)
  end)

  it("observations stay in the observation space and actions out of the space are refused", function()
    for _, id in ipairs({ "CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Acrobot-v1", "Pendulum-v1" }) do
      local env = rl.make(id)
      local obs = env:reset { seed = 4 }
      env.action_space:seed(4)
      assert.is_true(env.observation_space:contains(obs), id)
      for _ = 1, 100 do
        local o, _, te, tr = env:step(env.action_space:sample())
        assert.is_true(env.observation_space:contains(o), id)
        if te or tr then env:reset() end
      end
    end
    local cp = rl.make("CartPole-v1")
    cp:reset { seed = 0 }
    local ok, err = pcall(cp.step, cp, 2)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("CartPole's action is 0", 1, true), tostring(err))
  end)
end)

describe("rl spaces", function()
  local spaces = rl.spaces

  it("Box: bounds cast to the dtype, contains, sample within bounds, equality, tostring", function()
    local b = spaces.Box { low = { -1, -2 }, high = { 1, 0.07 }, shape = { 2 } }
    assert.are.equal("Box([-1.0 -2.0], [1.0 0.07], (2,), float32)", tostring(b))
    assert.are.equal(f32(0.07), b.high[2])
    assert.is_true(b:contains({ 0, 0.07 }))
    assert.is_false(b:contains({ 0, 0.0701 }))
    assert.is_false(b:contains({ 0 }))
    assert.is_false(b:contains({ 0, 0 / 0 }))
    assert.is_false(b:contains(3))
    b:seed(11)
    for _ = 1, 200 do assert.is_true(b:contains(b:sample())) end
    assert.is_true(spaces.Box(-1, 1, { 2 }) == spaces.Box({ -1, -1 }, { 1, 1 }))
    assert.is_false(spaces.Box(-1, 1, { 2 }) == spaces.Box(-1, 1, { 3 }))
    assert.is_false(spaces.Box(-1, 1, { 2 }) == spaces.Box(-1, 1, { 2 }, "float64"))
    local ints = spaces.Box(0, 3, { 50 }, "int64")
    ints:seed(1)
    local seen = {}
    for _, v in ipairs(ints:sample()) do
      assert.is_true(v == math.floor(v) and v >= 0 and v <= 3)
      seen[v] = true
    end
    assert.are.same({ [0] = true, true, true, true }, seen)
    local unbounded = spaces.Box(-math.huge, math.huge, { 3 }, "float64")
    unbounded:seed(2)
    assert.is_true(unbounded:contains(unbounded:sample()))
    assert.has_error(function() spaces.Box(1, 0, { 1 }) end, "Box: low[1] = 1.0 is above high[1] = 0.0")
    assert.has_error(function() spaces.Box(0, 1, { 2 }, "float16") end)
  end)

  it("Box: a seeded bounded sample is Gymnasium's (uniform over NumPy's stream, cast to float32)", function()
    local b = spaces.Box(-2, 2, { 3 })
    b:seed(123)
    local g = rl.rng.new(123)
    local want = {}
    for i = 1, 3 do want[i] = f32(-2 + 4 * g:random()) end
    assert.are.same(want, b:sample())
  end)

  it("Discrete and MultiDiscrete: start, contains, seeded samples, masks, tostring", function()
    local d = spaces.Discrete(3, -1)
    assert.are.equal("Discrete(3, start=-1)", tostring(d))
    assert.is_true(d:contains(-1) and d:contains(1))
    assert.is_false(d:contains(2) or d:contains(0.5) or d:contains("1"))
    local two = spaces.Discrete(2)
    two:seed(7) -- NumPy's default_rng(7).integers(2): 1 1 1 1 1 1 1 0 0 0
    local got = {}
    for i = 1, 10 do got[i] = two:sample() end
    assert.are.same({ 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }, got)
    for _ = 1, 20 do assert.are.equal(0, d:sample({ 0, 1, 0 })) end
    assert.are.equal(-1, d:sample({ 0, 0, 0 }))
    local md = spaces.MultiDiscrete({ 3, 2, 5 })
    assert.are.equal("MultiDiscrete([3 2 5])", tostring(md))
    md:seed(3)
    for _ = 1, 100 do assert.is_true(md:contains(md:sample())) end
    assert.is_false(md:contains({ 3, 0, 0 }))
    assert.is_true(md == spaces.MultiDiscrete({ 3, 2, 5 }))
    assert.is_false(d == spaces.Discrete(3))
  end)

  it("Tuple and Dict: nested samples, contains, seeding repeats, tostring", function()
    local t = spaces.Tuple { spaces.Discrete(4), spaces.Box(0, 1, { 2 }) }
    local dct = spaces.Dict { pos = spaces.Box(-1, 1, { 2 }), id = spaces.Discrete(10) }
    assert.are.equal("Tuple(Discrete(4), Box(0.0, 1.0, (2,), float32))", tostring(t))
    assert.are.equal("Dict('id': Discrete(10), 'pos': Box(-1.0, 1.0, (2,), float32))", tostring(dct))
    for _, s in ipairs({ t, dct }) do
      s:seed(9)
      local a = { s:sample(), s:sample() }
      s:seed(9)
      assert.are.same(a, { s:sample(), s:sample() })
      assert.is_true(s:contains(a[1]))
    end
    assert.is_false(t:contains({ 4, { 0, 0 } }))
    assert.is_false(dct:contains({ pos = { 0, 0 } }))
    assert.is_false(dct:contains({ pos = { 0, 0 }, id = 1, extra = 2 }))
  end)
end)

-- An env that counts its steps, ends after `length` steps (terminated) and records the
-- actions it gets; obs = { episode, step }.
local function counting_env(length)
  local Counter = rl.Env:extend("Counter")
  function Counter:init(config)
    self.length = config and config.length or length
    self.observation_space = rl.spaces.Box(0, 1000, { 2 })
    self.action_space = rl.spaces.Discrete(5)
    self.episode, self.t, self.actions = 0, 0, {}
  end
  function Counter:reset(opts)
    rl.Env.reset(self, opts)
    self.episode, self.t = self.episode + 1, 0
    return { self.episode, 0 }, { reset_of = self.episode }
  end
  function Counter:step(a)
    self.t = self.t + 1
    self.actions[#self.actions + 1] = a
    return { self.episode, self.t }, a * 1.0, self.t >= self.length, false, {}
  end
  return Counter
end

describe("rl wrappers", function()
  it("TimeLimit truncates at max_episode_steps and counts again after reset", function()
    local env = rl.wrappers.TimeLimit(counting_env(100).new(), 3)
    assert.has_error(function() env:step(0) end, "TimeLimit: call reset before step")
    env:reset()
    local tr = {}
    for i = 1, 3 do tr[i] = select(4, env:step(1)) end
    assert.are.same({ false, false, true }, tr)
    env:reset()
    assert.is_false(select(4, env:step(1)))
  end)

  it("RecordEpisodeStatistics puts return, length and time in info at the end", function()
    local env = rl.RecordEpisodeStatistics(counting_env(4).new(), { buffer_length = 2 })
    for _ = 1, 3 do
      env:reset()
      local info
      for _ = 1, 4 do info = select(5, env:step(2)) end
      assert.are.same({ 8.0, 4 }, { info.episode.r, info.episode.l })
      assert.is_true(info.episode.t >= 0)
    end
    assert.are.equal(3, env.episode_count)
    assert.are.same({ 8.0, 8.0 }, env.return_queue)
  end)

  -- The combined mean and variance of a prior (mean 0, var 1, weight 1e-4) and samples:
  -- what Gymnasium's RunningMeanStd holds after updating with them one by one.
  local function pooled(xs)
    local w, sum = 1e-4, 0
    for _, x in ipairs(xs) do sum = sum + x end
    local m = sum / (#xs + w)
    local m2 = w * 1 + w * m * m
    for _, x in ipairs(xs) do m2 = m2 + (x - m) ^ 2 end
    return m, m2 / (#xs + w)
  end

  it("NormalizeObservation scales by the running mean and variance (RunningMeanStd)", function()
    local env = rl.NormalizeObservation(counting_env(100).new())
    assert.are.equal("Box(-inf, inf, (2,), float32)", tostring(env.observation_space))
    local seen1, seen2 = {}, {}
    local obs = env:reset()
    seen1[1], seen2[1] = 1, 0
    local m, v = pooled(seen1)
    assert.are.equal(f32((1 - m) / math.sqrt(v + 1e-8)), obs[1])
    for t = 1, 5 do
      obs = env:step(0)
      seen1[#seen1 + 1], seen2[#seen2 + 1] = 1, t
      local m2, v2 = pooled(seen2)
      near({ (t - m2) / math.sqrt(v2 + 1e-8) }, { obs[2] }, 1e-6, "obs[2]")
    end
    env.update_running_mean = false
    local before = env.obs_rms.count
    env:step(0)
    assert.are.equal(before, env.obs_rms.count)
  end)

  it("NormalizeReward divides by the running std of the discounted return", function()
    local env = rl.NormalizeReward(counting_env(3).new(), { gamma = 0.5 })
    env:reset()
    local returns, d = {}, 0
    -- Gymnasium: discounted = discounted * gamma * (1 - terminated) + reward, with this
    -- step's terminated (so the terminating step starts over).
    for t = 1, 3 do
      local _, r, te = env:step(2)
      d = d * 0.5 * (te and 0 or 1) + 2
      returns[#returns + 1] = d
      local _, v = pooled(returns)
      near({ 2 / math.sqrt(v + 1e-8) }, { r }, 1e-9, "reward at step " .. t)
    end
    assert.are.same({ 2, 3, 2 }, returns)
    assert.has_error(function() rl.NormalizeReward(counting_env(3).new(), { gamma = 2 }) end)
  end)

  it("ClipAction clips to the Box; TransformReward maps rewards", function()
    local seen
    local Probe = rl.Env:extend("Probe")
    function Probe:init()
      self.observation_space = rl.spaces.Box(-1, 1, { 1 })
      self.action_space = rl.spaces.Box(-2, 2, { 2 })
    end
    function Probe:reset() return { 0 }, {} end
    function Probe:step(a) seen = a; return { 0 }, 1.5, false, false, {} end
    local env = rl.ClipAction(Probe.new())
    assert.are.equal("Box(-inf, inf, (2,), float32)", tostring(env.action_space))
    env:reset()
    env:step({ 5, -0.5 })
    assert.are.same({ 2, -0.5 }, seen)
    local tr = rl.TransformReward(Probe.new(), function(r) return 2 * r end)
    assert.are.equal(3.0, select(2, tr:step({ 0, 0 })))
    local ok, err = pcall(rl.ClipAction, rl.make("CartPole-v1"))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("ClipAction requires a Box action space, got Discrete(2)", 1, true), tostring(err))
  end)
end)

describe("rl seeding, make and the registry", function()
  it("the same seed and actions repeat a run; another seed does not", function()
    local function run(seed)
      local env = rl.make("Acrobot-v1")
      local trace = { env:reset { seed = seed } }
      env.action_space:seed(seed)
      for _ = 1, 30 do trace[#trace + 1] = { env:step(env.action_space:sample()) } end
      trace[#trace + 1] = env:reset() -- unseeded: continues the stream
      return trace
    end
    assert.are.same(run(5), run(5))
    assert.are_not.same(run(5), run(6))
    local env = rl.make("CartPole-v1")
    local a = env:reset { seed = 1 }
    assert.are_not.same(a, env:reset())
  end)

  it("register and make a user env: config, kwargs, max_episode_steps, spec", function()
    rl.register("Counter-v0", { entry = function(config) return counting_env(100).new(config) end,
      max_episode_steps = 5, kwargs = { length = 3 } })
    local env = rl.make("Counter-v0")
    assert.are.equal(3, env.unwrapped.length)
    assert.are.equal("Counter-v0", env.unwrapped.spec.id)
    assert.are.equal(7, rl.make("Counter-v0", { length = 7 }).unwrapped.length)
    local long = rl.make("Counter-v0", { length = 100, max_episode_steps = 2 })
    long:reset()
    assert.are.same({ false, true }, { (select(4, long:step(0))), (select(4, long:step(0))) })
    local raw = rl.make("Counter-v0", { max_episode_steps = false })
    assert.is_nil(rawget(raw, "env"))
    local ok, err = pcall(rl.make, "CartPole-v9")
    assert.is_false(ok)
    assert.are.equal("ValueError", err.type, tostring(err))
    assert.truthy(err.message:find("no environment registered as 'CartPole-v9'; did you mean CartPole-v0 or CartPole-v1?",
      1, true), tostring(err))
    ok, err = pcall(rl.register, "Bad-v0", { entry = 5 })
    assert.is_false(ok)
    assert.truthy(err:find("entry must be a function", 1, true), err)
  end)
end)

describe("rl.check_env", function()
  -- A small, correct env to break one piece at a time.
  local function good()
    local Env = rl.Env:extend("Good")
    function Env:init()
      self.observation_space = rl.spaces.Box(-1, 1, { 2 })
      self.action_space = rl.spaces.Discrete(2)
    end
    function Env:reset(opts)
      rl.Env.reset(self, opts)
      self.x = self.np_random:uniform(-0.5, 0.5)
      return { self.x, 0 }, {}
    end
    function Env:step(a)
      self.x = math.max(-1, math.min(1, self.x + (a == 1 and 0.1 or -0.1)))
      return { self.x, 0 }, 1.0, math.abs(self.x) >= 1, false, {}
    end
    return Env
  end

  local function problems(env)
    local ok, list = rl.check_env(env, { raise = false })
    assert.is_false(ok, "check_env found nothing wrong")
    return table.concat(list, "\n")
  end

  it("passes a correct env and every classic-control env", function()
    assert.is_true((rl.check_env(good().new())))
    for _, id in ipairs({ "CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Acrobot-v1", "Pendulum-v1" }) do
      assert.is_true((rl.check_env(rl.make(id))), id)
    end
  end)

  it("names what is wrong with a broken env", function()
    local E = good()
    local e = E.new(); e.observation_space = nil
    assert.truthy(problems(e):find("env.observation_space is missing", 1, true))
    e = E.new(); e.action_space = "Discrete(2)"
    assert.truthy(problems(e):find("env.action_space is a string, not an rl.spaces space", 1, true))
    e = E.new(); function e:reset(o) rl.Env.reset(self, o); self.x = 0; return { 0, 0 } end
    assert.truthy(problems(e):find("returned 1 value(s); it must return obs, info", 1, true))
    e = E.new(); function e:reset(o) rl.Env.reset(self, o); self.x = 0; return { 0, 0, 0 }, {} end
    assert.truthy(problems(e):find("outside observation_space Box(-1.0, 1.0, (2,), float32): expected 2 numbers (shape (2,)), got 3", 1, true))
    e = E.new(); function e:reset(o) self.x = math.random() - 0.5; return { self.x, 0 }, {} end
    assert.truthy(problems(e):find("is not deterministic", 1, true))
    e = E.new(); function e:step(a) return { 0, 0 }, 1.0, false, {} end
    assert.truthy(problems(e):find("returned 4 value(s); it must return obs, reward, terminated, truncated, info", 1, true))
    e = E.new(); function e:step(a) return { 0, 0 }, 1.0, 0, false, {} end
    assert.truthy(problems(e):find("returned terminated of type number (0); it must be true or false", 1, true))
    e = E.new(); function e:step(a) return { 0, 0 }, "1", false, false, {} end
    assert.truthy(problems(e):find("returned reward of type string", 1, true))
    e = E.new(); function e:step(a) return { 5, 0 }, 1, false, false, {} end
    assert.truthy(problems(e):find("element 1 = 5.0 is outside [-1.0, 1.0]", 1, true))
    local ok, err = pcall(rl.check_env, { reset = function() end })
    assert.is_false(ok)
    assert.truthy(err:find("check_env: 3 problem(s)", 1, true), err)
    assert.truthy(err:find("env has no step method", 1, true), err)
  end)
end)

describe("rl.vector in process", function()
  it("batches observations row by row, as the single envs seeded seed + i", function()
    local venv = rl.vector.make("CartPole-v1", 3, { seed = 10, torch = false })
    assert.are.same({ 3, 4 }, venv.obs_shape)
    assert.are.equal("MultiDiscrete([2 2 2])", tostring(venv.action_space))
    local obs = venv:reset()
    assert.are.equal("rayl.array(float32, 12)", tostring(obs))
    local singles = {}
    for i = 1, 3 do
      singles[i] = rl.make("CartPole-v1")
      local o = singles[i]:reset { seed = 10 + i - 1 }
      for j = 1, 4 do assert.are.equal(o[j], obs[(i - 1) * 4 + j]) end
    end
    local actions = rayl.array("int64", { 1, 0, 1 })
    local o, r, te, tr = venv:step(actions)
    for i = 1, 3 do
      local so, sr, ste, str = singles[i]:step(({ 1, 0, 1 })[i])
      for j = 1, 4 do assert.are.equal(so[j], o[(i - 1) * 4 + j]) end
      assert.are.same({ sr, ste, str }, { r[i], te[i], tr[i] })
    end
  end)

  it("next-step autoreset: the step after the end returns the reset obs, reward 0, and skips the action", function()
    rl.register("Counter3-v0", { entry = function(c) return counting_env(3).new(c) end })
    local venv = rl.vector.make("Counter3-v0", 2, { torch = false, wrappers = rl.RecordEpisodeStatistics })
    local obs, infos = venv:reset()
    assert.are.same({ 1, 0, 1, 0 }, obs:totable())
    assert.are.same({ 1, 1 }, infos.reset_of)
    local rows = {}
    for t = 1, 5 do
      local o, r, te, _, inf = venv:step({ 2, 4 })
      rows[t] = { o:totable(), r:totable(), te, inf }
    end
    assert.are.same({ { 1, 1, 1, 1 }, { 2, 4 }, { false, false } }, { rows[1][1], rows[1][2], rows[1][3] })
    assert.are.same({ { 1, 3, 1, 3 }, { 2, 4 }, { true, true } }, { rows[3][1], rows[3][2], rows[3][3] })
    assert.are.same({ 6.0, 12.0 }, rows[3][4].episode.r)
    assert.are.same({ true, true }, rows[3][4]._episode)
    -- step 4 is the autoreset: new episode's first obs, reward 0, not done, info of the reset
    assert.are.same({ { 2, 0, 2, 0 }, { 0, 0 }, { false, false } }, { rows[4][1], rows[4][2], rows[4][3] })
    assert.are.same({ 2, 2 }, rows[4][4].reset_of)
    assert.are.same({ { 2, 1, 2, 1 }, { 2, 4 } }, { rows[5][1], rows[5][2] })
    -- each env saw 4 actions, not 5: the autoreset step's action was not used
    assert.are.same({ 2, 2, 2, 2 }, venv.envs[1].unwrapped.actions)
  end)

  it("same-step autoreset: the reset obs comes at once, the final one in infos.final_obs", function()
    local venv = rl.vector.make("Counter3-v0", 1, { torch = false, autoreset_mode = "same_step" })
    venv:reset()
    venv:step({ 1 })
    venv:step({ 1 })
    local o, r, te, _, inf = venv:step({ 1 })
    assert.are.same({ { 2, 0 }, { 1 }, { true } }, { o:totable(), r:totable(), te })
    assert.are.same({ 1, 3 }, inf.final_obs[1])
    assert.are.same({ true }, inf._final_obs)
    assert.has_error(function() rl.vector.make("Counter3-v0", 1, { autoreset_mode = "later" }) end,
      "rl.vector: autoreset_mode must be 'next_step' or 'same_step', got 'later'")
  end)
end)

describe("rl.vector with rayl.torch", function()
  it("gives observations as tensors {num_envs, ...} and takes tensors of actions", function()
    local ok, torch = pcall(require, "rayl.torch")
    if not ok then return pending("rayl.torch is not in this tree (it comes with the torch-core branch)") end
    local avail, why = torch.available()
    if not avail then return pending("rayl.torch cannot load libtorch here: " .. tostring(why)) end
    local venv = rl.vector.make("CartPole-v1", 3, { seed = 0 })
    local plain = rl.vector.make("CartPole-v1", 3, { seed = 0, torch = false })
    local obs, arr = venv:reset(), plain:reset()
    assert.are.same({ 3, 4 }, obs:shape())
    assert.are.equal("float32", obs:dtype())
    local rows = obs:totable()
    for i = 1, 3 do for j = 1, 4 do assert.are.equal(arr[(i - 1) * 4 + j], rows[i][j]) end end
    local o2 = venv:step(torch.tensor({ 1, 0, 1 }, { dtype = "int64" }))
    local a2 = plain:step({ 1, 0, 1 })
    assert.are.same(a2:totable(), o2:reshape({ 12 }):totable())
    local pend = rl.vector.make("Pendulum-v1", 2, { seed = 0 })
    pend:reset()
    assert.are.same({ 2, 3 }, pend:step(torch.tensor({ { 0.5 }, { -1 } }, { dtype = "float32" })):shape())
  end)
end)

describe("rl.vector.remote", function()
  local ah = require "spec.actor_helpers"

  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("steps like the in-process vector env, one actor call per runner per batch step", function()
    local venv = rl.vector.remote("CartPole-v1", { num_runners = 2, envs_per_runner = 3, seed = 0, torch = false })
    local sync = rl.vector.make("CartPole-v1", 6, { seed = 0, torch = false })
    assert.are.same(sync:reset():totable(), venv:reset():totable())
    for t = 1, 40 do
      local a = {}
      for i = 1, 6 do a[i] = (t + i) % 2 end
      local o, r, te, tr = venv:step(a)
      local so, sr, ste, str = sync:step(a)
      assert.are.same({ so:totable(), sr:totable(), ste, str }, { o:totable(), r:totable(), te, tr })
    end
    for _, s in ipairs(venv:runner_stats()) do assert.are.equal(40, s.step_calls) end
    venv:close()
  end)

  it("a killed runner is restarted: its episodes end as truncated, the other runner's go on", function()
    rl.register("Counter50-v0", { entry = function(c) return counting_env(50).new(c) end })
    local venv = rl.vector.remote("Counter50-v0", { num_runners = 2, envs_per_runner = 2, seed = 0, torch = false })
    venv:reset()
    for _ = 1, 3 do venv:step({ 1, 1, 1, 1 }) end
    local pids = venv:runner_pids()
    ah.kill9(pids[2])
    local o, r, te, tr, inf = venv:step({ 1, 1, 1, 1 })
    -- runner 1's envs stepped on (episode 1, step 4); runner 2's were dropped and reset
    assert.are.same({ 1, 4, 1, 4, 1, 0, 1, 0 }, o:totable())
    assert.are.same({ false, false, true, true }, tr)
    assert.are.same({ false, false, false, false }, te)
    assert.are.same({ 1, 1, 0, 0 }, r:totable())
    assert.are.same({ false, false, true, true }, inf._runner_restarted)
    -- the next step is the autoreset step for the restarted runner
    o, r, te, tr = venv:step({ 1, 1, 1, 1 })
    assert.are.same({ 1, 5, 1, 5, 1, 0, 1, 0 }, o:totable())
    assert.are.same({ 1, 1, 0, 0 }, r:totable())
    o = venv:step({ 1, 1, 1, 1 })
    assert.are.same({ 1, 6, 1, 6, 1, 1, 1, 1 }, o:totable())
    local now = venv:runner_pids()
    assert.are.equal(pids[1], now[1])
    assert.are_not.equal(pids[2], now[2])
    venv:close()
  end)

  it("a runner killed with no restarts left fails the step at once, naming the runner", function()
    local venv = rl.vector.remote("CartPole-v1", { num_runners = 2, envs_per_runner = 1, seed = 0, max_restarts = 0 })
    venv:reset()
    ah.kill9(venv:runner_pids()[1])
    local t0 = h.now()
    local ok, err = pcall(venv.step, venv, { 1, 1 })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("env runner 1 of 'CartPole-v1' died and did not come back", 1, true), tostring(err))
    assert.truthy(tostring(err):find("signal 9", 1, true), tostring(err))
    assert.is_true(h.now() - t0 < 10)
    venv:close()
  end)

  it("refuses bad options and envs registered with a class table", function()
    assert.has_error(function() rl.vector.remote("CartPole-v1", { num_runner = 2 }) end)
    assert.has_error(function() rl.vector.remote("CartPole-v1", { num_runners = 0 }) end,
      "rl.vector.remote: num_runners must be a whole number >= 1, got 0")
    rl.register("Klass-v0", { entry = counting_env(3) })
    local ok, err = pcall(rl.vector.remote, "Klass-v0", { num_runners = 1 })
    assert.is_false(ok)
    assert.truthy(err:find("registered with a class table", 1, true), err)
  end)
end)
