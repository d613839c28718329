-- random_get.lua - GET /orders/{id}, id uniform over WRK_MIN_ID..WRK_MAX_ID.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("lib")

local min_id = bench.env_int("WRK_MIN_ID", 1)
local max_id = bench.env_int("WRK_MAX_ID")
local get

bench.install({ init = function()
   get = bench.template("GET", "/orders/%s")
end })

function request()
   return get(math.random(min_id, max_id))
end
