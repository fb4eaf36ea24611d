-- send.lua: wrk script for one realistic Resend send (~1 KB body) with the
-- vault key in $VK (empty for the direct and nginx runs, which ignore it).
-- Each request's subject carries a number of its own (and the run's), so
-- no two sends are the same: sendcapd refuses a repeated send within its
-- dedupe window (SPEC §5), and a benchmark of refusals would measure nothing.
wrk.method = "POST"
wrk.path = "/emails"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "resend-node:6.38.0"
local vk = os.getenv("VK") or ""
if vk ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. vk
end
local html = string.rep("<p>Your order has shipped and will arrive soon. Thanks for shopping with us.</p>", 9)
local head = '{"from":"Acme Orders <orders@mail.example.com>","to":["customer@example.org"],' ..
  '"subject":"Your order #'
local tail = ' has shipped","html":"' .. html .. '",' ..
  '"text":"Your order has shipped.","tags":[{"name":"category","value":"shipping"}],' ..
  '"reply_to":"support@example.com"}'

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

-- A run of its own too: wrk starts each run's counters at 0, and the runs of
-- one benchmark fall within one dedupe window.
local n, run = 0, ""
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  run = os.time() .. "-" .. math.random(1, 1000000000) .. "-" .. (tid or 0)
end

function request()
  n = n + 1
  return wrk.format(nil, nil, nil, head .. run .. "-" .. n .. tail)
end
