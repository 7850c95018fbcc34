-- Intake: POST /api/sales/{sale_id}/orders, a distinct user per request
-- ("<run>-<thread>-<n>"), so that every request is a new buyer.
--   wrk -s bench/intake.lua URL -- SALE_ID RUN_TAG
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local path, prefix
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  local sale_id = args[1] or "bench"
  path = "/api/sales/" .. sale_id .. "/orders"
  prefix = (args[2] or "u") .. "-" .. thread_id .. "-"
end

function request()
  counter = counter + 1
  return wrk.format("POST", path, headers, '{"user_id":"' .. prefix .. counter .. '"}')
end
