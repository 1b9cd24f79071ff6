-- spec/actor_helpers.lua: helpers for the actor specs (timed failing gets, kill -9, process checks).
local rayl = require "rayl"
local h = require "spec.helpers"

local ah = {}

--- ah.sh_ok(cmd) -> true when the shell command exited 0 (LuaJIT's os.execute returns a
--- status number, Lua 5.2-compat builds return true).
function ah.sh_ok(cmd)
  local rc = os.execute(cmd)
  return rc == 0 or rc == true
end

--- ah.alive(pid) -> true while a process with that pid exists (kill -0) and is not a
--- zombie (an exited process whose parent has not reaped it yet has stopped running).
function ah.alive(pid)
  if not ah.sh_ok("kill -0 " .. tonumber(pid) .. " 2>/dev/null") then return false end
  local f = io.open("/proc/" .. tonumber(pid) .. "/stat")
  if not f then return true end
  local stat = f:read("*a") or ""
  f:close()
  return stat:match("^%d+ %b() (%a)") ~= "Z"
end

--- ah.kill9(pid): kill -9 the process, failing the test if kill does not succeed.
function ah.kill9(pid)
  assert(type(pid) == "number" and pid > 1, "not a pid: " .. tostring(pid))
  assert(pid ~= rayl.get_runtime_context().pid, "refusing to kill the driver")
  assert(ah.sh_ok("kill -9 " .. pid), "kill -9 " .. pid .. " failed")
end

--- ah.timed_error(kind, ref, bound) -> err, seconds: rayl.get(ref) must raise a `kind`
--- error within `bound` seconds (a hang shows up as a GetTimeoutError, not a stuck run).
function ah.timed_error(kind, ref, bound)
  local t0 = h.now()
  local err = h.expect_error(kind, rayl.get, ref, { timeout = bound + 5 })
  local took = h.now() - t0
  assert(took < bound, ("the %s took %.2f s to arrive (bound %.1f s)"):format(kind, took, bound))
  return err, took
end

--- ah.wait_restarted(actor, old_pid, bound) -> new pid: asks actor.pid:remote() until a
--- worker other than old_pid answers. Calls that reach the dead worker before its owner
--- has noticed fail with ActorDiedError (Ray's at-most-once default), so those are
--- tolerated; any other error, or no new worker within `bound` seconds, fails the test.
function ah.wait_restarted(actor, old_pid, bound)
  local deadline = h.now() + bound
  local last
  repeat
    local ok, res = pcall(rayl.get, actor.pid:remote(), { timeout = bound })
    if ok and res ~= old_pid then return res end
    if not ok and not rayl.errors.is(res, "ActorDiedError") then error(res, 0) end
    last = ok and ("the old worker " .. tostring(res) .. " still answers") or tostring(res)
    os.execute("sleep 0.02")
  until h.now() > deadline
  error(("the actor did not restart within %.1f s (last: %s)"):format(bound, last), 2)
end

return ah
