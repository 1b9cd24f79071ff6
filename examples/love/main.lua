-- main.lua: a LÖVE game whose agents plan their paths on rayl workers. Each frame the
-- game asks for plans it lacks (rayl tasks), and rayl.poll() in love.update delivers
-- the plans that are ready; the frame loop never waits on a worker.
--
--   eval "$(tools/rayl path)" && love examples/love
--
-- RAYL_DEMO_SECONDS=N quits after N seconds and prints a summary (used by the tests).
local rayl = require "rayl"

local W, H, CELL = 32, 24, 20
local AGENTS = 12
local FRAME = 1 / 60

-- Breadth-first search on the grid (a string of '#' walls and '.' floor, row by row),
-- run on a worker: returns the cells from `from` to `to`, each as y * W + x.
local plan = rayl.remote(function(grid, w, h, from, to)
  local prev = { [from] = from }
  local queue, head = { from }, 1
  while queue[head] do
    local cell = queue[head]; head = head + 1
    if cell == to then break end
    local x, y = cell % w, math.floor(cell / w)
    for _, d in ipairs({ { 1, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 } }) do
      local nx, ny = x + d[1], y + d[2]
      local n = ny * w + nx
      if nx >= 0 and ny >= 0 and nx < w and ny < h and not prev[n] and grid:byte(n + 1) ~= 35 then
        prev[n] = cell
        queue[#queue + 1] = n
      end
    end
  end
  local path, cell = {}, to
  if not prev[to] then return path end
  while cell ~= from do table.insert(path, 1, cell); cell = prev[cell] end
  return path
end)

local grid, agents, target = nil, {}, 0
local stats = { frames = 0, plans = 0, frames_with_plans = 0, bad_steps = 0, frame_ms = {}, started = 0 }
local quit_after = tonumber(os.getenv("RAYL_DEMO_SECONDS"))
local next_frame, last_report = 0, 0

local function free_cell()
  while true do
    local c = love.math.random(0, W * H - 1)
    if grid:byte(c + 1) ~= 35 then return c end
  end
end

local function adjacent(a, b)
  local dx, dy = math.abs(a % W - b % W), math.abs(math.floor(a / W) - math.floor(b / W))
  return dx + dy == 1
end

function love.load()
  local cells = {}
  for i = 1, W * H do cells[i] = love.math.random() < 0.18 and "#" or "." end
  grid = table.concat(cells)
  target = free_cell()
  for i = 1, AGENTS do agents[i] = { at = free_cell(), path = {}, planning = false } end
  stats.started = love.timer.getTime()
  next_frame = stats.started
  last_report = stats.started
  print(("rayl demo: %d agents planning on %d CPUs of workers"):format(AGENTS, rayl.cluster_resources().CPU or 0))
end

local plans_this_frame = 0

local function ask_for_plans()
  for _, a in ipairs(agents) do
    if not a.planning and #a.path == 0 and a.at ~= target then
      a.planning = true
      plan:remote(grid, W, H, a.at, target):on_ready(function(path, err)
        a.planning = false
        if err then print("plan failed: " .. tostring(err)) return end
        a.path = path
        stats.plans = stats.plans + 1
        plans_this_frame = plans_this_frame + 1
      end)
    end
  end
end

local function percentile(list, p)
  local sorted = { unpack(list) }
  table.sort(sorted)
  return sorted[math.max(1, math.ceil(#sorted * p))] or 0
end

function love.update(dt)
  local frame_start = love.timer.getTime()
  plans_this_frame = 0
  rayl.poll()          -- runs on_ready callbacks of finished plans; never blocks
  ask_for_plans()
  if stats.frames % 6 == 0 then
    for _, a in ipairs(agents) do   -- one step along its plan, ten steps a second
      local step = table.remove(a.path, 1)
      if step then
        if not adjacent(a.at, step) or grid:byte(step + 1) == 35 then stats.bad_steps = stats.bad_steps + 1 end
        a.at = step
      end
    end
    if stats.frames % 180 == 0 then   -- the target moves every three seconds
      target = free_cell()
      for _, a in ipairs(agents) do a.path = {} end
    end
  end
  stats.frames = stats.frames + 1
  if plans_this_frame > 0 then stats.frames_with_plans = stats.frames_with_plans + 1 end
  stats.frame_ms[#stats.frame_ms + 1] = (love.timer.getTime() - frame_start) * 1000

  local now = love.timer.getTime()
  if now - last_report >= 1 then
    last_report = now
    print(("t=%.0fs frames=%d plans=%d update p50=%.2f ms p99=%.2f ms"):format(now - stats.started, stats.frames,
      stats.plans, percentile(stats.frame_ms, 0.5), percentile(stats.frame_ms, 0.99)))
  end
  if quit_after and now - stats.started >= quit_after then love.event.quit() end
  -- Hold the frame rate at 60 Hz even where vsync is not available (a virtual display).
  next_frame = next_frame + FRAME
  if next_frame > now then love.timer.sleep(next_frame - now) else next_frame = now end
end

function love.draw()
  for i = 0, W * H - 1 do
    if grid:byte(i + 1) == 35 then
      love.graphics.setColor(0.35, 0.35, 0.4)
      love.graphics.rectangle("fill", (i % W) * CELL, math.floor(i / W) * CELL, CELL, CELL)
    end
  end
  love.graphics.setColor(1, 0.8, 0.2)
  love.graphics.circle("fill", (target % W + 0.5) * CELL, (math.floor(target / W) + 0.5) * CELL, CELL / 2)
  for _, a in ipairs(agents) do
    love.graphics.setColor(a.planning and 0.5 or 0.3, 0.8, 1)
    love.graphics.circle("fill", (a.at % W + 0.5) * CELL, (math.floor(a.at / W) + 0.5) * CELL, CELL / 3)
  end
  love.graphics.setColor(1, 1, 1)
  love.graphics.print(("plans from workers: %d"):format(stats.plans), 8, H * CELL - 18)
end

function love.quit()
  print(("summary: frames=%d plans=%d frames_with_plans=%d bad_steps=%d update_p50_ms=%.2f update_p99_ms=%.2f")
    :format(stats.frames, stats.plans, stats.frames_with_plans, stats.bad_steps, percentile(stats.frame_ms, 0.5),
      percentile(stats.frame_ms, 0.99)))
  io.stdout:flush()
  rayl.shutdown()
end
