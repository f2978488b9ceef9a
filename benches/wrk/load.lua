-- One wrk load for `benches/single.rs` (`make bench-single`): every target is driven by
-- this script, so the generator's own work is the same for all.
--
-- Set by the bench, in the environment:
--   BENCH_LINES    file with one request per line, sent round robin: a request body for
--                  POST, a path for GET
--   BENCH_METHOD   POST (default) or GET
--   BENCH_TYPE     Content-Type of the bodies (default application/json)
--   BENCH_TOKEN    bearer token, optional
--   BENCH_COOKIE   Cookie header, optional (the officer's signed-in session)
--   BENCH_EXPECT   the status every answer must have (default 200)
-- `done` prints one line `BENCH {json}` that the bench reads.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  lines = {}
  for line in io.lines(os.getenv("BENCH_LINES")) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  method = os.getenv("BENCH_METHOD") or "POST"
  expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
  if method == "POST" then
    wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE") or "application/json"
  end
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  local cookie = os.getenv("BENCH_COOKIE")
  if cookie and cookie ~= "" then
    wrk.headers["Cookie"] = cookie
  end
  next_line = 0
  wrong = 0
  first_wrong = 0
end

function request()
  next_line = next_line % #lines + 1
  if method == "GET" then
    return wrk.format("GET", lines[next_line])
  end
  return wrk.format("POST", nil, nil, lines[next_line])
end

function response(status, headers, body)
  if status ~= expect then
    wrong = wrong + 1
    if first_wrong == 0 then
      first_wrong = status
    end
  end
end

function done(summary, latency, requests)
  local wrong_total, status_seen = 0, 0
  for _, t in ipairs(threads) do
    wrong_total = wrong_total + (t:get("wrong") or 0)
    local s = t:get("first_wrong") or 0
    if s ~= 0 then
      status_seen = s
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"wrong_status":%d,"a_wrong_status":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    wrong_total, status_seen, e.connect + e.read + e.write + e.timeout))
end
