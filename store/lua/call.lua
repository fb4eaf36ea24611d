-- call.lua: the one round trip the proxy makes before it answers or
-- forwards a call with a vault key.
--
-- KEYS[1]  sc:vk:<sha256 of the vault key>
-- ARGV[1]  generation of the key record the proxy has cached ("" if none)
-- ARGV[2]  version of the upstream record the proxy has cached ("" if none)
-- ARGV[3]  "forward": a call that is not a send; "send": reserve ARGV[4]
--          sends; "deny": the proxy will refuse the call, only check status
-- ARGV[4]  sends to reserve (recipients: to + cc + bcc), for "send"
-- ARGV[5]  email id the call reads or changes ("" if none): a key of the
--          sending scope may only touch emails its family sent
-- ARGV[6]  request id of the call (for "send")
-- ARGV[7]  how long an intent may wait for its final record (seconds)
-- ARGV[8]  the intent: the call's packed record (see store/audit.h); ""
--          writes none
-- ARGV[9]  sha256 hex of the send's Idempotency-Key ("" if none)
-- ARGV[10] sha256 hex of the send's body
--
-- By Redis's clock, in this order: the key exists, is not revoked, has not
-- expired; the proxy's cached record and sealed real key are current;
-- ownership; then the daily counter of the key's family
-- (sc:cnt:<family>:<UTC day number>) is increased by the sends only if the
-- result stays within daily_cap (decided here only; it_cap_lua_edges tests the edges),
-- and the audit intent is written in the same step: an allowed send is on
-- record before it is forwarded.  The intent is written first, so a Redis
-- out of memory refuses the call before anything is counted.
-- Replies:
--   {"unknown"}
--   {"revoked", id, revoked_at_ms, now_ms}
--   {"expired", id, expires_at_ms, now_ms}
--   {"no_upstream", id, upstream}
--   {"stale", {key record as HGETALL}, {upstream ver, sealed}}   nothing written
--   {"not_own", id}
--   {"cap", id, used, cap, now_ms}                              nothing reserved
--   {"ok", id, now_ms, counter_key, used_after, idem_key, idem_value}
--        last_used_at set; counter_key "" for an idempotent replay (nothing
--        reserved); idem_key/idem_value: the replay record this call set
--        ("" if none), which the settlement that gives the reservation back
--        deletes (log_write.lua) if it still holds idem_value
--
-- Idempotent replays (SPEC §3): sc:idem:<family>:<sha256 of the key> holds
-- "<sha256 of the body>:<request id>" of the send that reserved under that
-- key, for 24 h; its settlement (log_write.lua) deletes it when all was
-- given back, or confirms it (":ok" appended) when the reservation was
-- kept.  A send repeating key and body of a confirmed record reserves
-- nothing (its intent is still written) and is forwarded, so Resend
-- replays.  While the first is still in flight a repeat reserves like any
-- send (the counter may run ahead, never behind: a repeat cannot go out
-- unreserved if the first is then given back).  Another body under the key
-- reserves as a new send and leaves the record to the send that set it.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now)

local rec = redis.call('HMGET', KEYS[1], 'id', 'gen', 'revoked_at', 'expires_at', 'upstream',
                       'family', 'daily_cap', 'scope', 'last_used_at')
local id = rec[1]
if not id then
  return {'unknown'}
end
if (tonumber(rec[3]) or 0) > 0 then
  return {'revoked', id, rec[3], nows}
end
local expires = tonumber(rec[4]) or 0
if expires > 0 and now >= expires then
  return {'expired', id, rec[4], nows}
end
local up = 'sc:up:' .. rec[5]
local upv = redis.call('HGET', up, 'ver')
if not upv then
  return {'no_upstream', id, rec[5]}
end
if rec[2] ~= ARGV[1] or upv ~= ARGV[2] then
  return {'stale', redis.call('HGETALL', KEYS[1]), redis.call('HMGET', up, 'ver', 'sealed')}
end
-- last_used_at is kept to the minute: one write a minute per key, not one
-- a call (it only feeds `key list`'s stale flag).
if now - (tonumber(rec[9]) or 0) >= 60000 then
  redis.call('HSET', KEYS[1], 'last_used_at', nows)
end
if ARGV[3] == 'deny' then
  return {'ok', id, nows, '', '0'}
end
local family = rec[6] or id
if ARGV[5] ~= '' and rec[8] ~= 'full' then
  if redis.call('GET', 'sc:em:' .. ARGV[5]) ~= family then
    return {'not_own', id}
  end
end
if ARGV[3] ~= 'send' then
  return {'ok', id, nows, '', '0'}
end
local n = tonumber(ARGV[4])
local day = math.floor(now / 86400000)
local ck = 'sc:cnt:' .. family .. ':' .. string.format('%d', day)
local used = tonumber(redis.call('GET', ck) or '0')
local cap = tonumber(rec[7])
local function intent()
  if ARGV[8] and ARGV[8] ~= '' then
    redis.call('SET', 'sc:intent:' .. ARGV[6], ARGV[8], 'EX', ARGV[7])
    redis.call('ZADD', 'sc:intents', now, ARGV[6])
  end
end
local ik, iv = '', ''
if ARGV[9] and ARGV[9] ~= '' then
  local k = 'sc:idem:' .. family .. ':' .. ARGV[9]
  local prev = redis.call('GET', k)
  if prev and string.sub(prev, 1, #ARGV[10] + 1) == ARGV[10] .. ':' and
     string.sub(prev, -3) == ':ok' then
    intent()
    return {'ok', id, nows, '', string.format('%d', used), '', ''}
  end
  if not prev then
    ik, iv = k, ARGV[10] .. ':' .. ARGV[6]
  end
end
if cap and (used > cap or n > cap - used) then
  return {'cap', id, string.format('%d', used), string.format('%d', cap), nows}
end
intent()
if ik ~= '' then
  redis.call('SET', ik, iv, 'EX', 86400)
end
local after = redis.call('INCRBY', ck, n)
-- Kept one day past its own, so a late refund still finds it (set when the
-- day's counter starts, not on every send).
if used == 0 then
  redis.call('EXPIREAT', ck, (day + 2) * 86400)
end
return {'ok', id, nows, ck, string.format('%d', after), ik, iv}
