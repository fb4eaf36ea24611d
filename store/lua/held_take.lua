-- held_take.lua: lease the next approved held send to this forwarder
-- (SPEC §7), like webhook_take.lua does deliveries.
--
-- ARGV[1] lease (ms)   ARGV[2] most attempts
-- Replies {} (nothing due), or {held id, key id, family, sealed body,
-- upstream name, sealed real key ("" if the upstream is gone), request id,
-- route, sends, decided_by, from domain, agent_run_id, attempt}.  The lease
-- is the score in sc:held:q: if this forwarder dies, the send falls due
-- again when it ends and another forwards it with the same Idempotency-Key.
-- Past ARGV[2] attempts Resend never answered: failed, reservation kept
-- (the email may have gone).  A send whose key was revoked after its
-- approval is not forwarded: rejected, its reservation given back.
--#include "lib/time.lua"
--#include "lib/events.lua"
--#include "lib/refund.lua"
--#include "lib/held.lua"
local now = sc_now_ms()
local due = redis.call('ZRANGEBYSCORE', 'sc:held:q', '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then return {} end
local hid = due[1]
local k = 'sc:held:' .. hid
local r = redis.call('HMGET', k, 'status', 'key', 'family', 'sealed', 'upstream', 'request_id',
                     'route', 'sends', 'decided_by', 'from_domain')
if r[1] ~= 'approved' or not r[4] then
  redis.call('ZREM', 'sc:held:q', hid)
  return {}
end
local rec = sc_held_read(hid)
if sc_held_key_revoked(rec) then
  sc_held_revoked(now, hid, rec, 'revocation')
  return {}
end
local n = redis.call('HINCRBY', k, 'attempts', 1)
if n > tonumber(ARGV[2]) then
  redis.call('HSET', k, 'status', 'failed', 'error', 'Resend did not answer; it may have been sent')
  sc_held_drop_body(hid)
  redis.call('ZREM', 'sc:held:q', hid)
  return {}
end
redis.call('ZADD', 'sc:held:q', now + tonumber(ARGV[1]), hid)
local up = redis.call('HGET', 'sc:up:' .. (r[5] or ''), 'sealed') or ''
local hash = redis.call('GET', 'sc:id:' .. (r[2] or ''))
local run = hash and redis.call('HGET', 'sc:vk:' .. hash, 'agent_run_id') or ''
return {hid, r[2] or '', r[3] or '', r[4], r[5] or '', up, r[6] or '', r[7] or '', r[8] or '0',
        r[9] or '', r[10] or '', run or '', sc_fmt(n)}
