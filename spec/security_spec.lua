-- security_spec: a cluster that keeps strangers out. `rayl start --head` makes a cluster
-- key (CURVE); nodes and drivers on this machine find it, others must be given it. A
-- peer without it (no key, another key, a raw ZeroMQ client, an impostor who knows only
-- the public half) cannot join, submit or read, and the cluster keeps serving members.
local h = require "spec.helpers"
local peer = require "spec.raw_peer"
local core = require "rayl.core"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local sh, read = h.sh, h.read_file

local free_port = h.free_port

-- Runs cmd; returns its output (stdout and stderr) and exit code.
local function run(cmd)
  local out = sh("(" .. cmd .. ") 2>&1; echo \"exit=$?\"")
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return out:gsub("exit=%d+%s*$", ""), code
end

local function mode(path) return (sh("stat -c %a " .. path):gsub("%s+$", "")) end

local function new_dir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir) == 0)
  return dir
end

local keypair, public_of = peer.keypair, peer.public_of

local frame = peer.frame
local GET_NODES = frame(62, "\145\5") -- [request 5]
-- REGISTER_NODE [node_id, "tcp://10.99.0.1:9", {CPU = 1}, pid 123]: a node that is not there.
local FORGED_ENDPOINT = "tcp://10.99.0.1:9"
local FORGED_REGISTER = frame(60, "\148\196\16" .. ("\171"):rep(16) .. string.char(0xa0 + #FORGED_ENDPOINT) ..
  FORGED_ENDPOINT .. "\129\163CPU\1" .. "\123")

local raw_client = peer.send

-- Random bytes of random lengths, and messages cut short.
local function junk()
  local frames = {}
  for i = 1, 20 do
    local t = {}
    for k = 1, math.random(1, 200) do t[k] = string.char(math.random(0, 255)) end
    frames[i] = table.concat(t)
  end
  frames[#frames + 1] = "\1\62\0\0\220\0\5"
  return frames
end

describe("a cluster started with rayl start (secured by its cluster key)", function()
  local dir, other, port, address, env, key

  local function status()
    local out = sh(env .. RAYL .. " status --format json")
    local alive, nodes = 0, 0
    for _ in out:gmatch('"alive": true') do alive = alive + 1 end
    for _ in out:gmatch('"node_id"') do nodes = nodes + 1 end
    return alive, nodes, out
  end

  local function write(name, code)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(code)
    f:close()
    return dir .. "/" .. name
  end

  -- A driver that runs a task on each node; prints "ran on N nodes".
  local function good_driver()
    return write("good.lua", [[
      local rayl = require "rayl"
      local where = rayl.remote(function() return require("rayl").get_runtime_context().node_id end)
      local seen, n = {}, 0
      for _, node in ipairs(rayl.nodes()) do
        local id = rayl.get(where:options{ scheduling_strategy = { node_id = node.node_id } }:remote(), { timeout = 30 })
        if id == node.node_id and not seen[id] then seen[id] = true; n = n + 1 end
      end
      print("ran on " .. n .. " nodes")
    ]])
  end

  lazy_setup(function()
    dir, other = new_dir(), new_dir()
    port = free_port()
    address = "127.0.0.1:" .. port
    env = ("RAYL_TMPDIR=%s "):format(dir)
    local out = sh(env .. RAYL .. " start --head --port " .. port .. " --num-cpus 1")
    assert.truthy(out:find("Started a rayl head at " .. address, 1, true), out)
    key = out:match("Its cluster key is (%S+cluster%.key)")
    assert.truthy(key, out)
    out = sh(env .. RAYL .. " start --address " .. address .. " --num-cpus 1")
    assert.truthy(out:find("Joined the cluster", 1, true), out)
  end)

  lazy_teardown(function()
    sh(env .. RAYL .. " stop")
    os.execute("rm -rf " .. dir .. " " .. other)
  end)

  it("keeps its key in the head's session folder, mode 0600, in folders only its user can open", function()
    assert.are.equal(dir, key:match("^(.*)/session_[^/]+/cluster%.key$"))
    assert.are.equal("600", mode(key))
    assert.are.equal(41, #read(key)) -- 40 Z85 characters and a newline
    assert.are.equal("700", mode(key:match("^(.*)/cluster%.key$")))
    -- The node that joined keeps its copy in its own session folder, just as private.
    local copies = sh("ls " .. dir .. "/session_*/cluster.key | grep -v session_latest")
    local n = 0
    for path in copies:gmatch("%S+") do
      n = n + 1
      assert.are.equal("600", mode(path))
      assert.are.equal(read(key), read(path))
    end
    assert.are.equal(2, n, copies)
  end)

  it("a node and a driver on this machine found the key by themselves and use both nodes", function()
    local alive = status()
    assert.are.equal(2, alive)
    local out = sh(env .. "RAYL_ADDRESS=" .. address .. " " .. RAYL .. " " .. good_driver())
    assert.truthy(out:find("ran on 2 nodes", 1, true), out)
  end)

  it("a driver without the key is refused within seconds, told how to supply it; the cluster serves on", function()
    local script = write("stranger.lua", [[
      local rayl = require "rayl"
      rayl.init()
      print("got in with", #rayl.nodes(), "nodes")
    ]])
    local t0 = core.now()
    -- Another RAYL_TMPDIR: it cannot find this machine's record of the key.
    local out, code = run("RAYL_TMPDIR=" .. other .. " RAYL_ADDRESS=" .. address .. " " .. RAYL .. " " .. script)
    local took = core.now() - t0
    assert.are_not.equal(0, code)
    assert.is_nil(out:find("got in", 1, true), out)
    assert.truthy(out:find("refused", 1, true), out)
    assert.truthy(out:find("CURVE security and no cluster key was given", 1, true), out)
    assert.truthy(out:find("RAYL_CLUSTER_KEY_FILE=FILE", 1, true), out)
    assert.truthy(out:find("cluster.key", 1, true), out)
    assert.truthy(took < 5, "refused only after " .. took .. " s")

    local alive = status()
    assert.are.equal(2, alive)
    out = sh(env .. "RAYL_ADDRESS=" .. address .. " " .. RAYL .. " " .. good_driver())
    assert.truthy(out:find("ran on 2 nodes", 1, true), out)
  end)

  it("a driver with another cluster's key, or a key file others can read, is refused with a clear error", function()
    local _, wrong = keypair()
    local script = write("wrong.lua", "require('rayl').init(); print('got in')")
    local out, code = run("RAYL_TMPDIR=" .. other .. " RAYL_CLUSTER_KEY='" .. wrong .. "' RAYL_ADDRESS=" .. address ..
      " " .. RAYL .. " " .. script)
    assert.are_not.equal(0, code)
    assert.is_nil(out:find("got in", 1, true), out)
    assert.truthy(out:find("refused the cluster key from RAYL_CLUSTER_KEY: it is not that cluster's key", 1, true), out)

    local copy = other .. "/copied.key"
    assert(os.execute(("cp %s %s && chmod 644 %s"):format(key, copy, copy)) == 0)
    out, code = run("RAYL_TMPDIR=" .. other .. " RAYL_CLUSTER_KEY_FILE=" .. copy .. " RAYL_ADDRESS=" .. address ..
      " " .. RAYL .. " " .. script)
    assert.are_not.equal(0, code)
    assert.truthy(out:find("chmod 600 " .. copy, 1, true), out)

    os.execute("echo 'not a key' > " .. copy .. " && chmod 600 " .. copy)
    out, code = run("RAYL_TMPDIR=" .. other .. " RAYL_CLUSTER_KEY_FILE=" .. copy .. " RAYL_ADDRESS=" .. address ..
      " " .. RAYL .. " " .. script)
    assert.are_not.equal(0, code)
    assert.truthy(out:find("is not a rayl cluster key", 1, true), out)
  end)

  it("with a copy of the key, a driver or rayl status from elsewhere gets in", function()
    local copy = other .. "/copied.key"
    assert(os.execute(("cp %s %s && chmod 600 %s"):format(key, copy, copy)) == 0)
    local out = sh("RAYL_TMPDIR=" .. other .. " RAYL_CLUSTER_KEY_FILE=" .. copy .. " RAYL_ADDRESS=" .. address .. " " ..
      RAYL .. " " .. good_driver())
    assert.truthy(out:find("ran on 2 nodes", 1, true), out)
    out = sh("RAYL_TMPDIR=" .. other .. " " .. RAYL .. " status --address " .. address .. " --cluster-key " .. copy)
    assert.truthy(out:find("2 nodes", 1, true), out)
    local code
    out, code = run("RAYL_TMPDIR=" .. other .. " " .. RAYL .. " status --address " .. address)
    assert.are.equal(1, code)
    assert.truthy(out:find("--cluster-key FILE", 1, true), out)
  end)

  it("raw ZeroMQ clients (no key, another key, only the public key) get nothing and change nothing", function()
    local _, _, before = status()
    local node = before:match('"address": "(tcp://[^"]+)"')
    assert.truthy(node, before)
    local pub2, secret2 = keypair()
    local strangers = {
      plain = false,
      another_key = { server = pub2, public = pub2, secret = secret2 },
      -- Knows the cluster's public key (it is not secret), but not its secret half:
      -- the handshake passes, the head's ZAP handler turns it away.
      impostor = { server = public_of((read(key):gsub("%s+$", ""))), public = pub2, secret = secret2 },
    }
    for name, keys in pairs(strangers) do
      for _, endpoint in ipairs { "tcp://" .. address, node } do
        local frames = junk()
        frames[#frames + 1] = FORGED_REGISTER
        frames[#frames + 1] = GET_NODES
        local reply = raw_client(endpoint, keys or nil, frames, 700)
        assert.is_nil(reply, name .. " got an answer from " .. endpoint)
      end
    end
    -- The same key a member holds gets an answer: the clients above were refused for
    -- their keys, not for how they ask.
    local member = read(key):gsub("%s+$", "")
    local cluster_pub = public_of(member)
    local reply = raw_client("tcp://" .. address, { server = cluster_pub, public = cluster_pub, secret = member },
      { GET_NODES }, 3000)
    assert.truthy(reply and reply:sub(2, 2) == string.char(63), "a member got no NODES reply")

    os.execute("sleep 0.5")
    local alive, nodes, after = status()
    assert.are.equal(2, alive)
    assert.are.equal(2, nodes, after)
    assert.is_nil(after:find(FORGED_ENDPOINT, 1, true), after)
    local out = sh(env .. "RAYL_ADDRESS=" .. address .. " " .. RAYL .. " " .. good_driver())
    assert.truthy(out:find("ran on 2 nodes", 1, true), out)
    -- The head says whom it turned away: the impostor by address, the others by kind.
    local log = sh("cat " .. dir .. "/session_*/logs/gcs.log")
    assert.truthy(log:find("refused a connection from 127.0.0.1: it does not hold this cluster's key", 1, true), log)
    assert.truthy(log:find("a peer failed the handshake on tcp://" .. address, 1, true), log)
  end)

  it("a node manager without the key cannot join: rayl start --address explains, and status shows 2 nodes", function()
    local out, code = run("RAYL_TMPDIR=" .. other .. " " .. RAYL .. " start --address " .. address .. " --num-cpus 1")
    assert.are.equal(1, code)
    assert.truthy(out:find("cannot join the cluster at " .. address, 1, true), out)
    assert.truthy(out:find("--cluster-key FILE", 1, true), out)
    -- Even a node manager started by hand, told to skip security, never gets in.
    local session = other .. "/rogue"
    os.execute("mkdir -p " .. session)
    local pid = sh(("%s node --endpoint tcp://127.0.0.1:* --gcs tcp://%s --session %s --num-cpus 1 --no-security " ..
      "> %s/node.out 2>&1 & echo $!"):format(RAYL, address, session, session)):match("%d+")
    assert.truthy(pid)
    os.execute("sleep 2") -- four heartbeats' time
    local running = os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0
    local alive, nodes, json = status()
    os.execute("kill " .. pid .. " 2>/dev/null")
    assert.is_true(running, "the rogue node manager did not run: " .. (read(session .. "/node.out") or ""))
    assert.are.same({ 2, 2 }, { alive, nodes }, json)
  end)
end)

describe("a cluster started with --no-security", function()
  local dir, port, address, env

  lazy_setup(function()
    dir = new_dir()
    port = free_port()
    address = "127.0.0.1:" .. port
    env = ("RAYL_TMPDIR=%s "):format(dir)
    local out = sh(env .. RAYL .. " start --head --no-security --port " .. port .. " --num-cpus 1")
    assert.truthy(out:find("Security is off", 1, true), out)
  end)

  lazy_teardown(function()
    sh(env .. RAYL .. " stop")
    os.execute("rm -rf " .. dir)
  end)

  it("has no key, and takes the forged registration the secured cluster refused", function()
    assert.are.equal("", sh("find " .. dir .. " -name cluster.key"))
    local reply = raw_client("tcp://" .. address, nil, { FORGED_REGISTER, GET_NODES }, 3000)
    assert.truthy(reply and reply:find(FORGED_ENDPOINT, 1, true), "no NODES reply listing the forged node")
    assert.truthy(sh(env .. RAYL .. " status"):find(FORGED_ENDPOINT, 1, true))
  end)

  it("a node joins it without a key, and a driver runs there", function()
    local out = sh(env .. RAYL .. " start --address " .. address .. " --num-cpus 1")
    assert.truthy(out:find("Joined the cluster", 1, true), out)
    out = sh(env .. "RAYL_ADDRESS=" .. address .. " " .. RAYL ..
      " -e 'local r = require(\"rayl\"); print(\"got\", r.get(r.remote(function() return 7 end):remote()))'")
    assert.truthy(out:find("got\t7", 1, true), out)
  end)
end)

describe("a private cluster (rayl.init with no address)", function()
  it("keeps its ipc sockets in a session folder only its user can open", function()
    local dir = new_dir()
    local out = sh("RAYL_TMPDIR=" .. dir .. " " .. RAYL .. [[ -e '
      local rayl = require "rayl"
      local session = rayl.init().session_dir
      local p = io.popen("stat -c %a " .. session .. " " .. session .. "/sockets")
      print("modes", (p:read("*a"):gsub("%s+", " ")))
      p:close()
      print("sockets", (io.popen("ls " .. session .. "/sockets"):read("*a"):gsub("%s+", " ")))']])
    os.execute("rm -rf " .. dir)
    assert.truthy(out:find("modes\t700 700 ", 1, true), out)
    assert.truthy(out:find("sockets\tgcs node", 1, true), out)
  end)
end)
