-- Intake with the buyer's bearer token: POST /api/sales/{sale_id}/orders
-- with `Authorization: Bearer <token>`, the tokens read from a file (one a
-- line) and taken in turn, each thread from its own offset. Without a token
-- file, the same request with the buyer in the body instead (the baseline),
-- formatted the same way per request so both runs cost wrk alike.
--   wrk -s bench/intake_token.lua URL -- SALE_ID TOKEN_FILE|- RUN_TAG
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local path, tokens, next_token, prefix, counter

function init(args)
  path = "/api/sales/" .. (args[1] or "bench") .. "/orders"
  tokens = {}
  if args[2] and args[2] ~= "-" then
    for line in io.lines(args[2]) do
      if #line > 0 then tokens[#tokens + 1] = line end
    end
  end
  next_token = (thread_id * 7919) % math.max(1, #tokens)
  prefix = (args[3] or "u") .. "-" .. thread_id .. "-"
  counter = 0
end

function request()
  if #tokens > 0 then
    next_token = next_token % #tokens + 1
    return wrk.format("POST", path, { ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. tokens[next_token] }, "{}")
  end
  counter = counter + 1
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" },
    '{"user_id":"' .. prefix .. string.format("%09d", counter) .. '"}')
end
