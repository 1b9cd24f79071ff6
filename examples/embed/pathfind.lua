-- pathfind.lua: A* on a grid, run on rayl workers for examples/embed/game_loop.c.
local M = {}

-- A binary min-heap of cell indices ordered by f[cell].
local function push(heap, f, cell)
  local i = #heap + 1
  heap[i] = cell
  while i > 1 do
    local parent = math.floor(i / 2)
    if f[heap[parent]] <= f[cell] then break end
    heap[i], heap[parent] = heap[parent], cell
    i = parent
  end
end

local function pop(heap, f)
  local top, last = heap[1], heap[#heap]
  heap[#heap] = nil
  local n, i = #heap, 1
  if n == 0 then return top end
  heap[1] = last
  while true do
    local l, r, smallest = 2 * i, 2 * i + 1, i
    if l <= n and f[heap[l]] < f[heap[smallest]] then smallest = l end
    if r <= n and f[heap[r]] < f[heap[smallest]] then smallest = r end
    if smallest == i then break end
    heap[i], heap[smallest] = heap[smallest], heap[i]
    i = smallest
  end
  return top
end

--- M.astar(grid, w, h, sx, sy, gx, gy) -> { cell, ... } from start to goal (cells are
--- y * w + x), or false if the goal cannot be reached. grid: w * h bytes, 0 = free.
function M.astar(grid, w, h, sx, sy, gx, gy)
  local start, goal = sy * w + sx, gy * w + gx
  local function free(cell) return grid:byte(cell + 1) == 0 end
  if not free(start) or not free(goal) then return false end
  local g, f, came = { [start] = 0 }, {}, {}
  local closed = {}
  f[start] = math.abs(sx - gx) + math.abs(sy - gy)
  local heap = { start }
  while #heap > 0 do
    local cur = pop(heap, f)
    if cur == goal then
      local path, n = {}, 0
      while cur do
        n = n + 1
        path[n] = cur
        cur = came[cur]
      end
      for i = 1, math.floor(n / 2) do path[i], path[n + 1 - i] = path[n + 1 - i], path[i] end
      return path
    end
    if not closed[cur] then
      closed[cur] = true
      local cx, cy = cur % w, math.floor(cur / w)
      for k = 1, 4 do
        local nx = cx + (k == 1 and 1 or k == 2 and -1 or 0)
        local ny = cy + (k == 3 and 1 or k == 4 and -1 or 0)
        if nx >= 0 and nx < w and ny >= 0 and ny < h then
          local nb = ny * w + nx
          local cost = g[cur] + 1
          if free(nb) and not closed[nb] and (g[nb] == nil or cost < g[nb]) then
            g[nb], came[nb] = cost, cur
            f[nb] = cost + math.abs(nx - gx) + math.abs(ny - gy)
            push(heap, f, nb)
          end
        end
      end
    end
  end
  return false
end

return M
