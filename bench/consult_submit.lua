-- Residents sending opinions (BENCH_MODE=submit) or reading the draft (BENCH_MODE=page), for
-- bench/consult_submit.py. Every submission comes from a client of its own: a distinct X-Client-Id
-- (so the per-client limit of 10 a minute never refuses) and a distinct Idempotency-Key. Articles
-- rotate over BENCH_ARTICLES (every tenth opinion is on the whole draft), every other opinion
-- comes through a poster (BENCH_POINTS, one code in five forged: kept, attributed to no point),
-- and every third leaves a name and phone number. Each thread sends its share of BENCH_COUNT
-- submissions, then waits for the last answers, says BENCH_THREAD_DONE and stops (as checkin.lua);
-- the page is read for wrk's -d. The JSON line at the end is read by bench/run.py's wrk().
local report = dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local function split(list)
  local items = {}
  for item in string.gmatch(list or "", "[^,]+") do items[#items + 1] = item end
  return items
end

local TEXTS = {
  "建议第十二条增加物业服务企业公示收费标准的义务，每季度在小区显著位置公示一次。",
  "总体赞成本规定。建议明确业主委员会换届的具体期限，避免长期不换届。",
  "电动自行车不得在楼道内停放和充电，建议小区统一建设集中充电设施。",
  "维修资金的使用程序过于复杂，建议简化应急维修的审批流程，三日内完成。",
}

function init(_)
  mode = os.getenv("BENCH_MODE") or "submit"
  statuses, outcomes = {}, {}
  reserved, sent, received = 0, 0, 0
  headers = {}
  if os.getenv("BENCH_KEEPALIVE") ~= "1" then headers["Connection"] = "close" end
  if mode == "page" then
    page = wrk.format("GET", os.getenv("BENCH_PATH"), headers)
    return
  end
  headers["Content-Type"] = "application/json"
  draft = os.getenv("BENCH_DRAFT")
  articles = split(os.getenv("BENCH_ARTICLES"))
  points = split(os.getenv("BENCH_POINTS"))
  local count, share = tonumber(os.getenv("BENCH_WRK_THREADS")), tonumber(os.getenv("BENCH_COUNT"))
  total = math.floor(share / count)
  if thread_index < share % count then total = total + 1 end
end

function delay()
  if mode == "page" or reserved < total then
    reserved = reserved + 1
    return 0
  end
  return 3600000
end

function request()
  if mode == "page" then return page end
  -- wrk calls request() once at start-up to check the script, before any delay(): count nothing then.
  if reserved == 0 then return wrk.format("GET", "/api/v1/ping") end
  sent = sent + 1
  if sent == 1 then first_sent = report.now() end
  local n = sent
  -- 24 URL-safe characters, unique per thread and request.
  headers["X-Client-Id"] = string.format("bench%02dc%017d", thread_index, n)
  headers["Idempotency-Key"] = string.format("b%d-%d", thread_index, n)
  local article = "null"
  if n % 10 ~= 0 then article = articles[n % #articles + 1] end
  local fields = {
    '"draft_id": ' .. draft,
    '"article_id": ' .. article,
    '"text": "' .. TEXTS[n % #TEXTS + 1] .. '（' .. n .. '）"',
  }
  if n % 2 == 0 then
    local code = "FORGED99"
    if n % 10 ~= 0 then code = points[n % #points + 1] end
    fields[#fields + 1] = '"contact_point_code": "' .. code .. '"'
  end
  if n % 3 == 0 then
    fields[#fields + 1] = '"contact_name": "张三", "contact_phone": "138' .. string.format("%08d", n % 100000000) .. '"'
  end
  return wrk.format("POST", "/api/v1/opinions", headers, "{" .. table.concat(fields, ", ") .. "}")
end

function response(status, _, body)
  statuses[status] = (statuses[status] or 0) + 1
  if mode == "submit" then
    local outcome = "other"
    if status == 201 then
      if string.find(body, '"repeated":%s*true') then outcome = "repeated" else outcome = "new" end
      if string.find(body, '"attributed":%s*true') then outcomes["attributed"] = (outcomes["attributed"] or 0) + 1 end
    else
      outcome = body:match('"code":%s*"([%a_]+)"') or "other"
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
end

function done(summary, latency, _)
  report.report(summary, latency, threads)
end
