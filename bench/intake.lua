-- Intake: POST /api/sales/{sale_id}/orders, a distinct user per request
-- ("<run>-<thread>-<n>", n zero-padded to nine digits), so that every
-- request is a new buyer.
--   wrk -s bench/intake.lua URL -- SALE_ID RUN_TAG
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

-- The request is formatted once with a placeholder user number, and each
-- request() only splices the number in (same length, so the same
-- Content-Length): wrk shares the cores with the server it measures.
local placeholder = "#########"
local before, after
local counter = 0

function init(args)
  local sale_id = args[1] or "bench"
  local prefix = (args[2] or "u") .. "-" .. thread_id .. "-"
  local whole = wrk.format("POST", "/api/sales/" .. sale_id .. "/orders", { ["Content-Type"] = "application/json" },
    '{"user_id":"' .. prefix .. placeholder .. '"}')
  local at = assert(whole:find(placeholder, 1, true), "no placeholder in the request")
  before, after = whole:sub(1, at - 1), whole:sub(at + #placeholder)
end

function request()
  counter = counter + 1
  return before .. string.format("%09d", counter) .. after
end
