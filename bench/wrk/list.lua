-- list.lua - the list endpoint as a customer's order page:
-- GET /orders?customer_id=N&limit=20, N uniform over 1..WRK_CUSTOMERS.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("lib")

local customers = bench.env_int("WRK_CUSTOMERS", 1000)
local list

bench.install({ init = function()
   list = bench.template("GET", "/orders?customer_id=%s&limit=20")
end })

function request()
   return list(math.random(1, customers))
end
