-- paths.lua -- GET a deterministic cycle of paths read from a file (one per line).
--   wrk -s paths.lua http://HOST:PORT -- PATHFILE [SEED]
-- Used by the optional wikisearch section (/offsets/<prefix>, /wiki/<title>).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

init = function(args)
  paths = {}
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  math.randomseed(tonumber(args[2]) or 12345)
  -- deterministic shuffle so every run walks the same order
  for i = #paths, 2, -1 do
    local j = math.random(1, i)
    paths[i], paths[j] = paths[j], paths[i]
  end
  idx = 0
end

request = function()
  idx = idx % #paths + 1
  return wrk.format("GET", paths[idx])
end
