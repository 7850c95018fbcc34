-- Poll: GET /api/orders/status with tickets read from a file (one a line),
-- taken round-robin, each thread starting at its own offset.
--   wrk -s bench/poll.lua URL -- TICKETS_FILE [wait0|plain]
-- wait0 (default) asks ?ticket=T&wait=0: the long-poll form that answers at
-- once and is not held back by the poll pacer. plain asks ?ticket=T, which
-- the pacer holds back (up to 1 s) when the same ticket comes back sooner
-- than half its last poll_after_ms hint.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local paths = {} -- whole requests, one per ticket
local next_index = 1

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot read the tickets file")
  local suffix = (args[2] == "plain") and "" or "&wait=0"
  -- Whole requests made once here: request() then costs wrk next to nothing,
  -- and wrk shares the cores with the server it measures.
  for line in file:lines() do
    if #line > 0 then table.insert(paths, wrk.format("GET", "/api/orders/status?ticket=" .. line .. suffix)) end
  end
  file:close()
  assert(#paths > 0, "no tickets in " .. args[1])
  next_index = (thread_id * 7919) % #paths + 1
end

function request()
  local req = paths[next_index]
  next_index = next_index % #paths + 1
  return req
end
