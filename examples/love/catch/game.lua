-- game.lua: the Catch game's logic, with no LÖVE in it, as a Gymnasium-style environment
-- (rl.Env): a ball falls from the top of a 10x12 field drifting sideways and bouncing off
-- the walls; the paddle at the bottom moves left, stays or moves right (actions 0, 1, 2).
-- A catch gives +1, a miss -1; an episode is 10 balls. The same table drives training
-- (headless, on rayl's env runners) and the LÖVE window (main.lua draws self.paddle,
-- self.ball).
local rl = require "rayl.rl"

local W, H, BALLS = 10, 12, 10
local PADDLE = 1.6 -- the paddle's width (field units)
local SPEED = 0.5   -- the paddle's and the ball's fall speed, per step

local Catch = rl.Env:extend("Catch")
Catch.W, Catch.H, Catch.PADDLE = W, H, PADDLE

function Catch:init()
  self.observation_space = rl.spaces.Box({ 0, 0, 0, -1 }, { 1, 1, 1, 1 }, { 4 })
  self.action_space = rl.spaces.Discrete(3)
  self.paddle, self.ball, self.balls = W / 2, { x = 0, y = 0, vx = 0 }, 0
end

function Catch:_drop()
  local g = self.np_random
  self.ball = { x = g:uniform(0.5, W - 0.5), y = 0, vx = g:uniform(-0.25, 0.25) }
  self.balls = self.balls + 1
end

function Catch:_obs()
  return { self.paddle / W, self.ball.x / W, self.ball.y / H, self.ball.vx * 4 }
end

function Catch:reset(opts)
  rl.Env.reset(self, opts)
  self.paddle, self.balls, self.caught = W / 2, 0, 0
  self:_drop()
  return self:_obs(), {}
end

function Catch:step(a)
  self.paddle = math.max(PADDLE / 2, math.min(W - PADDLE / 2, self.paddle + (a - 1) * SPEED))
  local b = self.ball
  b.x, b.y = b.x + b.vx, b.y + SPEED
  if b.x < 0 or b.x > W then b.vx, b.x = -b.vx, math.max(0, math.min(W, b.x)) end
  local reward = 0
  if b.y >= H then
    local hit = math.abs(b.x - self.paddle) <= PADDLE / 2 + 0.25
    reward = hit and 1 or -1
    if hit then self.caught = self.caught + 1 end
    if self.balls >= BALLS then return self:_obs(), reward, true, false, { caught = self.caught } end
    self:_drop()
  end
  return self:_obs(), reward, false, false, {}
end

--- Catch.register(dir): registers "Catch-v0" (dir: this folder, so runners find game.lua)
function Catch.register(dir)
  rl.register("Catch-v0", {
    entry = function(config)
      if not package.path:find(dir, 1, true) then package.path = dir .. "/?.lua;" .. package.path end
      return require("game")(config)
    end,
    max_episode_steps = 400,
  })
end

return Catch
