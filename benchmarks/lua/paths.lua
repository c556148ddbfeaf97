-- Cycles through pre-signed request paths (one per line in the file given as the first argument).
-- A second argument paces each connection: milliseconds to wait before each request (closed loop:
-- wrk2's constant-rate mode is not packaged, so offered load = connections * 1000 / delay).
local paths = {}
local i = 0
local pause = 0
local ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  pause = tonumber(args[2] or "0")
  i = math.random(#paths)
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["User-Agent"] = ua, ["Accept-Language"] = "en-GB,en;q=0.9" })
end

function delay()
  return pause
end
