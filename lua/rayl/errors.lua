-- rayl.errors: the error types every rayl API raises, and errors.is to test them.
local errors = {}

local TYPES = {
  "TaskError", "WorkerCrashedError", "ActorDiedError", "ActorUnavailableError",
  "GetTimeoutError", "ObjectLostError", "OwnerDiedError", "TaskCancelledError",
  "NodeDiedError", "OutOfMemoryError", "ValueError", "SerializationError",
  "RuntimeEnvSetupError", "TaskPlacementGroupRemoved", "ConnectionError",
  "CompileError", "CudaError", "TorchError",
}

-- The metatable of every rayl error: a table with type, message and, for errors
-- raised by remote code, traceback, node_id, pid, task and cause. user_facing: an
-- error about the set-up, not the code (the rayl program reports it without a
-- traceback).
local Error = {}
Error.__index = Error
errors.Error = Error

function Error.__tostring(e)
  local s = tostring(e.type) .. ": " .. tostring(e.message)
  if e.traceback and e.traceback ~= "" then
    s = s .. "\nremote traceback:" .. e.traceback
  end
  return s
end

for _, name in ipairs(TYPES) do errors[name] = name end

--- errors.new(type, message [, fields]) -> a rayl error.
function errors.new(type, message, fields)
  local e = fields or {}
  e.type, e.message = type, message
  return setmetatable(e, Error)
end

--- errors.is(value, [type]) -> true if value is a rayl error (of that type).
function errors.is(value, type)
  if getmetatable(value) ~= Error then return false end
  return type == nil or value.type == type
end

--- Raises a rayl error blaming the caller's caller (the user's line).
function errors.raise(type, message, level)
  error(errors.new(type, message), (level or 1) + 1)
end

-- Turns whatever a task raised into the error its caller sees. rayl errors from
-- nested calls (a task that called rayl.get on a failed task) pass through unchanged.
function errors.from_task(value, task, traceback, context)
  if errors.is(value) then return value end
  local message = type(value) == "string" and value or tostring(value)
  return errors.new("TaskError", ("task %s failed: %s"):format(task, message), {
    cause = value, traceback = traceback, task = task,
    node_id = context and context.node_id, pid = context and context.pid,
  })
end

return errors
