-- key_revoke.lua: mark a vault key revoked, by Redis's clock.
--
-- KEYS[1] sc:vk:<hash>
-- Replies {1, revoked_at_ms} when revoked now, {0, revoked_at_ms} when it
-- already was, or an error if there is no such key.  Bumping gen makes every
-- proxy drop its cached copy; revocation itself is checked on every call.
-- Emits key.revoked (only when revoked now).
--#include "lib/time.lua"
--#include "lib/events.lua"
--#include "lib/key.lua"
local cur = redis.call('HGET', KEYS[1], 'revoked_at')
if not cur then
  return redis.error_reply('ERR_NO_KEY no such key')
end
if (tonumber(cur) or 0) > 0 then
  return {0, cur}
end
local now = sc_now_ms()
redis.call('HSET', KEYS[1], 'revoked_at', sc_fmt(now))
redis.call('HSET', KEYS[1], 'gen', sc_next_gen(redis.call('HGET', KEYS[1], 'gen'), now))
local r = redis.call('HMGET', KEYS[1], 'id', 'family', 'name', 'owner')
sc_emit(now, 'key.revoked', r[1], r[2] or r[1], r[4] or '',
        {name = r[3] or '', owner = r[4] or '', revoked_at = sc_iso(now)})
return {1, sc_fmt(now)}
