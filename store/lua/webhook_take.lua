-- webhook_take.lua: lease the deliveries that are due (SPEC §6), for one
-- instance's worker (proxy/webhook.c).  See lib/webhooks.lua.
--
-- ARGV[1] lease ms (the attempt's timeout plus a margin), ARGV[2] most to
-- take, ARGV[3] the notice upstream's name ("" : this instance sends no
-- owner notices).  An instance that sends notices keeps sc:notice alive
-- with every take, so notices are queued only while one runs.
-- Replies an array of lib/webhooks.lua's deliveries.
--#include "lib/time.lua"
--#include "lib/webhooks.lua"
local now = sc_now_ms()
local lease, max, nup = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
if nup ~= '' then
  redis.call('SET', 'sc:notice', '1', 'EX', 3600)
end
local out = {}
if max < 1 then return out end
-- Notices this instance leaves alone may stand first: look further.
for _, m in ipairs(redis.call('ZRANGEBYSCORE', 'sc:whq', '-inf', now, 'LIMIT', 0, max * 4)) do
  if #out >= max then break end
  local j = sc_wh_lease(m, now, lease, nup)
  if j then out[#out + 1] = j end
end
return out
