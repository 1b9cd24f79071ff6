-- spec/options_spec.lua: bad options of rayl.init, tasks, actors, get and wait, actor
-- names, node affinity and API misuse: each fails at once with a ValueError naming the
-- option and the value, before anything is created.
local rayl = require "rayl"
local core = require "rayl.core"
local h = require "spec.helpers"

local NAN = 0 / 0

-- The ValueError fn(...) raises, checked to name each of `words` (plain text).
local function refused(words, fn, ...)
  local err = h.expect_error("ValueError", fn, ...)
  for _, w in ipairs(words) do
    assert.truthy(err.message:find(w, 1, true), ("message lacks %q: %s"):format(w, err.message))
  end
  return err
end

-- The error of fn(), which must come within `seconds`.
local function refused_promptly(seconds, words, fn)
  local t0 = h.now()
  local err = refused(words, fn)
  assert.truthy(h.now() - t0 < seconds, ("took %.1f s: %s"):format(h.now() - t0, err.message))
  return err
end

local function fn() return 1 end

local Class = {
  __init = function(self) self.n = 0 end,
  get = function(self) return self.n end,
}

describe("rayl.init refuses bad options at once, before starting a cluster", function()
  after_each(function()
    assert.is_false(rayl.is_initialized())
  end)

  it("object_store_memory below the store's minimum", function()
    refused_promptly(2, { "object_store_memory", "10", "1048576" },
      function() rayl.init { object_store_memory = 10 } end)
    refused_promptly(2, { "object_store_memory", "nan" }, function() rayl.init { object_store_memory = NAN } end)
    refused_promptly(2, { "object_store_memory", "1572864.5" },
      function() rayl.init { object_store_memory = 1.5 * 1024 * 1024 + 0.5 } end)
  end)

  it("a node manager that exits as it starts is reported at once, with its reason", function()
    -- rayl.core.init skips the option checks: the node itself refuses the store size.
    local t0 = h.now()
    local ok, err = pcall(core.init, { object_store_memory = 10, num_gpus = 0 })
    assert.is_false(ok)
    assert.truthy(h.now() - t0 < 5, ("took %.1f s"):format(h.now() - t0))
    assert.truthy(tostring(err):find("exited as it started", 1, true), tostring(err))
    assert.truthy(tostring(err):find("object_store_memory must be at least 1048576 bytes", 1, true), tostring(err))
  end)

  it("a negative custom resource", function()
    refused_promptly(2, { "resources", "'foo'", "-2", "negative" },
      function() rayl.init { resources = { foo = -2 } } end)
  end)

  it("resources.CPU and resources.GPU (num_cpus / num_gpus say how many)", function()
    refused_promptly(2, { "resources", "CPU = 4", "num_cpus" }, function() rayl.init { resources = { CPU = 4 } } end)
    refused_promptly(2, { "resources", "GPU = 1", "num_gpus" }, function() rayl.init { resources = { GPU = 1 } } end)
  end)

  it("a resource name that is not a string, with a readable message", function()
    local err = refused_promptly(2, {}, function() rayl.init { resources = { [1] = 2 } } end)
    assert.are.equal("bad resource in rayl.init's resources: the resource name 1 is a number, not a string",
      err.message)
    err = refused_promptly(2, {}, function() rayl.init { resources = { [true] = 1 } } end)
    assert.are.equal("bad resource in rayl.init's resources: the resource name true is a boolean, not a string",
      err.message)
  end)

  it("NaN, infinite and negative amounts", function()
    refused_promptly(2, { "num_cpus", "nan" }, function() rayl.init { num_cpus = NAN } end)
    refused_promptly(2, { "num_cpus", "-1" }, function() rayl.init { num_cpus = -1 } end)
    refused_promptly(2, { "num_gpus", "inf" }, function() rayl.init { num_gpus = math.huge } end)
    refused_promptly(2, { "resources", "'foo'", "nan" }, function() rayl.init { resources = { foo = NAN } } end)
  end)

  it("a namespace with control characters, empty or too long", function()
    refused_promptly(2, { "namespace", '"a\\nb"' }, function() rayl.init { namespace = "a\nb" } end)
    refused_promptly(2, { "namespace", '""' }, function() rayl.init { namespace = "" } end)
    refused_promptly(2, { "namespace", "64 bytes", "63" }, function() rayl.init { namespace = ("n"):rep(64) } end)
  end)
end)

describe("rayl start --resources follows the same rules", function()
  local bin = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

  -- Runs rayl start with these resources; returns its output, exit status and seconds.
  local function start(resources)
    local t0 = h.now()
    local p = assert(io.popen(("%s start --head --port %d --resources '%s' 2>&1; echo \"rc=$?\"")
      :format(bin, h.free_port(), resources)))
    local out = p:read("*a")
    p:close()
    return out, tonumber(out:match("rc=(%d+)")), h.now() - t0
  end

  -- A head that started before its node was refused would outlive the spec.
  after_each(function()
    local p = assert(io.popen(bin .. " stop 2>&1"))
    p:read("*a")
    p:close()
  end)

  it("CPU and GPU are refused at once, naming --num-cpus / --num-gpus", function()
    local out, rc, took = start('{"CPU": 4}')
    assert.are_not.equal(0, rc, out)
    assert.truthy(out:find("must not name CPU; use --num-cpus", 1, true), out)
    assert.truthy(took < 5, ("took %.1f s: %s"):format(took, out))
    out, rc = start('{"GPU": 1}')
    assert.are_not.equal(0, rc, out)
    assert.truthy(out:find("must not name GPU; use --num-gpus", 1, true), out)
  end)

  it("a negative amount is refused at once, naming the resource", function()
    local out, rc, took = start('{"foo": -2}')
    assert.are_not.equal(0, rc, out)
    assert.truthy(out:find("resource 'foo': amount -2 is negative", 1, true), out)
    assert.truthy(took < 5, ("took %.1f s: %s"):format(took, out))
  end)
end)

describe("options on a cluster", function()
  lazy_setup(function()
    rayl.init { num_cpus = 2 }
  end)

  lazy_teardown(function()
    rayl.shutdown()
  end)

  describe("resource names that are not strings", function()
    local expected = "the resource name %s is a %s, not a string"

    it("in a task's resources", function()
      local f = rayl.remote(fn)
      local err = refused({}, function() return f:options { resources = { [1] = 2 } }:remote() end)
      assert.are.equal("bad resource in the task's resources: " .. expected:format("1", "number"), err.message)
      err = refused({}, function() return f:options { resources = { [true] = 1 } }:remote() end)
      assert.are.equal("bad resource in the task's resources: " .. expected:format("true", "boolean"), err.message)
    end)

    it("in an actor's resources", function()
      local A = rayl.remote({ resources = { [2.5] = 1 } }, Class)
      local err = refused({}, function() return A:remote() end)
      assert.are.equal("bad resource in resources: " .. expected:format("2.5", "number"), err.message)
    end)

    it("in a placement group's bundle", function()
      refused({ "bundle 1", "number" }, rayl.util.placement_group, { { [1] = 1 } })
      local err = refused({}, core.pg_create, { { [1] = 1 } }, "PACK", nil, false)
      assert.are.equal("bad resource in bundle 1: " .. expected:format("1", "number"), err.message)
    end)

    it("a resource amount that is not a number", function()
      local f = rayl.remote(fn)
      refused({ "'foo'", '"x"', "not a number" },
        function() return f:options { resources = { foo = "x" } }:remote() end)
    end)
  end)

  describe("tasks", function()
    it("refuse NaN, negative and infinite amounts", function()
      refused({ "num_cpus", "nan" }, rayl.remote, { num_cpus = NAN }, fn)
      refused({ "num_gpus", "-1" }, rayl.remote, { num_gpus = -1 }, fn)
      refused({ "memory", "inf" }, rayl.remote, { memory = math.huge }, fn)
      local f = rayl.remote(fn)
      refused({ "num_cpus", "nan" }, function() return f:options { num_cpus = NAN } end)
    end)

    it("refuse counts that are not whole numbers in range", function()
      refused({ "num_returns", "1.5" }, rayl.remote, { num_returns = 1.5 }, fn)
      refused({ "num_returns", "nan" }, rayl.remote, { num_returns = NAN }, fn)
      refused({ "num_returns", "0" }, rayl.remote, { num_returns = 0 }, fn)
      refused({ "max_retries", "nan" }, rayl.remote, { max_retries = NAN }, fn)
      refused({ "max_retries", "-5" }, rayl.remote, { max_retries = -5 }, fn)
    end)

    it("refuse resources.CPU and resources.GPU, as rayl.init does", function()
      refused({ "resources", "CPU = 2", "num_cpus" }, rayl.remote, { resources = { CPU = 2 } }, fn)
      refused({ "resources", "GPU = 1", "num_gpus" }, rayl.remote, { resources = { GPU = 1 } }, fn)
    end)
  end)

  describe("actors", function()
    it("refuse NaN and negative restarts and retries (-1 is the only 'no limit')", function()
      refused({ "max_restarts", "-5" }, rayl.remote, { max_restarts = -5 }, Class)
      refused({ "max_restarts", "nan" }, rayl.remote, { max_restarts = NAN }, Class)
      refused({ "max_task_retries", "nan" }, rayl.remote, { max_task_retries = NAN }, Class)
      refused({ "max_task_retries", "1.5" }, rayl.remote, { max_task_retries = 1.5 }, Class)
      local A = rayl.remote(Class)
      refused({ "max_restarts", "-5" }, function() return A:options { max_restarts = -5 } end)
    end)

    it("refuse NaN amounts and bad concurrency", function()
      refused({ "num_cpus", "nan" }, rayl.remote, { num_cpus = NAN }, Class)
      refused({ "num_gpus", "-2" }, rayl.remote, { num_gpus = -2 }, Class)
      refused({ "max_concurrency", "2.5" }, rayl.remote, { max_concurrency = 2.5 }, Class)
      refused({ "concurrency_groups.io", "0" }, rayl.remote, { concurrency_groups = { io = 0 } }, Class)
      refused({ "resources", "CPU = 1", "num_cpus" }, rayl.remote, { resources = { CPU = 1 } }, Class)
    end)

    it("refuse a method's num_returns that is not a whole number", function()
      local class = { __init = Class.__init, get = Class.get, __options = { get = { num_returns = 1.5 } } }
      refused({ "num_returns", "1.5", "get" }, rayl.remote, class)
      local a = rayl.remote(Class):remote()
      refused({ "num_returns", "nan" }, function() return a.get:options { num_returns = NAN } end)
      assert.are.equal(0, rayl.get(a.get:remote()))
    end)
  end)

  describe("get and wait", function()
    it("wait with num_returns NaN or 1.5 fails at once instead of hanging", function()
      local ref = rayl.put(1)
      refused_promptly(1, { "num_returns", "nan" }, function() return rayl.wait({ ref }, { num_returns = NAN }) end)
      local a, b = rayl.put(2), rayl.put(3)
      refused_promptly(1, { "num_returns", "1.5" }, function() return rayl.wait({ a, b }, { num_returns = 1.5 }) end)
      refused_promptly(1, { "num_returns", "3" }, function() return rayl.wait({ a, b }, { num_returns = 3 }) end)
      local ready = rayl.wait({ a, b }, { num_returns = 2 })
      assert.are.equal(2, #ready)
    end)

    it("NaN or negative timeouts fail at once; math.huge means no limit", function()
      local ref = rayl.put(7)
      refused_promptly(1, { "timeout", "nan" }, function() return rayl.get(ref, { timeout = NAN }) end)
      refused_promptly(1, { "timeout", "-1" }, function() return rayl.get(ref, { timeout = -1 }) end)
      refused_promptly(1, { "timeout", "nan" }, function() return rayl.wait({ ref }, { timeout = NAN }) end)
      assert.are.equal(7, rayl.get(ref, { timeout = math.huge }))
      assert.are.equal(1, #rayl.wait({ ref }, { timeout = math.huge }))
    end)

    it("rayl.core checks them too", function()
      local ref = rayl.put(1)
      refused({ "timeout", "nan" }, core.get, ref, NAN)
      refused({ "num_returns", "nan" }, core.wait, { ref }, NAN)
      refused({ "timeout", "nan" }, core.wait, { ref }, 1, NAN)
    end)
  end)

  describe("actor names", function()
    it("do not collide across namespaces that contain ':'", function()
      local A = rayl.remote(Class)
      local one = A:options { name = "b:c", namespace = "a" }:remote()
      local two = A:options { name = "c", namespace = "a:b" }:remote()
      assert.are.equal(one, rayl.get_actor("b:c", { namespace = "a" }))
      assert.are.equal(two, rayl.get_actor("c", { namespace = "a:b" }))
      assert.are_not.equal(one, two)
    end)

    it("with NUL, newlines or other control characters are refused before anything is created", function()
      local A = rayl.remote(Class)
      refused({ "name", '"a\\0b"' }, function() return A:options { name = "a\0b" }:remote() end)
      h.expect_error("ValueError", rayl.get_actor, "a")
      refused({ "name", '"x\\ny"' }, function() return A:options { name = "x\ny" }:remote() end)
      refused({ "name", '"tab\\9"' }, function() return A:options { name = "tab\t" } end)
      refused({ "namespace", '"n\\0s"' }, rayl.remote, { name = "ok", namespace = "n\0s" }, Class)
      refused({ "name", '"a\\0b"' }, rayl.get_actor, "a\0b")
    end)

    it("longer than 63 bytes or empty are refused; 63 bytes work", function()
      local A = rayl.remote(Class)
      local t0 = h.now()
      refused({ "name", "2000 bytes", "63" }, function() return A:options { name = ("x"):rep(2000) }:remote() end)
      assert.truthy(h.now() - t0 < 1)
      refused({ "name", '""' }, function() return A:options { name = "" }:remote() end)
      local long = ("y"):rep(63)
      local a = A:options { name = long }:remote()
      assert.are.equal(0, rayl.get(rayl.get_actor(long).get:remote(), { timeout = 30 }))
      assert.are.equal(a, rayl.get_actor(long))
      refused({ "name", "64 bytes" }, rayl.get_actor, long .. "y")
    end)
  end)

  describe("node affinity", function()
    local unknown = ("ab"):rep(16)

    it("a hard affinity to a node not in the cluster fails at submission", function()
      local f = rayl.remote(fn)
      local err = refused({ "scheduling_strategy", unknown, "soft" },
        function() return f:options { scheduling_strategy = { node_id = unknown } }:remote() end)
      assert.truthy(err.message:find("not an alive node", 1, true), err.message)
      refused({ unknown }, function()
        return f:options { scheduling_strategy = { node_id = unknown:upper(), soft = false } }:remote()
      end)
      local A = rayl.remote({ scheduling_strategy = { node_id = unknown } }, Class)
      refused({ "scheduling_strategy", unknown }, function() return A:remote() end)
    end)

    it("a soft affinity to a node not in the cluster runs elsewhere", function()
      local f = rayl.remote(fn)
      assert.are.equal(1, rayl.get(f:options { scheduling_strategy = { node_id = unknown, soft = true } }:remote(),
        { timeout = 30 }))
    end)

    it("a hard affinity to this node runs here", function()
      local f = rayl.remote(fn)
      local here = rayl.get_runtime_context().node_id
      assert.are.equal(1, rayl.get(f:options { scheduling_strategy = { node_id = here } }:remote(), { timeout = 30 }))
    end)

    it("a node id that is not 32 hex digits is refused, not ignored", function()
      refused({ "node_id", ("z"):rep(32) }, rayl.remote, { scheduling_strategy = { node_id = ("z"):rep(32) } }, fn)
      refused({ "node_id", "12" }, rayl.remote, { scheduling_strategy = { node_id = 12 } }, fn)
      refused({ "soft", '"yes"' }, rayl.remote, { scheduling_strategy = { node_id = unknown, soft = "yes" } }, fn)
    end)
  end)

  describe("API misuse says what to write", function()
    it("f.remote(...) and f.options{...}", function()
      local f = rayl.remote(fn)
      refused({ "f:remote(...)" }, function() return f.remote(5) end)
      refused({ "f:options{...}" }, function() return f.options { num_cpus = 1 } end)
    end)

    it("A.remote(...) and h.method.remote(...)", function()
      local A = rayl.remote(Class)
      refused({ "A:remote(...)" }, function() return A.remote() end)
      refused({ "A:options{...}" }, function() return A.options { num_cpus = 1 } end)
      local a = A:remote()
      refused({ "h.method:remote(...)" }, function() return a.get.remote() end)
    end)

    it("rayl.remote(fn, options): the options come first", function()
      refused({ "rayl.remote(options, fn)" }, rayl.remote, fn, { num_cpus = 1 })
      refused({ "rayl.remote(options, class)" }, rayl.remote, Class, { num_cpus = 1 })
    end)
  end)
end)
