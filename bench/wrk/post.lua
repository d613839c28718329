-- post.lua - POST /orders with a unique body every time (WRK_ITEMS items,
-- one to three by default).  Counts statuses and writes the id of every
-- 201 to WRK_ACKED_FILE, so the caller can check that every acknowledged
-- order is in the database afterwards.  WRK_KEYED=1: every POST carries
-- a fresh Idempotency-Key (thread, counter and a random tag), the path of
-- a client that retries safely.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("lib")

local customers = bench.env_int("WRK_CUSTOMERS", 1000)
local items = bench.env_int("WRK_ITEMS", -1)
local keyed = os.getenv("WRK_KEYED") == "1"
local tag, sent = nil, 0

bench.install({ capture = true })

function request()
   if not keyed then
      return wrk.format("POST", "/orders", bench.json_headers, bench.order_body(customers, items))
   end
   tag = tag or string.format("%d-%d", math.random(0, 1e9), math.random(0, 1e9))
   sent = sent + 1
   local headers = {
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = string.format("bench-%s-%d", tag, sent),
   }
   return wrk.format("POST", "/orders", headers, bench.order_body(customers, items))
end
