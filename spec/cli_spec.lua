-- spec/cli_spec.lua: the rayl program as a LuaJIT-compatible interpreter (no cluster needed).
local bin = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local function quote(s)
  return "'" .. tostring(s):gsub("'", [['\'']]) .. "'"
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  os.remove(path)
  return s
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- Runs `rayl <args>` (args: a shell-quoted string) with stdin from `input` (default:
-- empty, not a terminal), after the shell prefix env ("NAME=value ..."), if given.
-- Returns stdout, stderr, exit code.
local function rayl(args, input, env)
  local out, err, inp = os.tmpname(), os.tmpname(), os.tmpname()
  write_file(inp, input or "")
  local cmd = string.format("%s%s %s <%s >%s 2>%s; echo $?", env or "", quote(bin), args, inp, out, err)
  local p = assert(io.popen(cmd, "r"))
  local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  os.remove(inp)
  return slurp(out), slurp(err), code
end

-- A temporary script; removed by the caller's finally.
local function script(text)
  return write_file(os.tmpname() .. ".lua", text)
end

describe("rayl as a lua interpreter", function()
  it("runs -e chunks in order", function()
    local out, err, code = rayl([[-e 'x = 20' -e 'io.write(x + 1, "\n")']])
    assert.equal("21\n", out)
    assert.equal("", err)
    assert.equal(0, code)
  end)

  it("accepts an -e chunk attached to the flag, as luajit does", function()
    local out, _, code = rayl([[-e'print(6 * 7)']])
    assert.equal("42\n", out)
    assert.equal(0, code)
  end)

  it("sets arg and ... for a script like luajit", function()
    local path = script([[
      print(arg[0], arg[1], arg[2], #arg, select("#", ...), ...)
      print(arg[-1])
    ]])
    finally(function() os.remove(path) end)
    local out, err, code = rayl(quote(path) .. " one 'two words'")
    assert.equal("", err)
    assert.equal(0, code)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(path .. "\tone\ttwo words\t2\t2\tone\ttwo words", lines[1])
    assert.equal(bin, lines[2])
  end)

  it("puts options before the script at negative indices", function()
    local path = script("print(arg[-3], arg[-2], arg[-1], arg[0])")
    finally(function() os.remove(path) end)
    local out = rayl("-e 'x=1' " .. quote(path))
    assert.equal(bin .. "\t-e\tx=1\t" .. path .. "\n", out)
  end)

  it("runs a script with a #! line", function()
    local path = script("#!/usr/bin/env rayl\nprint('shebang ok')\n")
    finally(function() os.remove(path) end)
    local out, _, code = rayl(quote(path))
    assert.equal("shebang ok\n", out)
    assert.equal(0, code)
  end)

  it("exits 1 with 'rayl: msg' and a traceback on an uncaught error", function()
    local out, err, code = rayl([[-e 'local function f() error("boom") end f()']])
    assert.equal("", out)
    assert.equal(1, code)
    assert.matches("^rayl: %(command line%):1: boom\n", err)
    assert.matches("stack traceback:", err, 1, true)
    assert.matches("in function 'f'", err, 1, true)
  end)

  it("prints a table error through its __tostring", function()
    local _, err, code = rayl([[-e 'error(setmetatable({}, {__tostring = function() return "custom" end}))']])
    assert.equal(1, code)
    assert.matches("^rayl: custom\nstack traceback:", err)
  end)

  it("reports an error object that is not a string", function()
    local _, err, code = rayl([[-e 'error({})']])
    assert.equal(1, code)
    assert.equal("rayl: (error object is not a string)\n", err)
  end)

  it("stops at the first failing -e chunk", function()
    local out, _, code = rayl([[-e 'error("first")' -e 'print("second")']])
    assert.equal("", out)
    assert.equal(1, code)
  end)

  it("exits with os.exit's code", function()
    local out, _, code = rayl([[-e 'print("before") os.exit(3)' -e 'print("after")']])
    assert.equal("before\n", out)
    assert.equal(3, code)
    local _, _, code_true = rayl([[-e 'os.exit(true)']])
    assert.equal(0, code_true)
  end)

  it("exits 1 when the script does not exist", function()
    local _, err, code = rayl("/nonexistent/nowhere.lua")
    assert.equal(1, code)
    assert.matches("^rayl: cannot open /nonexistent/nowhere.lua", err)
  end)

  it("reports a syntax error", function()
    local path = script("local x = = 1\n")
    finally(function() os.remove(path) end)
    local _, err, code = rayl(quote(path))
    assert.equal(1, code)
    assert.matches("^rayl: .*unexpected symbol", err)
  end)

  it("runs stdin with '-', passing the following args", function()
    local out, err, code = rayl("- a b", "print(arg[0], ...)\n")
    assert.equal("-\ta\tb\n", out)
    assert.equal("", err)
    assert.equal(0, code)
  end)

  it("runs stdin when given no arguments and stdin is not a terminal", function()
    local out, _, code = rayl("", "print('from stdin')\n")
    assert.equal("from stdin\n", out)
    assert.equal(0, code)
  end)

  it("does not read stdin after -e", function()
    local out, _, code = rayl([[-e 'print(1)']], "print('stdin ran')\n")
    assert.equal("1\n", out)
    assert.equal(0, code)
  end)

  -- Runs chunk in the background, waits until it has created the file named by the
  -- global `ready`, sends sig, and returns its output and exit code.
  local function interrupt(chunk, sig)
    local ready = os.tmpname()
    os.remove(ready)
    local cmd = string.format(
      "%s -e %s -e %s 2>&1 & p=$!; i=0; " ..
      "while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; " ..
      "kill -%s $p; wait $p; echo \"rc=$?\"",
      quote(bin), quote(("ready = %q"):format(ready)), quote(chunk), quote(ready), sig)
    local p = assert(io.popen(cmd, "r"))
    local out = p:read("*a")
    p:close()
    os.remove(ready)
    return out, tonumber(out:match("rc=(%d+)%s*$"))
  end

  it("exits 130 when SIGINT interrupts a running chunk, 143 for SIGTERM", function()
    local loop = "io.open(ready, 'w'):close() while true do os.clock() end"
    local out, code = interrupt(loop, "INT")
    assert.equal(130, code)
    assert.matches("^rayl: interrupted!\nstack traceback:", out)
    local _, term_code = interrupt(loop, "TERM")
    assert.equal(143, term_code)
  end)

  it("lets a script catch the interrupt with pcall", function()
    local out, code = interrupt(
      "print(pcall(function() io.open(ready, 'w'):close() while true do os.clock() end end))", "TERM")
    assert.matches("false\tinterrupted!", out, 1, true)
    assert.equal(0, code)
  end)
end)

describe("the rayl environment", function()
  it("finds rayl's Lua folders before the default package.path", function()
    local out = rayl([[-e 'print(package.path)']])
    assert.matches("^[^;]+/lua/%?%.lua;[^;]+/lua/%?/init%.lua;[^;]+/stdlib/%?%.lua;", out)
    assert.matches("/usr/share/lua/5.1/?.lua", out, 1, true)
  end)

  it("preloads rayl.core", function()
    local out = rayl([[-e 'print(type(package.preload["rayl.core"]))']])
    assert.equal("function\n", out)
  end)

  it("sets RAYL_BIN to its own absolute path", function()
    local out = rayl([[-e 'print(os.getenv("RAYL_BIN"))']])
    assert.matches("^/.*/rayl\n$", out)
  end)

  it("is LuaJIT", function()
    local out = rayl([[-e 'print(type(jit), jit.version)']])
    assert.matches("^table\tLuaJIT 2%.1", out)
  end)
end)

describe("rayl's own flags and commands", function()
  it("prints its version with -v and --version", function()
    for _, flag in ipairs { "-v", "--version" } do
      local out, _, code = rayl(flag)
      assert.matches("^rayl %d+%.%d+%.%d+ %(LuaJIT 2%.1[^)]*%)\n$", out)
      assert.equal(0, code)
    end
  end)

  it("prints usage with --help and -h", function()
    for _, flag in ipairs { "--help", "-h" } do
      local out, _, code = rayl(flag)
      assert.equal(0, code)
      assert.matches("^usage: rayl", out)
      for _, word in ipairs { "-e chunk", "microbenchmark", "start --head", "path",
                              "status", "stop", "job submit", "list nodes", "head", "worker", "repl", "-i",
                              "--address" } do
        assert.matches(word, out, 1, true)
      end
    end
  end)

  it("rejects an unknown option", function()
    local out, err, code = rayl("-Z")
    assert.equal("", out)
    assert.equal(1, code)
    assert.matches("^rayl: unrecognized option '%-Z'", err)
  end)

  it("rejects -e without a chunk", function()
    local _, err, code = rayl("-e")
    assert.equal(1, code)
    assert.matches("^rayl: '%-e' needs an argument", err)
  end)

  it("passes --address to the script as RAYL_ADDRESS", function()
    local out, _, code = rayl([[--address 10.0.0.1:6380 -e 'print(os.getenv("RAYL_ADDRESS"))']])
    assert.equal("10.0.0.1:6380\n", out)
    assert.equal(0, code)
    out = rayl([[--address=auto -e 'print(os.getenv("RAYL_ADDRESS"))']])
    assert.equal("auto\n", out)
    local _, err, bad = rayl("--address")
    assert.equal(1, bad)
    assert.matches("^rayl: '%-%-address' needs an argument", err)
  end)

  it("rayl repl rejects what it does not know and explains itself", function()
    local out, err, code = rayl("repl --frobnicate")
    assert.equal("", out)
    assert.equal(2, code)
    assert.matches("^rayl repl: unknown option '%-%-frobnicate'\nusage: rayl repl", err)
    out, _, code = rayl("repl --help")
    assert.equal(0, code)
    assert.matches("^usage: rayl repl %[%-%-address", out)
  end)

  it("names an unknown command", function()
    local out, err, code = rayl("frobnicate")
    assert.equal("", out)
    assert.equal("rayl: unknown command or file 'frobnicate'; see rayl --help\n", err)
    assert.equal(2, code)
  end)

  it("rayl job without a command prints its usage on stderr", function()
    local out, err, code = rayl("job")
    assert.equal("", out)
    assert.matches("^usage: rayl job submit", err)
    assert.equal(2, code)
  end)

  it("rayl status waiting on an unreachable head ends at once on SIGTERM, as before its options were read", function()
    -- 192.0.2.1 (TEST-NET) never answers: status would wait 3 s for the head.
    local p = assert(io.popen(("exec 2>/dev/null; s=$(date +%%s%%N); %s status --address 192.0.2.1:6380 >/dev/null 2>&1 & p=$!; "
      .. "sleep 0.5; kill -TERM $p; wait $p; rc=$?; e=$(date +%%s%%N); echo \"$rc $(((e - s) / 1000000))\""):format(quote(bin))))
    local rc, ms = p:read("*a"):match("(%d+) (%d+)")
    p:close()
    assert.are.equal("143", rc)
    assert.truthy(tonumber(ms) < 2500, ms .. " ms")
  end)

  it("rayl start without --head or --address explains what it needs", function()
    local _, err, code = rayl("start")
    assert.truthy(err:find("give either --head or --address HOST:PORT", 1, true), err)
    assert.equal(2, code)
  end)

  it("treats an existing file as a script even if it is named like a command", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. quote(dir)))
    finally(function() os.execute("rm -rf " .. quote(dir)) end)
    write_file(dir .. "/status", "print('a script named status')")
    local p = assert(io.popen(string.format("cd %s && %s status", quote(dir), quote(bin))))
    local out = p:read("*a")
    p:close()
    assert.equal("a script named status\n", out)
  end)
end)

-- The commands a newcomer runs from the README: help, errors, and clusters that
-- start, show and stop as they say.
describe("rayl's commands, as the README uses them", function()
  local h = require "spec.helpers"
  local json = require "rayl.json"
  local ROOT = h.sh("pwd"):gsub("%s+$", "")
  local dir -- a RAYL_TMPDIR of this block's own: nothing here touches another cluster

  -- Runs `rayl ARGS` with RAYL_TMPDIR=tmpdir (default: dir) and env (a shell prefix);
  -- returns stdout, stderr, exit code.
  local function run(args, env, tmpdir)
    return rayl(args, nil, ("RAYL_TMPDIR=%s %s "):format(quote(tmpdir or dir), env or ""))
  end

  -- The pids of processes whose command line names `what`, as one string ("" if none).
  local function procs(what)
    -- ("[/]tmp..." does not match the shell that runs pgrep itself)
    local pids = h.sh("pgrep -f " .. quote("[" .. what:sub(1, 1) .. "]" .. what:sub(2)) .. " | tr '\\n' ' '")
    return (pids:gsub("%s+$", ""))
  end

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
  end)

  teardown(function()
    run("stop")
    os.execute("rm -rf " .. quote(dir))
  end)

  it("every command prints its help with --help and -h, and does nothing else", function()
    local usage = {
      start = "^usage: rayl start", stop = "^usage: rayl stop\n", status = "^usage: rayl status %[%-%-address",
      list = "^usage: rayl list", job = "^usage: rayl job submit", path = "^usage: rayl path",
      repl = "^usage: rayl repl", microbenchmark = "^usage: rayl microbenchmark %[%-%-json%] %[%-%-filter",
      head = "^usage: rayl head ", node = "^usage: rayl node ", worker = "^usage: rayl worker ",
      ["job-supervisor"] = "^usage: rayl job%-supervisor ",
    }
    for cmd, pattern in pairs(usage) do
      for _, flag in ipairs { "--help", "-h" } do
        local out, err, code = run(cmd .. " " .. flag)
        assert.equal(0, code, cmd .. " " .. flag .. ": " .. err)
        assert.matches(pattern, out)
        assert.equal("", err, cmd .. " " .. flag)
      end
    end
    -- The daemons say that rayl starts them.
    for _, cmd in ipairs { "head", "node", "worker", "job-supervisor" } do
      assert.truthy(run(cmd .. " --help"):find("run it by hand only to debug", 1, true), cmd)
    end
    -- Nothing was started or recorded.
    assert.equal("", procs(dir))
    assert.is_nil(h.read_file(dir .. "/rayl_current_cluster"))
  end)

  it("every command rejects an unknown option with the reason and its usage, exit 2", function()
    for _, cmd in ipairs { "start", "stop", "status", "list nodes", "job submit", "job list", "path", "repl",
                           "microbenchmark", "head", "node", "worker" } do
      local out, err, code = run(cmd .. " --frobnicate")
      assert.equal(2, code, cmd .. ": " .. err)
      assert.equal("", out, cmd)
      assert.truthy(err:find("'--frobnicate'", 1, true), cmd .. ": " .. err)
      assert.truthy(err:find("usage: rayl", 1, true) or err:find("see rayl path --help", 1, true), cmd .. ": " .. err)
    end
    local _, err, code = run("microbenchmark --seconds soon")
    assert.equal(2, code)
    assert.truthy(err:find("--seconds needs a positive number, not 'soon'", 1, true), err)
    _, err, code = run("status --format xml")
    assert.equal(2, code)
    assert.truthy(err:find("--format must be table or json", 1, true), err)
  end)

  it("the top-level help lists every command's options", function()
    local out = run("--help")
    for _, text in ipairs { "status [--address HOST:PORT]", "microbenchmark [--json] [--filter SUBSTRING] [--seconds S]",
                            "Every command takes --help" } do
      assert.truthy(out:find(text, 1, true), text)
    end
  end)

  it("rayl stop --help, -h and a bad argument leave the cluster running", function()
    local port = h.free_port()
    local out, err, code = run("start --head --num-cpus 1 --port " .. port)
    assert.equal(0, code, err)
    assert.truthy(out:find("Started a rayl head", 1, true), out)
    for _, args in ipairs { "--help", "-h", "--force", "now" } do
      run("stop " .. args)
    end
    out, err, code = run("status")
    assert.equal(0, code, err)
    assert.truthy(out:find("1 node", 1, true), out)
    assert.truthy(out:find("alive", 1, true), out)
    assert.truthy(run("stop"):find("Stopped 2 rayl processes", 1, true))
  end)

  it("rayl status marks the head's node and gives resources as JSON objects", function()
    local port = h.free_port()
    local _, err, code = run(("start --head --num-cpus 2 --resources '{\"sim\": 2.5}' --port %d"):format(port))
    assert.equal(0, code, err)
    finally(function() run("stop") end)
    _, err, code = run(("start --address 127.0.0.1:%d --num-cpus 1"):format(port))
    assert.equal(0, code, err)
    local out = run("status --format json")
    local status = json.decode(out)
    assert.equal(2, #status.nodes, out)
    local heads = {}
    for _, n in ipairs(status.nodes) do
      assert.equal("table", type(n.total), out)
      assert.equal("table", type(n.available), out)
      assert.is_nil(n.total["node:__internal_head__"], out) -- the mark, not a resource to show
      if n.is_head then heads[#heads + 1] = n end
    end
    assert.equal(1, #heads, out)
    assert.same({ 2, 2.5 }, { heads[1].total.CPU, heads[1].total.sim })
    assert.equal("number", type(heads[1].available.memory))
    local text = run("status")
    local marked = 0
    for line in text:gmatch("[^\n]+") do
      if line:find("(head)", 1, true) then
        marked = marked + 1
        assert.truthy(line:find("sim: 2.5", 1, true), line)
      end
    end
    assert.equal(1, marked, text)
  end)

  it("rayl start on a port in use fails at once, says why, and leaves nothing behind", function()
    -- Another cluster (its own RAYL_TMPDIR) holds the port.
    local other = h.start_cluster(bin, "--num-cpus 1 --no-security")
    local mine = os.tmpname()
    os.remove(mine)
    finally(function()
      other.stop()
      os.execute("rm -rf " .. quote(mine))
    end)
    local t0 = h.now()
    local out, err, code = run("start --head --num-cpus 1 --port " .. other.port, "", mine)
    local took = h.now() - t0
    assert.equal(1, code, out .. err)
    assert.truthy(err:find("address 127.0.0.1:" .. other.port .. " is in use", 1, true), err)
    assert.is_true(took < 3, ("took %.1f s"):format(took))
    assert.equal("", procs(mine))
    local left = h.sh("ls -A " .. quote(mine))
    assert.falsy(left:find("session_", 1, true), left)
    assert.falsy(left:find("gcs.sqlite3", 1, true), left)
    assert.falsy(left:find("rayl_current_cluster", 1, true), left)
    assert.equal("", h.sh("ls -A " .. quote(mine .. "/daemons") .. " 2>/dev/null")) -- no daemon records
    -- The cluster that holds the port runs on.
    assert.truthy(other.run("status"):find("1 node", 1, true))
  end)

  it("rayl start whose node manager cannot start says why at once and stops its head", function()
    local port = h.free_port()
    local many = {}
    for i = 1, 15 do many[#many + 1] = ('"r%d": 1'):format(i) end
    local t0 = h.now()
    local _, err, code = run(("start --head --port %d --resources '{%s}'"):format(port, table.concat(many, ", ")))
    assert.equal(1, code, err)
    assert.truthy(err:find("^rayl start: the node manager exited at start: [^\n]*too many resource"), err)
    assert.is_true(h.now() - t0 < 3)
    assert.equal("", procs(dir))
    assert.is_nil(h.read_file(dir .. "/gcs.sqlite3"))
  end)

  it("a driver that cannot reach its cluster stops with one line saying what to do", function()
    -- Nothing listens on this port: the head does not answer.
    local port = h.free_port()
    local script = "-e 'local rayl = require \"rayl\"; rayl.get(rayl.put(1))'"
    local out, err, code = run(script, "RAYL_ADDRESS=127.0.0.1:" .. port)
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal(("rayl: ConnectionError: cannot reach the cluster at 127.0.0.1:%d: the head at tcp://127.0.0.1:%d "
      .. "did not answer within 5000 ms (is it running? `rayl status` shows it, `rayl start --head` starts one)\n")
      :format(port, port), err)
    -- No cluster recorded on this machine (address "auto").
    _, err, code = run(script, "RAYL_ADDRESS=auto")
    assert.equal(1, code)
    assert.equal("rayl: ConnectionError: cannot reach the cluster at auto: no cluster is running on this machine "
      .. "(start one with `rayl start --head`)\n", err)
    -- A script can catch it by type.
    out = run("-e 'local rayl = require \"rayl\"; local ok, e = pcall(rayl.init); "
      .. "print(ok, rayl.errors.is(e, \"ConnectionError\"))'", "RAYL_ADDRESS=auto")
    assert.equal("false\ttrue\n", out)
  end)

  it("rayl job submit refuses a relative script path without --working-dir, saying what to do", function()
    for _, entry in ipairs { "main.lua", "./run.sh", "sub/main.lua" } do
      local out, err, code = run("job submit -- " .. entry)
      assert.equal(2, code, err)
      assert.equal("", out)
      assert.truthy(err:find("rayl job: the entrypoint " .. entry .. " is a relative path, and without --working-dir "
        .. "the driver runs in the head's job folder, not here: add --working-dir DIR", 1, true), err)
    end
    -- An absolute path or a command from PATH passes that check (and then finds no cluster here).
    for _, entry in ipairs { "/srv/main.lua", "echo hi" } do
      local _, err, code = run("job submit -- " .. entry)
      assert.equal(1, code, err)
      assert.truthy(err:find("no cluster is running on this machine", 1, true), err)
    end
  end)

  it("rayl path points at files that exist, so require \"rayl\" works in other hosts", function()
    local out, err, code = run("path")
    assert.equal(0, code)
    assert.equal("", err) -- it warns about files it points at that are missing
    local cpath = out:match("export LUA_CPATH='([^;]+)")
    assert.truthy(cpath, out)
    local core = cpath:gsub("%?", "rayl/core")
    assert.truthy(h.read_file(core), core .. " does not exist")
    local lpath = out:match("export LUA_PATH='([^;]+)")
    assert.truthy(h.read_file((lpath:gsub("%?", "rayl/init"))))
  end)

  it("tools/rayl builds every program the README runs", function()
    local tools_rayl = h.read_file(ROOT .. "/tools/rayl")
    local target = tools_rayl:match("%-%-target (%S+)")
    local cmake = h.read_file(ROOT .. "/CMakeLists.txt")
    local deps = cmake:match("add_custom_target%(" .. target .. " DEPENDS ([^)]+)%)")
    assert.truthy(deps, "tools/rayl builds " .. tostring(target) .. ", which CMakeLists.txt does not define")
    local built = {}
    for name in deps:gmatch("%S+") do built[name] = true end
    -- The rayl program, librayl, the Lua module `rayl path` points at, the C API
    -- benchmark `rayl microbenchmark` runs, and every build/bin program the README names.
    local wanted = { rayl = true, rayl_shared = true, rayl_core_module = true, rayl_embed_bench = true }
    for name in h.read_file(ROOT .. "/README.md"):gmatch("build/bin/([%w_]+)") do wanted[name] = true end
    assert.truthy(wanted.game_loop)
    for name in pairs(wanted) do assert.truthy(built[name], name .. " is not built by tools/rayl") end
    -- And they are there, beside this rayl.
    local bindir = bin:gsub("/[^/]*$", "")
    for name in pairs(wanted) do
      if not name:find("^rayl_") then assert.truthy(h.read_file(bindir .. "/" .. name), name) end
    end
    assert.truthy(h.read_file(bindir .. "/rayl_embed_bench"))
  end)

  it("rayl microbenchmark runs the C API benchmark built beside rayl", function()
    local out, err, code = run("microbenchmark --filter c_api --seconds 0.3")
    assert.equal(0, code, err)
    assert.truthy(out:find("c_api_roundtrip_p50_us", 1, true), out .. err)
  end)

  it("the README names only files the repository has, and says how to put rayl on PATH", function()
    local readme = h.read_file(ROOT .. "/README.md")
    for name in readme:gmatch("[%w_./-]+%.md") do
      assert.truthy(h.read_file(ROOT .. "/" .. name), "the README names " .. name .. ", which does not exist")
    end
    for path in readme:gmatch("`((%a+)/[%w_./-]+)`") do
      local top = path:match("^(%a+)/")
      if ({ examples = true, tools = true, lua = true, stdlib = true, runtime = true, include = true,
            spec = true })[top] then
        assert.truthy(os.execute("test -e " .. quote(ROOT .. "/" .. path:gsub("/$", ""))) == 0,
          "the README names " .. path .. ", which does not exist")
      end
    end
    assert.truthy(readme:find('ln -s "$PWD/build/bin/rayl" ~/.local/bin/rayl', 1, true))
    assert.truthy(readme:find("xvfb-run love examples/love", 1, true))
  end)
end)

-- tools/test runs tools/test-reap RUN_ID on exit, Ctrl-C and SIGTERM (it exports
-- RAYL_TEST_RUN=RUN_ID to everything the tests start); here the reaper runs on a run of
-- this spec's own making.
describe("tools/test-reap", function()
  local h = require "spec.helpers"
  local ROOT = h.sh("pwd"):gsub("%s+$", "")

  -- True while pid runs (a zombie that nobody reaped yet has ended).
  local function running(pid)
    local stat = h.read_file("/proc/" .. pid .. "/stat")
    return stat ~= nil and stat:match("%) ([ZX]) ") == nil
  end

  it("ends what a killed test run left (clusters rayl start detached too) and nothing else", function()
    local run_id = "reap-spec-" .. h.free_port() .. "-" .. os.time()
    local dir = os.tmpname() -- /tmp/lua_XXXXXX, as a spec's cluster folder
    os.remove(dir)
    local port = h.free_port()
    local env = ("RAYL_TEST_RUN=%s RAYL_TMPDIR=%s "):format(run_id, dir)
    local other = h.sh("RAYL_TEST_RUN=another-run sh -c 'sleep 60 >/dev/null 2>&1 & echo $!'"):match("%d+")
    local stray = h.sh(env .. "sh -c 'sleep 60 >/dev/null 2>&1 & echo $!'"):match("%d+")
    finally(function()
      h.sh(env .. quote(bin) .. " stop")
      os.execute("kill " .. other .. " " .. stray .. " 2>/dev/null; rm -rf " .. quote(dir))
    end)
    local out = h.sh(env .. quote(bin) .. " start --head --num-cpus 1 --port " .. port)
    assert.truthy(out:find("Started a rayl head", 1, true), out)
    local pattern = quote("[" .. dir:sub(1, 1) .. "]" .. dir:sub(2))
    local daemons = h.sh("pgrep -f " .. pattern)
    assert.truthy(daemons:find("%d"), "no rayl process runs in " .. dir)

    local report = h.sh(quote(ROOT .. "/tools/test-reap") .. " " .. run_id)
    assert.truthy(report:find("tools/test%-reap: ended %d+ process%(es%) and removed 1 cluster folder%(s%)"), report)
    assert.equal("", h.sh("pgrep -f " .. pattern)) -- head, node manager, workers
    assert.is_false(running(stray))
    assert.is_true(running(other)) -- another run's process
    assert.is_nil(h.read_file(dir .. "/rayl_current_cluster"))
    assert.is_false(os.execute("test -e " .. quote(dir)) == 0)
    -- A second pass finds nothing; no id is a usage error.
    assert.equal("", h.sh(quote(ROOT .. "/tools/test-reap") .. " " .. run_id))
    local usage = h.sh("{ " .. quote(ROOT .. "/tools/test-reap") .. "; echo exit=$?; }")
    assert.truthy(usage:find("^usage: tools/test%-reap RUN_ID.*exit=2"), usage)
  end)
end)
