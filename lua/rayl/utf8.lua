-- rayl.utf8: where a string stops being UTF-8 (names and JSON text must be).
local M = {}

local byte, find = string.byte, string.find

--- M.bad(s) -> byte position of the first invalid UTF-8 sequence in s, or nil if s is UTF-8
--- (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
function M.bad(s)
  local i = find(s, "[\128-\255]")
  while i do
    local c, len = byte(s, i), 0
    if c >= 0xC2 and c <= 0xDF then len = 2
    elseif c >= 0xE0 and c <= 0xEF then len = 3
    elseif c >= 0xF0 and c <= 0xF4 then len = 4
    else return i end
    for j = i + 1, i + len - 1 do
      local b = byte(s, j)
      if not b or b < 0x80 or b > 0xBF then return i end
    end
    local b2 = byte(s, i + 1)
    if (c == 0xE0 and b2 < 0xA0) or (c == 0xED and b2 > 0x9F) or (c == 0xF0 and b2 < 0x90)
      or (c == 0xF4 and b2 > 0x8F) then
      return i
    end
    i = find(s, "[\128-\255]", i + len)
  end
  return nil
end

--- M.fix(s) -> s with each invalid byte replaced by U+FFFD (s itself when it is UTF-8)
function M.fix(s)
  if not M.bad(s) then return s end
  local out, i = {}, 1
  while i <= #s do
    local at = M.bad(s:sub(i))
    if not at then out[#out + 1] = s:sub(i); break end
    out[#out + 1] = s:sub(i, i + at - 2)
    out[#out + 1] = "\239\191\189"
    i = i + at
  end
  return table.concat(out)
end

return M
