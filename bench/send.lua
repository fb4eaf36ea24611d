-- send.lua: wrk script for one realistic Resend send (~1 KB body) with the
-- vault key in $VK (empty for the direct and nginx runs, which ignore it).
wrk.method = "POST"
wrk.path = "/emails"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "resend-node:6.38.0"
local vk = os.getenv("VK") or ""
if vk ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. vk
end
local html = string.rep("<p>Your order has shipped and will arrive soon. Thanks for shopping with us.</p>", 9)
wrk.body = '{"from":"Acme Orders <orders@mail.example.com>","to":["customer@example.org"],' ..
  '"subject":"Your order #12345 has shipped","html":"' .. html .. '",' ..
  '"text":"Your order has shipped.","tags":[{"name":"category","value":"shipping"}],' ..
  '"reply_to":"support@example.com"}'
