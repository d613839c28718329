-- post.lua - POST /orders with a unique body every time (WRK_ITEMS items,
-- one to three by default).  Counts statuses and writes the id of every
-- 201 to WRK_ACKED_FILE, so the caller can check that every acknowledged
-- order is in the database afterwards.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("lib")

local customers = bench.env_int("WRK_CUSTOMERS", 1000)
local items = bench.env_int("WRK_ITEMS", -1)

bench.install({ capture = true })

function request()
   return wrk.format("POST", "/orders", bench.json_headers, bench.order_body(customers, items))
end
