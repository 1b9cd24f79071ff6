-- runtime_env_spec: runtime_env = { working_dir, env_vars } in rayl.init and per task or
-- actor, on a private cluster: modules of the working dir load in tasks, env vars are
-- seen, two runtime_envs never share a worker, and set-up failures raise
-- RuntimeEnvSetupError instead of hanging.
local rayl = require "rayl"
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("runtime_env", function()
  local dir

  -- A working dir holding module mod.lua (returning who) and a data file.
  local function working_dir(name, who)
    local d = dir .. "/" .. name
    assert(os.execute("mkdir -p " .. d .. "/pkg") == 0)
    write(d .. "/mod.lua", ("return { who = %q }"):format(who))
    write(d .. "/pkg/init.lua", ("return { pkg = %q }"):format(who))
    write(d .. "/data.txt", "data of " .. who)
    return d
  end

  lazy_setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir) == 0)
    working_dir("job", "job dir")
    working_dir("a", "dir A")
    working_dir("b", "dir B")
    rayl.init { num_cpus = 2, runtime_env = { working_dir = dir .. "/job", env_vars = { JOBV = "from the job" } } }
  end)

  lazy_teardown(function()
    rayl.shutdown()
    os.execute("rm -rf " .. dir)
  end)

  -- What a task sees: the module it requires, a package, its data file, two env vars.
  local probe = rayl.remote(function()
    local ok, m = pcall(require, "mod")
    local pok, p = pcall(require, "pkg")
    local f = io.open("data.txt")
    local data = f and f:read("*a")
    if f then f:close() end
    return { mod = ok and m.who or "none", pkg = pok and p.pkg or "none", data = data,
             jobv = os.getenv("JOBV"), x = os.getenv("X"), pid = rayl.get_runtime_context().pid }
  end)

  it("tasks inherit rayl.init's working_dir (cwd and require) and env_vars", function()
    local r = rayl.get(probe:remote())
    assert.are.equal("job dir", r.mod)
    assert.are.equal("job dir", r.pkg)
    assert.are.equal("data of job dir", r.data)
    assert.are.equal("from the job", r.jobv)
    assert.is_nil(r.x)
  end)

  it("a task's runtime_env replaces the working_dir and merges env_vars", function()
    local r = rayl.get(probe:options { runtime_env = { working_dir = dir .. "/a", env_vars = { X = "a" } } }:remote())
    assert.are.equal("dir A", r.mod)
    assert.are.equal("data of dir A", r.data)
    assert.are.equal("from the job", r.jobv)
    assert.are.equal("a", r.x)
  end)

  it("two runtime_envs in one driver never share a worker or leak into each other", function()
    local fa = probe:options { runtime_env = { working_dir = dir .. "/a", env_vars = { X = "a" } } }
    local fb = probe:options { runtime_env = { working_dir = dir .. "/b" } }
    local refs = {}
    for i = 1, 12 do refs[i] = (i % 3 == 0 and probe or i % 3 == 1 and fa or fb):remote() end
    local pids = {}
    for i, r in ipairs(rayl.get(refs)) do
      local want = ({ [0] = { "job dir", nil }, { "dir A", "a" }, { "dir B", nil } })[i % 3]
      assert.are.equal(want[1], r.mod, "task " .. i)
      assert.are.equal(want[2], r.x, "task " .. i)
      local kind = i % 3
      assert.is_true(pids[r.pid] == nil or pids[r.pid] == kind, "worker " .. r.pid .. " served two runtime_envs")
      pids[r.pid] = kind
    end
  end)

  it("nested tasks inherit their parent's runtime_env; actors take one too", function()
    local outer = rayl.remote(function() return rayl.get(probe:remote()) end)
    local r = rayl.get(outer:options { runtime_env = { working_dir = dir .. "/b", env_vars = { X = "nested" } } }:remote())
    assert.are.equal("dir B", r.mod)
    assert.are.equal("nested", r.x)
    local A = rayl.remote({ who = function() return require("mod").who .. " " .. os.getenv("X") end })
    local a = A:options { runtime_env = { working_dir = dir .. "/a", env_vars = { X = "actor" } } }:remote()
    assert.are.equal("dir A actor", rayl.get(a.who:remote()))
  end)

  it("a missing working_dir raises RuntimeEnvSetupError at submission", function()
    local err = h.expect_error("RuntimeEnvSetupError", function()
      return probe:options { runtime_env = { working_dir = dir .. "/missing" } }:remote()
    end)
    assert.truthy(err.message:find("does not exist", 1, true), err.message)
    h.expect_error("RuntimeEnvSetupError", function()
      local A = rayl.remote({ f = function() end })
      return A:options { runtime_env = { working_dir = dir .. "/missing" } }:remote()
    end)
  end)

  it("a package the workers cannot fetch fails the task with RuntimeEnvSetupError, without hanging", function()
    local gone = "rayl_pkg_" .. ("0"):rep(32)
    local ref = probe:options { runtime_env = { working_dir = gone } }:remote()
    local err = h.expect_error("RuntimeEnvSetupError", rayl.get, ref, { timeout = 30 })
    assert.truthy(err.message:find(gone, 1, true), err.message)
    -- Other work goes on.
    assert.are.equal("job dir", rayl.get(probe:remote()).mod)
  end)

  it("bad runtime_env fields are ValueErrors", function()
    h.expect_error("ValueError", function() return probe:options { runtime_env = { pip = { "x" } } } end)
    h.expect_error("ValueError", function() return probe:options { runtime_env = { env_vars = { X = 1 } } } end)
    h.expect_error("ValueError", function() return probe:options { runtime_env = { env_vars = { ["A-B"] = "1" } } } end)
  end)

  it("rayl.init with a missing working_dir raises RuntimeEnvSetupError and leaves nothing running", function()
    write(dir .. "/init_missing.lua", ([[
      local rayl = require "rayl"
      local ok, err = pcall(rayl.init, { num_cpus = 1, runtime_env = { working_dir = %q } })
      print(ok, rayl.errors.is(err, "RuntimeEnvSetupError"), err and err.message, rayl.is_initialized())
    ]]):format(dir .. "/nope"))
    local out = h.sh(RAYL .. " " .. dir .. "/init_missing.lua")
    assert.truthy(out:find("false\ttrue\tworking_dir " .. dir .. "/nope does not exist\tfalse", 1, true), out)
  end)
end)
