-- rayl/torch/tensor/io.lua: tensors leaving the process: files in torch.save's format,
-- and the codec's hooks that send tensors between processes (host/codec.h).
local B = require "rayl.torch.tensor.base"
local ffi, C, gc, istype, cast, ffistring, M, T = B.ffi, B.C, B.gc, B.istype, B.cast, B.ffistring, B.M, B.T
local tensor_t, OUT, SHAPE, LIST_T, NAME, ESIZE = B.tensor_t, B.OUT, B.SHAPE, B.LIST_T, B.NAME, B.ESIZE
local bad, made, check, fill_shape, over_array = B.bad, B.made, B.check, B.fill_shape, B.over_array
local contiguous = B.contiguous
local type, tonumber = type, tonumber

-- files: torch.save's format (Python's torch.load and libtorch's pickle_load read them)

--- torch.save({name = tensor, ...}, path): a flat table of tensors.
function M.save(tbl, path)
  if type(tbl) ~= "table" or type(path) ~= "string" then bad("torch.save(table_of_tensors, path)") end
  local names = {}
  for k, v in pairs(tbl) do
    if type(k) ~= "string" then bad("torch.save: keys must be strings, not " .. type(k)) end
    if not istype(tensor_t, v) then
      bad(("torch.save: value '%s' is %s; only tensors are saved"):format(k, type(v)))
    end
    names[#names + 1] = k
  end
  table.sort(names)
  local n = #names
  local cnames, ctensors = ffi.new("const char *[?]", n), LIST_T(n)
  for i, k in ipairs(names) do
    cnames[i - 1] = k
    ctensors[i - 1] = tbl[k].h
  end
  check(C.rl_torch_save(path, cnames, ctensors, n))
end

--- torch.load(path) -> {name = tensor, ...}
function M.load(path)
  if type(path) ~= "string" then bad("torch.load(path)") end
  local DICT = ffi.new("rl_tensor_dict_t *[1]")
  check(C.rl_torch_load(path, DICT))
  local d = gc(DICT[0], C.rl_torch_dict_free)
  local out, NAMEP = {}, ffi.new("const char *[1]")
  for i = 0, C.rl_torch_dict_size(d) - 1 do
    check(C.rl_torch_dict_item(d, i, NAMEP, OUT))
    out[ffistring(NAMEP[0])] = made(OUT[0])
  end
  return out
end

-- crossing processes (called by the codec through rayl's hooks, host/codec.h)

--- Describes t for the codec: "tensor", dtype code, shape, data address, bytes, flags,
--- and the contiguous copy made when t was not contiguous.
function M.wire_describe(t)
  local code = C.rl_torch_dtype(t.h)
  if code == 0 then
    error("a tensor of a dtype rayl does not send (float32, float64, int32, int64, uint8, bool): convert it "
      .. "first, e.g. t:float()", 0)
  end
  local src, tmp = t, nil
  if C.rl_torch_is_contiguous(t.h) == 0 then
    tmp = contiguous(t)
    src = tmp
  end
  local addr = tonumber(cast("uintptr_t", C.rl_torch_data(src.h)))
  return "tensor", code, T.shape(t), addr, T.numel(t) * ESIZE[code], C.rl_torch_requires_grad(t.h), tmp
end

--- The tensor over a decoded array (a view into shared memory when decoded in place).
function M.wire_decode(arr, code, shape, flags)
  if not NAME[code] then error("a tensor of unknown dtype " .. tostring(code)) end
  local t = over_array(arr, code, fill_shape(SHAPE, shape, "shape"))
  if flags % 2 == 1 then check(C.rl_torch_set_requires_grad(t.h, 1)) end
  return t
end
