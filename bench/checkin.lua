-- The sign-in burst: every device token in BENCH_TOKENS checks in exactly once.
-- Each wrk thread takes every n-th token. A connection with nothing left to send waits (delay)
-- while its thread collects the last responses; then the thread stops and says so on stdout,
-- and bench/run.py ends wrk, which prints the summary.
local report = dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(_)
  local count = tonumber(os.getenv("BENCH_WRK_THREADS"))
  tokens, statuses, outcomes = {}, {}, {}
  reserved, sent, received = 0, 0, 0
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if i % count == thread_index then tokens[#tokens + 1] = line end
    i = i + 1
  end
  path = "/api/v1/meetings/" .. os.getenv("BENCH_MEETING") .. "/checkin"
  headers = {["Content-Type"] = "application/json"}
  -- Each phone signs in on its own connection, unless BENCH_KEEPALIVE asks to reuse them.
  if os.getenv("BENCH_KEEPALIVE") ~= "1" then headers["Connection"] = "close" end
  body = '{"code": "' .. os.getenv("BENCH_CODE") .. '"}'
end

function delay()
  if reserved < #tokens then
    reserved = reserved + 1
    return 0
  end
  return 3600000
end

function request()
  -- wrk calls request() once at start-up to check the script, before any delay(): send nothing then.
  if reserved == 0 then
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  sent = sent + 1
  if sent == 1 then first_sent = report.now() end
  -- A reconnect after a socket error asks without delay(); its 401 shows up as a failure.
  headers["Authorization"] = "Bearer " .. (tokens[sent] or "vtd_none_left")
  return wrk.format("POST", path, headers, body)
end

function response(status, _, response_body)
  statuses[status] = (statuses[status] or 0) + 1
  local outcome = response_body:match('"status":%s*"([%a_]+)"') or "other"
  outcomes[outcome] = (outcomes[outcome] or 0) + 1
  received = received + 1
  if received == #tokens then
    last_received = report.now()
    io.write("BENCH_THREAD_DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, _)
  report.report(summary, latency, threads)
end
