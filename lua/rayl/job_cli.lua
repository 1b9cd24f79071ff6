-- rayl.job_cli: `rayl job submit|status|logs|stop|list`: drivers run on a cluster's head
-- node by the head (Ray's job submission). Everything goes through the head, so these
-- commands work from any machine that reaches it.
local cli_args = require "rayl.cli_args"
local core = require "rayl.core"
local errors = require "rayl.errors"
local json = require "rayl.json"
local renv = require "rayl.runtime_env"

local M = {}

local USAGE = [[
usage: rayl job submit [--address A] [--working-dir D] [--runtime-env-json JSON]
                       [--submission-id ID] [--no-wait] -- script.lua [args...]
       rayl job status ID [--address A]
       rayl job logs ID [--follow] [--address A]
       rayl job stop ID [--no-wait] [--address A]
       rayl job list [--format json] [--address A]

Runs a driver on the cluster's head node. submit ships --working-dir (content-hashed,
uploaded once; .git is skipped) and runs the entrypoint there: a .lua script runs with
rayl, anything else as a command. RAYL_ADDRESS points the driver at the cluster. Unless
--no-wait, submit streams the job's output until it ends and exits 0 if it SUCCEEDED,
1 otherwise; Ctrl-C stops the streaming, not the job.
  --address A          the head (HOST:PORT); default: RAYL_ADDRESS, else the cluster
                       `rayl start` runs on this machine
  --working-dir D      folder the driver (and its tasks) run in
  --runtime-env-json J the job's runtime_env, e.g. '{"env_vars": {"K": "v"}}'
  --submission-id ID   the job's id (letters, digits, _ - .); default: a new one
  --no-wait            return once the job is submitted
States: PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED.
]]

local TERMINAL = { SUCCEEDED = true, FAILED = true, STOPPED = true }

-- A failure the user should read: printed as "rayl job: msg", exit code 1 (2: usage).
local function fail(msg, code) cli_args.error(msg, code or 1) end

local function say(text) io.stdout:write(text, "\n"); io.stdout:flush() end

-- The options (cli_args's spec) and positional words of args; --help and bad options end
-- the command with their exit code.
local function parse(args, spec, how)
  local o, rc = cli_args.parse("job", USAGE, args, spec, how)
  if not o then cli_args.exit(rc) end
  return o
end

-- The head of address: a table of its requests (each ends the command with a clear line
-- when the head does not answer or refuses).
local function connect(address)
  address = address or os.getenv("RAYL_ADDRESS")
  if address == nil or address == "" then address = "auto" end
  local endpoint, err = core.resolve_address(address)
  if not endpoint then fail(err) end
  -- The result of a core.head_* call: its value, or the command ends saying why.
  local function check(value, why, unreachable)
    if value == nil and unreachable then fail(("%s; is the cluster running? (`rayl status`)"):format(why)) end
    if value == nil then fail(why) end
    return value
  end
  local head = { endpoint = endpoint }
  function head.submit(fields) return check(core.head_job_submit(endpoint, 10000, fields)) end
  function head.job(op, id) return check(core.head_job(endpoint, 10000, op, id)) end
  function head.list() return check(core.head_job_list(endpoint, 10000)) end
  function head.logs(id, offset) return check(core.head_job_logs(endpoint, 10000, id, offset, 1048576)) end
  -- For renv.upload: KV requests that return nil, error when refused.
  function head.kv_exists(key, timeout)
    local size, why, unreachable = core.head_kv_exists(endpoint, timeout, key)
    if size == nil then check(nil, why, unreachable) end
    return size
  end
  function head.kv_put(key, data, timeout)
    local ok, why, unreachable = core.head_kv_put(endpoint, timeout, key, data)
    if not ok and unreachable then check(nil, why, unreachable) end
    return ok, why
  end
  return head
end

local function get_job(head, id) return head.job("get", id) end

local function when(ms)
  if not ms or ms == 0 then return "-" end
  return os.date("%Y-%m-%d %H:%M:%S", math.floor(ms / 1000))
end

-- Prints the job's log from offset until it ends (follow) or until what is there now
-- has been printed. Returns the job's last status.
local function stream_logs(head, id, follow)
  -- Poll quickly at first (a short job is done in tens of ms), then every 0.2 s while
  -- nothing new comes.
  local offset, pause = 0, 0.005
  while true do
    local logs = head.logs(id, offset)
    local data, size, status = logs.data, logs.size, logs.status
    if #data > 0 then
      io.stdout:write(data)
      io.stdout:flush()
      offset = offset + #data
    end
    local drained = offset >= size
    if drained and (not follow or TERMINAL[status]) then return status end
    if drained then
      core.sleep(pause)
      pause = math.min(pause * 2, 0.2)
    end
  end
end

-- Without a working dir the driver runs in a folder of the head's (its job log
-- folder), so a relative script path would name nothing the user meant: refused, with
-- what to do instead. Plain command names (found on PATH) and absolute paths pass.
local function check_entrypoint(first, working_dir)
  if working_dir or first:sub(1, 1) == "/" then return end
  if not (first:match("%.lua$") or first:find("/", 1, true)) then return end
  fail(("the entrypoint %s is a relative path, and without --working-dir the driver runs in the head's "
    .. "job folder, not here: add --working-dir DIR to ship the folder that holds it (e.g. --working-dir .), "
    .. "or give its absolute path on the head's machine"):format(first), 2)
end

local function cmd_submit(args)
  local opts = parse(args, { { "--address", "value" }, { "--working-dir", "value" }, { "--runtime-env-json", "value" },
    { "--submission-id", "value" }, { "--no-wait", "flag" } }, { stop_at_word = true })
  local entry = opts.args
  if #entry == 0 then fail("give the entrypoint after --, e.g. rayl job submit -- script.lua\n" .. USAGE, 2) end
  local env = {}
  if opts.runtime_env_json then
    local decoded, why = json.decode(opts.runtime_env_json)
    if type(decoded) ~= "table" or decoded[1] ~= nil then
      fail("--runtime-env-json must be a JSON object" .. (why and (": " .. why) or ""), 2)
    end
    env = decoded
  end
  if opts.working_dir then env.working_dir = opts.working_dir end
  local ok, err = pcall(renv.check, env, 1)
  if not ok then fail("--runtime-env-json: " .. (err.message or tostring(err)), 2) end
  check_entrypoint(entry[1], env.working_dir)
  local head = connect(opts.address)
  if env.working_dir then
    ok, err = pcall(function() env.working_dir = renv.upload(env.working_dir, head, say, 2) end)
    if not ok then
      if type(err) == "table" and err.cli_error then error(err, 0) end
      fail(errors.is(err) and err.message or tostring(err))
    end
  end
  local job = head.submit({ submission_id = opts.submission_id, entrypoint = entry, runtime_env = renv.encode(env),
    working_dir = env.working_dir, env_vars = env.env_vars })
  local id = job.submission_id
  say(("Job '%s' submitted (%s)."):format(id, job.status))
  if job.status == "FAILED" then
    say("Job failed to start: " .. job.message)
    return 1
  end
  if opts.no_wait then
    say(("  status: rayl job status %s\n  logs:   rayl job logs %s --follow\n  stop:   rayl job stop %s")
      :format(id, id, id))
    return 0
  end
  say(("Tailing the job's logs until it ends (Ctrl-C stops the tailing, not the job):"))
  local ok2, status = pcall(stream_logs, head, id, true)
  if not ok2 then
    if type(status) == "table" and status.cli_error then error(status, 0) end
    if tostring(status):find("interrupted") then
      io.stderr:write(("\nInterrupted. Job '%s' keeps running: `rayl job logs %s --follow` to watch it, "
        .. "`rayl job stop %s` to stop it.\n"):format(id, id, id))
      return 130
    end
    error(status, 0)
  end
  job = get_job(head, id)
  say(("Job '%s' %s: %s"):format(id, job.status, job.message))
  return job.status == "SUCCEEDED" and 0 or 1
end

local function one_id(args, spec, what)
  local opts = parse(args, spec)
  if #opts.args ~= 1 then fail(("rayl job %s takes one submission id\n%s"):format(what, USAGE), 2) end
  return opts, opts.args[1]
end

local function cmd_status(args)
  local opts, id = one_id(args, { { "--address", "value" } }, "status")
  local job = get_job(connect(opts.address), id)
  say(("Status for job '%s': %s"):format(id, job.status))
  say("Status message: " .. job.message)
  say("Entrypoint: " .. job.entrypoint)
  say(("Started: %s   Ended: %s"):format(when(job.start_time), when(job.end_time)))
  return 0
end

local function cmd_logs(args)
  local opts, id = one_id(args, { { "--address", "value" }, { "--follow", "flag" } }, "logs")
  local ok, err = pcall(stream_logs, connect(opts.address), id, opts.follow)
  if not ok then
    if type(err) == "table" and err.cli_error then error(err, 0) end
    if tostring(err):find("interrupted") then return 130 end
    error(err, 0)
  end
  return 0
end

local function cmd_stop(args)
  local opts, id = one_id(args, { { "--address", "value" }, { "--no-wait", "flag" } }, "stop")
  local head = connect(opts.address)
  local before = get_job(head, id)
  if TERMINAL[before.status] then
    say(("Job '%s' has already ended: %s"):format(id, before.status))
    return 0
  end
  head.job("stop", id)
  say(("Stopping job '%s' (SIGTERM, then SIGKILL after 3 s)."):format(id))
  if opts.no_wait then return 0 end
  local deadline = core.now() + 15
  while core.now() < deadline do
    local job = get_job(head, id)
    if TERMINAL[job.status] then
      say(("Job '%s' %s: %s"):format(id, job.status, job.message))
      return 0
    end
    core.sleep(0.1)
  end
  fail(("job '%s' did not stop within 15 s"):format(id))
end

local function cmd_list(args)
  local opts = parse(args, { { "--address", "value" }, { "--format", "value" } })
  if opts.format and opts.format ~= "json" and opts.format ~= "table" then
    fail("--format must be json or table", 2)
  end
  local jobs = connect(opts.address).list()
  jobs.n = #jobs
  if opts.format == "json" then
    for i = 1, jobs.n do
      local env = renv.decode(jobs[i].runtime_env) or {}
      jobs[i].runtime_env = env
    end
    say(json.encode(jobs))
    return 0
  end
  if jobs.n == 0 then
    say("No jobs.")
    return 0
  end
  say(("%-28s %-10s %-19s  %-19s  %s"):format("SUBMISSION ID", "STATUS", "START", "END", "ENTRYPOINT"))
  for i = 1, jobs.n do
    local j = jobs[i]
    say(("%-28s %-10s %-19s  %-19s  %s"):format(j.submission_id, j.status, when(j.start_time), when(j.end_time),
      j.entrypoint))
  end
  return 0
end

local COMMANDS = { submit = cmd_submit, status = cmd_status, logs = cmd_logs, stop = cmd_stop, list = cmd_list }

function M.main(args) return cli_args.subcommands("job", USAGE, COMMANDS, args) end

return M
