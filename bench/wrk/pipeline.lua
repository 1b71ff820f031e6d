-- pipeline.lua -- HTTP/1.1 pipelining, as in TechEmpower's plaintext test.
--   wrk -s pipeline.lua URL -- [DEPTH]     (or env WRK_PIPELINE=DEPTH; default 16)
-- Each request() sends DEPTH identical GETs in one write; wrk counts every
-- response, and records one latency sample per batch.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local depth = tonumber(os.getenv("WRK_PIPELINE")) or 16

init = function(args)
  depth = tonumber(args[1]) or depth
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, nil, { ["Host"] = wrk.headers["Host"] or "localhost" })
  end
  req = table.concat(r)
end

request = function()
  return req
end
