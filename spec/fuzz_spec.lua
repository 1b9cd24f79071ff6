-- fuzz_spec: each libFuzzer harness (tools/fuzz/) runs for a short budget over its seed
-- corpus and the inputs of past crashes, and finds no crash. tools/fuzz/run builds them
-- (clang, ASan/UBSan, in build-fuzz/); longer runs: tools/fuzz/run --seconds N.
local h = require "spec.helpers"

local SECONDS = tonumber(os.getenv("RAYL_FUZZ_SECONDS") or "15")

describe("the fuzzed decoders", function()
  for _, harness in ipairs({ "codec", "wire", "resources", "json", "cuda_sig" }) do
    it(harness .. " survives " .. SECONDS .. " s of libFuzzer", function()
      local out = h.sh(("tools/fuzz/run --seconds %d %s 2>&1; echo \"exit=$?\""):format(SECONDS, harness))
      local execs, crashes = out:match("fuzz " .. harness .. ": (%d+) execs, %d+ execs/s, (%d+) crashes")
      assert.is_truthy(execs, "no summary line from tools/fuzz/run:\n" .. out)
      assert.are.equal("0", crashes, out)
      assert.is_true(tonumber(execs) > 1000, "only " .. execs .. " executions: " .. out)
      assert.are.equal("0", out:match("exit=(%d+)"), out)
    end)
  end
end)
