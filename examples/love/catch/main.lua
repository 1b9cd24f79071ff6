-- main.lua: the Catch game in LÖVE, played by the policy train.lua trained headless: the
-- game logic is game.lua (the environment itself); each tick the policy picks the
-- paddle's move from the observation (rl.PPO's compute_action, in this process).
--
--   eval "$(build/bin/rayl path)" && love examples/love/catch
--
-- RAYL_DEMO_SECONDS=N quits after N seconds and prints a summary; RAYL_CATCH_CKPT=path
-- reads the policy from there instead of catch.ckpt here.
local dir = love.filesystem.getSource()
package.path = dir .. "/?.lua;" .. package.path
local rl = require "rayl.rl"
local Catch = require "game"

local CELL, TICK = 40, 1 / 20
local env, algo, obs
local score = { caught = 0, missed = 0, episodes = 0 }
local quit_after = tonumber(os.getenv("RAYL_DEMO_SECONDS"))
local started, acc = 0, 0

function love.load()
  Catch.register(dir)
  env = rl.make("Catch-v0")
  obs = env:reset { seed = os.time() }
  algo = rl.PPO { env = "Catch-v0", num_env_runners = 0, envs_per_runner = 1, rollout_length = 32 }
  local ok, err = pcall(algo.restore, algo, os.getenv("RAYL_CATCH_CKPT") or dir .. "/catch.ckpt")
  if not ok then error("no trained policy: run `build/bin/rayl examples/love/catch/train.lua` first (" .. tostring(err) .. ")") end
  started = love.timer.getTime()
end

function love.update(dt)
  acc = acc + dt
  while acc >= TICK do
    acc = acc - TICK
    local r, term, trunc
    obs, r, term, trunc = env:step(algo:compute_action(obs))
    if r > 0 then score.caught = score.caught + 1 elseif r < 0 then score.missed = score.missed + 1 end
    if term or trunc then
      score.episodes = score.episodes + 1
      obs = env:reset()
    end
  end
  if quit_after and love.timer.getTime() - started >= quit_after then love.event.quit() end
end

function love.draw()
  local g = env.unwrapped
  love.graphics.setColor(1, 0.5, 0.3)
  love.graphics.circle("fill", g.ball.x * CELL, g.ball.y * CELL, CELL / 4)
  love.graphics.setColor(0.3, 0.8, 1)
  love.graphics.rectangle("fill", (g.paddle - Catch.PADDLE / 2) * CELL, Catch.H * CELL - 8, Catch.PADDLE * CELL, 8)
  love.graphics.setColor(1, 1, 1)
  love.graphics.print(("caught %d  missed %d"):format(score.caught, score.missed), 8, 8)
end

function love.quit()
  print(("summary: caught=%d missed=%d episodes=%d"):format(score.caught, score.missed, score.episodes))
  io.stdout:flush()
end
