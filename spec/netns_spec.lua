-- netns_spec: nothing assumes one host. Two Linux network namespaces joined only by a
-- veth pair (10.77.0.1 <-> 10.77.0.2): the head and node 1 in the first, node 2 in the
-- second, a driver in the first. Objects and results must cross the veth, encrypted
-- with the cluster key: the second namespace's node is given a copy of it, as another
-- machine would be. Needs root and iproute2; traffic never leaves the two namespaces
-- this spec creates.
local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local cwd = io.popen("pwd"):read("*l")
  return cwd .. "/" .. p
end
local RAYL = abspath(os.getenv("RAYL_BIN") or "./build-test/bin/rayl")

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  local ok, _, code = p:close()
  return out, ok == true or code == 0
end

local IP_A, IP_B = "10.77.0.1", "10.77.0.2"

describe("a cluster spread over two network namespaces", function()
  local ns_a, ns_b, veth_a, veth_b, dir_a, dir_b, port
  local refused -- set (to the kernel's message) only if creating a namespace is refused
  local created = {}

  -- Runs cmd inside namespace ns with RAYL_TMPDIR=dir (and any extra env), time-limited.
  local function in_ns(ns, dir, cmd, extra_env)
    return sh(("timeout 60 ip netns exec %s env RAYL_TMPDIR=%s %s%s"):format(ns, dir, extra_env or "", cmd))
  end

  local function cleanup()
    if created.started_b then in_ns(ns_b, dir_b, RAYL .. " stop") end
    if created.started_a then in_ns(ns_a, dir_a, RAYL .. " stop") end
    created.started_a, created.started_b = nil, nil
    -- Deleting a namespace deletes the veth end inside it (and so the pair).
    if created.ns_a then sh("ip netns del " .. ns_a) end
    if created.ns_b then sh("ip netns del " .. ns_b) end
    created.ns_a, created.ns_b = nil, nil
    if dir_a then os.execute("rm -rf " .. dir_a) end
    if dir_b then os.execute("rm -rf " .. dir_b) end
  end

  local function setup()
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
    local tag = ("%d%05d"):format(math.random(0, 9), math.random(0, 99999))
    ns_a, ns_b = "rayl_ns1_" .. tag, "rayl_ns2_" .. tag
    veth_a, veth_b = "rlA" .. tag, "rlB" .. tag -- interface names: at most 15 characters
    dir_a, dir_b = os.tmpname(), os.tmpname()
    os.remove(dir_a)
    os.remove(dir_b)
    port = 20000 + math.random(0, 12000) -- below the ephemeral port range

    local out, ok = sh("ip netns add " .. ns_a)
    if not ok then
      if out:find("not permitted", 1, true) or out:find("Permission denied", 1, true) then
        refused = out
        return
      end
      error("ip netns add " .. ns_a .. " failed: " .. out, 0)
    end
    created.ns_a = true
    out, ok = sh("ip netns add " .. ns_b)
    assert(ok, "ip netns add " .. ns_b .. " failed: " .. out)
    created.ns_b = true

    local steps = {
      ("ip link add %s netns %s type veth peer name %s netns %s"):format(veth_a, ns_a, veth_b, ns_b),
      ("ip -n %s addr add %s/24 dev %s"):format(ns_a, IP_A, veth_a),
      ("ip -n %s addr add %s/24 dev %s"):format(ns_b, IP_B, veth_b),
      ("ip -n %s link set %s up"):format(ns_a, veth_a),
      ("ip -n %s link set %s up"):format(ns_b, veth_b),
      ("ip -n %s link set lo up"):format(ns_a),
      ("ip -n %s link set lo up"):format(ns_b),
    }
    for _, cmd in ipairs(steps) do
      out, ok = sh(cmd)
      assert(ok, cmd .. " failed: " .. out)
    end

    -- B reaches A over the veth: a connection to a closed port is refused (RST) rather
    -- than timing out. Use ping if it is installed.
    local reach
    for _ = 1, 30 do
      if sh("command -v ping >/dev/null && echo yes"):find("yes", 1, true) then
        out, ok = sh(("ip netns exec %s ping -c1 -W1 %s"):format(ns_b, IP_A))
        reach = ok
      else
        out = sh(("ip netns exec %s timeout 2 bash -c 'exec 3<>/dev/tcp/%s/9'"):format(ns_b, IP_A))
        reach = out:find("refused", 1, true) ~= nil
      end
      if reach then break end
      os.execute("sleep 0.1")
    end
    assert(reach, ("%s cannot reach %s over the veth: %s"):format(ns_b, IP_A, out))

    created.started_a = true
    out = in_ns(ns_a, dir_a, ("%s start --head --port %d --node-ip-address %s --num-cpus 1"):format(RAYL, port, IP_A))
    assert(out:find(("Started a rayl head at %s:%d"):format(IP_A, port), 1, true), "head in " .. ns_a .. ": " .. out)
    -- The second "machine" gets a copy of the cluster key, as a user would scp it.
    local key = out:match("Its cluster key is (%S+)%:")
    assert(key, "the head did not say where its key is: " .. out)
    out, ok = sh(("mkdir -p %s && install -m 600 %s %s/cluster.key"):format(dir_b, key, dir_b))
    assert(ok, "cannot copy the key: " .. out)
    created.started_b = true
    out = in_ns(ns_b, dir_b, ("%s start --address %s:%d --node-ip-address %s --num-cpus 1 --resources '{\"remote\": 2}'" ..
      " --cluster-key %s/cluster.key"):format(RAYL, IP_A, port, IP_B, dir_b))
    assert(out:find("Joined the cluster", 1, true), "node 2 in " .. ns_b .. ": " .. out)
  end

  lazy_setup(function()
    local ok, err = pcall(setup)
    if not ok then
      cleanup()
      error("netns setup failed: " .. tostring(err), 0)
    end
  end)

  lazy_teardown(cleanup)

  local function skip_if_refused()
    if refused then
      pending("the kernel refused to create a network namespace: " .. refused)
      return true
    end
  end

  local function driver(name, code)
    local path = dir_a .. "/" .. name .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(code)
    f:close()
    return in_ns(ns_a, dir_a, RAYL .. " " .. path, ("RAYL_ADDRESS=%s:%d "):format(IP_A, port))
  end

  it("a driver in the first namespace sees two live nodes, one on each address", function()
    if skip_if_refused() then return end
    local out = driver("nodes", [[
      local rayl = require "rayl"
      local alive, on_a, on_b = 0, 0, 0
      for _, n in ipairs(rayl.nodes()) do
        if n.alive then alive = alive + 1 end
        if n.endpoint:find("tcp://]] .. IP_A .. [[:", 1, true) then on_a = on_a + 1 end
        if n.endpoint:find("tcp://]] .. IP_B .. [[:", 1, true) then on_b = on_b + 1 end
        print("node", n.endpoint, n.alive)
      end
      print("nodes:", alive, on_a, on_b)
    ]])
    assert.truthy(out:find("nodes:\t2\t1\t1", 1, true), out)
  end)

  it("a task needing a resource only node 2 has runs in the other namespace and returns its value", function()
    if skip_if_refused() then return end
    local out = driver("remote_task", [[
      local rayl = require "rayl"
      local where = rayl.remote(function(x)
        return require("rayl").get_runtime_context().node_id, x * 2
      end)
      local here = rayl.get((where:options{ num_returns = 2 }:remote(1)))
      local refs = {}
      for i = 1, 10 do refs[i] = { where:options{ num_returns = 2, resources = { remote = 1 } }:remote(i) } end
      local node_b
      for _, n in ipairs(rayl.nodes()) do
        if n.endpoint:find("tcp://]] .. IP_B .. [[:", 1, true) then node_b = n.node_id end
      end
      local other, on_b, right = 0, 0, 0
      for i, r in ipairs(refs) do
        local node = rayl.get(r[1])
        if node ~= here then other = other + 1 end
        if node == node_b then on_b = on_b + 1 end
        if rayl.get(r[2]) == 2 * i then right = right + 1 end
      end
      print("remote:", other, on_b, right)
    ]])
    assert.truthy(out:find("remote:\t10\t10\t10", 1, true), out)
  end)

  it("a 32 MiB array made on node 2 is read intact by the driver, and a driver's put is read on node 2", function()
    if skip_if_refused() then return end
    local out = driver("transfer", [[
      local rayl = require "rayl"
      local n = 32 * 1024 * 1024
      local make = rayl.remote({ resources = { remote = 1 } }, function(size)
        local a = require("rayl").array("uint8", size)
        for i = 1, size, 4093 do a[i] = i % 251 end
        a[size] = 7
        return a
      end)
      local a = rayl.get(make:remote(n))
      local intact = #a == n and a[n] == 7
      for i = 1, n, 4093 do if a[i] ~= i % 251 then intact = false; break end end
      print("pulled:", intact)
      local b = require("rayl").array("uint8", n)
      for i = 1, n, 4099 do b[i] = (i * 7) % 253 end
      b[n] = 9
      local check = rayl.remote({ resources = { remote = 1 } }, function(x)
        local ok = #x == ]] .. 32 * 1024 * 1024 .. [[ and x[#x] == 9
        for i = 1, #x, 4099 do if x[i] ~= (i * 7) % 253 then ok = false; break end end
        return ok, require("rayl").get_runtime_context().node_id
      end)
      local ok_ref, node_ref = check:options{ num_returns = 2 }:remote(rayl.put(b))
      local here = rayl.get_runtime_context().node_id
      print("pushed:", rayl.get(ok_ref), rayl.get(node_ref) ~= here)
    ]])
    assert.truthy(out:find("pulled:\ttrue", 1, true), out)
    assert.truthy(out:find("pushed:\ttrue\ttrue", 1, true), out)
  end)

  it("in the second namespace, rayl status finds the cluster and its key by itself; a stranger there is refused", function()
    if skip_if_refused() then return end
    local out = in_ns(ns_b, dir_b, RAYL .. " status")
    assert.truthy(out:find("2 nodes", 1, true), out)
    local stranger = dir_b .. "/stranger"
    out = sh(("timeout 60 ip netns exec %s env RAYL_TMPDIR=%s %s status --address %s:%d"):format(ns_b, stranger, RAYL,
      IP_A, port))
    assert.truthy(out:find("refused this process", 1, true), out)
  end)

  it("rayl status in the first namespace lists both nodes alive", function()
    if skip_if_refused() then return end
    local out = in_ns(ns_a, dir_a, RAYL .. " status")
    assert.truthy(out:find("2 nodes", 1, true), out)
    assert.truthy(out:find(IP_B, 1, true), out)
    local json = in_ns(ns_a, dir_a, RAYL .. " status --format json")
    local alive = 0
    for _ in json:gmatch('"alive": true') do alive = alive + 1 end
    assert.are.equal(2, alive, json)
  end)
end)
