-- fixed.lua - the same request again and again: the URL on wrk's command
-- line (hello-world baseline, hot GET of one cached order, health).
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
require("lib").install()
