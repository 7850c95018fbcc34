-- Pre-buy: intakes of distinct users on a sale until it is sold out,
-- keeping the tickets of the accepted ones; at the end they are written to
-- the file named by $BENCH_TICKETS_OUT, one a line (for poll.lua, the
-- stream holder and the wake-up probe).
--   BENCH_TICKETS_OUT=FILE wrk -s bench/prebuy.lua URL -- SALE_ID RUN_TAG
-- A thread that has been told sold_out (409) for 0.3 s ends the run (SIGINT
-- to wrk itself, through LuaJIT's FFI), so the run lasts as long as the
-- stock. Not at the first 409: that one comes at once, while the 202s sent
-- before it still wait for their group commit.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local ffi = require("ffi")
ffi.cdef [[
  int kill(int pid, int sig);
  int getpid(void);
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec* ts);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local path, prefix
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
tickets = {}
local sold_out_since = nil
local stopping = false

function init(args)
  path = "/api/sales/" .. args[1] .. "/orders"
  prefix = args[2] .. "-" .. thread_id .. "-"
end

function request()
  counter = counter + 1
  return wrk.format("POST", path, headers, '{"user_id":"' .. prefix .. counter .. '"}')
end

function response(status, _, body)
  if status == 202 then
    local ticket = body:match('"ticket":"([^"]+)"')
    if ticket then table.insert(tickets, ticket) end
  elseif status == 409 and not stopping then
    sold_out_since = sold_out_since or now()
    if now() - sold_out_since > 0.3 then
      stopping = true
      ffi.C.kill(ffi.C.getpid(), 2)
    end
  end
end

function done(summary, latency, requests)
  local total = 0
  local lines = {}
  for _, thread in ipairs(bench_threads) do
    for _, t in ipairs(thread:get("tickets") or {}) do
      table.insert(lines, t)
      total = total + 1
    end
  end
  local file = assert(io.open(os.getenv("BENCH_TICKETS_OUT"), "w"))
  file:write(table.concat(lines, "\n"), "\n")
  file:close()
  bench_report(summary, latency, { tickets = total })
end
