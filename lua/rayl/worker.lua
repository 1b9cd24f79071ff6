-- rayl.worker: how a worker process runs one task (called from the C worker loop).
local core = require "rayl.core"
local errors = require "rayl.errors"
require "rayl" -- registers the classes values may carry (errors, remote functions)

local worker = {}

--- worker.run(fn, name, ...) -> true, results... | false, error
function worker.run(fn, name, ...)
  return xpcall(fn, function(e)
    -- The user's frames only: not this wrapper, not xpcall's builtin frame.
    local lines = {}
    for line in debug.traceback("", 2):gmatch("[^\n]+") do
      if not line:find("[builtin#", 1, true) and not line:find("rayl/worker.lua", 1, true) then
        lines[#lines + 1] = line
      end
    end
    local tb = "\n" .. table.concat(lines, "\n")
    local ok, context = pcall(core.context)
    return errors.from_task(e, name, tb, ok and context or nil)
  end, ...)
end

return worker
