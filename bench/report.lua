-- Shared by the wrk scripts: a monotonic clock, and wrk's summary as one JSON line for bench/run.py.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]

local M = {}
local CLOCK_MONOTONIC = 1

function M.now()
  local ts = ffi.new("bench_timespec")
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- Add up a per-thread table of counters (status codes, outcomes) over all threads.
local function totals(threads, name)
  local sum, items = {}, {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get(name) or {}) do
      sum[key] = (sum[key] or 0) + n
    end
  end
  for key, n in pairs(sum) do
    items[#items + 1] = string.format('"%s": %d', tostring(key), n)
  end
  return "{" .. table.concat(items, ", ") .. "}"
end

-- The time from the first request sent to the last response received, over all threads.
local function span(threads)
  local first, last = nil, nil
  for _, thread in ipairs(threads) do
    local a, b = thread:get("first_sent"), thread:get("last_received")
    if a and (first == nil or a < first) then first = a end
    if b and (last == nil or b > last) then last = b end
  end
  if first and last then return last - first end
  return 0
end

function M.report(summary, latency, threads)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "span_s": %.6f, "requests": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "statuses": %s, "outcomes": %s, "latency_us": {"p50": %d, ' ..
    '"p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.duration, span(threads), summary.requests, errors.connect, errors.read, errors.write, errors.status,
    errors.timeout, totals(threads, "statuses"), totals(threads, "outcomes"), latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  io.flush()
end

return M
