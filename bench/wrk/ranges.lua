-- ranges.lua -- random fixed-size byte ranges into one file.
--   wrk -s ranges.lua http://HOST:PORT/file/data.bin -- SIZE [FILESIZE] [SEED]
-- SIZE: bytes, or with suffix k/m (16k, 256k). FILESIZE defaults to 64 MiB.
-- Offsets come from LuaJIT's math.random seeded with SEED (default 12345),
-- plus the thread number, so a run is reproducible.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local function bytes(s, default)
  if not s then return default end
  local n, unit = s:match("^(%d+)([kKmM]?)$")
  n = tonumber(n)
  if not n then return default end
  if unit == "k" or unit == "K" then n = n * 1024 elseif unit == "m" or unit == "M" then n = n * 1048576 end
  return n
end

local counter = 0
setup = function(thread)
  thread:set("thread_no", counter)
  counter = counter + 1
end

init = function(args)
  size = bytes(args[1], 16384)
  filesize = bytes(args[2], 64 * 1048576)
  local seed = tonumber(args[3]) or 12345
  math.randomseed(seed + (thread_no or 0))
  path = wrk.path
end

request = function()
  local a = math.random(0, filesize - size)
  return wrk.format("GET", path, { ["Range"] = "bytes=" .. a .. "-" .. (a + size - 1) })
end
