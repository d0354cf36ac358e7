-- POST /votes as htmx does, with no cookie: ingest mints a new voter per request, so every vote is
-- within its voter's quota. usage: wrk -s vote.lua URL -- CATEGORY_ID NOMINEE_ID,NOMINEE_ID,...
dofile("report.lua")
local bodies = {}
local n = 0

function init(args)
   for nominee in string.gmatch(args[2], "[^,]+") do
      table.insert(bodies, "category=" .. args[1] .. "&nominee=" .. nominee)
   end
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.headers["HX-Request"] = "true"
   wrk.headers["Sec-Fetch-Site"] = "same-origin"
end

function request()
   n = n + 1
   return wrk.format(nil, nil, nil, bodies[n % #bodies + 1])
end
