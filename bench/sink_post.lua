-- The reference of the windows-sink scenario: POSTs of an order-sized body to
-- the slow sink of bench/windows_sink.py (keep-alive), to show how many
-- requests a second it answers with this many connections.
--   wrk -s bench/sink_post.lua http://127.0.0.1:PORT/orders
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"order_id":"0190c0de-0000-7000-8000-000000000000","sale_id":"bench","user_id":"u-1",'
  .. '"item":"Bench item","accepted_at":"2026-12-06T12:00:00.123Z"}'
