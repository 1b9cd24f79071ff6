-- rayl.embed: what a worker runs for jobs from the C API (include/rayl.h): a module's
-- function by name, or a source chunk. Each job arrives as call(path, module, fn, ...)
-- or chunk(path, source, ...), where path is the host's rayl_config.module_path.
local errors = require "rayl.errors"

local embed = {}

-- Templates already put in front of package.path on this worker.
local added = {}

local function add_path(path)
  if path ~= "" and not added[path] then
    package.path = path .. ";" .. package.path
    added[path] = true
  end
end

-- An error the C side reports as RAYL_E_NOT_FOUND (it reads the `missing` field).
local function not_found(what, message)
  error(errors.new("TaskError", message, { missing = what }), 0)
end

--- embed.call(path, module, fn, ...) -> require(module)[fn](...)
function embed.call(path, module, fn, ...)
  add_path(path)
  local ok, mod = pcall(require, module)
  if not ok then
    local message = tostring(mod)
    if message:find("module '" .. module .. "' not found", 1, true) == 1 then
      not_found("module", ("module '%s' was not found on the worker (add its folder to "
        .. "rayl_config.module_path): %s"):format(module, message))
    end
    error(message, 0) -- the module exists but failed to load: the job fails with its error
  end
  if type(mod) ~= "table" then
    not_found("function", ("module '%s' returned a %s, not a table of functions, so it has no function '%s'")
      :format(module, type(mod), fn))
  end
  local f = mod[fn]
  if f == nil then
    not_found("function", ("module '%s' has no function '%s'"):format(module, fn))
  end
  local mt = getmetatable(f)
  if type(f) ~= "function" and not (mt and mt.__call) then
    not_found("function", ("'%s.%s' is a %s, not a function"):format(module, fn, type(f)))
  end
  return f(...)
end

-- Compiled chunks by source; emptied when it holds too many (chunks are meant to be
-- a handful of fixed snippets, not a new source per job).
local chunks, nchunks = {}, 0

--- embed.chunk(path, source, ...) -> the chunk's first result
function embed.chunk(path, source, ...)
  add_path(path)
  local f = chunks[source]
  if not f then
    local err
    f, err = loadstring(source, "=chunk")
    if not f then error(errors.new("TaskError", "the chunk does not compile: " .. tostring(err)), 0) end
    if nchunks >= 256 then chunks, nchunks = {}, 0 end
    chunks[source], nchunks = f, nchunks + 1
  end
  return f(...)
end

return embed
