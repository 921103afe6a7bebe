-- GET BENCH_PATH over and over for a fixed duration: what phones polling a page would cost (bench/waiting.py).
local report = dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(_)
  statuses = {}
  local headers = {}
  if os.getenv("BENCH_KEEPALIVE") ~= "1" then headers["Connection"] = "close" end
  poll = wrk.format("GET", os.getenv("BENCH_PATH"), headers)
end

function request()
  return poll
end

function response(status, _, _)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, _)
  report.report(summary, latency, threads)
end
