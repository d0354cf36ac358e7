-- GET a rotation of paths; an optional pause per connection turns wrk into paced browsers.
-- usage: wrk -s get.lua URL -- /path,/other/path [PAUSE_MS]
dofile("report.lua")
local paths = {}
local pause = 0
local n = 0

function init(args)
   for path in string.gmatch(args[1], "[^,]+") do
      table.insert(paths, path)
   end
   pause = tonumber(args[2] or "0")
end

function request()
   n = n + 1
   return wrk.format("GET", paths[n % #paths + 1])
end

function delay()
   return pause
end
