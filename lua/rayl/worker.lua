-- rayl.worker: how a worker process runs one task (called from the C worker loop).
local core = require "rayl.core"
local errors = require "rayl.errors"
require "rayl" -- registers the classes values may carry (errors, remote functions)

local worker = {}

--- worker.run(fn, name, ...) -> true, results... | false, error
function worker.run(fn, name, ...)
  return xpcall(fn, function(e)
    local tb = debug.traceback("", 2):gsub("^\n", "\n")
    local ok, context = pcall(core.context)
    return errors.from_task(e, name, tb, ok and context or nil)
  end, ...)
end

return worker
