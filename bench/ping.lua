-- The baseline: the trivial endpoint on the same connections, for a fixed duration.
local report = dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(_)
  statuses = {}
end

function response(status, _, _)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, _)
  report.report(summary, latency, threads)
end
