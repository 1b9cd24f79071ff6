-- embed_test_mod.lua: functions spec/c/embed_test.c and embed_cxx.cpp call by name on workers.
local ffi = require "ffi"
ffi.cdef "int usleep(unsigned int usec);"

local M = {}

function M.add(a, b) return a + b end

--- Returns its first argument unchanged (strings with any bytes, tables, nil).
function M.echo(x) return x end

function M.nothing() end

--- Summarises a table {x=, name=, list={...}} as {sum=, name_len=, x=}.
function M.describe(t)
  local sum = 0
  for _, v in ipairs(t.list) do sum = sum + v end
  return { sum = sum, name_len = #t.name, x = t.x }
end

--- The length of a string and the byte at position i.
function M.len(s, i) return { #s, s:byte(i or 1) } end

--- A string of n bytes: 0, 1, 2, ... 255, 0, ...
function M.bytes(n)
  local parts = {}
  for i = 1, n do parts[i] = string.char((i - 1) % 256) end
  return table.concat(parts)
end

function M.sleep(seconds)
  ffi.C.usleep(math.floor(seconds * 1e6))
  return seconds
end

function M.fail(message) error(message) end

M.not_a_function = 42

return M
