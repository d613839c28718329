-- zipf_get.lua - GET /orders/{id} with skewed popularity: the rank of each
-- request is Zipf-distributed over WRK_MIN_ID..WRK_MAX_ID with exponent
-- WRK_ZIPF_S (default 1.0; 0 = uniform, as random_get.lua), the way real
-- read traffic concentrates on few orders.  Ranks map to ids through a
-- fixed permutation (rank * a large prime mod n), so the popular orders
-- are spread over the table rather than being its oldest rows.
--
-- The summary adds zipf {s, draws, top1, top100: the share of requests
-- for the most popular order and the 100 most popular, and expected_top1,
-- expected_top100: what the distribution says they should be}.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local bench = require("lib")
local zipf = require("zipf")

local min_id = bench.env_int("WRK_MIN_ID", 1)
local max_id = bench.env_int("WRK_MAX_ID")
local s = tonumber(os.getenv("WRK_ZIPF_S") or "1.0")
assert(s and s >= 0, "WRK_ZIPF_S must be a number >= 0")
local n = max_id - min_id + 1

-- a prime that is coprime with n, so rank -> id is a permutation; the
-- product stays below 2^53 for any n under a billion
local stride = 1000003
if n % stride == 0 then
   stride = 1000033
end

local get, draw

bench.install({
   init = function()
      get = bench.template("GET", "/orders/%s")
      if s > 0 then
         draw = zipf.new(n, s)
      else
         draw = function() return math.random(1, n) end
      end
      draws, top1, top100 = 0, 0, 0
   end,
   summary = function(threads)
      local d, t1, t100 = 0, 0, 0
      for _, thread in ipairs(threads) do
         d = d + (thread:get("draws") or 0)
         t1 = t1 + (thread:get("top1") or 0)
         t100 = t100 + (thread:get("top100") or 0)
      end
      local e1, e100 = 1 / n, math.min(100, n) / n
      if s > 0 then
         e1, e100 = zipf.share(n, s, 1), zipf.share(n, s, 100)
      end
      return string.format('"zipf":{"s":%.3f,"draws":%d,"top1":%.5f,"top100":%.5f,' ..
         '"expected_top1":%.5f,"expected_top100":%.5f}',
         s, d, d > 0 and t1 / d or 0, d > 0 and t100 / d or 0, e1, e100)
   end,
})

function request()
   local rank = draw()
   draws = draws + 1
   if rank == 1 then
      top1 = top1 + 1
   end
   if rank <= 100 then
      top100 = top100 + 1
   end
   return get(min_id + ((rank - 1) * stride) % n)
end
