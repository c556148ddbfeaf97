-- Every request uses a distinct signed click path (one per line in args[1]); every 302 received is
-- written to args[2] as the destination's n, read from the Location header (wrk's response hook
-- does not say which request a response answers, so the answer has to carry it).
local paths = {}
local i = 0
local out

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  out = io.open(args[2], "w")
  out:setvbuf("line")
end

function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i], { ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36",
                                       ["Accept-Language"] = "en" })
end

function response(status, headers, body)
  if status == 302 then
    local location = headers["location"] or headers["Location"] or ""
    local n = string.match(location, "[?&]n=(%d+)")
    if n then out:write(n, "\n") end
  end
end
