-- spec/core_errors_spec.lua: how errors raised in tasks reach the caller, error types and retries.
local rayl = require "rayl"
local h = require "spec.helpers"

local bump = h.bump

describe("errors", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("a task that calls error() raises a readable TaskError from get", function()
    local line = debug.getinfo(1, "l").currentline; local boom = rayl.remote({ max_retries = 0 }, function() error("boom") end)
    local err = h.expect_error("TaskError", rayl.get, boom:remote())
    assert.are.equal("TaskError", err.type)
    assert.are.equal("string", type(err.message))
    assert.truthy(err.message:find("boom", 1, true), err.message)
    assert.are.equal("string", type(err.traceback))
    local where = "core_errors_spec.lua:" .. line
    assert.truthy(err.traceback:find(where, 1, true), "traceback lacks " .. where .. ":\n" .. err.traceback)
    local text = tostring(err)
    assert.truthy(text:find("^TaskError: "), text)
    assert.truthy(text:find("boom", 1, true), text)
    assert.truthy(text:find(where, 1, true), text)
    assert.is_nil(text:find("table: 0x", 1, true), text)
    assert.is_not_nil(err.node_id)
    assert.is_not_nil(err.task)
  end)

  it("the error names the failing line in the message as Lua does", function()
    local line = debug.getinfo(1, "l").currentline; local f = rayl.remote({ max_retries = 0 }, function(x) return x.field end)
    local err = h.expect_error("TaskError", rayl.get, f:remote(nil))
    assert.truthy(err.message:find("core_errors_spec.lua:" .. line, 1, true), err.message)
    assert.truthy(err.message:find("index", 1, true), err.message)
  end)

  it("rayl.errors.is tells the types apart", function()
    local boom = rayl.remote({ max_retries = 0 }, function() error("boom") end)
    local err = h.expect_error("TaskError", rayl.get, boom:remote())
    assert.is_true(rayl.errors.is(err, "TaskError"))
    assert.is_true(rayl.errors.is(err))
    assert.is_false(rayl.errors.is(err, "ValueError"))
    assert.is_false(rayl.errors.is(err, "WorkerCrashedError"))
    assert.is_false(rayl.errors.is("TaskError", "TaskError"))
    assert.is_false(rayl.errors.is({ type = "TaskError", message = "fake" }, "TaskError"))
    assert.is_false(rayl.errors.is(nil))
    local verr = h.expect_error("ValueError", rayl.get, 1)
    assert.is_true(rayl.errors.is(verr, "ValueError"))
    assert.is_false(rayl.errors.is(verr, "TaskError"))
  end)

  it("every error type of API.md exists as rayl.errors.X", function()
    for _, name in ipairs {
      "TaskError", "WorkerCrashedError", "ActorDiedError", "ActorUnavailableError", "GetTimeoutError",
      "ObjectLostError", "OwnerDiedError", "TaskCancelledError", "NodeDiedError", "OutOfMemoryError",
      "ValueError", "SerializationError", "RuntimeEnvSetupError",
    } do
      assert.are.equal(name, rayl.errors[name], "rayl.errors." .. name)
    end
  end)

  it("a task that errors with a table value gives that table as err.cause", function()
    local cause = { code = 42, detail = { "a", "b" }, ok = false }
    local f = rayl.remote({ max_retries = 0 }, function(c) error(c) end)
    local err = h.expect_error("TaskError", rayl.get, f:remote(cause))
    assert.are.same(cause, err.cause)
    assert.are.equal("string", type(tostring(err)))
  end)

  it("a task that errors with a string keeps it as err.cause", function()
    local f = rayl.remote({ max_retries = 0 }, function() error("plain", 0) end)
    local err = h.expect_error("TaskError", rayl.get, f:remote())
    assert.are.equal("plain", err.cause)
  end)

  it("an error from a nested task reaches the outer caller as the original TaskError", function()
    local inner = rayl.remote({ max_retries = 0 }, function() error("inner failure") end)
    local outer = rayl.remote({ max_retries = 0 }, function() return rayl.get(inner:remote()) end)
    local err = h.expect_error("TaskError", rayl.get, outer:remote())
    assert.truthy(err.message:find("inner failure", 1, true), err.message)
  end)

  it("an error raised in a dependency fails the dependent task's result too", function()
    local bad = rayl.remote({ max_retries = 0 }, function() error("upstream") end)
    local add1 = rayl.remote({ max_retries = 0 }, function(x) return x + 1 end)
    local err = h.expect_error("TaskError", rayl.get, add1:remote(bad:remote()))
    assert.truthy(err.message:find("upstream", 1, true), err.message)
  end)

  it("retry_exceptions = true with max_retries = 2 reruns a flaky task until it succeeds", function()
    local counter = h.counter_file()
    local flaky = rayl.remote({ retry_exceptions = true, max_retries = 2 }, function(path)
      local n = bump(path)
      if n < 3 then error("flaky attempt " .. n) end
      return "ok after " .. n
    end)
    assert.are.equal("ok after 3", rayl.get(flaky:remote(counter), { timeout = 20 }))
    assert.are.equal(3, h.read_counter(counter))
    os.remove(counter)
  end)

  it("retry_exceptions = true gives up after max_retries and raises the last error", function()
    local counter = h.counter_file()
    local always = rayl.remote({ retry_exceptions = true, max_retries = 1 }, function(path)
      error("attempt " .. bump(path))
    end)
    local err = h.expect_error("TaskError", rayl.get, always:remote(counter), { timeout = 20 })
    assert.truthy(err.message:find("attempt 2", 1, true), err.message)
    assert.are.equal(2, h.read_counter(counter))
    os.remove(counter)
  end)

  it("retry_exceptions = false runs a failing task once", function()
    local counter = h.counter_file()
    local flaky = rayl.remote({ retry_exceptions = false, max_retries = 2 }, function(path)
      error("attempt " .. bump(path))
    end)
    local err = h.expect_error("TaskError", rayl.get, flaky:remote(counter), { timeout = 20 })
    assert.truthy(err.message:find("attempt 1", 1, true), err.message)
    assert.are.equal(1, h.read_counter(counter))
    -- the default is not to retry exceptions either
    local counter2 = h.counter_file()
    local default = rayl.remote(function(path) error("attempt " .. bump(path)) end)
    h.expect_error("TaskError", rayl.get, default:remote(counter2), { timeout = 20 })
    assert.are.equal(1, h.read_counter(counter2))
    os.remove(counter)
    os.remove(counter2)
  end)

  it("a task that runs out of Lua memory raises an OutOfMemoryError naming the task, worker, node and limit",
    function()
    -- The task caps its own address space (RLIMIT_AS) 256 MiB above what it uses, then
    -- fills it with tables. Its runtime_env gives it a worker that serves nothing else.
    local pid_file = h.counter_file()
    local hog = rayl.remote({ max_retries = 0, runtime_env = { env_vars = { RAYL_SPEC_MEMORY_CAP = "256" } } },
      function(path)
        local ffi = require "ffi"
        pcall(ffi.cdef, "struct spec_rlimit { unsigned long cur, max; };"
          .. "int setrlimit(int, const struct spec_rlimit *); int getpid(void);")
        local f = assert(io.open(path, "w"))
        f:write(tostring(ffi.C.getpid()))
        f:close()
        f = assert(io.open("/proc/self/status"))
        local used = tonumber(f:read("*a"):match("VmSize:%s*(%d+)")) * 1024
        f:close()
        local cap = used + tonumber(os.getenv("RAYL_SPEC_MEMORY_CAP")) * 2 ^ 20
        assert(ffi.C.setrlimit(9 --[[RLIMIT_AS]], ffi.new("struct spec_rlimit", cap, -1)) == 0)
        local t = {}
        for i = 1, 1e10 do t[i] = { i, i, i, i } end
      end)
    local err = h.expect_error("OutOfMemoryError", rayl.get, hog:remote(pid_file))
    local pid = h.read_counter(pid_file)
    os.remove(pid_file)
    assert.are.equal(pid, err.pid)
    assert.are.equal(rayl.get_runtime_context().node_id, err.node_id)
    assert.truthy(err.task and err.message:find(err.task, 1, true), err.message)
    assert.truthy(err.message:find("worker pid " .. pid, 1, true), err.message)
    assert.truthy(err.message:find("on node " .. err.node_id, 1, true), err.message)
    assert.truthy(err.message:find("memory limit: [%d.]+ [MG]iB %(RLIMIT_AS of the process%)"), err.message)
    assert.truthy(tostring(err):find("^OutOfMemoryError: task "), tostring(err))
  end)

  it("API misuse raises a ValueError whose tostring reads well", function()
    local err = h.expect_error("ValueError", rayl.get, "nope")
    local text = tostring(err)
    assert.truthy(text:find("^ValueError: rayl.get"), text)
    assert.truthy(text:find("string", 1, true), text)
  end)
end)
