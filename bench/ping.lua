-- The baseline: the trivial endpoint on the same connections, for a fixed duration.
local report = dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(_)
  statuses = {}
  local headers = {}
  if os.getenv("BENCH_KEEPALIVE") ~= "1" then headers["Connection"] = "close" end
  ping = wrk.format("GET", "/api/v1/ping", headers)
end

function request()
  return ping
end

function response(status, _, _)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, _)
  report.report(summary, latency, threads)
end
