-- spec/embed_spec.lua: the embedding C API (include/rayl.h) as a user builds against it:
-- `pkg-config --cflags --libs rayl`, and examples/embed/game_loop.c compiled with it and
-- run against a private cluster. (The API itself is tested by spec/c/embed_test.c.)
local h = require "spec.helpers"

local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"
local BUILD = RAYL:gsub("/bin/rayl$", "")
local ROOT = h.sh("pwd"):gsub("%s+$", "")

local function quote(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

local PKG = "PKG_CONFIG_PATH=" .. quote(BUILD .. "/pkgconfig") .. " pkg-config"

-- The key=value fields of the report line that starts with `name:`.
local function fields(report, name)
  local line = report:match("\n" .. name .. ": ([^\n]*)") or report:match("^" .. name .. ": ([^\n]*)")
  assert(line, "no '" .. name .. ":' line in the report:\n" .. report)
  local t = {}
  for k, v in line:gmatch("([%w_]+)=([%d.+-]+)") do t[k] = tonumber(v) end
  return t
end

describe("the embedding C API", function()
  local dir

  before_each(function()
    dir = h.sh("mktemp -d /tmp/rayl-embed-spec-XXXXXX"):gsub("%s+$", "")
  end)

  after_each(function()
    os.execute("rm -rf " .. quote(dir))
  end)

  it("is found by pkg-config from the build tree", function()
    local flags = h.sh(PKG .. " --cflags --libs rayl")
    assert.truthy(flags:find("-I" .. ROOT .. "/include", 1, true), flags)
    assert.truthy(flags:find("-lrayl", 1, true), flags)
    assert.equal(h.sh(PKG .. " --modversion rayl"):gsub("%s+$", ""), require("rayl").version)
  end)

  it("an installed rayl.pc builds programs that find librayl.so.0 under any prefix", function()
    local prefix = dir .. "/prefix"
    local install = h.sh(("cmake --install %s --prefix %s"):format(quote(BUILD), quote(prefix)))
    local pc = h.sh("find " .. quote(prefix) .. " -name rayl.pc"):gsub("%s+$", "")
    assert.truthy(pc:find("/pkgconfig/rayl.pc$"), install)
    local pkg = "PKG_CONFIG_PATH=" .. quote(pc:gsub("/rayl.pc$", "")) .. " pkg-config"
    -- A sanitized build's librayl needs its runtime: the build tree's flags say so.
    local sanitize = h.sh(PKG .. " --cflags rayl"):match("%-fsanitize=%S+") or ""
    local write_src = io.open(dir .. "/v.c", "w")
    write_src:write('#include <rayl.h>\n#include <stdio.h>\nint main(void) { puts(rayl_version()); return 0; }\n')
    write_src:close()
    local exe = dir .. "/v"
    local build = h.sh(("cc %s %s -o %s $(%s --cflags --libs rayl)"):format(sanitize, quote(dir .. "/v.c"),
      quote(exe), pkg))
    assert.equal("", build)
    -- No LD_LIBRARY_PATH: the rpath rayl.pc gave finds the installed library.
    local out = h.sh("env -u LD_LIBRARY_PATH " .. quote(exe))
    assert.equal(require("rayl").version .. "\n", out)
    assert.truthy(h.sh("ldd " .. quote(exe)):find(prefix, 1, true))
  end)

  it("exports exactly the header's functions from librayl.so, versioned RAYL_1.0", function()
    local header = h.read_file(ROOT .. "/include/rayl.h")
    local declared, exported = {}, {}
    for name in header:gmatch("\n%a[%w_ ]-[ *](rayl_[%w_]+)%(") do declared[name] = true end
    local symbols = h.sh("nm -D --defined-only " .. quote(BUILD .. "/lib/librayl.so"))
    for name, version in symbols:gmatch(" T (rayl_[%w_]+)@@?([%w_.]+)") do exported[name] = version end
    assert.is_true(next(declared) ~= nil)
    for name in pairs(declared) do assert.equal("RAYL_1.0", exported[name], name .. " is not exported") end
    for name in pairs(exported) do assert.is_true(declared[name], name .. " is exported but not in rayl.h") end
    -- Nothing of the runtime's internals (rl_*) leaks out.
    assert.falsy(symbols:find(" T rl_"), symbols)
  end)

  it("runs the game loop: frames keep coming while path jobs complete", function()
    local exe = dir .. "/game_loop"
    local build = h.sh(("cc -std=c99 -Wall -Wextra -Werror %s -o %s $(%s --cflags --libs rayl) -lm")
      :format(quote(ROOT .. "/examples/embed/game_loop.c"), quote(exe), PKG))
    assert.equal("", build)
    local report = h.sh(("RAYL_TMPDIR=%s %s --seconds 2 --jobs-per-frame 4"):format(quote(dir), quote(exe)))
    local idle, jobs, total = fields(report, "idle"), fields(report, "jobs"), fields(report, "total")
    -- 60 Hz for 2 s is 120 frames; a loaded machine may drop some, but a loop that
    -- waited on its jobs (tens of milliseconds each) would lose most of them.
    assert.is_true(idle.frames >= 60, report)
    assert.is_true(jobs.frames >= 0.75 * idle.frames, report)
    assert.is_true(jobs.max_in_flight >= 1, report)
    assert.is_true(jobs.jobs_done >= 20, report)
    assert.equal(0, idle.jobs_done)
    assert.equal(0, total.jobs_failed, report)
    assert.equal(total.jobs_submitted, total.jobs_done, report)
    assert.equal(0, total.in_flight, report)
    assert.truthy(report:find("frame_p99 with jobs %- idle: [+-][%d.]+ ms"), report)
  end)
end)
