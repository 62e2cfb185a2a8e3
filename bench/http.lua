-- http.lua: wrk script for POST /v1/moderate (bench/http.sh).  The body is
-- a protocol v1 request of $BENCH_BYTES bytes of words, like loadgen's; the
-- token comes from $MODGATE_TOKEN.  Answers other than 200 are counted by
-- wrk as "Non-2xx or 3xx responses".
local words = { "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy",
    "dog", "while", "we", "talk", "about", "weather", "and", "trains" }
local n = tonumber(os.getenv("BENCH_BYTES") or "200")
local t, i = {}, 0
local len = 0
while len < n do
	i = i + 1
	local w = words[(i * 7) % #words + 1]
	t[#t + 1] = w
	len = len + #w + 1
end
local text = table.concat(t, " "):sub(1, n)

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("MODGATE_TOKEN") or "")
wrk.body = '{"text": "' .. text .. '"}'
