-- rayl.runtime_env: runtime_env = { working_dir = "dir", env_vars = { K = "v" } }:
-- checked, merged with the job's (as Ray does), working dirs uploaded once by content
-- hash to the head's KV store, and turned into the canonical string that keys workers
-- (a worker set up for one runtime_env serves no other). In a worker, setup() applies it.
local core = require "rayl.core"
local errors = require "rayl.errors"

local M = {}

local FIELDS = { working_dir = "string", env_vars = "table" }
local KEY_PATTERN = "^rayl_pkg_%x+$"

--- M.check(env, level): raises ValueError unless env is a runtime_env table.
function M.check(env, level)
  if type(env) ~= "table" then
    errors.raise("ValueError", "runtime_env must be a table, got " .. type(env), level + 1)
  end
  for k, v in pairs(env) do
    if not FIELDS[k] then
      errors.raise("ValueError", ("runtime_env field '%s' is not supported; rayl supports working_dir and env_vars")
        :format(tostring(k)), level + 1)
    end
    if type(v) ~= FIELDS[k] then
      errors.raise("ValueError", ("runtime_env.%s must be a %s, got %s"):format(k, FIELDS[k], type(v)), level + 1)
    end
  end
  for name, value in pairs(env.env_vars or {}) do
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
      errors.raise("ValueError", ("runtime_env.env_vars: '%s' is not a variable name (letters, digits, _)")
        :format(tostring(name)), level + 1)
    end
    if type(value) ~= "string" or value:find("\0", 1, true) then
      errors.raise("ValueError", ("runtime_env.env_vars.%s must be a string (without NUL), got %s")
        :format(name, type(value)), level + 1)
    end
  end
end

--- M.merge(parent, child) -> a runtime_env: child's fields replace parent's, except
--- env_vars, which are merged (child's value wins), as Ray merges a task's with its job's.
function M.merge(parent, child)
  local out = {}
  for k, v in pairs(parent or {}) do out[k] = v end
  for k, v in pairs(child or {}) do
    if k == "env_vars" then
      local vars = {}
      for n, x in pairs(out.env_vars or {}) do vars[n] = x end
      for n, x in pairs(v) do vars[n] = x end
      out.env_vars = vars
    else
      out[k] = v
    end
  end
  return out
end

local function escape(s) return (s:gsub("[\\\n]", { ["\\"] = "\\\\", ["\n"] = "\\n" })) end
local function unescape(s) return (s:gsub("\\(.)", { ["\\"] = "\\", n = "\n" })) end

--- M.encode(env) -> the canonical string ("" for none); env.working_dir must be a
--- package key already (M.resolve).
function M.encode(env)
  local lines = {}
  if env.working_dir then lines[1] = "working_dir=" .. env.working_dir end
  local names = {}
  for name in pairs(env.env_vars or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do lines[#lines + 1] = "env:" .. name .. "=" .. escape(env.env_vars[name]) end
  return table.concat(lines, "\n")
end

--- M.decode(s) -> env (working_dir as a package key), or nil, error
function M.decode(s)
  local env = {}
  for line in (s or ""):gmatch("[^\n]+") do
    local key = line:match("^working_dir=(.*)$")
    local name, value = line:match("^env:([%a_][%w_]*)=(.*)$")
    if key and key:match(KEY_PATTERN) then
      env.working_dir = key
    elseif name then
      env.env_vars = env.env_vars or {}
      env.env_vars[name] = unescape(value)
    else
      return nil, ("malformed runtime_env line '%s'"):format(line:sub(1, 80))
    end
  end
  return env
end

--- M.upload(path, head, say) -> package key: packs the folder and stores it in the
--- head's KV store unless a package with the same contents is there already.
--- head.kv_exists(key, timeout_ms) -> size | false and head.kv_put(key, data,
--- timeout_ms) -> true | nil, the head's refusal (both raise when the head does not
--- answer); say(text) reports what happened (optional). Raises RuntimeEnvSetupError if the folder cannot
--- be packed (missing, too large, unreadable).
function M.upload(path, head, say, level)
  local data, key, files = core.package_dir(path)
  if not data then errors.raise("RuntimeEnvSetupError", key, level + 1) end
  if head.kv_exists(key, 10000) then
    if say then say(("Reusing working_dir package %s: %s is unchanged and already on the cluster.")
      :format(key, path)) end
    return key
  end
  local ok, why = head.kv_put(key, data, 60000)
  if not ok then
    errors.raise("RuntimeEnvSetupError", ("cannot upload working_dir %s: %s"):format(path, why), level + 1)
  end
  if say then say(("Uploaded working_dir %s (%d files, %.1f KiB) as %s."):format(path, files, #data / 1024, key)) end
  return key
end

-- Packages this driver uploaded, by folder: a folder is packed once per driver.
local uploaded = {}

-- This driver's cluster's head, for M.upload.
local driver_head = {}

function driver_head.kv_exists(key, timeout)
  local size, why = core.head_kv_exists(nil, timeout, key)
  if size == nil then errors.raise("RuntimeEnvSetupError", "cannot upload a working_dir: " .. why, 4) end
  return size
end

function driver_head.kv_put(key, data, timeout)
  local ok, why, unreachable = core.head_kv_put(nil, timeout, key, data)
  if unreachable then errors.raise("RuntimeEnvSetupError", "cannot upload a working_dir: " .. why, 4) end
  return ok, why
end

--- M.resolve(env, level) -> env with working_dir replaced by its package key (uploaded
--- from this driver if need be). A working_dir that is already a key stays.
function M.resolve(env, level)
  if not env.working_dir or env.working_dir:match(KEY_PATTERN) then return env end
  local out = M.merge(env, {})
  local path = env.working_dir
  uploaded[path] = uploaded[path] or M.upload(path, driver_head, nil, level + 1)
  out.working_dir = uploaded[path]
  return out
end

--- M.setup(spec, session_dir) -> nil | error message : in a worker started for spec
--- (the canonical string): environment variables set, the working dir unpacked once per
--- node (session_dir/runtime_resources/<key>), entered, and put on package.path.
function M.setup(spec, session_dir)
  local env, err = M.decode(spec)
  if not env then return err end
  for name, value in pairs(env.env_vars or {}) do core.setenv(name, value) end
  local key = env.working_dir
  if not key then return nil end
  local dir = session_dir .. "/runtime_resources/" .. key
  if not core.chdir(dir) then
    local data = core.kv_get(key)
    if not data then
      return ("the working_dir package %s is not in the head's store (was the cluster restarted?)"):format(key)
    end
    local ok, why = core.package_unpack(data, dir)
    if not ok then return ("cannot unpack the working_dir package %s: %s"):format(key, why) end
    ok, why = core.chdir(dir)
    if not ok then return why end
  end
  package.path = dir .. "/?.lua;" .. dir .. "/?/init.lua;" .. package.path
  return nil
end

return M
