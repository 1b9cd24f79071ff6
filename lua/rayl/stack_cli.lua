-- rayl.stack_cli: `rayl stack`: what every driver and worker of the cluster runs now
-- (its task or actor method and Lua traceback), as Ray's `ray stack`.
local core = require "rayl.core"
local cli_args = require "rayl.cli_args"
local obs = require "rayl.obs"

local M = {}

local USAGE = [[
usage: rayl stack [--node NODE] [--address HOST:PORT]
Shows each driver's and worker's pid, node, the task or actor method it runs and its
Lua traceback. A process running compiled code (a JIT-compiled loop) or a C function
(os.execute, a long FFI call) cannot show its Lua stack: it is listed with its task and
"(in compiled code or a C function ...)".
  --node NODE           only that node (a node id prefix, or its address)
  --address HOST:PORT   the cluster's head (default: RAYL_ADDRESS, else the cluster
                        `rayl start` runs on this machine)]]

--- main(args): the `rayl stack` command; returns the exit code.
function M.main(args)
  local o, rc = cli_args.parse("stack", USAGE, args, { { "--node", "value" }, { "--address", "value" } })
  if not o then return rc end
  if #o.args > 0 then return cli_args.fail("stack", USAGE, ("unexpected argument '%s'"):format(o.args[1])) end
  local procs = obs.processes("stack", core, obs.address(o), o.node)
  if not procs then return 1 end
  if #procs == 0 then
    print(o.node and ("No node matches '%s' (or it runs no processes)."):format(o.node) or "No processes.")
    return 0
  end
  local eps = {}
  for i, p in ipairs(procs) do eps[i] = p.endpoint end
  local answers = core.obs_ask("stack", eps, 3000)
  for i, p in ipairs(procs) do
    local s = answers[i]
    print(("Process %d (%s) on node %s  %s"):format(p.pid, p.kind, (p.node_id or "?"):sub(1, 12), p.node))
    if not s then
      print("  (did not answer within 3 s)")
    else
      print("  task: " .. (s.task ~= "" and s.task or "(idle)"))
      if s.compiled then
        print("  (in compiled code or a C function: its Lua thread ran no interpreted instruction "
          .. "within 1 s, so its stack cannot be read)")
        if s.traceback ~= "" then print("  where: " .. s.traceback) end
      elseif s.traceback ~= "" then
        for line in s.traceback:gmatch("[^\n]+") do print("  " .. line) end
      end
    end
    print()
  end
  return 0
end

return M
