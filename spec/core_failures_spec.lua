-- spec/core_failures_spec.lua: workers that crash or are killed, junk on the wire, and a full object store.
local rayl = require "rayl"
local ffi = require "ffi"
local h = require "spec.helpers"

local bump = h.bump

local MB = 1024 * 1024

-- Runs n trivial tasks and returns the sum of their results.
local function run_many(n)
  local inc = rayl.remote(function(i) return i + 1 end)
  local refs = {}
  for i = 1, n do refs[i] = inc:remote(i) end
  local total = 0
  for _, v in ipairs(rayl.get(refs, { timeout = 30 })) do total = total + v end
  return total
end

-- A minimal binding to libzmq for sending raw frames.
pcall(ffi.cdef, [[
  void *zmq_ctx_new(void);
  int zmq_ctx_term(void *ctx);
  void *zmq_socket(void *ctx, int type);
  int zmq_connect(void *s, const char *addr);
  int zmq_setsockopt(void *s, int option, const void *value, size_t len);
  int zmq_send(void *s, const void *buf, size_t len, int flags);
  int zmq_close(void *s);
]])
local ZMQ_DEALER, ZMQ_LINGER, ZMQ_SNDMORE = 5, 17, 2

local function open_zmq()
  local ok, lib = pcall(ffi.load, "zmq")
  if not ok then lib = ffi.load("libzmq.so.5") end
  return lib
end

describe("failures", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2, object_store_memory = 64 * MB }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("a task that calls os.exit(3) with max_retries = 0 raises WorkerCrashedError with the exit code", function()
    local quit = rayl.remote({ max_retries = 0 }, function() os.exit(3) end)
    local err = h.expect_error("WorkerCrashedError", rayl.get, quit:remote(), { timeout = 20 })
    assert.truthy(err.message:find("code 3", 1, true), err.message)
    assert.are.equal(100 * 101 / 2 + 100, run_many(100))
  end)

  it("a task whose worker exits is retried up to max_retries and then succeeds", function()
    local counter = h.counter_file()
    local flaky = rayl.remote({ max_retries = 2 }, function(path)
      local n = bump(path)
      if n <= 2 then os.exit(1) end
      return "survived " .. n
    end)
    assert.are.equal("survived 3", rayl.get(flaky:remote(counter), { timeout = 30 }))
    assert.are.equal(3, h.read_counter(counter))
    os.remove(counter)
  end)

  it("a task whose worker keeps exiting fails after max_retries + 1 attempts", function()
    local counter = h.counter_file()
    local doomed = rayl.remote({ max_retries = 1 }, function(path)
      bump(path)
      os.exit(4)
    end)
    local err = h.expect_error("WorkerCrashedError", rayl.get, doomed:remote(counter), { timeout = 30 })
    assert.truthy(err.message:find("code 4", 1, true), err.message)
    assert.are.equal(2, h.read_counter(counter))
    os.remove(counter)
  end)

  it("a segfault in C raises WorkerCrashedError naming the signal, and the cluster keeps working", function()
    local crash = rayl.remote({ max_retries = 0 }, function()
      return ffi.cast("int *", 0)[0]
    end)
    local err = h.expect_error("WorkerCrashedError", rayl.get, crash:remote(), { timeout = 20 })
    assert.truthy(err.message:find("SIGSEGV", 1, true) or err.message:find("signal 11", 1, true), err.message)
    assert.are.equal(100 * 101 / 2 + 100, run_many(100))
  end)

  it("a task whose worker is killed with kill -9 is retried", function()
    local marker = os.tmpname() -- empty: first attempt
    local victim = rayl.remote({ max_retries = 3 }, function(path)
      local f = assert(io.open(path))
      local seen = f:read("*a")
      f:close()
      if seen ~= "" then return "second attempt after " .. seen end
      f = assert(io.open(path, "w"))
      f:write(tostring(rayl.get_runtime_context().pid))
      f:close()
      local t = os.clock() + 20
      while os.clock() < t do end
      return "never killed"
    end)
    local ref = victim:remote(marker)
    local pid
    assert.is_true(h.wait_until(function()
      local f = io.open(marker)
      pid = f and tonumber(f:read("*a"))
      if f then f:close() end
      return pid ~= nil
    end, 10), "the task never started")
    assert.are_not.equal(rayl.get_runtime_context().pid, pid)
    local rc = os.execute("kill -9 " .. pid)
    assert.is_true(rc == 0 or rc == true, "kill -9 " .. pid .. " failed")
    assert.are.equal("second attempt after " .. pid, rayl.get(ref, { timeout = 20 }))
    os.remove(marker)
  end)

  it("junk sent to the node manager's socket does not stop it", function()
    local ctx_info = rayl.get_runtime_context()
    assert.are.equal("string", type(ctx_info.session_dir))
    local endpoint = "ipc://" .. ctx_info.session_dir .. "/sockets/node"
    local zmq = open_zmq()
    local ctx = zmq.zmq_ctx_new()
    local sock = zmq.zmq_socket(ctx, ZMQ_DEALER)
    assert.is_true(sock ~= nil)
    local linger = ffi.new("int[1]", 2000)
    zmq.zmq_setsockopt(sock, ZMQ_LINGER, linger, ffi.sizeof("int"))
    assert.are.equal(0, zmq.zmq_connect(sock, endpoint))
    local function send(bytes, more)
      local rc = zmq.zmq_send(sock, bytes, #bytes, more and ZMQ_SNDMORE or 0)
      assert.are.equal(#bytes, rc)
    end
    math.randomseed(1234)
    for _ = 1, 50 do -- random bytes of random lengths
      local t = {}
      for i = 1, math.random(1, 300) do t[i] = string.char(math.random(0, 255)) end
      send(table.concat(t))
    end
    send("") -- a 0-byte frame
    send("\1\2") -- a header cut short
    send("\1\2\0\0") -- a header and no body
    send("\1\2\0\0\220\0\5\1\2") -- truncated msgpack: array16 of 5, 2 present
    send("\1\2\0\0\221\255\255\255\255") -- claims a 4-billion-element array
    send("\1\2\0\0\198\255\255\255\255xx") -- claims a 4 GB bin
    send("\99\2\0\0\145\1") -- wrong version
    for ty = 0, 255 do -- every message type with a body of the wrong shape
      send(string.char(1, ty, 0, 0) .. "\148\192\161x\255\128")
      send(string.char(1, ty, 0, 0) .. "\144")
    end
    send("\1\2\0\0\145\1", true) -- a multi-frame message
    send("\1\2\0\0\145\1", true)
    send("tail")
    zmq.zmq_close(sock)
    zmq.zmq_ctx_term(ctx)
    assert.are.equal(1000 * 1001 / 2 + 1000, run_many(1000))
    local nodes = rayl.nodes()
    assert.are.equal(1, #nodes)
    assert.is_true(nodes[1].alive)
  end)

  it("a put bigger than the object store raises OutOfMemoryError, and the cluster keeps working", function()
    local big = rayl.array("float64", 100 * MB / 8)
    local err = h.expect_error("OutOfMemoryError", rayl.put, big)
    local size = tonumber(err.message:match("(%d+) bytes"))
    assert.is_true(size ~= nil and size >= 100 * MB, "message does not say the size: " .. err.message)
    assert.truthy(err.message:find("object store", 1, true), "message does not mention the store: " .. err.message)
    assert.truthy(err.message:find(tostring(64 * MB), 1, true) or err.message:find("64 MB", 1, true)
      or err.message:find("object_store_memory", 1, true), "message does not say the limit: " .. err.message)
    big = nil
    collectgarbage()
    local ok_arr = rayl.array("uint8", MB)
    ok_arr[MB] = 7
    assert.are.equal(7, rayl.get(rayl.put(ok_arr))[MB])
    local len = rayl.remote(function(a) return #a, a[#a] end)
    local two = len:options({ num_returns = 2 })
    local n, last = two:remote(ok_arr)
    assert.are.equal(MB, rayl.get(n))
    assert.are.equal(7, rayl.get(last))
    assert.are.equal(100 * 101 / 2 + 100, run_many(100))
  end)

  it("a task returning more than the object store holds fails with OutOfMemoryError", function()
    local huge = rayl.remote({ max_retries = 0 }, function() return rayl.array("uint8", 100 * 1024 * 1024) end)
    local ok, err = pcall(rayl.get, huge:remote(), { timeout = 30 })
    assert.is_false(ok)
    assert.is_true(rayl.errors.is(err, "OutOfMemoryError"), tostring(err))
    assert.are.equal(100 * 101 / 2 + 100, run_many(100))
  end)
end)
