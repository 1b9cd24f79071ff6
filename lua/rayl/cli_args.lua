-- rayl.cli_args: the one option parser of rayl's commands (Debian's lua-argparse), with
-- rayl's conventions: -h/--help prints the command's own usage text; bad input prints
-- "rayl CMD: what was wrong" and the usage on stderr, exit code 2.
local argparse = require "argparse"

local M = {}

local function trimmed(usage) return (usage:gsub("\n+$", "")) end

--- M.fail(cmd, usage, msg) -> 2 (the exit code) after printing "rayl CMD: msg" and the
--- usage on stderr
function M.fail(cmd, usage, msg)
  io.stderr:write("rayl ", cmd, ": ", msg, "\n", trimmed(usage), "\n")
  return 2
end

local CONVERT = {
  number = function(name)
    return function(v)
      local n = tonumber(v)
      if n and n == n then return n end
      return nil, ("%s needs a number, not '%s'"):format(name, v)
    end
  end,
  whole = function(name)
    return function(v)
      local n = tonumber(v)
      if n and n >= 0 and n == math.floor(n) and n < math.huge then return n end
      return nil, ("%s needs a whole number >= 0, not '%s'"):format(name, v)
    end
  end,
}

-- The long name of an option declared as "-o --output" or "--output".
local function long_name(decl) return decl:match("%-%-[%w-]+") end

--- M.parse(cmd, usage, args, spec, how) -> options | nil, exit code
--- spec: a list of {"[-x ]--name", kind}; kind is "flag", "value" (the last one given),
--- "list" (every one given, in order), "number" or "whole" (a value converted, with an
--- error naming the option and the value). Options land in o.name (dashes as
--- underscores); every positional word in o.args ("--" ends the options). how.stop_at_word:
--- the first positional word and all after it are positional (`submit -- cmd --flag`
--- needs no "--"). `--name value` may take a value that starts with one dash (-5).
--- Prints the usage for --help (nil, 0) and an error for bad input (nil, 2).
function M.parse(cmd, usage, args, spec, how)
  local p = argparse("rayl " .. cmd):add_help(false)
  p:flag("-h --help")
  local valued = {}
  for _, s in ipairs(spec) do
    local decl, kind = s[1], s[2]
    if kind == "flag" then
      p:flag(decl):count("*")
    else
      local o = p:option(decl):count("*")
      if CONVERT[kind] then o:convert(CONVERT[kind](long_name(decl))) end
      for name in decl:gmatch("%S+") do valued[name] = kind end
    end
  end
  p:argument("args"):args("*")
  -- argparse reads "--seed -5" as two options and cannot stop at a word: join the values
  -- to their long options first, and end the options where the caller wants.
  local argv, i = {}, 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i, #args do argv[#argv + 1] = args[j] end
      break
    end
    if valued[a] and a:sub(1, 2) == "--" and args[i + 1] and args[i + 1]:sub(1, 2) ~= "--" then
      argv[#argv + 1] = a .. "=" .. args[i + 1]
      i = i + 1
    elseif how and how.stop_at_word and a:sub(1, 1) ~= "-" then
      argv[#argv + 1] = "--"
      for j = i, #args do argv[#argv + 1] = args[j] end
      break
    else
      argv[#argv + 1] = a
    end
    i = i + 1
  end
  local ok, r = p:pparse(argv)
  if not ok then
    -- argparse's tip ("Did you mean '--format'?") goes on the same line.
    return nil, M.fail(cmd, usage, (r:gsub("\n", "; ")))
  end
  if r.help then
    io.stdout:write(trimmed(usage), "\n")
    return nil, 0
  end
  r.help = nil
  for _, s in ipairs(spec) do
    local key = long_name(s[1]):sub(3):gsub("-", "_")
    if s[2] == "flag" then
      r[key] = (r[key] or 0) > 0 or nil
    elseif s[2] ~= "list" then
      r[key] = r[key][#r[key]]
    end
  end
  return r
end

--- M.exit(code): ends the subcommand M.subcommands runs with this exit code (what there
--- was to say is said).
function M.exit(code) error({ cli_exit = code }, 0) end

--- M.error(msg, code): ends the subcommand M.subcommands runs, printing "rayl CMD: msg";
--- exit code `code` (default 1).
function M.error(msg, code) error({ cli_error = msg, code = code or 1 }, 0) end

--- M.subcommands(cmd, usage, commands, args) -> exit code of `rayl CMD SUB args...`:
--- commands[SUB](args) (which returns its exit code, or ends by M.exit / M.error); the
--- usage for none (exit 2), -h, --help or help (exit 0), an unknown SUB (exit 2); 130 if
--- interrupted (Ctrl-C). Other errors propagate.
function M.subcommands(cmd, usage, commands, args)
  local name = table.remove(args, 1)
  if name == nil then
    io.stderr:write(trimmed(usage), "\n")
    return 2
  end
  if name == "-h" or name == "--help" or name == "help" then
    io.stdout:write(trimmed(usage), "\n")
    return 0
  end
  if not commands[name] then return M.fail(cmd, usage, ("unknown command '%s'"):format(name)) end
  local ok, rc = pcall(commands[name], args)
  if ok then return rc end
  if type(rc) == "table" and rc.cli_exit then return rc.cli_exit end
  if type(rc) == "table" and rc.cli_error then
    io.stderr:write("rayl ", cmd, ": ", rc.cli_error, "\n")
    return rc.code
  end
  if tostring(rc):find("interrupted") then return 130 end
  error(rc, 0)
end

return M
