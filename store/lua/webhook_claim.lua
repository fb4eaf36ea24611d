-- webhook_claim.lua: lease one event's queued deliveries to the caller now,
-- due or not: the instance that answers a cap's 429 delivers the event's
-- key.cap_reached first (SPEC §6).  sc_emit queued them leased to that
-- instance (hold_ms), so no other one has taken them.
--
-- ARGV[1] event id, ARGV[2] lease ms, ARGV[3] notice upstream ("" : none).
-- Replies an array of lib/webhooks.lua's deliveries.
--#include "lib/time.lua"
--#include "lib/webhooks.lua"
local now = sc_now_ms()
local eid, lease, nup = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local out = {}
for _, target in ipairs(redis.call('HKEYS', 'sc:evs:' .. eid)) do
  local m = eid .. '|' .. target
  if redis.call('ZSCORE', 'sc:whq', m) then
    local j = sc_wh_lease(m, now, lease, nup)
    if j then out[#out + 1] = j end
  end
end
return out
