-- gridworld_env.lua: a 6x6 grid world written in Lua as a Gymnasium-style environment
-- (rl.Env): the agent starts in a random cell of the left column and moves up, down,
-- left or right; reaching the goal (G) gives +1 and ends the episode, the pit (X) gives
-- -1 and ends it, each other step costs 0.02. Walls (#) block. Observation: the agent's
-- row and column scaled to [0, 1] and a one-hot of its cell.
local rl = require "rayl.rl"

local MAP = {
  "......",
  ".##...",
  "...#X.",
  ".#.#..",
  ".#...G",
  "......",
}
local H, W = #MAP, #MAP[1]
local MOVES = { { -1, 0 }, { 1, 0 }, { 0, -1 }, { 0, 1 } } -- up, down, left, right

local GridWorld = rl.Env:extend("GridWorld")

local function cell(r, c) return MAP[r]:sub(c, c) end

function GridWorld:init(config)
  self.step_cost = config and config.step_cost or 0.02
  local n = H * W
  local low, high = {}, {}
  for i = 1, n + 2 do low[i], high[i] = 0, 1 end
  self.observation_space = rl.spaces.Box(low, high, { n + 2 })
  self.action_space = rl.spaces.Discrete(4)
  self.row, self.col = 1, 1
end

function GridWorld:_obs()
  local o = { (self.row - 1) / (H - 1), (self.col - 1) / (W - 1) }
  for i = 1, H * W do o[i + 2] = 0 end
  o[2 + (self.row - 1) * W + self.col] = 1
  return o
end

function GridWorld:reset(opts)
  rl.Env.reset(self, opts) -- seeds self.np_random when opts.seed is given
  repeat self.row = self.np_random:integers(H) + 1 until cell(self.row, 1) == "."
  self.col = 1
  return self:_obs(), {}
end

function GridWorld:step(a)
  local m = MOVES[a + 1]
  local r, c = self.row + m[1], self.col + m[2]
  if r >= 1 and r <= H and c >= 1 and c <= W and cell(r, c) ~= "#" then self.row, self.col = r, c end
  local here = cell(self.row, self.col)
  if here == "G" then return self:_obs(), 1, true, false, {} end
  if here == "X" then return self:_obs(), -1, true, false, {} end
  return self:_obs(), -self.step_cost, false, false, {}
end

--- env:render() -> the map as text with the agent (A)
function GridWorld:render()
  local rows = {}
  for r = 1, H do
    local line = MAP[r]
    if r == self.row then line = line:sub(1, self.col - 1) .. "A" .. line:sub(self.col + 1) end
    rows[r] = line
  end
  return table.concat(rows, "\n")
end

-- The best mean return of a start from the left column (shortest paths to G).
local function best_return()
  local queue, head = { { 5, 6 } }, 1 -- from the goal (row 5, column 6)
  local dist = { [5 * 10 + 6] = 0 }
  while queue[head] do
    local r, c = queue[head][1], queue[head][2]
    head = head + 1
    for _, m in ipairs(MOVES) do
      local nr, nc = r + m[1], c + m[2]
      if nr >= 1 and nr <= H and nc >= 1 and nc <= W and cell(nr, nc) == "." and not dist[nr * 10 + nc] then
        dist[nr * 10 + nc] = dist[r * 10 + c] + 1
        queue[#queue + 1] = { nr, nc }
      end
    end
  end
  local sum, n = 0, 0
  for r = 1, H do
    if cell(r, 1) == "." then sum, n = sum + 1 - 0.02 * (dist[r * 10 + 1] - 1), n + 1 end
  end
  return sum / n
end

return { GridWorld = GridWorld, BEST = best_return() }
