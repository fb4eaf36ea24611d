-- key_issue.lua: store a new vault key record, atomically with its indexes.
--
-- KEYS[1] sc:up:<upstream>   KEYS[2] sc:vk:<hash>   KEYS[3] sc:id:<key id>
-- ARGV[1] key id  ARGV[2] hash  ARGV[3] upstream name
-- ARGV[4] expires_at_ms (absolute, 0 = none)  ARGV[5] expires_in_ms (0 = none)
-- ARGV[6..] field, value pairs of the policy (name, owner, scope, ...)
-- Times come from Redis's clock, the one the proxy checks expiry against.
-- Replies {created_at_ms, expires_at_ms} or an error.  Emits key.issued.
--#include "lib/time.lua"
--#include "lib/events.lua"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('ERR_NO_UPSTREAM no upstream named ' .. ARGV[3])
end
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('ERR_COLLISION key id or hash already exists')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = tonumber(ARGV[4])
if tonumber(ARGV[5]) > 0 then
  expires = now + tonumber(ARGV[5])
end
local fields = {'id', ARGV[1], 'upstream', ARGV[3], 'created_at', string.format('%d', now),
                'expires_at', string.format('%d', expires), 'revoked_at', '0',
                'last_used_at', '0', 'gen', '1', 'family', ARGV[1]}
for i = 6, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', 'sc:keys', now, ARGV[1])
redis.call('SADD', 'sc:upkeys:' .. ARGV[3], ARGV[1])
local r = redis.call('HMGET', KEYS[2], 'name', 'owner', 'scope')
sc_emit(now, 'key.issued', ARGV[1], ARGV[1], r[2] or '',
        {name = r[1] or '', owner = r[2] or '', upstream = ARGV[3], scope = r[3] or '',
         expires_at = expires > 0 and sc_iso(expires) or cjson.null})
return {string.format('%d', now), string.format('%d', expires)}
