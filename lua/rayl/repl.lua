-- rayl.repl: what the REPL does with a line: chunks that continue over lines,
-- expression results pretty-printed, tab completion, and the :commands. The
-- terminal side (line editing, history, Ctrl-C) is runtime/cli/repl.c.
local rayl = require "rayl"
local core = require "rayl.core"
local jit = require "jit"

local M = {}

-- How much of a value the printer shows.
M.max_depth = 4      -- nested tables shown; deeper ones print as {...}
M.max_items = 100    -- entries shown per table
M.max_string = 200   -- characters of a string inside a table
M.width = 78         -- a table that fits on one line this wide stays on one line

local pending        -- lines of a chunk that is not complete yet, or nil
local address_shown  -- what the banner and :status call the cluster

------------------------------------------------------------------------------
-- Pretty printing
------------------------------------------------------------------------------

local ESCAPES = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\" }

local function quote(s, limit)
  local more = ""
  if limit and #s > limit then
    more = ("... (%d more bytes)"):format(#s - limit)
    s = s:sub(1, limit)
  end
  s = s:gsub('[%c"\\]', function(c) return ESCAPES[c] or ("\\%03d"):format(c:byte()) end)
  return '"' .. s .. '"' .. more
end

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local function is_name(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not KEYWORDS[k]
end

-- Keys in the order they print: 1..n first, then numbers, strings, the rest.
local TYPE_ORDER = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = TYPE_ORDER[type(a)] or 4, TYPE_ORDER[type(b)] or 4
  if ta ~= tb then return ta < tb end
  if ta == 4 then return tostring(a) < tostring(b) end
  if ta == 3 then return not a and b end
  return a < b
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

local render

-- Renders table t as a list of "key = value" parts, or a one-line string if short.
local function render_table(t, depth, indent, seen)
  if seen[t] then return "<cycle>" end
  if depth >= M.max_depth then return next(t) == nil and "{}" or "{...}" end
  seen[t] = true
  local parts, n = {}, #t
  local shown = 0
  for i = 1, n do
    if shown >= M.max_items then break end
    parts[#parts + 1] = render(rawget(t, i), depth + 1, indent .. "  ", seen)
    shown = shown + 1
  end
  local keys = {}
  for k in pairs(t) do
    if not (type(k) == "number" and k >= 1 and k <= n and k == math.floor(k)) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  for _, k in ipairs(keys) do
    if shown >= M.max_items then break end
    local key = is_name(k) and k or "[" .. render(k, depth + 1, indent .. "  ", seen) .. "]"
    parts[#parts + 1] = key .. " = " .. render(rawget(t, k), depth + 1, indent .. "  ", seen)
    shown = shown + 1
  end
  seen[t] = nil
  local total = n + #keys
  if shown < total then parts[#parts + 1] = ("... (%d more)"):format(total - shown) end
  if #parts == 0 then return "{}" end
  local line = "{ " .. table.concat(parts, ", ") .. " }"
  if #line + #indent <= M.width and not line:find("\n", 1, true) then return line end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
end

--- render(value, depth, indent, seen) -> how the REPL shows value
function render(v, depth, indent, seen)
  local t = type(v)
  if t == "string" then return quote(v, depth > 0 and M.max_string or nil) end
  if t == "table" and not has_tostring(v) then return render_table(v, depth, indent, seen) end
  local ok, s = pcall(tostring, v)
  return ok and tostring(s) or ("<%s: __tostring failed: %s>"):format(t, tostring(s))
end

--- M.pretty(value) -> the text the REPL prints for value
function M.pretty(v)
  return render(v, 0, "", {})
end

--- M.show(...): prints a chunk's results, tab-separated (nothing for none).
function M.show(...)
  local n = select("#", ...)
  if n == 0 then return end
  local out = {}
  for i = 1, n do out[i] = M.pretty((select(i, ...))) end
  io.stdout:write(table.concat(out, "\t"), "\n")
  io.stdout:flush()
end

------------------------------------------------------------------------------
-- Errors
------------------------------------------------------------------------------

local SIGINT, SIGTERM = 2, 15

--- M.report(err, signal): prints what a chunk raised. A chunk stopped by Ctrl-C
--- prints KeyboardInterrupt; other errors print their message and traceback (a
--- task's error carries the remote traceback), minus the REPL's own frames.
function M.report(err, signal)
  if signal == SIGTERM then return end
  if signal == SIGINT then
    io.stderr:write("KeyboardInterrupt\n")
    io.stderr:flush()
    return
  end
  local text = type(err) == "string" and err or M.pretty(err)
  -- The frames below the chunk are the REPL's own.
  repeat
    local n
    text, n = text:gsub("\n\t%[C%]: [^\n]*$", "")
  until n == 0
  io.stderr:write(text, "\n")
  io.stderr:flush()
end

------------------------------------------------------------------------------
-- Lines into chunks
------------------------------------------------------------------------------

-- A syntax error at the end of the input means the chunk continues (as lua.c).
local function incomplete(err)
  return err:sub(-7) == "'<eof>'"
end

-- An expression is returned through a call, not tail-called, so the chunk's frame
-- stays (error("x") reports "stdin:1: x") and every value comes back.
local function compile(source)
  local fn = loadstring("return (function(...) return ... end)(" .. source .. "\n)", "=stdin")
  if fn then return fn end
  return loadstring(source, "=stdin")
end

local commands = {}

--- M.feed(line) -> what to do next:
---   "more"       the chunk continues on the next line
---   "done"       nothing to run (blank line, a :command, or a syntax error shown)
---   "quit"       leave the REPL
---   "run", fn    call fn (with Ctrl-C armed) and show its results
function M.feed(line)
  if not pending then
    if line:match("^%s*$") then return "done" end
    local name, rest = line:match("^%s*:(%S*)%s*(.-)%s*$")
    if name then return M.command(name, rest) end
    line = line:gsub("^%s*=", "return ", 1) -- Lua 5.1's "=expr"
    pending = line
  else
    pending = pending .. "\n" .. line
  end
  local fn, err = compile(pending)
  if not fn then
    if incomplete(err) then return "more" end
    pending = nil
    io.stderr:write(err, "\n")
    io.stderr:flush()
    return "done"
  end
  pending = nil
  -- Code typed here runs in the interpreter, where Ctrl-C can stop any loop (a
  -- JIT-compiled loop never looks at the signal). Remote functions still run
  -- compiled on the workers.
  jit.off(fn, true)
  return "run", fn
end

--- M.cancel(): Ctrl-C at the prompt drops the chunk being typed.
function M.cancel()
  pending = nil
end

------------------------------------------------------------------------------
-- Tab completion
------------------------------------------------------------------------------

-- The fields a value offers for completion, name -> value: a table's keys, its
-- metatable's __index table (methods), an actor handle's methods. Only raw reads:
-- completing must not run the user's code.
local function fields(v, out, depth)
  if depth > 4 then return end
  if type(v) == "table" then
    if getmetatable(v) == rayl.ActorHandle then
      for m in pairs(rawget(v, "_methods") or {}) do out[m] = out[m] or true end
      return
    end
    for k, x in pairs(v) do if is_name(k) and out[k] == nil then out[k] = x end end
  end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
    fields(rawget(mt, "__index"), out, depth + 1)
  end
end

-- Looks up a dotted path (a.b.c) the same way.
local function lookup(path)
  local v = _G
  for name in path:gmatch("[^.]+") do
    local found = {}
    fields(v, found, 0)
    v = found[name]
    if v == nil then return nil end
  end
  return v
end

--- M.complete(word) -> sorted completions of word ("rayl.ge" -> "rayl.get", ...):
--- globals and keywords for a bare name, fields after "a.b.", methods after "a:".
function M.complete(word)
  local base, sep, partial = word:match("^(.-)([.:])([%w_]*)$")
  local names = {}
  if base then
    -- A plain path (a.b.c): anything else (calls, strings, a:b.) is not looked up.
    if not base:match("^[%a_][%w_.]*$") or base:find("..", 1, true) or base:sub(-1) == "." then
      return {}
    end
    local v = lookup(base)
    if v == nil then return {} end
    fields(v, names, 0)
  else
    partial = word
    fields(_G, names, 0)
    for k in pairs(KEYWORDS) do names[k] = true end
  end
  local out = {}
  for k, v in pairs(names) do
    -- Private fields (leading _) only when asked for; after ":" only methods.
    if k:sub(1, #partial) == partial and (k:sub(1, 1) ~= "_" or partial:sub(1, 1) == "_")
        and (sep ~= ":" or type(v) == "function") then
      out[#out + 1] = (base and base .. sep or "") .. k
    end
  end
  table.sort(out)
  return out
end

------------------------------------------------------------------------------
-- :commands
------------------------------------------------------------------------------

local HELP = [[
Type Lua; an expression's value is printed (no = or return needed), and a chunk
that is not complete continues on the next line. Each line runs as its own chunk:
a `local` lasts for that chunk only, so keep what you need in globals. `rayl` is
already loaded and connected.

  f = rayl.remote(function(x) return x * x end)
  rayl.get(f:remote(3))          --> 9

Keys: Tab completes names and fields (rayl.ge<Tab>); Up/Down walk the history
(kept in ~/.rayl_history, or $RAYL_HISTORY); Ctrl-C stops what is running (or
drops the line being typed); Ctrl-D leaves.

Commands:
  :help     this text
  :status   the cluster's nodes and resources, and this session's pending work
  :quit     leave (a private cluster is stopped; a cluster joined with --address
            or RAYL_ADDRESS keeps running)]]

-- "CPU 1/2 free, memory 15.2/16 GiB free, sim 4/4 free": available of total.
local function format_resources(total, available)
  local keys = {}
  -- (node:__internal_head__ marks the head's node, as in Ray: not a resource to show)
  for k in pairs(total or {}) do
    if k ~= "node:__internal_head__" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local t, a = total[k], (available or {})[k] or 0
    if k:match("memory$") then
      out[#out + 1] = ("%s %.3g/%.3g GiB free"):format(k, a / 2 ^ 30, t / 2 ^ 30)
    else
      out[#out + 1] = ("%s %s/%s free"):format(k, tostring(a), tostring(t))
    end
  end
  return #out == 0 and "(none)" or table.concat(out, ", ")
end

local function plural(n, word) return ("%s %s%s"):format(tostring(n), word, n == 1 and "" or "s") end

function commands.help()
  print(HELP)
end

function commands.status()
  if not rayl.is_initialized() then
    print("Not connected (rayl.shutdown() was called); rayl.init() connects again.")
    return
  end
  local nodes = rayl.nodes()
  local alive = 0
  for _, n in ipairs(nodes) do if n.alive then alive = alive + 1 end end
  print("Cluster: " .. (address_shown or "?"))
  print("Resources: " .. format_resources(rayl.cluster_resources(), rayl.available_resources()))
  print(("Nodes: %d, %d alive"):format(#nodes, alive))
  for _, n in ipairs(nodes) do
    print(("  %s  %-5s  %s"):format(n.node_id:sub(1, 12), n.alive and "alive" or "DEAD", n.endpoint))
    if n.alive then print("      " .. format_resources(n.resources, n.available)) end
  end
  print(("This session: %s pending (submitted, not finished), %s held")
    :format(plural(core.task_count(), "task"), plural(core.object_count(), "object")))
end

function commands.quit()
  return "quit"
end
commands.q, commands.exit = commands.quit, commands.quit

--- M.command(name, rest) -> a feed result: runs the :command `name`.
function M.command(name)
  local cmd = commands[name]
  if not cmd then
    io.stderr:write(("unknown command ':%s'; :help lists the commands\n"):format(name))
    io.stderr:flush()
    return "done"
  end
  return cmd() or "done"
end

------------------------------------------------------------------------------
-- Start and end
------------------------------------------------------------------------------

--- M.start(address, banner) -> nil, or a message saying why it cannot start:
--- connects (address, else RAYL_ADDRESS, else a private local cluster, unless a
--- script run before already did), makes `rayl` a global, prints the banner if asked.
function M.start(address, banner)
  if address == "" then address = nil end
  address = address or os.getenv("RAYL_ADDRESS")
  if address == "" then address = nil end
  if not rayl.is_initialized() then
    local ok, err = pcall(rayl.init, { address = address })
    if not ok then
      -- (a ConnectionError says what to do itself)
      if rayl.errors.is(err, "ConnectionError") then return err.message end
      return (tostring(err):gsub("^.-rayl%.init: ", "", 1))
    end
  end
  if rawget(_G, "rayl") == nil then rawset(_G, "rayl", rayl) end
  if address then
    address_shown = "the cluster at " .. address
  else
    address_shown = "a private local cluster (session " .. rayl.get_runtime_context().session_dir .. ")"
  end
  if banner then
    local cpus = rayl.cluster_resources().CPU or 0
    print(("rayl %s (%s) -- %s, %s."):format(rayl.version, jit.version,
      address and "connected to the cluster at " .. address or "a private local cluster",
      plural(cpus, "CPU")))
    print("Type Lua or :help; Ctrl-D leaves.")
  end
end

--- M.stop(): disconnects; a private cluster stops with it.
function M.stop()
  rayl.shutdown()
end

return M
