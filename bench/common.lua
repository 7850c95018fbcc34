-- Shared by the wrk scripts of bench/ (loaded with dofile by each of them,
-- in wrk's main Lua state and in every thread's state).
--
-- Gives every thread a distinct `thread_id` (0, 1, ...) before its init()
-- runs, and prints one machine-readable line at the end that
-- bench/runner.py reads:
--   BENCH_RESULT {"requests":..,"duration_us":..,"rps":..,"p50_us":..,...}

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

bench_threads = threads

-- wrk's percentile() and max are in microseconds.
function bench_report(summary, latency, extra)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local fields = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"rps":%.1f', seconds > 0 and summary.requests / seconds or 0),
    string.format('"p50_us":%d', latency:percentile(50)),
    string.format('"p90_us":%d', latency:percentile(90)),
    string.format('"p99_us":%d', latency:percentile(99)),
    string.format('"max_us":%d', latency.max),
    string.format('"mean_us":%.1f', latency.mean),
    string.format('"errors_connect":%d', e.connect),
    string.format('"errors_read":%d', e.read),
    string.format('"errors_write":%d', e.write),
    string.format('"errors_status":%d', e.status),
    string.format('"errors_timeout":%d', e.timeout),
  }
  for k, v in pairs(extra or {}) do
    table.insert(fields, string.format('"%s":%s', k, tostring(v)))
  end
  io.write("BENCH_RESULT {" .. table.concat(fields, ",") .. "}\n")
end

function done(summary, latency, requests)
  bench_report(summary, latency)
end

-- A fixed offered load instead of as fast as possible: with
-- FLASHGATE_BENCH_DELAY_MS set, each connection waits about that long
-- (uniformly 0.5x to 1.5x, so connections do not march in step) between an
-- answer and its next request. bench/runner.py uses it to compare latency
-- with nginx's at the same request rate.
local pace_ms = tonumber(os.getenv("FLASHGATE_BENCH_DELAY_MS") or "")
if pace_ms and pace_ms > 0 then
  function delay()
    return math.floor(pace_ms * (0.5 + math.random()))
  end
end
