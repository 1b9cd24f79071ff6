-- repl_spec: the REPL as a person uses it: typed into a real terminal (a tmux pane),
-- read back from the screen, against a private local cluster and against a cluster
-- started with `rayl start --head`.
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local free_port = h.free_port

local function tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  return dir
end

local function quote(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

local function count(text, s)
  local n, at = 0, 1
  while true do
    local i = text:find(s, at, true)
    if not i then return n end
    n, at = n + 1, i + #s
  end
end

-- One terminal (a tmux server of its own) running `rayl args`.
local Term = {}
Term.__index = Term

--- Term.open(dir, env, args) -> a terminal running rayl in dir's tmux server; env is
--- a string of VAR=value words. When rayl exits, the pane shows "[exit N]".
local terms = 0
function Term.open(dir, env, args)
  terms = terms + 1
  local self = setmetatable({ sock = ("%s/tmux%d.sock"):format(dir, terms) }, Term)
  local cmd = ("env %s %s %s; echo \"[exit $?]\"; exec sleep 600"):format(env, RAYL, args or "")
  local out = h.sh(("tmux -S %s -f /dev/null new-session -d -x 200 -y 50 %s"):format(self.sock, quote(cmd)))
  assert(out == "", out)
  return self
end

function Term:tmux(args) return h.sh(("tmux -S %s %s"):format(self.sock, args)) end

--- The whole screen and scrollback, wrapped lines joined.
function Term:screen() return self:tmux("capture-pane -p -J -S -3000") end

--- Types text (literally) and presses Enter.
function Term:type(text)
  self:tmux("send-keys -l " .. quote(text))
  self:tmux("send-keys Enter")
end

--- Presses keys (tmux key names: Tab, C-c, C-d, Up).
function Term:keys(keys) self:tmux("send-keys " .. keys) end

--- Waits until the screen shows s at least n times (default 1); returns the screen,
--- or fails showing it after `seconds`.
function Term:wait(s, n, seconds)
  local deadline = h.now() + (seconds or 30)
  local screen
  repeat
    screen = self:screen()
    if count(screen, s) >= (n or 1) then return screen end
    os.execute("sleep 0.05")
  until h.now() > deadline
  error(("the terminal did not show %q (x%d) in time; it shows:\n%s"):format(s, n or 1, screen), 2)
end

--- How often the screen shows s so far.
function Term:count(s) return count(self:screen(), s) end

--- The number of prompts on the screen so far (a line's output is complete once the
--- next prompt shows).
function Term:prompts() return self:count("rayl> ") end

--- Types a line and waits for the prompt after it; returns what the line printed.
function Term:run(line, seconds)
  local before = self:prompts()
  self:type(line)
  local screen = self:wait("rayl> ", before + 1, seconds)
  local last = screen:match(".*rayl> [^\n]*\n(.-)rayl> [^\n]*%s*$")
  return last or screen
end

function Term:close() self:tmux("kill-server") end

-- Processes of a session (its daemons name it on their command line).
local function leftovers(session)
  local found
  for _ = 1, 100 do
    found = h.sh("pgrep -f 'rayl (head|node|worker) .*" .. session .. "' || true")
    if found == "" then break end
    os.execute("sleep 0.05")
  end
  return found
end

describe("the REPL on a private local cluster", function()
  local dir, term, history

  lazy_setup(function()
    dir = tmpdir()
    history = dir .. "/history"
    term = Term.open(dir, ("RAYL_TMPDIR=%s RAYL_HISTORY=%s"):format(dir, history))
    term:wait("rayl> ")
  end)

  lazy_teardown(function()
    if term then term:close() end
    os.execute("rm -rf " .. dir)
  end)

  it("greets with the cluster it started and prints expressions without return", function()
    local screen = term:screen()
    assert.truthy(screen:find("%-%- a private local cluster, %d+ CPUs?%."), screen)
    assert.equal("2\n", term:run("1 + 1"))
    assert.matches('^"ab" +3 +nil\n$', term:run('"a" .. "b", 3, nil')) -- tab-separated
    assert.equal("", term:run("x = 10"))
    assert.equal("11\n", term:run("x + 1"))
  end)

  it("continues an incomplete chunk on the next line", function()
    local before, more = term:prompts(), term:count("  ..> ")
    term:type("function sq(n)")
    term:wait("  ..> ", more + 1)
    term:type("  return n * n")
    term:wait("  ..> ", more + 2)
    term:type("end")
    term:wait("rayl> ", before + 1)
    assert.equal("49\n", term:run("sq(7)"))
  end)

  it("runs a remote task and shows an ObjectRef readably", function()
    assert.equal("", term:run("f = rayl.remote(sq)"))
    assert.equal("9\n", term:run("rayl.get(f:remote(3))"))
    term:run("r = f:remote(4)")
    assert.equal("16\n", term:run("rayl.get(r)"))
    local shown = term:run("r")
    assert.matches("^ObjectRef%(%x+, ready%)\n$", shown)
  end)

  it("keeps tasks moving while it waits at the prompt, and shows their output above it", function()
    term:run('late = rayl.remote(function() os.execute("sleep 0.3") print("late " .. "hello") return 5 end)')
    assert.matches("^ObjectRef%(%x+, pending%)\n$", term:run("lr5 = late:remote() return lr5"))
    term:tmux("send-keys -l " .. quote("half"))
    -- The output shows above a fresh prompt that still holds what was typed.
    local screen = term:wait("late hello\nrayl> half")
    assert.truthy(screen:find("%(pid=%d+%) late hello"), screen)
    term:keys("C-u")
    assert.matches("^ObjectRef%(%x+, ready%)\n$", term:run("lr5"))
  end)

  it("pretty-prints tables, nested ones down to a depth limit", function()
    local shown = term:run('{1, "two", deep = {a = {b = {c = {d = {e = 1}}}}}, ["not a name"] = true}')
    assert.equal('{ 1, "two", deep = { a = { b = { c = {...} } } }, ["not a name"] = true }\n', shown)
    -- Long tables: one entry a line, and no more than 100 entries.
    term:run("big = {} for i = 1, 150 do big[i] = i * 1000 end")
    shown = term:run("big")
    assert.truthy(shown:find("^{\n  1000,\n  2000,\n"), shown)
    assert.equal("\n  100000,\n  ... (50 more)\n}\n", shown:sub(-29), shown)
    assert.equal("{ self = <cycle> }\n", term:run("c = {} c.self = c return c"))
  end)

  it("prints an error with its traceback, remote ones with the remote traceback, and goes on", function()
    local shown = term:run('error("boom")')
    assert.truthy(shown:find("stdin:1: boom\nstack traceback:", 1, true), shown)
    term:run('g = rayl.remote(function() local t = nil; return t.field end)')
    shown = term:run("rayl.get(g:remote())")
    assert.truthy(shown:find("TaskError", 1, true), shown)
    assert.truthy(shown:find("attempt to index local 't'", 1, true), shown)
    assert.truthy(shown:find("remote traceback:", 1, true), shown)
    assert.truthy(shown:find("in function <stdin:1>", 1, true), shown)
    assert.equal("42\n", term:run("40 + 2"))
  end)

  it("Ctrl-C stops a blocking rayl.get and keeps the session", function()
    -- Its own resource shape, so later tasks do not queue behind it on its worker.
    term:run('long = rayl.remote({num_cpus = 0.5}, function() os.execute("sleep 60") return 1 end)')
    term:run("lr = long:remote()")
    local before, prompts = term:count("KeyboardInterrupt"), term:prompts()
    term:type("rayl.get(lr)")
    os.execute("sleep 0.5")
    assert.equal(prompts, term:prompts()) -- still waiting
    term:keys("C-c")
    term:wait("KeyboardInterrupt", before + 1)
    assert.equal("11\n", term:run("x + 1"))
    assert.equal("25\n", term:run("rayl.get(f:remote(5))"))
  end)

  it("Ctrl-C stops a long pure-Lua loop", function()
    local before, prompts = term:count("KeyboardInterrupt"), term:prompts()
    term:type("n = 0 while true do n = n + 1 end")
    os.execute("sleep 0.5")
    assert.equal(prompts, term:prompts()) -- still looping
    term:keys("C-c")
    term:wait("KeyboardInterrupt", before + 1)
    assert.equal("true\n", term:run("n > 1000"))
  end)

  it("Ctrl-C at the prompt drops the chunk being typed", function()
    local more = term:count("  ..> ")
    term:type("function unfinished()")
    term:wait("  ..> ", more + 1)
    term:keys("C-c")
    assert.equal("nil\n", term:run("unfinished"))
  end)

  it("completes globals and fields with Tab", function()
    local before = term:prompts()
    term:tmux("send-keys -l " .. quote("rayl.is_initia"))
    term:keys("Tab")
    term:wait("rayl> rayl.is_initialized", 1)
    term:type("()")
    local screen = term:wait("rayl> ", before + 1)
    assert.truthy(screen:find("rayl> rayl.is_initialized()\ntrue\n", 1, true), screen)
    -- Several candidates: the common part is completed, a second Tab lists them.
    term:tmux("send-keys -l " .. quote("rayl.ge"))
    term:keys("Tab")
    term:keys("Tab")
    screen = term:wait("rayl.get_runtime_context")
    assert.truthy(screen:find("rayl.get_actor", 1, true), screen)
    term:keys("C-u")
    term:keys("C-c")
    term:wait("rayl> ", before + 2)
  end)

  it(":status shows the cluster's resources and this session's pending work", function()
    local shown = term:run(":status")
    assert.truthy(shown:find("Cluster: a private local cluster", 1, true), shown)
    assert.truthy(shown:find("Resources: CPU [%d.]+/%d+ free, memory [%d.]+/[%d.]+ GiB free"), shown)
    assert.truthy(shown:find("Nodes: 1, 1 alive", 1, true), shown)
    -- lr, the sleeping task, is still running.
    assert.truthy(shown:find("This session: 1 task pending", 1, true), shown)
  end)

  it("Ctrl-D leaves, stops the private cluster and keeps the history", function()
    local session = term:run("rayl.get_runtime_context().session_dir"):match('"(.-)"')
    assert.truthy(session)
    term:keys("C-d")
    term:wait("[exit 0]")
    assert.equal("", leftovers(session))
    local saved = h.read_file(history)
    assert.truthy(saved and saved:find("sq(7)", 1, true), saved)
  end)

  it("brings the history back in the next session", function()
    term:close()
    term = Term.open(dir, ("RAYL_TMPDIR=%s RAYL_HISTORY=%s"):format(dir, history))
    term:wait("rayl> ")
    term:keys("Up")
    term:wait("rayl> rayl.get_runtime_context().session_dir")
    term:keys("C-u")
    term:run('"fresh"')
  end)

  it("leaves on SIGTERM with exit code 143, stopping the private cluster", function()
    local ctx = term:run("c = rayl.get_runtime_context() return c.pid, c.session_dir")
    local pid, session = ctx:match('^(%d+) +"(.-)"')
    assert.truthy(pid, ctx)
    os.execute("kill -TERM " .. pid)
    term:wait("[exit 143]")
    assert.equal("", leftovers(session))
  end)
end)

describe("the REPL without a terminal", function()
  local dir

  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  -- Runs `rayl args` with input on stdin (a file); returns stdout, stderr, exit code.
  local function pipe(args, input)
    local f = assert(io.open(dir .. "/in", "w"))
    f:write(input)
    f:close()
    local code = h.sh(("RAYL_TMPDIR=%s RAYL_HISTORY=%s/history %s %s <%s/in >%s/out 2>%s/err; echo $?")
      :format(dir, dir, RAYL, args, dir, dir, dir))
    return h.read_file(dir .. "/out"), h.read_file(dir .. "/err"), tonumber(code)
  end

  it("rayl repl reads lines from a pipe: no prompts, values printed, errors reported", function()
    local out, err, code = pipe("repl", 'function f()\n  return 6 * 7 end\nf()\nerror("bad")\n"after"\n')
    assert.equal('42\n"after"\n', out)
    assert.truthy(err:find("stdin:1: bad", 1, true), err)
    assert.equal(0, code)
    assert.is_nil(h.read_file(dir .. "/history")) -- no history without a terminal
  end)

  it("says so when it cannot reach the cluster at --address", function()
    local out, err, code = pipe("repl --address 127.0.0.1:" .. free_port(), "1\n")
    assert.equal("", out)
    assert.equal(1, code)
    assert.matches("^rayl: cannot reach the cluster at 127%.0%.0%.1:%d+: [^\n]*did not answer[^\n]*%(is it running%? "
      .. "`rayl status` shows it, `rayl start %-%-head` starts one%)\n$", err)
  end)

  it("rayl -i runs the -e chunks, then the REPL", function()
    local out, _, code = pipe("-i -e 'x = 5'", "x * 2\n")
    assert.equal("10\n", out)
    assert.equal(0, code)
  end)
end)

describe("the REPL on a cluster started with rayl start --head", function()
  local dir, port, env

  lazy_setup(function()
    dir = tmpdir()
    port = free_port()
    env = ("RAYL_TMPDIR=%s RAYL_HISTORY=%s/history"):format(dir, dir)
    local out = h.sh(("env %s %s start --head --port %d --num-cpus 1"):format(env, RAYL, port))
    assert.truthy(out:find("Started a rayl head at 127.0.0.1:" .. port, 1, true), out)
  end)

  lazy_teardown(function()
    h.sh(("env %s %s stop"):format(env, RAYL))
    os.execute("rm -rf " .. dir)
  end)

  it("rayl repl --address joins it, runs tasks there, and leaves it running", function()
    local term = Term.open(dir, env, "repl --address 127.0.0.1:" .. port)
    finally(function() term:close() end)
    local screen = term:wait("rayl> ")
    assert.truthy(screen:find("connected to the cluster at 127.0.0.1:" .. port .. ", 1 CPU", 1, true), screen)
    term:run("f = rayl.remote(function(x) return x * 2 end)")
    assert.equal("42\n", term:run("rayl.get(f:remote(21))"))
    local shown = term:run(":status")
    assert.truthy(shown:find("Cluster: the cluster at 127.0.0.1:" .. port, 1, true), shown)
    assert.truthy(shown:find("Resources: CPU 1/1 free", 1, true), shown)
    term:keys("C-d")
    term:wait("[exit 0]")
    local status = h.sh(("env %s %s status"):format(env, RAYL))
    assert.truthy(status:find("1 node", 1, true), status)
  end)

  it("plain rayl joins the cluster RAYL_ADDRESS names", function()
    local term = Term.open(dir, env .. " RAYL_ADDRESS=127.0.0.1:" .. port)
    finally(function() term:close() end)
    local screen = term:wait("rayl> ")
    assert.truthy(screen:find("connected to the cluster at 127.0.0.1:" .. port, 1, true), screen)
    local node = term:run("rayl.nodes()[1].endpoint")
    assert.truthy(node:find("tcp://127.0.0.1", 1, true), node)
    term:type(":quit")
    term:wait("[exit 0]")
  end)
end)
