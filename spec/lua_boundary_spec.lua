-- spec/lua_boundary_spec.lua: a Lua error at any entry from C into Lua (a finalizer run
-- by the worker's own collections, a module loaded while decoding an argument) becomes a
-- clear message with a traceback; the worker keeps serving.
local rayl = require "rayl"
local h = require "spec.helpers"

local bin = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

-- The worker log of pid in this session, or nil.
local function worker_log(pid)
  local dir = rayl.get_runtime_context().session_dir
  return dir and h.read_file(dir .. "/logs/worker-" .. pid .. ".log")
end

describe("the protected Lua boundary", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("an error raised by a __gc finalizer when the worker collects between calls is logged; the actor lives on",
    function()
    local Leaky = rayl.remote({
      __init = function(self) self.n = 0 end,
      -- Leaves garbage whose finalizer raises: the worker's idle collection (outside
      -- any task's code) runs it.
      leak = function(self)
        local p = newproxy(true)
        getmetatable(p).__gc = function() error("finalizer boom") end
        p = nil
        self.n = self.n + 1
        return self.n
      end,
      pid = function(self) return require("rayl").get_runtime_context().pid end,
    })
    local a = Leaky:remote()
    local pid = rayl.get(a.pid:remote(), { timeout = 30 })
    assert.are.equal(1, rayl.get(a.leak:remote(), { timeout = 30 }))
    local log
    assert.is_true(h.wait_until(function()
      log = worker_log(pid)
      return log ~= nil and log:find("finalizer boom", 1, true) ~= nil
    end, 20), "the worker log never showed the finalizer's error:\n" .. tostring(log))
    assert.truthy(log:find("a Lua error outside the task's own code", 1, true), log)
    assert.truthy(log:find("stack traceback:", 1, true), log)
    -- The same worker, with the actor's state, serves the next calls.
    assert.are.equal(pid, rayl.get(a.pid:remote(), { timeout = 30 }))
    assert.are.equal(2, rayl.get(a.leak:remote(), { timeout = 30 }))
  end)

  it("an error raised while loading a module that an argument refers to fails the task with a traceback", function()
    local dir = os.tmpname()
    os.remove(dir)
    h.sh("mkdir -p " .. dir)
    local f = assert(io.open(dir .. "/spec_boundary_mod.lua", "w"))
    f:write('error("module load boom")\n')
    f:close()
    -- In the driver the module is a plain loaded table; it travels by name.
    package.loaded.spec_boundary_mod = { answer = 42 }
    local env = { working_dir = dir }
    local use = rayl.remote({ max_retries = 0, runtime_env = env }, function(m) return m.answer end)
    local err = h.expect_error("SerializationError", rayl.get, use:remote(package.loaded.spec_boundary_mod), { timeout = 30 })
    package.loaded.spec_boundary_mod = nil
    local text = tostring(err)
    assert.truthy(text:find("module load boom", 1, true), text)
    assert.truthy(text:find("stack traceback:", 1, true), text)
    assert.truthy(text:find("spec_boundary_mod", 1, true), text)
    -- The worker that failed to decode still runs tasks.
    local ok = rayl.remote({ runtime_env = env }, function() return "still serving" end)
    assert.are.equal("still serving", rayl.get(ok:remote(), { timeout = 30 }))
    h.sh("rm -rf " .. dir)
  end)

  it("the rayl program reports a script's error and then a finalizer's error from its clean-up, exit code 1",
    function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write('local p = newproxy(true)\n'
      .. 'getmetatable(p).__gc = function() error("finalizer boom in clean-up") end\n'
      .. 'p = nil\n'
      .. 'error("the script failed")\n')
    f:close()
    local out = h.sh("(" .. bin .. " " .. script .. "; echo exit=$?)")
    os.remove(script)
    assert.truthy(out:find("rayl: " .. script .. ":4: the script failed", 1, true), out)
    assert.truthy(out:find("finalizer boom in clean-up", 1, true), out)
    assert.truthy(out:find("stack traceback:", 1, true), out)
    assert.truthy(out:find("exit=1", 1, true), out)
    assert.is_nil(out:find("PANIC", 1, true), out)
  end)
end)
