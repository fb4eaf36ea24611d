-- held_decide.lua: `sendcap approval approve|reject` (SPEC §7), atomically.
--
-- KEYS[1] sc:held:<held id>
-- ARGV[1] held id   ARGV[2] "approve" | "reject"   ARGV[3] who decides
-- ARGV[4] the note (approve) or reason (reject)
-- Replies {status, key id, request id, sends, from domain, route} with the
-- new status (approved, rejected; expired when its --hold-ttl had passed
-- and the sweep had not come yet; revoked when an approval found its key
-- revoked: it is rejected and given back instead), or an error: ERR_NO_HELD, ERR_STATE
-- <status> (decided already: a second approve is refused here).
--#include "lib/time.lua"
--#include "lib/events.lua"
--#include "lib/refund.lua"
--#include "lib/held.lua"
local r = sc_held_read(ARGV[1])
if not r then
  return redis.error_reply('ERR_NO_HELD no such held send')
end
local st, why = sc_held_decide(sc_now_ms(), ARGV[1], r, ARGV[2], ARGV[3], ARGV[4])
if not st then
  return redis.error_reply('ERR_STATE ' .. why)
end
return {st, r.key or '', r.request_id or '', r.sends or '0', r.from_domain or '', r.route or ''}
