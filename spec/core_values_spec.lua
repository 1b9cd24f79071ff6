-- spec/core_values_spec.lua: functions, closures and upvalues crossing processes, and what cannot cross.
local rayl = require "rayl"
local h = require "spec.helpers"

describe("values", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("closures carry number, string and table upvalues to the worker", function()
    local k, prefix, tbl = 7, "n=", { scale = 3, list = { 1, 2 } }
    local f = rayl.remote(function(x)
      return prefix .. (x * k * tbl.scale + tbl.list[2])
    end)
    assert.are.equal("n=44", rayl.get(f:remote(2)))
  end)

  it("upvalues are captured by value when rayl.remote is called", function()
    local k = 1
    local f = rayl.remote(function() return k end)
    k = 2
    assert.are.equal(1, rayl.get(f:remote()))
  end)

  it("a recursive local function works on the worker", function()
    local function fib(n)
      if n < 2 then return n end
      return fib(n - 1) + fib(n - 2)
    end
    local f = rayl.remote(function(n) return fib(n) end)
    assert.are.equal(6765, rayl.get(f:remote(20)))
    local direct = rayl.remote(fib)
    assert.are.equal(55, rayl.get(direct:remote(10)))
  end)

  it("two closures sharing an upvalue still share it on the worker", function()
    local count = 0
    local function incr() count = count + 1 end
    local function get() return count end
    local f = rayl.remote(function()
      incr()
      incr()
      return get()
    end)
    assert.are.equal(2, rayl.get(f:remote()))
    assert.are.equal(0, count)
  end)

  it("standard-library upvalues (string.format, math) work on the worker", function()
    local format, floor = string.format, math.floor
    local m = math
    local f = rayl.remote(function(x) return format("%05.1f|%d|%d", x, floor(x), m.max(1, 9)) end)
    assert.are.equal("003.7|3|9", rayl.get(f:remote(3.7)))
  end)

  it("a function can be passed as an argument and returned", function()
    local apply = rayl.remote(function(fn, x) return fn(x) end)
    local offset = 100
    assert.are.equal(105, rayl.get(apply:remote(function(v) return v + offset end, 5)))
    local make = rayl.remote(function(n) return function(x) return x * n end end)
    local times3 = rayl.get(make:remote(3))
    assert.are.equal("function", type(times3))
    assert.are.equal(12, times3(4))
    local double = rayl.get(rayl.put(function(x) return x * 2 end))
    assert.are.equal(8, double(4))
  end)

  it("a remote function can be passed to a task and called there", function()
    local sq = rayl.remote(function(x) return x * x end)
    local call = rayl.remote(function(rf, x) return rayl.get(rf:remote(x)) end)
    assert.are.equal(81, rayl.get(call:remote(sq, 9)))
  end)

  it("FFI cdata arrays of numbers travel with their values", function()
    local ffi = require "ffi"
    local cd = ffi.new("double[3]", { 1.5, 2.5, -3 })
    local got = rayl.get(rayl.put(cd))
    local values
    if type(got) == "cdata" then
      values = { got[0], got[1], got[2] }
    else
      values = got:totable()
    end
    assert.are.same({ 1.5, 2.5, -3 }, values)
    local sum = rayl.remote(function(a, n)
      local s = 0
      if type(a) == "cdata" then
        for i = 0, n - 1 do s = s + a[i] end
      else
        for i = 1, #a do s = s + a[i] end
      end
      return s
    end)
    assert.are.equal(1, rayl.get(sum:remote(ffi.new("int32_t[4]", { -2, 0, 1, 2 }), 4)))
  end)

  it("a coroutine upvalue raises SerializationError at :remote() naming the upvalue", function()
    local co = coroutine.create(function() end)
    local line = debug.getinfo(1, "l").currentline; local f = rayl.remote(function() return co end)
    local err = h.expect_error("SerializationError", function() return f:remote() end)
    assert.truthy(err.message:find("upvalue 'co'", 1, true), err.message)
    assert.truthy(err.message:find("core_values_spec.lua:" .. line, 1, true), err.message)
    assert.truthy(err.message:find("thread", 1, true) or err.message:find("coroutine", 1, true), err.message)
  end)

  it("a userdata argument raises SerializationError naming the argument", function()
    local f = rayl.remote(function(x) return x end)
    local err = h.expect_error("SerializationError", function() return f:remote(1, io.stdout) end)
    assert.truthy(err.message:find("argument 2", 1, true), err.message)
    assert.truthy(err.message:find("userdata", 1, true), err.message)
    err = h.expect_error("SerializationError", function() return f:remote(io.stdout) end)
    assert.truthy(err.message:find("argument 1", 1, true), err.message)
  end)

  it("an unserializable value deep in a table names its path", function()
    local f = rayl.remote(function(x) return x end)
    local err = h.expect_error("SerializationError", function()
      return f:remote({ conn = { handle = io.stderr } })
    end)
    assert.truthy(err.message:find("argument 1", 1, true), err.message)
    assert.truthy(err.message:find("handle", 1, true), err.message)
  end)

  it("put of a coroutine raises SerializationError", function()
    local err = h.expect_error("SerializationError", rayl.put, coroutine.create(function() end))
    assert.truthy(err.message:find("thread", 1, true) or err.message:find("coroutine", 1, true), err.message)
    h.expect_error("SerializationError", rayl.put, { co = coroutine.create(function() end) })
  end)

  it("a task returning a coroutine fails with an error, not a hang", function()
    local f = rayl.remote({ max_retries = 0 }, function() return coroutine.create(function() end) end)
    local ok, err = pcall(rayl.get, f:remote(), { timeout = 10 })
    assert.is_false(ok)
    assert.is_true(rayl.errors.is(err, "SerializationError") or rayl.errors.is(err, "TaskError"), tostring(err))
    assert.is_false(rayl.errors.is(err, "GetTimeoutError"))
  end)
end)
