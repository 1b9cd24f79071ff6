-- spec/json_spec.lua: rayl.json (lua-cjson under rayl's conventions), as the CLI's --format
-- json, timeline and --runtime-env-json use it: arrays vs objects, whole numbers, UTF-8,
-- errors that say where the JSON went wrong.
local json = require "rayl.json"

describe("rayl.json", function()
  it("writes lists as arrays, even empty ones, and other tables as objects", function()
    assert.are.equal("[]", json.encode({ n = 0 }))
    assert.are.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
    assert.are.equal('{"a":[]}', json.encode({ a = { n = 0 } }))
    assert.are.equal("{}", json.encode({}))
    assert.are.equal('["a",null,"c"]', json.encode({ "a", nil, "c", n = 3 }))
    assert.are.equal('{"k":"v"}', json.encode({ k = "v" }))
  end)

  it("keeps every digit of whole numbers up to 2^53, and writes fractions and NaN as JSON can", function()
    assert.are.equal("[1765432123456789,9007199254740992,-5,0.1,null,null]",
      json.encode({ 1765432123456789, 2 ^ 53, -5, 0.1, 0 / 0, math.huge }))
    assert.are.equal(1765432123456789, json.decode("1765432123456789"))
  end)

  it("writes strings that are not UTF-8 with U+FFFD, so the output is valid JSON", function()
    assert.are.equal('["a\239\191\189b","\195\169"]', json.encode({ "a\255b", "\195\169" }))
    assert.are.equal('{"k\239\191\189":1}', json.encode({ ["k\254"] = 1 }))
  end)

  it("refuses what JSON cannot hold, naming it", function()
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end, "cannot encode a table that contains itself as JSON")
    assert.has_error(function() json.encode({ f = print }) end, "cannot encode a function as JSON")
  end)

  it("decodes objects, arrays and null; bad JSON gives nil and where it went wrong", function()
    local v = json.decode('{"a": [1, 2.5, "x"], "b": null, "c": {}}')
    assert.are.same({ 1, 2.5, "x" }, v.a)
    assert.are.equal(json.null, v.b)
    local bad, why = json.decode('{"a": [1, 2,}')
    assert.is_nil(bad)
    assert.truthy(why:find("at character 13", 1, true), why)
    for _, text in ipairs { "", "[1,", "NaN", "0x10", "{'a': 1}", '{"a": 1} x' } do
      bad, why = json.decode(text)
      assert.is_nil(bad, text)
      assert.truthy(why:find("at character %d+"), text .. ": " .. tostring(why))
    end
    bad, why = json.decode('["ok", "\255"]')
    assert.is_nil(bad)
    assert.are.equal("invalid UTF-8 at character 9", why)
  end)
end)

describe("the CLI's JSON", function()
  local bin = os.getenv("RAYL_BIN") or "./build-test/bin/rayl"

  local function run(args)
    local p = assert(io.popen(("%s %s 2>&1; echo \"rc=$?\""):format(bin, args)))
    local out = p:read("*a")
    p:close()
    return out
  end

  it("--runtime-env-json that is not JSON, or not an object, is refused saying where and why", function()
    local out = run([[job submit --runtime-env-json '{"env_vars": {"K": "v",}}' -- /bin/true]])
    assert.truthy(out:find("rayl job: --runtime-env-json must be a JSON object: ", 1, true), out)
    assert.truthy(out:find("at character 24", 1, true), out)
    assert.truthy(out:find("rc=2", 1, true), out)
    out = run([[job submit --runtime-env-json '[1]' -- /bin/true]])
    assert.truthy(out:find("rayl job: --runtime-env-json must be a JSON object", 1, true), out)
    assert.truthy(out:find("rc=2", 1, true), out)
  end)
end)
