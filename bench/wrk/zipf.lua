-- zipf.lua - ranks 1..n drawn from a Zipf distribution, P(k) ~ 1 / k^s.
--
-- Rejection-inversion sampling (W. Hormann and G. Derflinger, "Rejection-
-- inversion to generate variates from monotone discrete distributions",
-- ACM TOMACS 6(3), 1996): O(1) time and memory per draw for any n, so ten
-- million ids need no table.  It inverts H, an integral of h(x) = x^-s
-- that bounds the probabilities, and accepts a draw unless it fell in the
-- sliver between the continuous hat and the discrete distribution.
-- Pure Lua (no wrk), so it can be checked on its own.

local M = {}

-- log(1 + x) / x and (exp(x) - 1) / x, accurate near 0 (where s is near 1)
local function log1p_over(x)
   if math.abs(x) > 1e-8 then
      return math.log(1 + x) / x
   end
   return 1 - x * (0.5 - x * (1 / 3 - 0.25 * x))
end

local function expm1_over(x)
   if math.abs(x) > 1e-8 then
      return (math.exp(x) - 1) / x
   end
   return 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x))
end

-- new(n, s, random): a sampler; random() must return a uniform in [0, 1)
function M.new(n, s, random)
   assert(n >= 1 and s > 0, "zipf: needs n >= 1 and s > 0")
   random = random or math.random
   local function h(x)
      return math.exp(-s * math.log(x))
   end
   local function H(x) -- integral of h from 1 to x
      local lx = math.log(x)
      return expm1_over((1 - s) * lx) * lx
   end
   local function H_inverse(y)
      local t = y * (1 - s)
      if t < -1 then
         t = -1 -- rounding at the far end of the range
      end
      return math.exp(log1p_over(t) * y)
   end
   local H_x1 = H(1.5) - 1 -- h(1) = 1
   local H_n = H(n + 0.5)
   local squeeze = 2 - H_inverse(H(2.5) - h(2))

   return function()
      while true do
         local u = H_n + random() * (H_x1 - H_n)
         local x = H_inverse(u)
         local k = math.floor(x + 0.5)
         if k < 1 then
            k = 1
         elseif k > n then
            k = n
         end
         if k - x <= squeeze or u >= H(k + 0.5) - h(k) then
            return k
         end
      end
   end
end

-- The exact probability of the ranks 1..top, for checking a run's draws.
function M.share(n, s, top)
   local head, all = 0, 0
   for k = 1, n do
      local p = k ^ -s
      all = all + p
      if k <= top then
         head = head + p
      end
   end
   return head / all
end

return M
