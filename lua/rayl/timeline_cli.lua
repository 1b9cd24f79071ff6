-- rayl.timeline_cli: `rayl timeline`: task and actor-method runs per worker as a Chrome
-- trace (chrome://tracing, Perfetto), from what owners report to the head.
local core = require "rayl.core"
local cli_args = require "rayl.cli_args"
local obs = require "rayl.obs"
local json = require "rayl.json"

local M = {}

local USAGE = [[
usage: rayl timeline [-o FILE] [--address HOST:PORT]
Writes the runs of tasks and actor methods the head kept (the last 100,000; owners
report them about once a second) as a Chrome trace: a JSON array of complete ("X")
events, one per run, pid = the node, tid = the worker's pid. Open it in
chrome://tracing or https://ui.perfetto.dev.
  -o, --output FILE     where to write it (default: timeline-<time>.json here; - for
                        standard output)
  --address HOST:PORT   the cluster's head (default: RAYL_ADDRESS, else the cluster
                        `rayl start` runs on this machine)]]

--- M.trace(events) -> the Chrome trace (a list) of the head's timeline events
function M.trace(events)
  local out = { n = 0 }
  for _, e in ipairs(events) do
    out.n = out.n + 1
    out[out.n] = {
      name = e.name, cat = e.type == "NORMAL_TASK" and "task" or "actor", ph = "X",
      pid = "node " .. (e.node_id or "?"):sub(1, 12), tid = ("worker %d"):format(e.pid or 0),
      ts = e.start_us, dur = math.max(0, e.end_us - e.start_us),
      args = { task_id = e.task_id, actor_id = e.actor_id, failed = e.failed,
               owner_pid = e.owner_pid, type = e.type },
    }
  end
  return out
end

--- main(args): the `rayl timeline` command; returns the exit code.
function M.main(args)
  local o, rc = cli_args.parse("timeline", USAGE, args, { { "-o --output", "value" }, { "--address", "value" } })
  if not o then return rc end
  if #o.args > 0 then
    return cli_args.fail("timeline", USAGE, ("unexpected argument '%s'"):format(o.args[1]))
  end
  local ok, events, info = obs.call("timeline", core.obs_timeline, obs.address(o))
  if not ok then return 1 end
  local text = json.encode(M.trace(events))
  local path = o.output or os.date("timeline-%Y%m%d-%H%M%S.json")
  if path == "-" then
    print(text)
  else
    local f, err = io.open(path, "w")
    if not f then
      io.stderr:write("rayl timeline: cannot write ", err, "\n")
      return 1
    end
    f:write(text, "\n")
    f:close()
    print(("Wrote %d events to %s (open it in chrome://tracing or https://ui.perfetto.dev)"):format(#events, path))
  end
  if (info.evicted or 0) > 0 then
    io.stderr:write(("rayl timeline: note: the head keeps the last 100,000 runs: %d older ones are gone\n")
      :format(info.evicted))
  end
  if (info.dropped or 0) > 0 then
    io.stderr:write(("rayl timeline: note: %d runs were not reported (owners send at most 10,000 a second "
      .. "each): some tasks are missing\n"):format(info.dropped))
  end
  return 0
end

return M
