-- The reference: GET / of nginx's fixed 200 JSON body (keep-alive).
--   wrk -s bench/fixed.lua http://127.0.0.1:PORT/
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
