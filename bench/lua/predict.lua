-- POST a prediction as htmx does, each request as one of many signed-in fans (their session
-- cookie), so a change overwrites that fan's earlier prediction.
-- usage: wrk -s predict.lua URL -- TOKENS_FILE OPTION_ID,OPTION_ID,...
dofile("report.lua")
local tokens = {}
local bodies = {}
local n = 0

function init(args)
   for line in io.lines(args[1]) do
      table.insert(tokens, line)
   end
   for option in string.gmatch(args[2], "[^,]+") do
      table.insert(bodies, "option=" .. option)
   end
   n = math.random(#tokens)
end

function request()
   n = n + 1
   local headers = {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["HX-Request"] = "true",
      ["Sec-Fetch-Site"] = "same-origin",
      ["Cookie"] = "fanfare_fan=" .. tokens[n % #tokens + 1],
   }
   return wrk.format("POST", nil, headers, bodies[n % #bodies + 1])
end
