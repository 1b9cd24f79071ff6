-- spec/core_tasks_spec.lua: remote functions, options, argument passing and the cluster API.
local rayl = require "rayl"
local h = require "spec.helpers"

describe("tasks", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  it("rayl.is_initialized() is true after init", function()
    assert.is_true(rayl.is_initialized())
  end)

  it("rayl.remote(fn): f:remote(args) returns an ObjectRef at once and get gives the result", function()
    local square = rayl.remote(function(x) return x * x end)
    local t0 = h.now()
    local slow = rayl.remote(function(s)
      local t = os.clock() + s
      while os.clock() < t do end
      return "done"
    end)
    local ref = slow:remote(0.5)
    assert.is_true(h.now() - t0 < 0.3, "remote() blocked until the task finished")
    assert.are.equal("userdata", type(ref))
    assert.is_false(ref:ready())
    assert.are.equal(16, rayl.get(square:remote(4)))
    assert.are.equal("done", rayl.get(ref))
  end)

  it("rayl.remote(opts, fn) applies the options", function()
    local three = rayl.remote({ num_returns = 3, num_cpus = 1, max_retries = 0 }, function(a)
      return a, a + 1, a + 2
    end)
    local r1, r2, r3 = three:remote(10)
    assert.are.same({ 10, 11, 12 }, rayl.get({ r1, r2, r3 }))
  end)

  it("f:options{...}:remote() runs with changed options and leaves f unchanged", function()
    local f = rayl.remote(function(a, b) return a + b, a - b end)
    local s, d = f:options({ num_returns = 2 }):remote(7, 3)
    assert.are.equal(10, rayl.get(s))
    assert.are.equal(4, rayl.get(d))
    local one, extra = f:remote(7, 3)
    assert.is_nil(extra)
    assert.are.equal(10, rayl.get(one))
    -- options asking for every CPU of the cluster still schedule
    assert.are.equal(3, rayl.get(f:options({ num_cpus = 2 }):remote(1, 2)))
  end)

  it("num_returns = 3 gives three refs with the right values", function()
    local f = rayl.remote({ num_returns = 3 }, function() return "a", { b = 2 }, 3.5 end)
    local a, b, c = f:remote()
    assert.are.equal("a", rayl.get(a))
    assert.are.same({ b = 2 }, rayl.get(b))
    assert.are.equal(3.5, rayl.get(c))
  end)

  it("passes nil arguments in place and many arguments in order", function()
    local count = rayl.remote({ num_returns = 3 }, function(...)
      local a, b, c = ...
      return select("#", ...), a, c
    end)
    local n, a, c = count:remote(1, nil, 3)
    assert.are.same({ 3, 1, 3 }, rayl.get({ n, a, c }))
    local nothing = rayl.remote(function() end)
    assert.is_nil(rayl.get(nothing:remote()))
    local pack = rayl.remote(function(...) return { n = select("#", ...), ... } end)
    local args = {}
    for i = 1, 20 do args[i] = i % 3 == 0 and rayl.put(i) or i end
    local expected = { n = 20 }
    for i = 1, 20 do expected[i] = i end
    assert.are.same(expected, rayl.get(pack:remote(unpack(args))))
  end)

  it("num_returns = 12 returns twelve refs", function()
    local many = rayl.remote({ num_returns = 12 }, function()
      local t = {}
      for i = 1, 12 do t[i] = i * i end
      return unpack(t)
    end)
    local refs = { many:remote() }
    assert.are.equal(12, #refs)
    assert.are.same({ 1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144 }, rayl.get(refs))
  end)

  it("rayl.init while initialized raises ValueError", function()
    h.expect_error("ValueError", rayl.init, { num_cpus = 2 })
    h.expect_error("ValueError", rayl.init, { num_cpu = 2 })
    assert.is_true(rayl.is_initialized())
  end)

  it("returning the wrong number of values with num_returns > 1 raises TaskError", function()
    local f = rayl.remote({ num_returns = 3, max_retries = 0 }, function() return 1, 2 end)
    local a, b, c = f:remote()
    local err = h.expect_error("TaskError", rayl.get, a)
    assert.truthy(err.message:find("3"), err.message)
    h.expect_error("TaskError", rayl.get, c)
    local g = rayl.remote({ num_returns = 2, max_retries = 0 }, function() return 1, 2, 3 end)
    local x = g:remote()
    h.expect_error("TaskError", rayl.get, x)
  end)

  it("resolves a top-level ObjectRef argument to its value before the task runs", function()
    local kind = rayl.remote(function(v) return type(v), v end)
    local ty = rayl.remote({ num_returns = 2 }, function(v) return type(v), v end)
    local t, v = ty:remote(rayl.put({ 1, 2, 3 }))
    assert.are.equal("table", rayl.get(t))
    assert.are.same({ 1, 2, 3 }, rayl.get(v))
    assert.are.equal("string", rayl.get(kind:remote(rayl.put("x"))))
  end)

  it("resolves a ref produced by another task that is still pending", function()
    local slow = rayl.remote(function(x)
      local t = os.clock() + 0.3
      while os.clock() < t do end
      return x
    end)
    local add = rayl.remote(function(a, b) return a + b end)
    local pending = slow:remote(40)
    assert.is_false(pending:ready())
    assert.are.equal(42, rayl.get(add:remote(pending, 2)))
  end)

  it("resolves a chain f(g(h(x)))", function()
    local f = rayl.remote(function(x) return x .. "f" end)
    local g = rayl.remote(function(x) return x .. "g" end)
    local hh = rayl.remote(function(x) return x .. "h" end)
    assert.are.equal("xhgf", rayl.get(f:remote(g:remote(hh:remote("x")))))
  end)

  it("keeps a ref nested in a table argument as an ObjectRef the task can get", function()
    local inner = rayl.put("inside")
    local peek = rayl.remote({ num_returns = 2 }, function(t)
      return type(t.ref), rayl.get(t.ref)
    end)
    local kind, value = peek:remote({ ref = inner })
    assert.are.equal("userdata", rayl.get(kind))
    assert.are.equal("inside", rayl.get(value))
  end)

  it("lets a task submit tasks and get their results", function()
    local leaf = rayl.remote(function(x) return x * 10 end)
    local parent = rayl.remote(function(n)
      local refs = {}
      for i = 1, n do refs[i] = leaf:remote(i) end
      local total = 0
      for _, v in ipairs(rayl.get(refs)) do total = total + v end
      return total
    end)
    assert.are.equal(150, rayl.get(parent:remote(5)))
  end)

  it("runs 200 tasks in parallel and gives the right sum", function()
    local inc = rayl.remote(function(i) return i + 1 end)
    local refs = {}
    for i = 1, 200 do refs[i] = inc:remote(i) end
    local total = 0
    for _, v in ipairs(rayl.get(refs)) do total = total + v end
    assert.are.equal(200 * 201 / 2 + 200, total)
  end)

  it("calling a remote function directly raises ValueError", function()
    local f = rayl.remote(function() return 1 end)
    local err = h.expect_error("ValueError", function() return f() end)
    assert.truthy(err.message:find(":remote", 1, true), err.message)
  end)

  it("unknown option names raise ValueError listing the valid options", function()
    local fn = function() end
    local err = h.expect_error("ValueError", rayl.remote, { num_cpu = 1 }, fn)
    assert.truthy(err.message:find("num_cpu", 1, true), err.message)
    assert.truthy(err.message:find("num_cpus", 1, true), err.message)
    assert.truthy(err.message:find("max_retries", 1, true), err.message)
    local f = rayl.remote(fn)
    err = h.expect_error("ValueError", function() return f:options({ retries = 2 }) end)
    assert.truthy(err.message:find("retries", 1, true), err.message)
    assert.truthy(err.message:find("num_returns", 1, true), err.message)
  end)

  it("wrong option types and values raise ValueError", function()
    local fn = function() end
    local err = h.expect_error("ValueError", rayl.remote, { num_cpus = "two" }, fn)
    assert.truthy(err.message:find("num_cpus", 1, true), err.message)
    h.expect_error("ValueError", rayl.remote, { retry_exceptions = "yes" }, fn)
    h.expect_error("ValueError", rayl.remote, { resources = 3 }, fn)
    h.expect_error("ValueError", rayl.remote, { num_returns = 0 }, fn)
    h.expect_error("ValueError", rayl.remote, { num_returns = 1.5 }, fn)
    h.expect_error("ValueError", rayl.remote, { num_cpus = -1 }, fn)
    h.expect_error("ValueError", rayl.remote, { max_retries = -2 }, fn)
    h.expect_error("ValueError", rayl.remote, { scheduling_strategy = "NOWHERE" }, fn)
    h.expect_error("ValueError", rayl.remote, "not options", fn)
    h.expect_error("ValueError", rayl.remote, 42)
    local f = rayl.remote(fn)
    h.expect_error("ValueError", function() return f:options({ num_gpus = {} }) end)
  end)

  it("get_runtime_context() inside a task names the task, worker and node", function()
    local ctx_of = rayl.remote(function() return rayl.get_runtime_context() end)
    local mine = rayl.get_runtime_context()
    local ctx = rayl.get(ctx_of:remote())
    assert.are.equal("string", type(ctx.task_id))
    assert.are.equal("string", type(ctx.worker_id))
    assert.are.equal("string", type(ctx.node_id))
    assert.are.equal("number", type(ctx.pid))
    assert.are_not.equal(mine.pid, ctx.pid)
    assert.are_not.equal(mine.worker_id, ctx.worker_id)
    assert.are.equal(rayl.nodes()[1].node_id, ctx.node_id)
    local other = rayl.get(ctx_of:remote())
    assert.are_not.equal(ctx.task_id, other.task_id)
  end)

  it("cluster_resources() reports 2 CPUs and available_resources() a table", function()
    assert.are.equal(2, rayl.cluster_resources().CPU)
    local avail = rayl.available_resources()
    assert.are.equal("table", type(avail))
    -- with nothing running, every CPU is available again
    assert.is_true(h.wait_until(function() return rayl.available_resources().CPU == 2 end, 5),
      "available CPU stayed at " .. tostring(rayl.available_resources().CPU))
  end)

  it("nodes() lists one alive node", function()
    local nodes = rayl.nodes()
    assert.are.equal(1, #nodes)
    assert.is_true(nodes[1].alive)
    assert.are.equal("string", type(nodes[1].node_id))
    assert.are.equal(2, nodes[1].resources.CPU)
  end)
end)
