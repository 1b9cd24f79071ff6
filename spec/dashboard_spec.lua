-- dashboard_spec: the dashboard the head of a `rayl start --head` cluster serves: every
-- /api/ route, /metrics parsed as Prometheus text, the token (changes always, every
-- request when bound beyond localhost), bad requests answered 4xx with the head still
-- serving, a busy port, and the overview page in a real headless browser (chromium).
local json = require "dkjson"
local h = require "spec.helpers"
local RAYL = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

local function sleep(s) os.execute("sleep " .. s) end

local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == 0 end

-- An HTTP request with curl: status code, body. opts: method, headers (list), raw path.
local function http(url, opts)
  opts = opts or {}
  local args = { "curl -s -g --max-time 10 -o - -w '\\n%{http_code}'" }
  if opts.method then args[#args + 1] = "-X " .. opts.method end
  for _, hdr in ipairs(opts.headers or {}) do args[#args + 1] = "-H '" .. hdr .. "'" end
  if opts.path_as_is then args[#args + 1] = "--path-as-is" end
  args[#args + 1] = "'" .. url .. "'"
  local out = h.sh(table.concat(args, " "))
  local body, code = out:match("^(.*)\n(%d+)$")
  return tonumber(code), body or out
end

-- GET url; asserts 200 and returns the decoded JSON.
local function get_json(url, headers)
  local code, body = http(url, { headers = headers })
  assert(code == 200, ("GET %s: %s %s"):format(url, tostring(code), body))
  local v, _, err = json.decode(body)
  assert(v ~= nil, ("GET %s: not JSON (%s): %s"):format(url, tostring(err), body))
  return v
end

-- Prometheus text format: every sample's family declared by # TYPE before its samples,
-- samples grouped by family, values numbers. Returns { [name] = { {labels, value}... } }.
local function parse_prometheus(text)
  local families, typed, order = {}, {}, {}
  local last
  for line in text:gmatch("[^\n]+") do
    local kind, name = line:match("^# (%u+) ([%w_:]+)")
    if kind then
      assert(kind == "HELP" or kind == "TYPE", "unknown comment: " .. line)
      if kind == "TYPE" then
        assert(not typed[name], "family declared twice: " .. name)
        typed[name] = line:match("^# TYPE [%w_:]+ (%a+)$")
        assert(typed[name], "bad TYPE line: " .. line)
        order[#order + 1] = name
      end
    else
      local metric, labels, value = line:match("^([%a_:][%w_:]*)(%b{}) (%S+)$")
      if not metric then
        metric, value = line:match("^([%a_:][%w_:]*) (%S+)$")
        labels = "{}"
      end
      assert(metric, "not a sample line: " .. line)
      assert(typed[metric], "sample before its TYPE: " .. line)
      assert(last == metric or not families[metric], "samples of " .. metric .. " are not together")
      local v = tonumber(value)
      assert(v, "value is not a number: " .. line)
      local parsed = {}
      for k, lv in labels:gmatch('([%a_][%w_]*)="([^"]*)"') do parsed[k] = lv end
      families[metric] = families[metric] or {}
      table.insert(families[metric], { labels = parsed, value = v })
      last = metric
    end
  end
  return families, order
end

-- The value of the sample of family name whose labels include want.
local function sample(families, name, want)
  for _, s in ipairs(families[name] or {}) do
    local ok = true
    for k, v in pairs(want or {}) do ok = ok and s.labels[k] == v end
    if ok then return s.value end
  end
end

-- Runs a driver script (text) against cluster c; returns its output.
local function driver(c, text, name)
  local path = c.dir .. "/" .. (name or "driver") .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return h.sh(c.env .. "timeout 120 " .. RAYL .. " --address " .. c.address .. " " .. path)
end

describe("the dashboard of a rayl start --head cluster", function()
  local c, dport, base, url_with_token, token

  lazy_setup(function()
    dport = h.free_port()
    c = h.start_cluster(RAYL, "--num-cpus 2 --dashboard-port " .. dport)
    c.start_out = "see rayl start"
    base = "http://127.0.0.1:" .. dport
    url_with_token = c.run("dashboard"):match("(%S+)\n?$")
    token = url_with_token and url_with_token:match("token=(%x+)")
  end)
  lazy_teardown(function() if c then c.stop() end end)

  it("rayl dashboard prints the URL, with the token", function()
    assert.are.equal(base .. "/?token=" .. token, url_with_token)
    assert.are.equal(32, #token)
    assert.are.equal(base .. "\n", c.run("dashboard --no-token"))
  end)

  it("/api/nodes lists the nodes: the head's and one that joined", function()
    c.join("--num-cpus 1")
    -- Each node's stats come with its heartbeats (every second).
    assert(h.wait_until(function()
      local nodes = get_json(base .. "/api/nodes")
      return #nodes == 2 and nodes[1].stats.store_capacity > 0 and nodes[2].stats.store_capacity > 0
    end, 10))
    local heads, cpus = 0, 0
    for _, n in ipairs(get_json(base .. "/api/nodes")) do
      assert.are.equal("ALIVE", n.state)
      heads = heads + (n.is_head and 1 or 0)
      cpus = cpus + n.resources_total.CPU
      assert.is_true(n.stats.store_capacity > 0)
      assert.is_true(n.stats.mem_total > 0)
    end
    assert.are.equal(1, heads)
    assert.are.equal(3, cpus)
    local cl = get_json(base .. "/api/cluster")
    assert.are.equal(2, cl.nodes_alive)
    assert.are.equal(3, cl.resources_total.CPU)
  end)

  it("/api/tasks shows submitted tasks by state and name, with errors, in pages", function()
    local out = driver(c, [[
local rayl = require "rayl"
rayl.init { address = "auto" }
local ok = rayl.remote(function(x) return x + 1 end)
local refs = {}
for i = 1, 5 do refs[i] = ok:remote(i) end
rayl.get(refs)
local bad = rayl.remote(function() error("dashboard_boom") end)
print(pcall(rayl.get, bad:remote()))
]], "tasks_marker_a1")
    assert.matches("false", out)
    local r
    assert(h.wait_until(function()
      r = get_json(base .. "/api/tasks?name=tasks_marker_a1")
      return r.total == 6 and r.counts.FINISHED >= 5
    end, 15), json.encode(r))
    local failed = get_json(base .. "/api/tasks?state=FAILED&name=tasks_marker_a1")
    assert.are.equal(1, failed.total)
    assert.are.equal("TaskError", failed.tasks[1].error_type)
    assert.matches("dashboard_boom", failed.tasks[1].error_message, 1, true)
    assert.matches("remote traceback:", failed.tasks[1].error_message, 1, true)
    assert.matches("tasks_marker_a1.lua:7", failed.tasks[1].error_message, 1, true)
    assert.are.equal("NORMAL_TASK", failed.tasks[1].type)
    local page = get_json(base .. "/api/tasks?name=tasks_marker_a1&state=finished&limit=2&offset=1")
    assert.are.equal(5, page.total)
    assert.are.equal(2, #page.tasks)
    assert.are.equal(1, page.offset)
    for _, t in ipairs(page.tasks) do assert.are.equal("FINISHED", t.state) end
  end)

  it("/metrics is Prometheus text whose task counts match /api/tasks", function()
    local code, text = http(base .. "/metrics")
    assert.are.equal(200, code)
    local families = parse_prometheus(text)
    local counts = get_json(base .. "/api/tasks?limit=0").counts
    for _, state in ipairs { "SUBMITTED", "RUNNING", "FINISHED", "FAILED" } do
      assert.are.equal(counts[state], sample(families, "rayl_tasks", { State = state }), state)
    end
    assert.is_true(sample(families, "rayl_tasks", { State = "FINISHED" }) >= 5)
    assert.are.equal(2, sample(families, "rayl_nodes", { State = "ALIVE" }))
    for _, name in ipairs { "rayl_actors", "rayl_object_store_used_bytes", "rayl_object_store_spilled_objects",
                            "rayl_workers", "rayl_scheduler_queued_leases", "rayl_node_mem_total_bytes",
                            "rayl_node_load1", "rayl_resources_total" } do
      assert(families[name], name .. " missing")
    end
    assert.are.equal(2, #families.rayl_workers)
    local cpus = 0
    for _, s in ipairs(families.rayl_resources_total) do
      if s.labels.Name == "CPU" then cpus = cpus + s.value end
    end
    assert.are.equal(3, cpus)
  end)

  it("/api/actors shows an actor and why it died; /api/placement_groups a group", function()
    driver(c, [[
local rayl = require "rayl"
rayl.init { address = "auto" }
local A = rayl.remote({ __name = "DashCounter", __init = function(self) self.n = 0 end,
  get = function(self) return self.n end })
local a = A:options { name = "dash_actor" }:remote()
assert(rayl.get(a.get:remote()) == 0)
local pg = rayl.util.placement_group({ { CPU = 0.01 } }, { name = "dash_pg", lifetime = "detached" })
assert(pg:wait(30))
local B = rayl.remote({ __name = "DashPhoenix", __init = function() end, die = function() os.exit(1) end,
  ping = function() return "pong" end })
local b = B:options { name = "dash_phoenix", max_restarts = 1 }:remote()
assert(rayl.get(b.ping:remote()) == "pong")
assert(not pcall(rayl.get, b.die:remote()))
assert(rayl.get(b.ping:remote()) == "pong") -- restarted once
]])
    local actor
    assert(h.wait_until(function()
      for _, a in ipairs(get_json(base .. "/api/actors?state=DEAD").actors) do
        if a.name == "dash_actor" then actor = a end
      end
      return actor ~= nil
    end, 15))
    assert.are.equal("DashCounter", actor.class_name)
    assert.matches("owner", actor.death_cause)
    assert.is_true(actor.pid > 0)
    assert.are.equal(0, actor.num_restarts)
    local phoenix
    for _, a in ipairs(get_json(base .. "/api/actors").actors) do
      if a.name == "dash_phoenix" then phoenix = a end
    end
    assert.are.equal(1, phoenix.num_restarts)
    local pg
    for _, g in ipairs(get_json(base .. "/api/placement_groups")) do
      if g.name == "dash_pg" then pg = g end
    end
    assert.are.equal("CREATED", pg.state)
    assert.are.equal("PACK", pg.strategy)
    assert.are.equal(0.01, pg.bundles[1].resources.CPU)
    assert.is_string(pg.bundles[1].node_id)
  end)

  it("/api/objects shows each node's store", function()
    local r = get_json(base .. "/api/objects")
    assert.are.equal(2, #r.nodes)
    assert.is_true(r.store_capacity > 0)
    assert.is_number(r.objects)
  end)

  it("/api/jobs lists a job with its logs; stopping it needs the token in a header", function()
    local out = c.run("job submit --no-wait --submission-id dash_job -- sh -c 'echo dash_job_says_hi; sleep 60'")
    assert.matches("submitted", out)
    local job
    assert(h.wait_until(function()
      for _, j in ipairs(get_json(base .. "/api/jobs")) do if j.submission_id == "dash_job" then job = j end end
      return job and job.status == "RUNNING"
    end, 15))
    assert(h.wait_until(function()
      local l = get_json(base .. "/api/jobs/dash_job/logs")
      return table.concat(l.lines, "\n"):find("dash_job_says_hi", 1, true) ~= nil
    end, 10))
    local code = http(base .. "/api/jobs/dash_job/stop", { method = "POST" })
    assert.are.equal(403, code)
    code = http(base .. "/api/jobs/dash_job/stop?token=" .. token, { method = "POST" })
    assert.are.equal(403, code) -- a link or form of another page could carry that
    code = http(base .. "/api/jobs/dash_job/stop", { method = "POST", headers = { "X-Rayl-Token: wrong" } })
    assert.are.equal(403, code)
    assert.are.equal("RUNNING", get_json(base .. "/api/jobs/dash_job").status)
    code = http(base .. "/api/jobs/dash_job/stop", { method = "POST", headers = { "X-Rayl-Token: " .. token } })
    assert.are.equal(200, code)
    assert(h.wait_until(function() return get_json(base .. "/api/jobs/dash_job").status == "STOPPED" end, 10))
    assert.are.equal(404, (http(base .. "/api/jobs/no_such_job")))
  end)

  it("/api/logs lists the session's logs and tails one, searched", function()
    local files = get_json(base .. "/api/logs")
    local names = {}
    for _, f in ipairs(files) do names[f.name] = f.size end
    assert.is_number(names["gcs.log"])
    local r = get_json(base .. "/api/logs/gcs.log?search=dashboard%20at&lines=5")
    assert.is_true(#r.lines >= 1)
    for _, line in ipairs(r.lines) do assert.matches("dashboard at", line, 1, true) end
    assert.matches("127.0.0.1:" .. dport, r.lines[#r.lines], 1, true)
  end)

  it("answers bad requests with 4xx and keeps serving", function()
    local big = ("x"):rep(60000)
    local cases = {
      { 405, base .. "/api/nodes", { method = "BREW" } },
      { 405, base .. "/api/nodes", { method = "DELETE" } },
      { 405, base .. "/api/nodes", { method = "POST", headers = { "X-Rayl-Token: " .. token } } },
      { 404, base .. "/api/nope" },
      { 404, base .. "/api/nodesx" },
      { 404, base .. "/../../etc/passwd", { path_as_is = true } },
      { 404, base .. "/%2e%2e/%2e%2e/etc/passwd", { path_as_is = true } },
      { 400, base .. "/api/logs/..%2Fgcs.sqlite3" },
      { 404, base .. "/api/logs/no_such.log" },
      { 400, base .. "/api/tasks?limit=-1" },
      { 400, base .. "/api/tasks?limit=abc" },
      { 400, base .. "/api/tasks?offset=1e999" },
      { 400, base .. "/api/tasks?state=BOGUS" },
      { 400, base .. "/api/actors?state=al%0Aive" },
      { 400, base .. "/api/logs/gcs.log?lines=0" },
    }
    for _, k in ipairs(cases) do
      local code, body = http(k[2], k[3])
      assert.are.equal(k[1], code, k[2] .. " " .. body)
    end
    local code = http(base .. "/api/nodes", { headers = { "X-Big: " .. big } })
    assert.is_true(code == 431 or code == 413, tostring(code))
    assert.are.equal(2, #get_json(base .. "/api/nodes"))
    assert.matches("2 nodes", c.run("status"))
  end)

  it("leaves the head running when its port is busy", function()
    local other = h.start_cluster(RAYL, "--num-cpus 1 --dashboard-port " .. dport)
    local ok, err = pcall(function()
      local out = other.run("dashboard")
      assert.matches("could not serve its dashboard", out)
      assert.matches(tostring(dport), out)
      assert.matches("1 node", other.run("status"))
    end)
    other.stop()
    assert(ok, err)
  end)

  -- Opens url in a headless chromium and runs fn(page) with page.text(selector),
  -- page.eval(js) and page.call(method, params) on it; closes it after (pending when
  -- chromium is missing).
  local function browser(url, fn)
    if not have("chromium") then
      pending("chromium is not installed (tools/setup --tests installs it): the browser test did not run")
      return
    end
    local dir = c.dir .. "/browser" .. tostring(math.random(1e9))
    os.execute(("mkdir -p %s && mkfifo %s/in %s/out"):format(dir, dir, dir))
    local flags = "--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
      .. "--disable-sync --no-first-run --remote-debugging-pipe --user-data-dir=" .. dir .. "/profile"
    os.execute(("chromium %s 3<%s/in 4>%s/out 2>%s/chromium.err & echo $! > %s/pid")
      :format(flags, dir, dir, dir, dir))
    local to = assert(io.open(dir .. "/in", "w"))
    local from = assert(io.open(dir .. "/out", "r"))
    local next_id = 0
    local function call(method, params, session)
      next_id = next_id + 1
      to:write(json.encode({ id = next_id, method = method, params = params or {}, sessionId = session }) .. "\0")
      to:flush()
      while true do
        local buf = {}
        while true do
          local ch = from:read(1)
          assert(ch, "chromium closed its pipe")
          if ch == "\0" then break end
          buf[#buf + 1] = ch
        end
        local msg = json.decode(table.concat(buf))
        if msg.id == next_id then
          assert(not msg.error, method .. ": " .. json.encode(msg.error or {}))
          return msg.result
        end
      end
    end
    local ok, err = pcall(function()
      local target = call("Target.createTarget", { url = url }).targetId
      local session = call("Target.attachToTarget", { targetId = target, flatten = true }).sessionId
      local page = {}
      function page.eval(js)
        return call("Runtime.evaluate", { expression = js, returnByValue = true }, session).result.value
      end
      function page.text(selector)
        return page.eval(("(document.querySelector(%q) || {}).textContent || ''"):format(selector))
      end
      function page.call(method, params) return call(method, params, session) end
      fn(page)
      pcall(call, "Browser.close")
    end)
    to:close()
    from:close()
    local pid = h.read_file(dir .. "/pid")
    if pid then os.execute("kill " .. pid:match("%d+") .. " 2>/dev/null") end
    assert(ok, err)
  end

  it("shows the overview in a headless browser, live: a task submitted later appears without a reload", function()
    browser(url_with_token, function(page)
      local text = page.text
      assert(h.wait_until(function() return text("#node-count") == "2" end, 20), "node count: " .. text("#node-count"))
      assert.matches("updated", text("#status"))
      assert.is_nil(text("#recent-tasks tbody"):find("browser_marker_z9", 1, true))
      local page_id = page.eval("window.__page_id = window.__page_id || Math.random()")
      driver(c, [[
local rayl = require "rayl"
rayl.init { address = "auto" }
local f = rayl.remote(function() return 1 end)
assert(rayl.get(f:remote()) == 1)
]], "browser_marker_z9")
      assert(h.wait_until(function() return text("#recent-tasks tbody"):find("browser_marker_z9", 1, true) ~= nil end,
        20), "the task never showed: " .. text("#recent-tasks tbody"))
      -- The same page (no reload) showed it.
      assert.are.equal(page_id, page.eval("window.__page_id"))
    end)
  end)

  -- Starts a driver in the background (killed after fn returns); fn gets its output path.
  local function background_driver(text, name, env, fn)
    local path = c.dir .. "/" .. name .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    local out = c.dir .. "/" .. name .. ".out"
    local pid = h.sh(("%s%s timeout 120 %s --address %s %s > %s 2>&1 & echo $!"):format(c.env, env or "", RAYL,
      c.address, path, out)):match("%d+")
    local ok, err = pcall(fn, out)
    os.execute("kill " .. pid .. " 2>/dev/null")
    h.wait_until(function() return os.execute("kill -0 " .. pid .. " 2>/dev/null") ~= 0 end, 5)
    assert(ok, err)
  end

  it("shows why a task waits (the resource no node has) in the overview and the tasks view, live", function()
    background_driver([[
local rayl = require "rayl"
rayl.init { address = "auto" }
local f = rayl.remote({ resources = { unobtainium = 2 } }, function() return 1 end)
local r = f:remote()
print("submitted")
io.stdout:flush()
rayl.get(r)
]], "pending_marker", nil, function(out)
      assert(h.wait_until(function() return (h.read_file(out) or ""):find("submitted", 1, true) ~= nil end, 30))
      -- The API first (as `rayl status` says it), then the pages.
      local group
      assert(h.wait_until(function()
        for _, g in ipairs(get_json(base .. "/api/pending").groups) do
          if g.shape.unobtainium then group = g end
        end
        return group ~= nil
      end, 10), "no pending group")
      assert.is_true(group.infeasible)
      assert.are.equal("unobtainium", group.missing)
      assert.are.equal("infeasible: no node has unobtainium", group.blocker)
      browser(url_with_token, function(page)
        assert(h.wait_until(function()
          return page.text("#pending-table tbody"):find("no node has unobtainium", 1, true) ~= nil
        end, 20), "overview: " .. page.text("#pending-table"))
        assert.matches("unobtainium: 2", page.text("#pending-table tbody"), 1, true)
        page.eval("location.hash = '#tasks'")
        assert(h.wait_until(function()
          return page.text("#tasks-pending tbody"):find("no node has unobtainium", 1, true) ~= nil
        end, 20), "tasks view: " .. page.text("#tasks-pending"))
      end)
    end)
  end)

  it("shows each object with its size, owner and call site in the objects view, grouped and sorted", function()
    background_driver([[
local rayl = require "rayl"
rayl.init { address = "auto" }
local big = rayl.put(string.rep("x", 3 * 1024 * 1024))
local small = rayl.put("a small one")
print("put")
io.stdout:flush()
require("rayl.core").sleep(100)
]], "memory_marker", "RAYL_RECORD_REF_CREATION_SITES=1 ", function(out)
      assert(h.wait_until(function() return (h.read_file(out) or ""):find("put", 1, true) ~= nil end, 30))
      local big
      assert(h.wait_until(function()
        local m = get_json(base .. "/api/memory")
        for _, o in ipairs(m.objects or {}) do
          if (o.call_site or ""):find("memory_marker.lua:3", 1, true) then big = o end
        end
        return big ~= nil
      end, 10), "no object from memory_marker.lua:3 in /api/memory")
      assert.is_true(big.size >= 3 * 1024 * 1024 and big.size < 3 * 1024 * 1024 + 4096)
      assert.matches("local", big.refs)
      browser(url_with_token .. "#objects", function(page)
        local rows
        assert(h.wait_until(function()
          rows = page.text("#memory-table tbody")
          return rows:find("memory_marker.lua:3", 1, true) ~= nil
        end, 20), "objects view: " .. page.text("#memory-table"))
        assert.matches("3.0 MiB", rows, 1, true)
        assert.matches("memory_marker.lua:4", rows, 1, true)
        -- Sorted by size: the big one before the small one; by age: the older (big) first too,
        -- grouped by owner: a group title names the owner's pid.
        assert.is_true(rows:find("memory_marker.lua:3", 1, true) < rows:find("memory_marker.lua:4", 1, true))
        page.eval("document.getElementById('mem-group').value = 'owner';"
          .. "document.getElementById('mem-group').dispatchEvent(new Event('change'))")
        assert(h.wait_until(function() return page.text("#memory-table tbody"):find("owner pid %d+ %(driver%)") end,
          10), page.text("#memory-table tbody"))
      end)
    end)
  end)

  it("draws each task run as a span on its worker's row in the timeline view, and serves the trace", function()
    driver(c, [[
local rayl = require "rayl"
rayl.init { address = "auto" }
local timeline_marker_q7 = rayl.remote(function() require("rayl.core").sleep(0.2) return 1 end)
local refs = {}
for i = 1, 3 do refs[i] = timeline_marker_q7:remote() end
rayl.get(refs)
]], "timeline_marker_q7")
    -- Owners report runs about once a second.
    local runs
    assert(h.wait_until(function()
      runs = 0
      for _, e in ipairs(get_json(base .. "/api/timeline").events) do
        if e.name:find("timeline_marker_q7", 1, true) then runs = runs + 1 end
      end
      return runs == 3
    end, 10), "runs in /api/timeline: " .. tostring(runs))
    local code, body = http(base .. "/api/timeline/trace.json")
    assert.are.equal(200, code)
    local n = 0
    for _, e in ipairs(json.decode(body)) do
      if e.name:find("timeline_marker_q7", 1, true) then
        n = n + 1
        assert.are.equal("X", e.ph)
        assert.is_true(e.dur >= 150000, "dur " .. e.dur)
      end
    end
    assert.are.equal(3, n)
    browser(url_with_token .. "#timeline", function(page)
      local js = "Array.from(document.querySelectorAll('.tl-span')).filter(" ..
        "(e) => e.dataset.name.includes('timeline_marker_q7')).length"
      assert(h.wait_until(function() return page.eval(js) == 3 end, 20),
        "spans: " .. tostring(page.eval(js)) .. " " .. page.text("#timeline"))
      assert.matches("/api/timeline/trace.json", page.eval("document.getElementById('tl-download').href"), 1, true)
      -- A later run appears without a reload.
      driver(c, [[
local rayl = require "rayl"
rayl.init { address = "auto" }
local timeline_marker_q7 = rayl.remote(function() return 1 end)
rayl.get(timeline_marker_q7:remote())
]], "timeline_marker_q7")
      assert(h.wait_until(function() return page.eval(js) == 4 end, 20), "spans: " .. tostring(page.eval(js)))
    end)
  end)

  it("shows another node's logs, read by its node manager, searchable, in the logs view", function()
    local other
    local function find_other()
      for _, n in ipairs(get_json(base .. "/api/nodes")) do
        if not n.is_head and n.state == "ALIVE" then other = n end
      end
      return other ~= nil
    end
    if not find_other() then c.join("--num-cpus 1") end -- run alone, without the nodes test
    assert(h.wait_until(find_other, 10), "no second node")
    local files
    assert(h.wait_until(function()
      files = get_json(base .. "/api/logs?node=" .. other.node_id)
      return files.files ~= nil
    end, 10))
    local names = {}
    for _, f in ipairs(files.files) do names[f.name] = true end
    assert.is_true(names["node.log"])
    -- Its node.log is not the head node's: it names the other node's address.
    local port = other.address:match(":(%d+)$")
    local r
    assert(h.wait_until(function()
      r = get_json(base .. "/api/logs/node.log?node=" .. other.node_id .. "&search=" .. port)
      return r.lines ~= nil
    end, 10))
    assert.is_true(#r.lines >= 1)
    for _, line in ipairs(r.lines) do assert.matches(port, line, 1, true) end
    local code = http(base .. "/api/logs?node=ffffffffffffffff")
    assert.are.equal(404, code)
    -- What the node manager refuses comes back as its error (the head's answer: 502).
    local body
    assert(h.wait_until(function()
      code, body = http(base .. "/api/logs/nope.log?node=" .. other.node_id)
      return code ~= 200
    end, 10))
    assert.are.equal(502, code)
    assert.matches("no log file 'nope.log' on this node", body, 1, true)
    browser(url_with_token .. "#logs", function(page)
      assert(h.wait_until(function() return page.text("#log-node"):find(other.node_id:sub(1, 12), 1, true) end, 20))
      page.eval(("const n = document.getElementById('log-node'); n.value = %q;"
        .. "n.dispatchEvent(new Event('change'))"):format(other.node_id))
      assert(h.wait_until(function() return page.text("#log-file"):find("node.log", 1, true) ~= nil end, 20),
        page.text("#log-file"))
      page.eval(("const f = document.getElementById('log-file'); f.value = 'node.log';"
        .. "f.dispatchEvent(new Event('change'));"
        .. "const s = document.getElementById('log-search'); s.value = %q; s.dispatchEvent(new Event('change'))")
        :format(port))
      assert(h.wait_until(function()
        local t = page.text("#log-text")
        if t == "" or not t:find(port, 1, true) then return false end
        for line in t:gmatch("[^\n]+") do if not line:find(port, 1, true) then return false end end
        return true
      end, 20), page.text("#log-text"))
    end)
  end)
end)

describe("a private cluster's dashboard", function()
  it("is served only when RAYL_DASHBOARD_PORT asks for it", function()
    local dir = os.tmpname()
    os.remove(dir)
    local port = h.free_port()
    local script = dir .. "-private.lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
local rayl = require "rayl"
rayl.init { num_cpus = 1 }
local p = io.popen("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/api/nodes")
print("status " .. p:read("*a"))
p:close()
]]):format(port))
    f:close()
    local env = "RAYL_TMPDIR=" .. dir .. " "
    local asked = h.sh(env .. "RAYL_DASHBOARD_PORT=" .. port .. " timeout 60 " .. RAYL .. " " .. script)
    local not_asked = h.sh(env .. "timeout 60 " .. RAYL .. " " .. script)
    os.execute("rm -rf " .. dir .. " " .. script)
    assert.matches("status 200", asked)
    assert.matches("status 000", not_asked)
  end)
end)

describe("a head with a long history", function()
  -- RAYL_TASK_EVENTS_MAX_NUM_TASK_IN_GCS (as Ray's RAY_task_events_max_num_task_in_gcs)
  -- caps what the head keeps: tasks and their runs on the timeline.
  it("keeps at most RAYL_TASK_EVENTS_MAX_NUM_TASK_IN_GCS tasks and runs, the newest, and says how many it forgot",
    function()
    local dport = h.free_port()
    local c = h.start_cluster("RAYL_TASK_EVENTS_MAX_NUM_TASK_IN_GCS=300 " .. RAYL,
      "--num-cpus 2 --dashboard-port " .. dport)
    local base = "http://127.0.0.1:" .. dport
    local ok, err = pcall(function()
      local out = driver(c, [[
local rayl = require "rayl"
rayl.init { address = "auto" }
local early = rayl.remote(function(i) return i end)
local refs = {}
for i = 1, 600 do refs[i] = early:remote(i) end
rayl.get(refs)
local cap_latest_x4 = rayl.remote(function(i) return i end)
refs = {}
for i = 1, 100 do refs[i] = cap_latest_x4:remote(i) end
rayl.get(refs)
print("ran 700")
]], "cap")
      assert.matches("ran 700", out)
      local cl, tl
      -- Owners report about once a second: wait for the last ones.
      assert(h.wait_until(function()
        cl = get_json(base .. "/api/cluster")
        return cl.tasks_evicted >= 400 and get_json(base .. "/api/tasks?name=cap.lua:7&limit=0").total == 100
      end, 15), "evicted " .. tostring(cl and cl.tasks_evicted))
      local held = 0
      for _, n in pairs(cl.tasks) do held = held + n end
      assert.is_true(held <= 300, "held " .. held)
      local all = get_json(base .. "/api/tasks?limit=0")
      assert.is_true(all.total <= 300, "total " .. all.total)
      assert.are.equal(100, get_json(base .. "/api/tasks?name=cap.lua:7&limit=0").total)
      -- /metrics says the same
      local code, text = http(base .. "/metrics")
      assert.are.equal(200, code)
      assert.is_true(tonumber(text:match("rayl_tasks_evicted_total (%d+)")) >= 400)
      assert(h.wait_until(function()
        tl = get_json(base .. "/api/timeline?limit=100000")
        return tl.evicted >= 400
      end, 15), "timeline evicted " .. tostring(tl and tl.evicted))
      assert.is_true(tl.kept <= 300 and #tl.events <= 300, "timeline kept " .. tl.kept)
      assert.matches("cap%.lua:7$", tl.events[#tl.events].name)
    end)
    c.stop()
    assert(ok, err)
  end)
end)

describe("a dashboard bound beyond localhost", function()
  local c, dport, base, token

  lazy_setup(function()
    dport = h.free_port()
    c = h.start_cluster(RAYL, "--num-cpus 1 --dashboard-host 0.0.0.0 --dashboard-port " .. dport)
    base = "http://127.0.0.1:" .. dport
    token = c.run("dashboard"):match("token=(%x+)")
  end)
  lazy_teardown(function() if c then c.stop() end end)

  it("asks for the token on every request, pages included", function()
    assert.are.equal(32, #token)
    for _, path in ipairs { "/", "/app.js", "/api/nodes", "/metrics", "/api/logs" } do
      assert.are.equal(401, (http(base .. path)), path)
      assert.are.equal(401, (http(base .. path, { headers = { "X-Rayl-Token: " .. token:sub(1, 31) .. "0" } })), path)
      assert.are.equal(200, (http(base .. path, { headers = { "X-Rayl-Token: " .. token } })), path)
      assert.are.equal(200, (http(base .. path, { headers = { "Authorization: Bearer " .. token } })), path)
    end
    local code, body = http(base .. "/?token=" .. token)
    assert.are.equal(200, code)
    assert.matches("rayl dashboard", body)
    assert.are.equal(200, (http(base .. "/chart.js", { headers = { "Cookie: rayl_token=" .. token } })))
    assert.are.equal(1, #get_json(base .. "/api/nodes", { "X-Rayl-Token: " .. token }))
  end)

  it("derives the token from the cluster key: another cluster has another", function()
    local key = h.read_file(c.dir .. "/rayl_current_cluster")
    assert(key and key:find("cluster.key", 1, true), key)
    -- Another head (another key) has another token.
    local other = h.start_cluster(RAYL, "--num-cpus 1 --dashboard-host 0.0.0.0 --dashboard-port " .. h.free_port())
    local other_token = other.run("dashboard"):match("token=(%x+)")
    other.stop()
    assert.are_not.equal(token, other_token)
    assert.are.equal(32, #other_token)
  end)
end)
