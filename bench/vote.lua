-- The vote burst: every device token in BENCH_TOKENS casts one choose-K-of-M ballot paper on BENCH_BALLOT.
-- Each wrk thread takes every n-th token and sends it once (like bench/checkin.lua), ticking BENCH_PLACES of
-- the ballot's item ids in BENCH_ITEMS at random (ids separated by commas; ballots by semicolons). A connection with nothing left to send waits (delay) while its
-- thread collects the last answers; then the thread stops and says so, and bench/vote_burst.py ends wrk.
-- With BENCH_BALLOTS (ids separated by commas) instead, every token votes once on each ballot, in turn:
-- the voters that keep a server busy in bench/waiting.py.
local report = dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local function split(text)
  local values = {}
  for value in string.gmatch(text or "", "[^,]+") do values[#values + 1] = value end
  return values
end

function init(_)
  local count = tonumber(os.getenv("BENCH_WRK_THREADS"))
  math.randomseed(os.time() * 100 + thread_index)
  tokens, statuses, outcomes = {}, {}, {}
  reserved, sent, received = 0, 0, 0
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if i % count == thread_index then tokens[#tokens + 1] = line end
    i = i + 1
  end
  ballots = split(os.getenv("BENCH_BALLOTS") or os.getenv("BENCH_BALLOT"))
  items = {}
  for list in string.gmatch(os.getenv("BENCH_ITEMS"), "[^;]+") do items[#items + 1] = split(list) end
  places = tonumber(os.getenv("BENCH_PLACES"))
  total = #tokens * #ballots
  headers = {["Content-Type"] = "application/json"}
  -- Each phone votes on its own connection, unless BENCH_KEEPALIVE asks to reuse them.
  if os.getenv("BENCH_KEEPALIVE") ~= "1" then headers["Connection"] = "close" end
end

-- A ballot paper: `places` distinct items of the ballot's, in random order.
local function paper(index)
  local pool = {}
  for k, v in ipairs(items[index]) do pool[k] = v end
  for k = #pool, 2, -1 do
    local j = math.random(k)
    pool[k], pool[j] = pool[j], pool[k]
  end
  return '{"choices": [' .. table.concat(pool, ", ", 1, places) .. "]}"
end

function delay()
  if reserved < total then
    reserved = reserved + 1
    return 0
  end
  return 3600000
end

function request()
  -- wrk calls request() once at start-up to check the script, before any delay(): send nothing then.
  if reserved == 0 then
    return wrk.format("POST", "/api/v1/ping", {["Content-Type"] = "application/json"}, "{}")
  end
  sent = sent + 1
  if sent == 1 then first_sent = report.now() end
  -- Token by token on the first ballot, then again on the next one.
  local index = math.min(math.floor((sent - 1) / #tokens) + 1, #ballots)
  local ballot = ballots[index]
  local token = tokens[(sent - 1) % #tokens + 1]
  -- A reconnect after a socket error asks without delay(); its 401 shows up as a failure.
  if sent > total then token = "vtd_none_left" end
  headers["Authorization"] = "Bearer " .. token
  return wrk.format("POST", "/api/v1/ballots/" .. ballot .. "/votes", headers, paper(index))
end

function response(status, _, response_body)
  statuses[status] = (statuses[status] or 0) + 1
  local outcome
  if status == 200 then
    if response_body:match('"repeated":%s*true') then
      outcome = "repeated"
    elseif response_body:match('"valid":%s*true') then
      outcome = "valid"
    else
      outcome = "void"
    end
  else
    outcome = response_body:match('"code":%s*"([%w_]+)"') or "other"
  end
  outcomes[outcome] = (outcomes[outcome] or 0) + 1
  received = received + 1
  if received == total then
    last_received = report.now()
    io.write("BENCH_THREAD_DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, _)
  report.report(summary, latency, threads)
end
