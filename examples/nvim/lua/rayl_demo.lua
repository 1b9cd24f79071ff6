-- rayl_demo.lua: a Neovim command that runs a parallel job on rayl workers while the
-- editor stays usable: tasks are submitted at once, a libuv timer calls rayl.poll()
-- every 20 ms, and the result is shown when the last task is done.
--
--   eval "$(tools/rayl path)"
--   nvim --cmd 'set rtp+=examples/nvim'     then   :RaylPi 16
local rayl = require "rayl"

local M = {}

local sample = rayl.remote(function(n, seed)
  math.randomseed(seed)
  local hits = 0
  for _ = 1, n do
    local x, y = math.random(), math.random()
    if x * x + y * y <= 1 then hits = hits + 1 end
  end
  return hits
end)

--- Estimates pi with `tasks` tasks of a million samples each. opts.quit: leave Neovim
--- once the result is shown (for scripts and tests).
function M.pi(tasks, opts)
  opts = opts or {}
  local n, done, hits, ticks = 1e6, 0, 0, 0
  local started = vim.loop.hrtime()
  local timer = vim.loop.new_timer()
  local function finish(message, level)
    timer:stop()
    timer:close()
    if opts.quit then
      io.stdout:write(message, "\n")
      vim.cmd("qa!")
    else
      vim.notify(message, level)
    end
  end
  for i = 1, tasks do
    sample:remote(n, i):on_ready(function(h, err)
      if err then return finish("RaylPi: a task failed: " .. tostring(err), vim.log.levels.ERROR) end
      hits, done = hits + h, done + 1
      if done == tasks then
        finish(("RaylPi: pi is about %.5f (%d tasks, %.0f samples, %.2f s; the editor ran %d times meanwhile)")
          :format(4 * hits / (tasks * n), tasks, tasks * n, (vim.loop.hrtime() - started) / 1e9, ticks))
      end
    end)
  end
  if not opts.quit then vim.notify(("RaylPi: %d tasks submitted"):format(tasks)) end
  -- rayl.poll() runs the callbacks of finished tasks and never blocks the editor.
  timer:start(20, 20, vim.schedule_wrap(function()
    ticks = ticks + 1
    rayl.poll()
  end))
end

return M
