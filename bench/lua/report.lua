-- Shared by the wrk scripts: count answers by status in every thread, print one JSON line at the end.
-- wrk runs each thread in its own Lua state, so statuses must be a global that done() can read.
statuses = {}
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local totals = {}
   for _, thread in ipairs(threads) do
      for code, n in pairs(thread:get("statuses")) do
         totals[code] = (totals[code] or 0) + n
      end
   end
   local codes = {}
   for code, n in pairs(totals) do
      table.insert(codes, string.format('"%d": %d', code, n))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_s": %.3f, "statuses": {%s}, '
         .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
         .. '"p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "mean_ms": %.2f}\n',
      summary.requests, summary.duration / 1e6, table.concat(codes, ", "),
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
