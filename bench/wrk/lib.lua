-- lib.lua - what every bench/wrk script shares: per-thread seeds, status
-- counting, acknowledged-id capture and one machine-readable summary line.
--
-- wrk runs one Lua state per thread plus one for setup()/done(); the
-- states share nothing, so counts live in per-thread globals and done()
-- collects them with thread:get().  Scripts are configured through the
-- environment (os.getenv works in every state; wrk's "-- args" only reach
-- the thread states):
--   WRK_MIN_ID        smallest id random reads use (default 1)
--   WRK_MAX_ID        largest id random reads use (required by those scripts)
--   WRK_CUSTOMERS     customers 1..N for list and POST bodies (default 1000)
--   WRK_ITEMS         items per POST body (default -1: one to three; 0: none, a bare total)
--   WRK_COUNT_STATUS  1: count every status (defines response(), which
--                     costs wrk some throughput; POST and mixed always count)
--   WRK_ACKED_FILE    where POST/mixed write the id of every 201, one a line
--   WRK_LABEL         copied into the summary
--   WRK_AUTHORIZATION an Authorization header value for every request of
--                     the scripts that send wrk.headers (fixed.lua, list.lua)
--   WRK_ACCEPT        likewise an Accept header value (application/msgpack)
--
-- done() prints one line, "BENCH_RESULT " followed by a JSON object:
--   label, requests, duration_s, rps, bytes,
--   latency_ms {min, mean, p50, p90, p95, p99, max},
--   errors {connect, read, write, timeout, status}  (status: wrk's count of 4xx/5xx),
--   statuses {"200": n, ...} (only when counted), acked (201s with a Location),
--   and whatever opts.summary adds (zipf_get.lua: the ranks it drew).

local M = {}

local threads = {}

function M.env_int(name, default)
   local v = os.getenv(name)
   if v == nil or v == "" then
      if default == nil then
         error(name .. " must be set")
      end
      return default
   end
   local n = tonumber(v)
   if n == nil or n ~= math.floor(n) then
      error(name .. " must be an integer, not " .. v)
   end
   return n
end

-- Installs setup/init/done (and response when counting) as wrk's globals.
-- opts.count: always count statuses; opts.capture: remember 201 ids;
-- opts.summary(threads): more '"key":value' JSON members for the summary.
function M.install(opts)
   opts = opts or {}
   local authorization = os.getenv("WRK_AUTHORIZATION")
   if authorization ~= nil and authorization ~= "" then
      wrk.headers["Authorization"] = authorization
   end
   local accept = os.getenv("WRK_ACCEPT")
   if accept ~= nil and accept ~= "" then
      wrk.headers["Accept"] = accept
   end
   local count = opts.count or os.getenv("WRK_COUNT_STATUS") == "1"

   setup = function(thread)
      thread:set("thread_index", #threads + 1)
      table.insert(threads, thread)
   end

   init = function(args)
      -- thread_index was set by setup(); distinct seeds per thread (and per
      -- run, so repeated runs do not replay one sequence against a cache)
      math.randomseed(os.time() * 1000 + (thread_index or 0) * 7919)
      statuses = {}
      acked = {}
      if opts.init then
         opts.init(args)
      end
   end

   if count or opts.capture then
      response = function(status, headers, body)
         statuses[status] = (statuses[status] or 0) + 1
         if opts.capture and status == 201 then
            local location = headers["Location"] or headers["location"]
            local id = location and location:match("/orders/(%d+)$")
            if id then
               acked[#acked + 1] = id
            end
         end
         if opts.response then
            opts.response(status, headers, body)
         end
      end
   end

   done = function(summary, latency, requests)
      M.report(summary, latency, count or opts.capture, opts.summary and opts.summary(threads))
   end
end

local function json_string(s)
   return '"' .. tostring(s):gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

local function json_number(n)
   if n ~= n or n == math.huge or n == -math.huge then
      return "null"
   end
   if n == math.floor(n) and math.abs(n) < 2 ^ 53 then
      return string.format("%d", n)
   end
   return string.format("%.3f", n)
end

function M.report(summary, latency, counted, extra)
   local statuses_total, acked_total = {}, 0
   local acked_file = os.getenv("WRK_ACKED_FILE")
   local out = nil
   if acked_file and acked_file ~= "" then
      out = assert(io.open(acked_file, "w"))
   end
   for _, thread in ipairs(threads) do
      for code, n in pairs(thread:get("statuses") or {}) do
         statuses_total[code] = (statuses_total[code] or 0) + n
      end
      for _, id in ipairs(thread:get("acked") or {}) do
         acked_total = acked_total + 1
         if out then
            out:write(id, "\n")
         end
      end
   end
   if out then
      out:close()
   end

   local seconds = summary.duration / 1e6
   local ms = function(us) return us / 1000 end
   local parts = {
      '"label":' .. json_string(os.getenv("WRK_LABEL") or ""),
      '"requests":' .. json_number(summary.requests),
      '"duration_s":' .. json_number(seconds),
      '"rps":' .. json_number(seconds > 0 and summary.requests / seconds or 0),
      '"bytes":' .. json_number(summary.bytes),
      string.format('"latency_ms":{"min":%s,"mean":%s,"p50":%s,"p90":%s,"p95":%s,"p99":%s,"max":%s}',
         json_number(ms(latency.min)), json_number(ms(latency.mean)),
         json_number(ms(latency:percentile(50))), json_number(ms(latency:percentile(90))),
         json_number(ms(latency:percentile(95))), json_number(ms(latency:percentile(99))),
         json_number(ms(latency.max))),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}',
         summary.errors.connect, summary.errors.read, summary.errors.write,
         summary.errors.timeout, summary.errors.status),
   }
   if counted then
      local codes = {}
      for code, n in pairs(statuses_total) do
         codes[#codes + 1] = string.format('"%d":%d', code, n)
      end
      table.sort(codes)
      parts[#parts + 1] = '"statuses":{' .. table.concat(codes, ",") .. "}"
      parts[#parts + 1] = '"acked":' .. json_number(acked_total)
   end
   if extra and extra ~= "" then
      parts[#parts + 1] = extra
   end
   io.write("BENCH_RESULT {", table.concat(parts, ","), "}\n")
end

-- A unique, valid order body: customer in 1..customers, n_items items
-- (one to three when nil or negative) whose SKU carries thread, counter
-- and a random tag, so no two bodies are alike across threads, runs and
-- processes.  Without items the body carries a random total instead.
local sequence = 0
function M.order_body(customers, n_items)
   sequence = sequence + 1
   if n_items == 0 then
      local cents = math.random(100, 2000000)
      return string.format('{"customer_id":%d,"currency":"USD","total":"%d.%02d"}',
         math.random(1, customers), math.floor(cents / 100), cents % 100)
   end
   if n_items == nil or n_items < 0 then
      n_items = math.random(1, 3)
   end
   local items, total = {}, 0
   for i = 1, n_items do
      local quantity = math.random(1, 4)
      local cents = math.random(100, 20000)
      total = total + quantity * cents
      items[i] = string.format('{"sku":"B%d-%d-%d-%d","quantity":%d,"unit_price":"%d.%02d"}',
         thread_index or 0, sequence, i, math.random(0, 1e9), quantity,
         math.floor(cents / 100), cents % 100)
   end
   return string.format('{"customer_id":%d,"currency":"USD","total":"%d.%02d","items":[%s]}',
      math.random(1, customers), math.floor(total / 100), total % 100,
      table.concat(items, ","))
end

M.json_headers = { ["Content-Type"] = "application/json" }

-- A request builder for one path shape, "/orders/%s": wrk.format() once,
-- then plain concatenation per request instead of formatting headers.
function M.template(method, path_format, headers, body)
   local marker = "\0MARK\0"
   local text = wrk.format(method, string.format(path_format, marker), headers, body)
   local at = text:find(marker, 1, true)
   local head, tail = text:sub(1, at - 1), text:sub(at + #marker)
   return function(value)
      return head .. value .. tail
   end
end

return M
