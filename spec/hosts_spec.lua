-- hosts_spec: `require "rayl"` inside other LuaJIT hosts (plain luajit, LÖVE under a
-- virtual display, headless Neovim), driven from their own loops with on_ready + poll.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"
local sh = h.sh

describe("rayl inside other LuaJIT hosts", function()
  local dir, env

  lazy_setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir) == 0)
    -- `rayl path` gives the LUA_PATH/LUA_CPATH exports users eval. A sanitizer build's
    -- module needs its runtime loaded first in a host that was not built with it.
    local path = sh(RAYL .. " path")
    assert.truthy(path:find("export LUA_CPATH=", 1, true), path)
    local cpath_dir = path:match("LUA_CPATH='([^?]*)%?")
    local preload = ""
    if sh("ldd " .. cpath_dir .. "rayl/core.so"):find("libasan", 1, true) then
      preload = ("LD_PRELOAD='%s %s' ASAN_OPTIONS=detect_leaks=0 "):format(
        sh("gcc -print-file-name=libasan.so"):gsub("%s+$", ""), sh("gcc -print-file-name=libubsan.so"):gsub("%s+$", ""))
    end
    env = path:gsub("\n", "; ") .. "export RAYL_TMPDIR=" .. dir .. " RAYL_BIN=" .. RAYL .. "; " .. preload
  end)

  lazy_teardown(function() os.execute("rm -rf " .. dir) end)

  local function no_daemons_left()
    os.execute("sleep 0.3")
    assert.are.equal("", sh("pgrep -fa 'rayl (head|node|worker) .*" .. dir .. "' || true"))
  end

  it("plain luajit: require 'rayl', on_ready callbacks run from rayl.poll()", function()
    local out = sh(env .. [[luajit -e '
      local rayl = require "rayl"
      local f = rayl.remote(function(x) return x * 2 end)
      local got, polls = nil, 0
      f:remote(21):on_ready(function(v) got = v end)
      while not got do rayl.poll(); polls = polls + 1 end
      print("got", got, "polled", polls > 0)
      rayl.shutdown()' 2>&1]])
    assert.truthy(out:find("got\t42\tpolled\ttrue", 1, true), out)
    no_daemons_left()
  end)

  it("LÖVE: plans arrive from workers while frames keep coming (virtual display)", function()
    local out = sh(env .. "RAYL_DEMO_SECONDS=4 timeout 60 xvfb-run -a -s '-screen 0 640x480x24' " ..
      "love examples/love 2>&1")
    local frames, plans, with_plans, bad = out:match("summary: frames=(%d+) plans=(%d+) frames_with_plans=(%d+) bad_steps=(%d+)")
    assert.truthy(frames, out)
    -- Four seconds at 60 Hz is 240 frames; a loaded machine may lose some at start-up.
    assert.truthy(tonumber(frames) >= 120, out)
    -- Every agent got a first plan, and plans landed in many different frames.
    assert.truthy(tonumber(plans) >= 12, out)
    assert.truthy(tonumber(with_plans) >= 5, out)
    assert.are.equal("0", bad, out) -- every step of every plan is a legal move
    no_daemons_left()
  end)

  it("Neovim: :RaylPi runs tasks while the editor's loop keeps running", function()
    local out = sh(env .. "timeout 60 nvim --headless -u NONE --cmd 'set rtp+=examples/nvim' " ..
      "-c 'runtime plugin/rayl_demo.lua' -c 'RaylPi! 8' 2>&1")
    local pi, ticks = out:match("pi is about ([%d.]+) %(8 tasks.-the editor ran (%d+) times")
    assert.truthy(pi, out)
    assert.truthy(math.abs(tonumber(pi) - math.pi) < 0.01, out)
    assert.truthy(tonumber(ticks) >= 1, out)
    no_daemons_left()
  end)
end)
