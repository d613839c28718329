-- mixed.lua - 90% GET /orders/{id} over WRK_MIN_ID..WRK_MAX_ID, 5% POST,
-- 5% PATCH {"status":"paid"} of an order this thread created (pending, so
-- the change is always allowed; with none at hand the PATCH becomes a POST).
-- Counts statuses and records every 201 like post.lua.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("lib")

local min_id = bench.env_int("WRK_MIN_ID", 1)
local max_id = bench.env_int("WRK_MAX_ID")
local customers = bench.env_int("WRK_CUSTOMERS", 1000)
local get, patch
-- ids created by this thread and not yet patched: a FIFO queue
local fresh, fresh_head, fresh_tail = {}, 1, 0

bench.install({
   capture = true,
   init = function()
      get = bench.template("GET", "/orders/%s")
      patch = bench.template("PATCH", "/orders/%s", bench.json_headers, '{"status":"paid"}')
   end,
   response = function(status, headers)
      if status == 201 then
         local id = (headers["Location"] or headers["location"] or ""):match("/orders/(%d+)$")
         if id then
            fresh_tail = fresh_tail + 1
            fresh[fresh_tail] = id
         end
      end
   end,
})

function request()
   local r = math.random(1, 100)
   if r <= 90 then
      return get(math.random(min_id, max_id))
   end
   if r <= 95 and fresh_head <= fresh_tail then
      local id = fresh[fresh_head]
      fresh[fresh_head] = nil
      fresh_head = fresh_head + 1
      return patch(id)
   end
   return wrk.format("POST", "/orders", bench.json_headers, bench.order_body(customers))
end
