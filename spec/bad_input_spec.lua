-- spec/bad_input_spec.lua: every public function of the `rayl` module (API.md) given bad
-- user input: wrong types, negative resources, unknown options, cyclic tables, functions
-- with unserializable upvalues, a 1 GiB string, invalid UTF-8 names. Each call must raise
-- the error type API.md fixes, naming the bad value, and the cluster must keep working.
local rayl = require "rayl"

local BAD_UTF8 = "ctr\255\254"

-- Each case: { what the user wrote, the call, error type, words the message must hold }.
local function case(what, fn, kind, words) return { what = what, fn = fn, kind = kind, words = words } end

-- Runs each case: the call must raise a rayl error of its type whose message holds
-- every word (plain text) and stay short, within `seconds` (nothing may hang). Every case runs; the
-- failures are reported together.
local function check_cases(cases, seconds)
  local core, failed = require "rayl.core", {}
  for _, c in ipairs(cases) do
    local t0 = core.now()
    local ok, err = pcall(c.fn)
    local took = core.now() - t0
    local why
    if ok then
      why = "expected a " .. c.kind .. ", but the call succeeded"
    elseif not rayl.errors.is(err, c.kind) then
      why = ("expected a %s, got %s"):format(c.kind,
        type(err) == "table" and tostring(err.type) .. ": " .. tostring(err.message) or tostring(err))
    elseif took > (seconds or 5) then
      why = ("took %.1f s"):format(took)
    elseif #err.message > 2000 then
      why = ("a message of %d bytes: a value is echoed whole"):format(#err.message)
    else
      for _, w in ipairs(c.words) do
        if not err.message:find(w, 1, true) then why = ("the message lacks %q: %s"):format(w, err.message) end
      end
    end
    if why then failed[#failed + 1] = c.what .. ": " .. why end
  end
  assert(#failed == 0, "\n" .. table.concat(failed, "\n"))
end

local function square(x) return x * x end

local Counter = {
  __init = function(self, n) self.n = n or 0 end,
  incr = function(self, k) self.n = self.n + (k or 1); return self.n end,
}

describe("rayl.init refuses bad input before starting anything", function()
  after_each(function() assert.is_false(rayl.is_initialized()) end)

  it("each bad call raises its error naming the bad value", function()
    check_cases {
      case("init('4')", function() rayl.init("4") end, "ValueError", { "rayl.init", "string" }),
      case("init{num_cpus = '4'}", function() rayl.init { num_cpus = "4" } end, "ValueError", { "num_cpus", "string" }),
      case("init{num_cpus = -1}", function() rayl.init { num_cpus = -1 } end, "ValueError", { "num_cpus", "-1" }),
      case("init{num_gpus = 0/0}", function() rayl.init { num_gpus = 0 / 0 } end, "ValueError", { "num_gpus", "nan" }),
      case("init{resources = {GPU = 1}}", function() rayl.init { resources = { GPU = 1 } } end, "ValueError",
        { "GPU", "num_gpus" }),
      case("init{resources = {tpu = -2}}", function() rayl.init { resources = { tpu = -2 } } end, "ValueError",
        { "tpu", "-2" }),
      case("init{num_cpu = 2}", function() rayl.init { num_cpu = 2 } end, "ValueError", { "num_cpu", "num_cpus" }),
      case("init{namespace = BAD_UTF8}", function() rayl.init { namespace = BAD_UTF8 } end, "ValueError",
        { "namespace", "UTF-8" }),
      case("init{runtime_env = {env_vars = {K = 1}}}", function() rayl.init { runtime_env = { env_vars = { K = 1 } } } end,
        "ValueError", { "env_vars", "K" }),
      case("init{runtime_env = {bogus = 1}}", function() rayl.init { runtime_env = { bogus = 1 } } end, "ValueError",
        { "bogus" }),
    }
  end)
end)

describe("the API refuses bad input and the cluster keeps working", function()
  local counter, ref, pg_util

  setup(function()
    rayl.init { num_cpus = 2, print_worker_logs = false }
    counter = rayl.remote(Counter):remote(0)
    ref = rayl.put(1)
    pg_util = rayl.util
  end)

  teardown(function() rayl.shutdown() end)

  -- What must still work after each group: a task, an actor call, put and get.
  local function still_works()
    assert.are.equal(49, rayl.get(rayl.remote(square):remote(7), { timeout = 30 }))
    local n = rayl.get(counter.incr:remote(1), { timeout = 30 })
    assert.are.equal(n + 1, rayl.get(counter.incr:remote(1), { timeout = 30 }))
    assert.are.same({ a = 1 }, rayl.get(rayl.put({ a = 1 })))
  end

  it("tasks: rayl.remote, options and :remote", function()
    local f = rayl.remote(square)
    local co = coroutine.create(function() end)
    local proxy = newproxy(false)
    check_cases {
      case("remote(42)", function() rayl.remote(42) end, "ValueError", { "rayl.remote", "number" }),
      case("remote('f')", function() rayl.remote("f") end, "ValueError", { "rayl.remote", "string" }),
      case("remote({num_cpus = -1}, f)", function() rayl.remote({ num_cpus = -1 }, square) end, "ValueError",
        { "num_cpus", "-1" }),
      case("remote({num_cpus = '1'}, f)", function() rayl.remote({ num_cpus = "1" }, square) end, "ValueError",
        { "num_cpus", "string" }),
      case("remote({num_cpu = 1}, f)", function() rayl.remote({ num_cpu = 1 }, square) end, "ValueError",
        { "num_cpu", "num_cpus" }),
      case("remote({resources = {x = -1}}, f):remote()", function() rayl.remote({ resources = { x = -1 } }, square):remote(1) end,
        "ValueError", { "x", "-1" }),
      case("remote({max_retries = -2}, f)", function() rayl.remote({ max_retries = -2 }, square) end, "ValueError",
        { "max_retries", "-2" }),
      case("remote({num_returns = 0.5}, f)", function() rayl.remote({ num_returns = 0.5 }, square) end, "ValueError",
        { "num_returns", "0.5" }),
      case("remote({scheduling_strategy = 'FAST'}, f)",
        function() rayl.remote({ scheduling_strategy = "FAST" }, square) end, "ValueError", { "FAST" }),
      case("remote({name = BAD_UTF8}, f):remote()", function() rayl.remote({ name = BAD_UTF8 }, square):remote(1) end,
        "ValueError", { "name", "UTF-8" }),
      case("f:options{name = 5000 bytes}:remote()", function() f:options { name = ("n"):rep(5000) }:remote(1) end,
        "ValueError", { "name", "(5000 bytes)" }),
      case("f:options{num_gpus = 1.5}", function() f:options { num_gpus = 1.5 } end, "ValueError",
        { "num_gpus", "1.5" }),
      case("f:options('x')", function() f:options("x") end, "ValueError", { "options", "string" }),
      case("f:options{runtime_env = {working_dir = 5}}", function() f:options { runtime_env = { working_dir = 5 } } end,
        "ValueError", { "working_dir", "number" }),
      case("remote(fn with a coroutine upvalue)", function()
        rayl.remote(function() return co end):remote()
      end, "SerializationError", { "co", "coroutine" }),
      case("remote(fn with a userdata upvalue)", function()
        rayl.remote(function() return proxy end):remote()
      end, "SerializationError", { "proxy", "userdata" }),
      case("f:remote(coroutine)", function() f:remote(co) end, "SerializationError", { "coroutine" }),
      case("f:remote(userdata)", function() f:remote({ conn = proxy }) end, "SerializationError", { "conn", "userdata" }),
    }
    still_works()
  end)

  it("objects: put, get, wait, cancel", function()
    local co = coroutine.create(function() end)
    local cyclic = { name = "loop" }
    cyclic.self = cyclic
    check_cases {
      case("put(coroutine)", function() rayl.put(co) end, "SerializationError", { "coroutine" }),
      case("put({f = io.stdout})", function() rayl.put({ f = io.stdout }) end, "SerializationError", { "f" }),
      case("get(42)", function() rayl.get(42) end, "ValueError", { "rayl.get", "number" }),
      case("get('ref')", function() rayl.get("ref") end, "ValueError", { "rayl.get", "string" }),
      case("get({ref, 3})", function() rayl.get({ ref, 3 }) end, "ValueError", { "rayl.get", "number" }),
      case("get(ref, {timeout = -1})", function() rayl.get(ref, { timeout = -1 }) end, "ValueError",
        { "timeout", "-1" }),
      case("get(ref, {timeout = '1'})", function() rayl.get(ref, { timeout = "1" }) end, "ValueError",
        { "timeout", "string" }),
      case("get(ref, {timout = 1})", function() rayl.get(ref, { timout = 1 }) end, "ValueError", { "timout" }),
      case("get(ref, 5)", function() rayl.get(ref, 5) end, "ValueError", { "rayl.get", "number" }),
      case("wait(42)", function() rayl.wait(42) end, "ValueError", { "rayl.wait", "42" }),
      case("wait({ref, 'x'})", function() rayl.wait({ ref, "x" }) end, "ValueError", { "rayl.wait", "string" }),
      case("wait({ref}, {num_returns = -1})", function() rayl.wait({ ref }, { num_returns = -1 }) end, "ValueError",
        { "num_returns", "-1" }),
      case("wait({ref}, {num_returns = 2})", function() rayl.wait({ ref }, { num_returns = 2 }) end, "ValueError",
        { "num_returns", "2" }),
      case("wait({ref}, {fetch = true})", function() rayl.wait({ ref }, { fetch = true }) end, "ValueError",
        { "fetch" }),
      case("cancel(42)", function() rayl.cancel(42) end, "ValueError", { "rayl.cancel", "42" }),
      case("cancel(ref, {force = 'yes'})", function() rayl.cancel(ref, { force = "yes" }) end, "ValueError",
        { "force", "string" }),
      case("cancel(ref, {forse = true})", function() rayl.cancel(ref, { forse = true }) end, "ValueError",
        { "forse" }),
    }
    -- A cyclic table is a value like any other: it travels, cycle and all.
    local back = rayl.get(rayl.put(cyclic))
    assert.are.equal(back, back.self)
    assert.are.equal("loop", back.name)
    still_works()
  end)

  it("a 1 GiB string: refused or stored, never a crash; as a name, refused without echoing it", function()
    local big = string.rep("x", 2 ^ 30) -- one of them only: the machine runs many specs at once
    local Class = rayl.remote(Counter)
    check_cases {
      case("get_actor(1 GiB)", function() rayl.get_actor(big) end, "ValueError", { "name", "(1073741824 bytes)" }),
      case("options{name = 1 GiB}", function() Class:options { name = big } end, "ValueError",
        { "name", "(1073741824 bytes)" }),
      case("placement_group(.., {name = 1 GiB})", function() rayl.util.placement_group({ { CPU = 1 } }, { name = big }) end,
        "ValueError", { "name", "(1073741824 bytes)" }),
      case("get(1 GiB)", function() rayl.get(big) end, "ValueError", { "rayl.get", "string" }),
    }
    local ok, err = pcall(rayl.put, big)
    big = nil
    collectgarbage()
    if not ok then
      -- Larger than this cluster's object store: a clear error saying so.
      assert(rayl.errors.is(err, "OutOfMemoryError") or rayl.errors.is(err, "ValueError"), tostring(err))
      assert.truthy(err.message:find("1073741824", 1, true) or err.message:find("1.00GiB", 1, true), err.message)
    else
      -- Stored: its length comes back without fetching it into a task.
      assert.are.equal(2 ^ 30, rayl.get(rayl.remote(function(s) return #s end):remote(err), { timeout = 120 }))
    end
    collectgarbage()
    still_works()
  end)

  it("actors: class options, method options, get_actor, kill", function()
    local Class = rayl.remote(Counter)
    check_cases {
      case("options{name = BAD_UTF8}", function() Class:options { name = BAD_UTF8 }:remote() end, "ValueError",
        { "name", "UTF-8" }),
      case("options{name = ''}", function() Class:options { name = "" }:remote() end, "ValueError", { "name" }),
      case("options{name = 5}", function() Class:options { name = 5 }:remote() end, "ValueError", { "name", "number" }),
      case("options{lifetime = 'forever'}", function() Class:options { lifetime = "forever" }:remote() end,
        "ValueError", { "lifetime", "forever" }),
      case("options{max_restarts = -5}", function() Class:options { max_restarts = -5 }:remote() end, "ValueError",
        { "max_restarts", "-5" }),
      case("options{max_concurrency = 0}", function() Class:options { max_concurrency = 0 }:remote() end,
        "ValueError", { "max_concurrency", "0" }),
      case("options{num_cpus = -0.5}", function() Class:options { num_cpus = -0.5 }:remote() end, "ValueError",
        { "num_cpus", "-0.5" }),
      case("options{max_restart = 1}", function() Class:options { max_restart = 1 }:remote() end, "ValueError",
        { "max_restart" }),
      case("incr:options{num_returns = -1}", function() counter.incr:options { num_returns = -1 }:remote() end,
        "ValueError", { "num_returns", "-1" }),
      case("incr:options{name = BAD_UTF8}", function() counter.incr:options { name = BAD_UTF8 } end, "ValueError",
        { "name", "UTF-8" }),
      case("incr:options{retries = 1}", function() counter.incr:options { retries = 1 }:remote() end, "ValueError",
        { "retries" }),
      case("counter.nope:remote()", function() counter.nope:remote() end, "ValueError", { "nope" }),
      case("get_actor(42)", function() rayl.get_actor(42) end, "ValueError", { "name", "42" }),
      case("get_actor(BAD_UTF8)", function() rayl.get_actor(BAD_UTF8) end, "ValueError", { "name", "UTF-8" }),
      case("get_actor('x', {namespace = 5})", function() rayl.get_actor("x", { namespace = 5 }) end, "ValueError",
        { "namespace", "number" }),
      case("get_actor('no_such_actor')", function() rayl.get_actor("no_such_actor") end, "ValueError",
        { "no_such_actor" }),
      case("kill(42)", function() rayl.kill(42) end, "ValueError", { "rayl.kill", "42" }),
      case("kill(ref)", function() rayl.kill(ref) end, "ValueError", { "rayl.kill" }),
      case("kill(counter, {no_restrt = true})", function() rayl.kill(counter, { no_restrt = true }) end, "ValueError",
        { "no_restrt" }),
    }
    still_works()
  end)

  it("placement groups, util.state and the frame-loop calls", function()
    local util = pg_util
    check_cases {
      case("placement_group('x')", function() util.placement_group("x") end, "ValueError", { "bundles", '"x"' }),
      case("placement_group({})", function() util.placement_group({}) end, "ValueError", { "bundles" }),
      case("placement_group({{CPU = -1}})", function() util.placement_group({ { CPU = -1 } }) end, "ValueError",
        { "CPU", "-1" }),
      case("placement_group({{CPU = 1}}, {strategy = 'TIGHT'})",
        function() util.placement_group({ { CPU = 1 } }, { strategy = "TIGHT" }) end, "ValueError", { "TIGHT" }),
      case("placement_group({{CPU = 1}}, {name = BAD_UTF8})",
        function() util.placement_group({ { CPU = 1 } }, { name = BAD_UTF8 }) end, "ValueError", { "name", "UTF-8" }),
      case("remove_placement_group(42)", function() util.remove_placement_group(42) end, "ValueError",
        { "remove_placement_group", "42" }),
      case("state.list_tasks{limit = -1}", function() util.state.list_tasks { limit = -1 } end, "ValueError",
        { "limit", "-1" }),
      case("state.list_tasks{filter = {}}", function() util.state.list_tasks { filter = {} } end, "ValueError",
        { "filter" }),
      case("state.list_tasks('x')", function() util.state.list_tasks("x") end, "ValueError", { "string" }),
      case("ref:on_ready(42)", function() ref:on_ready(42) end, "ValueError", { "on_ready", "42" }),
      case("rayl.array('float33', 4)", function() rayl.array("float33", 4) end, "ValueError", { "float33" }),
      case("rayl.array('float32', -4)", function() rayl.array("float32", -4) end, "ValueError", { "-4" }),
    }
    still_works()
  end)

  it("rayl.cuda, rayl.torch and rayl.rl entry points", function()
    local cases = {
      case("rl.make(42)", function() require("rayl.rl").make(42) end, "ValueError", { "42" }),
      case("rl.make('NoSuchEnv-v0')", function() require("rayl.rl").make("NoSuchEnv-v0") end, "ValueError",
        { "NoSuchEnv-v0" }),
    }
    local torch = require "rayl.torch"
    if torch.available() then
      cases[#cases + 1] = case("torch.zeros('x')", function() torch.zeros("x") end, "ValueError", { "x" })
      -- libtorch's own checks raise TorchError (API.md), naming the value
      cases[#cases + 1] = case("torch.zeros({-1})", function() torch.zeros({ -1 }) end, "TorchError", { "-1" })
      cases[#cases + 1] = case("torch.tensor({1}, {dtype = 'float33'})",
        function() torch.tensor({ 1 }, { dtype = "float33" }) end, "ValueError", { "float33" })
      cases[#cases + 1] = case("rl.PPO{env = 'CartPole-v1', lrr = 1}",
        function() require("rayl.rl").PPO { env = "CartPole-v1", lrr = 1 } end, "ValueError", { "lrr" })
    end
    check_cases(cases)
    still_works()
  end)

  it("rayl.cuda (on the CPU simulator, so every machine runs it)", function()
    local bin = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"
    local chunk = [[
      local cuda = require "rayl.cuda"
      local calls = {
        { "zeros(-1)", function() cuda.zeros(-1, "float32") end },
        { "zeros(4, 'float33')", function() cuda.zeros(4, "float33") end },
        { "zeros(1e15)", function() cuda.zeros(1e15, "float32") end },
        { "kernel(42)", function() cuda.kernel(42, "k") end },
        { "array('x')", function() cuda.array("x") end },
        { "elementwise(5, ...)", function() cuda.elementwise(5, "float32 y", "y = 1", "e") end },
      }
      for _, c in ipairs(calls) do
        local ok, e = pcall(c[2])
        print(c[1] .. " | " .. (ok and "ok" or type(e) == "table" and tostring(e.type) .. " | " .. tostring(e.message)
          or "plain | " .. tostring(e)))
      end
      print(cuda.zeros(4, "float32"):to_array()[1])]]
    local p = assert(io.popen(("RAYL_CUDA=sim %s -e '%s' 2>&1"):format(bin, chunk:gsub("'", "'\\''"))))
    local out = p:read("*a")
    p:close()
    for what, words in pairs {
      ["zeros(-1)"] = { "-1" }, ["zeros(4, 'float33')"] = { "float33" }, ["zeros(1e15)"] = { "1e+15" },
      ["kernel(42)"] = { "source", "number" }, ["array('x')"] = { "string" }, ["elementwise(5, ...)"] = { "number" },
    } do
      local line = out:match("\n?(" .. what:gsub("%p", "%%%0") .. " | [^\n]*)")
      assert.truthy(line and line:find(" | ValueError | ", 1, true), what .. ": " .. out)
      for _, w in ipairs(words) do assert.truthy(line:find(w, 1, true), what .. ": " .. line) end
    end
    assert.truthy(out:find("\n0\n$"), "the simulator works after the bad calls: " .. out)
  end)
end)
