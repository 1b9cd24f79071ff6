-- rayl.rl.classic_control: CartPole, MountainCar, MountainCarContinuous, Acrobot and Pendulum
-- with Gymnasium's dynamics (gymnasium/envs/classic_control/*.py), written from its equations.
--
-- State is float64 as in Gymnasium (`env.state`, a table, readable and settable; a step
-- updates the table in place); observations are rounded to float32 as Gymnasium casts
-- them. Each step returns a new observation table and a new info table.
local env_mod = require "rayl.rl.env"
local spaces = require "rayl.rl.spaces"

local Env, Box, Discrete = env_mod.Env, spaces.Box, spaces.Discrete
local float32, reset_bounds = spaces.float32, env_mod.reset_bounds
local sin, cos, pi, huge = math.sin, math.cos, math.pi, math.huge
local fmod, min, max = math.fmod, math.min, math.max

local M = {}

local function need_state(self, level)
  local s = self.state
  if s == nil then error(("%s: call reset before step"):format(tostring(self)), level + 1) end
  return s
end

------------------------------------------------------------------------------
-- CartPole (Barto, Sutton & Anderson 1983; cartpole.py): euler integration, tau 0.02.
------------------------------------------------------------------------------

local CartPole = Env:extend("CartPoleEnv")
M.CartPole = CartPole

local GRAVITY, MASSCART, MASSPOLE, LENGTH, FORCE_MAG, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
local TOTAL_MASS = MASSPOLE + MASSCART
local POLEMASS_LENGTH = MASSPOLE * LENGTH
local THETA_THRESHOLD = 12 * 2 * pi / 360
local X_THRESHOLD = 2.4

--- CartPole{ sutton_barto_reward = false, kinematics_integrator = "euler" }
function CartPole:init(config)
  config = config or {}
  self.sutton_barto_reward = config.sutton_barto_reward and true or false
  self.kinematics_integrator = config.kinematics_integrator or "euler"
  if self.kinematics_integrator ~= "euler" and self.kinematics_integrator ~= "semi-implicit euler" then
    error("CartPole: kinematics_integrator must be 'euler' or 'semi-implicit euler'", 3)
  end
  self.gravity, self.masscart, self.masspole, self.length = GRAVITY, MASSCART, MASSPOLE, LENGTH
  self.force_mag, self.tau = FORCE_MAG, TAU
  self.theta_threshold_radians, self.x_threshold = THETA_THRESHOLD, X_THRESHOLD
  local high = { X_THRESHOLD * 2, huge, THETA_THRESHOLD * 2, huge }
  self.observation_space = Box({ -high[1], -high[2], -high[3], -high[4] }, high, { 4 }, "float32")
  self.action_space = Discrete(2)
  self.state = nil
  self.steps_beyond_terminated = nil
end

function CartPole:reset(opts)
  Env.reset(self, opts)
  local low, high = reset_bounds(opts and opts.options, -0.05, 0.05, 2)
  local g = self.np_random
  local s = {}
  for i = 1, 4 do s[i] = g:uniform(low, high) end
  self.state = s
  self.steps_beyond_terminated = nil
  return { float32(s[1]), float32(s[2]), float32(s[3]), float32(s[4]) }, {}
end

function CartPole:step(action)
  if action ~= 0 and action ~= 1 then
    error(("%s (%s) invalid: CartPole's action is 0 (push left) or 1 (push right)"):format(tostring(action), type(action)), 2)
  end
  local s = need_state(self, 2)
  local x, x_dot, theta, theta_dot = s[1], s[2], s[3], s[4]
  local force = action == 1 and FORCE_MAG or -FORCE_MAG
  local costheta, sintheta = cos(theta), sin(theta)
  local temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS
  local thetaacc = (GRAVITY * sintheta - costheta * temp)
    / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS))
  local xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
  if self.kinematics_integrator == "euler" then
    x = x + TAU * x_dot
    x_dot = x_dot + TAU * xacc
    theta = theta + TAU * theta_dot
    theta_dot = theta_dot + TAU * thetaacc
  else
    x_dot = x_dot + TAU * xacc
    x = x + TAU * x_dot
    theta_dot = theta_dot + TAU * thetaacc
    theta = theta + TAU * theta_dot
  end
  s[1], s[2], s[3], s[4] = x, x_dot, theta, theta_dot
  local terminated = x < -X_THRESHOLD or x > X_THRESHOLD or theta < -THETA_THRESHOLD or theta > THETA_THRESHOLD
  local reward
  if not terminated then
    reward = self.sutton_barto_reward and 0.0 or 1.0
  elseif self.steps_beyond_terminated == nil then
    self.steps_beyond_terminated = 0
    reward = self.sutton_barto_reward and -1.0 or 1.0
  else
    self.steps_beyond_terminated = self.steps_beyond_terminated + 1
    reward = self.sutton_barto_reward and -1.0 or 0.0
  end
  return { float32(x), float32(x_dot), float32(theta), float32(theta_dot) }, reward, terminated, false, {}
end

------------------------------------------------------------------------------
-- MountainCar (Moore 1990; mountain_car.py): discrete push left / none / right.
------------------------------------------------------------------------------

local MountainCar = Env:extend("MountainCarEnv")
M.MountainCar = MountainCar

local MIN_POSITION, MAX_POSITION, MAX_SPEED, GOAL_POSITION = -1.2, 0.6, 0.07, 0.5
local MC_FORCE, MC_GRAVITY = 0.001, 0.0025

--- MountainCar{ goal_velocity = 0 }
function MountainCar:init(config)
  config = config or {}
  self.min_position, self.max_position, self.max_speed = MIN_POSITION, MAX_POSITION, MAX_SPEED
  self.goal_position, self.goal_velocity = GOAL_POSITION, config.goal_velocity or 0
  self.force, self.gravity = MC_FORCE, MC_GRAVITY
  self.observation_space = Box({ MIN_POSITION, -MAX_SPEED }, { MAX_POSITION, MAX_SPEED }, { 2 }, "float32")
  self.action_space = Discrete(3)
  self.state = nil
end

function MountainCar:reset(opts)
  Env.reset(self, opts)
  local low, high = reset_bounds(opts and opts.options, -0.6, -0.4, 2)
  self.state = { self.np_random:uniform(low, high), 0 }
  return { float32(self.state[1]), 0 }, {}
end

function MountainCar:step(action)
  if action ~= 0 and action ~= 1 and action ~= 2 then
    error(("%s (%s) invalid: MountainCar's action is 0, 1 or 2"):format(tostring(action), type(action)), 2)
  end
  local s = need_state(self, 2)
  local position, velocity = s[1], s[2]
  velocity = velocity + ((action - 1) * MC_FORCE + cos(3 * position) * (-MC_GRAVITY))
  velocity = min(max(velocity, -MAX_SPEED), MAX_SPEED)
  position = position + velocity
  position = min(max(position, MIN_POSITION), MAX_POSITION)
  if position == MIN_POSITION and velocity < 0 then velocity = 0 end
  local terminated = position >= GOAL_POSITION and velocity >= self.goal_velocity
  s[1], s[2] = position, velocity
  return { float32(position), float32(velocity) }, -1.0, terminated, false, {}
end

------------------------------------------------------------------------------
-- MountainCarContinuous (continuous_mountain_car.py): force in [-1, 1] times 0.0015.
------------------------------------------------------------------------------

local MountainCarContinuous = Env:extend("Continuous_MountainCarEnv")
M.MountainCarContinuous = MountainCarContinuous

local MCC_GOAL, MCC_POWER = 0.45, 0.0015

--- MountainCarContinuous{ goal_velocity = 0 }
function MountainCarContinuous:init(config)
  config = config or {}
  self.min_action, self.max_action = -1.0, 1.0
  self.min_position, self.max_position, self.max_speed = MIN_POSITION, MAX_POSITION, MAX_SPEED
  self.goal_position, self.goal_velocity, self.power = MCC_GOAL, config.goal_velocity or 0, MCC_POWER
  self.observation_space = Box({ MIN_POSITION, -MAX_SPEED }, { MAX_POSITION, MAX_SPEED }, { 2 }, "float32")
  self.action_space = Box(-1.0, 1.0, { 1 }, "float32")
  self.state = nil
end

function MountainCarContinuous:reset(opts)
  Env.reset(self, opts)
  local low, high = reset_bounds(opts and opts.options, -0.6, -0.4, 2)
  self.state = { self.np_random:uniform(low, high), 0 }
  return { float32(self.state[1]), 0 }, {}
end

-- The action as a number: {a} (the Box's value) or a.
local function scalar_action(action, name, level)
  local a = action
  if type(a) == "table" then a = a[1] end
  if type(a) ~= "number" or a ~= a then
    error(("%s: the action must be a table {force} with a number, got %s"):format(name, tostring(action)), level + 1)
  end
  return a
end

-- The state is kept in float32 here, as Gymnasium stores it after each step; the
-- arithmetic is float64 (NumPy 2 would round some intermediates to float32).
function MountainCarContinuous:step(action)
  local a = scalar_action(action, "MountainCarContinuous", 2)
  local s = need_state(self, 2)
  local position, velocity = s[1], s[2]
  local force = min(max(a, -1.0), 1.0)
  velocity = velocity + (force * MCC_POWER - 0.0025 * cos(3 * position))
  if velocity > MAX_SPEED then velocity = MAX_SPEED end
  if velocity < -MAX_SPEED then velocity = -MAX_SPEED end
  position = position + velocity
  if position > MAX_POSITION then position = MAX_POSITION end
  if position < MIN_POSITION then position = MIN_POSITION end
  if position == MIN_POSITION and velocity < 0 then velocity = 0 end
  local terminated = position >= MCC_GOAL and velocity >= self.goal_velocity
  local reward = terminated and 100.0 or 0
  reward = reward - a * a * 0.1
  position, velocity = float32(position), float32(velocity)
  s[1], s[2] = position, velocity
  return { position, velocity }, reward, terminated, false, {}
end

------------------------------------------------------------------------------
-- Acrobot (Sutton 1996; acrobot.py): rk4 over dt = 0.2, "book" dynamics by default.
------------------------------------------------------------------------------

local Acrobot = Env:extend("AcrobotEnv")
M.Acrobot = Acrobot

local DT = 0.2
local L1, M1, M2, LC1, LC2, MOI = 1.0, 1.0, 1.0, 0.5, 0.5, 1.0
local MAX_VEL_1, MAX_VEL_2 = 4 * pi, 9 * pi
local AVAIL_TORQUE = { [0] = -1.0, [1] = 0.0, [2] = 1.0 }

--- Acrobot{ book_or_nips = "book", torque_noise_max = 0 }
function Acrobot:init(config)
  config = config or {}
  self.book_or_nips = config.book_or_nips or "book"
  if self.book_or_nips ~= "book" and self.book_or_nips ~= "nips" then
    error("Acrobot: book_or_nips must be 'book' or 'nips'", 3)
  end
  self.torque_noise_max = config.torque_noise_max or 0.0
  self.dt = DT
  local high = { 1.0, 1.0, 1.0, 1.0, MAX_VEL_1, MAX_VEL_2 }
  local low = {}
  for i = 1, 6 do low[i] = -high[i] end
  self.observation_space = Box(low, high, { 6 }, "float32")
  self.action_space = Discrete(3)
  self.state = nil
end

function Acrobot:reset(opts)
  Env.reset(self, opts)
  local low, high = reset_bounds(opts and opts.options, -0.1, 0.1, 2)
  local g, s = self.np_random, {}
  for i = 1, 4 do s[i] = float32(g:uniform(low, high)) end -- Gymnasium casts to float32
  self.state = s
  return self:_get_ob(), {}
end

function Acrobot:_get_ob()
  local s = self.state
  return { float32(cos(s[1])), float32(sin(s[1])), float32(cos(s[2])), float32(sin(s[2])), float32(s[3]), float32(s[4]) }
end

-- d/dt of (theta1, theta2, dtheta1, dtheta2) under torque a.
local function dsdt(book, a, theta1, theta2, dtheta1, dtheta2)
  local g = 9.8
  local d1 = M1 * LC1 ^ 2 + M2 * (L1 ^ 2 + LC2 ^ 2 + 2 * L1 * LC2 * cos(theta2)) + MOI + MOI
  local d2 = M2 * (LC2 ^ 2 + L1 * LC2 * cos(theta2)) + MOI
  local phi2 = M2 * LC2 * g * cos(theta1 + theta2 - pi / 2.0)
  local phi1 = -M2 * L1 * LC2 * dtheta2 ^ 2 * sin(theta2)
    - 2 * M2 * L1 * LC2 * dtheta2 * dtheta1 * sin(theta2)
    + (M1 * LC1 + M2 * L1) * g * cos(theta1 - pi / 2)
    + phi2
  local ddtheta2
  if book then
    ddtheta2 = (a + d2 / d1 * phi1 - M2 * L1 * LC2 * dtheta1 ^ 2 * sin(theta2) - phi2)
      / (M2 * LC2 ^ 2 + MOI - d2 ^ 2 / d1)
  else
    ddtheta2 = (a + d2 / d1 * phi1 - phi2) / (M2 * LC2 ^ 2 + MOI - d2 ^ 2 / d1)
  end
  local ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
  return dtheta1, dtheta2, ddtheta1, ddtheta2
end

local function wrap(x, m, mm)
  local diff = mm - m
  while x > mm do x = x - diff end
  while x < m do x = x + diff end
  return x
end

local function bound(x, m, mm) return min(max(x, m), mm) end

function Acrobot:step(action)
  local torque = AVAIL_TORQUE[action]
  if torque == nil then
    error(("%s (%s) invalid: Acrobot's action is 0, 1 or 2 (torque -1, 0, +1)"):format(tostring(action), type(action)), 2)
  end
  local s = need_state(self, 2)
  if self.torque_noise_max > 0 then
    torque = torque + self.np_random:uniform(-self.torque_noise_max, self.torque_noise_max)
  end
  local book = self.book_or_nips == "book"
  -- One classical Runge-Kutta step over [0, dt] (acrobot.py's rk4).
  local y1, y2, y3, y4 = s[1], s[2], s[3], s[4]
  local dt, dt2 = DT, DT / 2.0
  local a1, a2, a3, a4 = dsdt(book, torque, y1, y2, y3, y4)
  local b1, b2, b3, b4 = dsdt(book, torque, y1 + dt2 * a1, y2 + dt2 * a2, y3 + dt2 * a3, y4 + dt2 * a4)
  local c1, c2, c3, c4 = dsdt(book, torque, y1 + dt2 * b1, y2 + dt2 * b2, y3 + dt2 * b3, y4 + dt2 * b4)
  local d1, d2, d3, d4 = dsdt(book, torque, y1 + dt * c1, y2 + dt * c2, y3 + dt * c3, y4 + dt * c4)
  local k = dt / 6.0
  local n1 = y1 + k * (a1 + 2 * b1 + 2 * c1 + d1)
  local n2 = y2 + k * (a2 + 2 * b2 + 2 * c2 + d2)
  local n3 = y3 + k * (a3 + 2 * b3 + 2 * c3 + d3)
  local n4 = y4 + k * (a4 + 2 * b4 + 2 * c4 + d4)
  s[1] = wrap(n1, -pi, pi)
  s[2] = wrap(n2, -pi, pi)
  s[3] = bound(n3, -MAX_VEL_1, MAX_VEL_1)
  s[4] = bound(n4, -MAX_VEL_2, MAX_VEL_2)
  local terminated = -cos(s[1]) - cos(s[2] + s[1]) > 1.0
  return self:_get_ob(), terminated and 0.0 or -1.0, terminated, false, {}
end

------------------------------------------------------------------------------
-- Pendulum (pendulum.py): torque in [-2, 2], dt 0.05, never terminates.
------------------------------------------------------------------------------

local Pendulum = Env:extend("PendulumEnv")
M.Pendulum = Pendulum

local P_MAX_SPEED, P_MAX_TORQUE, P_DT = 8, 2.0, 0.05

--- Pendulum{ g = 10.0 }
function Pendulum:init(config)
  config = config or {}
  self.max_speed, self.max_torque, self.dt = P_MAX_SPEED, P_MAX_TORQUE, P_DT
  self.g, self.m, self.l = config.g or 10.0, 1.0, 1.0
  self.observation_space = Box({ -1.0, -1.0, -P_MAX_SPEED }, { 1.0, 1.0, P_MAX_SPEED }, { 3 }, "float32")
  self.action_space = Box(-P_MAX_TORQUE, P_MAX_TORQUE, { 1 }, "float32")
  self.state = nil
  self.last_u = nil
end

function Pendulum:reset(opts)
  Env.reset(self, opts)
  local options = opts and opts.options
  local x, y = pi, 1.0
  if options ~= nil then
    x, y = tonumber(options.x_init or pi), tonumber(options.y_init or 1.0)
    if x == nil or y == nil then error("Pendulum reset: options.x_init and options.y_init must be numbers", 2) end
  end
  local g = self.np_random
  self.state = { g:uniform(-x, x), g:uniform(-y, y) }
  self.last_u = nil
  return self:_get_obs(), {}
end

function Pendulum:_get_obs()
  local s = self.state
  return { float32(cos(s[1])), float32(sin(s[1])), float32(s[2]) }
end

-- ((x + pi) mod 2 pi) - pi, with NumPy's floored float remainder.
local function angle_normalize(x)
  local y, m = x + pi, 2 * pi
  local r = fmod(y, m)
  if r ~= 0 and r < 0 then r = r + m end
  return r - pi
end
M.angle_normalize = angle_normalize

function Pendulum:step(action)
  local u = scalar_action(action, "Pendulum", 2)
  local s = need_state(self, 2)
  local th, thdot = s[1], s[2]
  local g, m, l, dt = self.g, self.m, self.l, P_DT
  u = min(max(u, -P_MAX_TORQUE), P_MAX_TORQUE)
  self.last_u = u
  local costs = angle_normalize(th) ^ 2 + 0.1 * thdot ^ 2 + 0.001 * (u ^ 2)
  local newthdot = thdot + (3 * g / (2 * l) * sin(th) + 3.0 / (m * l ^ 2) * u) * dt
  newthdot = min(max(newthdot, -P_MAX_SPEED), P_MAX_SPEED)
  local newth = th + newthdot * dt
  s[1], s[2] = newth, newthdot
  return self:_get_obs(), -costs, false, false, {}
end

------------------------------------------------------------------------------
-- Registration, as gymnasium/envs/__init__.py.
------------------------------------------------------------------------------

function M.register_all(register)
  local function builtin(id, spec) register(id, spec).builtin = true end
  builtin("CartPole-v0", { entry = CartPole, max_episode_steps = 200, reward_threshold = 195.0 })
  builtin("CartPole-v1", { entry = CartPole, max_episode_steps = 500, reward_threshold = 475.0 })
  builtin("MountainCar-v0", { entry = MountainCar, max_episode_steps = 200, reward_threshold = -110.0 })
  builtin("MountainCarContinuous-v0", { entry = MountainCarContinuous, max_episode_steps = 999, reward_threshold = 90.0 })
  builtin("Pendulum-v1", { entry = Pendulum, max_episode_steps = 200 })
  builtin("Acrobot-v1", { entry = Acrobot, max_episode_steps = 500, reward_threshold = -100.0 })
end

return M
