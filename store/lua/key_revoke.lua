-- key_revoke.lua: mark a vault key revoked, by Redis's clock.
--
-- KEYS[1] sc:vk:<hash>
-- Replies {1, revoked_at_ms} when revoked now, {0, revoked_at_ms} when it
-- already was, or an error if there is no such key.  Bumping gen makes every
-- proxy drop its cached copy; revocation itself is checked on every call.
local cur = redis.call('HGET', KEYS[1], 'revoked_at')
if not cur then
  return redis.error_reply('ERR_NO_KEY no such key')
end
if (tonumber(cur) or 0) > 0 then
  return {0, cur}
end
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', KEYS[1], 'revoked_at', now)
redis.call('HINCRBY', KEYS[1], 'gen', 1)
return {1, now}
