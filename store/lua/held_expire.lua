-- held_expire.lua: held sends whose --hold-ttl passed without a decision
-- (SPEC §7), expired by the sweep: reservation given back, body deleted,
-- send.rejected (reason expired).
--
-- ARGV[1] most to expire in this call
-- Replies one {held id, key id, request id, sends, from domain, route} per
-- expired send, for the sweeping daemon's call-log records.
--#include "lib/time.lua"
--#include "lib/events.lua"
--#include "lib/refund.lua"
--#include "lib/held.lua"
local now = sc_now_ms()
local out = {}
for _, hid in ipairs(redis.call('ZRANGEBYSCORE', 'sc:held:pending', '-inf', now, 'LIMIT', 0,
                                tonumber(ARGV[1]))) do
  local r = sc_held_read(hid)
  if not r then
    redis.call('ZREM', 'sc:held:pending', hid)
  elseif sc_held_decide(now, hid, r, 'expire', 'sweep', 'hold-ttl passed') == 'expired' then
    out[#out + 1] = {hid, r.key or '', r.request_id or '', r.sends or '0', r.from_domain or '',
                     r.route or ''}
  else
    redis.call('ZREM', 'sc:held:pending', hid)
  end
end
return out
