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
-- empty, not a terminal). Returns stdout, stderr, exit code.
local function rayl(args, input)
  local out, err, inp = os.tmpname(), os.tmpname(), os.tmpname()
  write_file(inp, input or "")
  local cmd = string.format("%s %s <%s >%s 2>%s; echo $?", quote(bin), args, inp, out, err)
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
    assert.matches("^rayl repl: unexpected argument '%-%-frobnicate'\nusage: rayl repl", err)
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
