-- webhook_add.lua: add a webhook (SPEC §6).  Schema: lib/events.lua.
--
-- ARGV[1] id (wh_...), ARGV[2] url, ARGV[3] event types (comma-joined, ""
-- = all), ARGV[4] key id ("" = every key), ARGV[5] the sealed signing
-- secret.  A key filter holds for the key's whole family (the keys rotated
-- from it), as every control does.  Replies the family ("" for none), or
-- ERR_NO_KEY.
--#include "lib/time.lua"
local family = ''
if ARGV[4] ~= '' then
  local h = redis.call('GET', 'sc:id:' .. ARGV[4])
  if not h then return redis.error_reply('ERR_NO_KEY no such key') end
  family = redis.call('HGET', 'sc:vk:' .. h, 'family') or ARGV[4]
end
redis.call('HSET', 'sc:wh:' .. ARGV[1], 'url', ARGV[2], 'events', ARGV[3], 'key', ARGV[4],
           'family', family, 'sealed', ARGV[5], 'created_at', sc_fmt(sc_now_ms()))
redis.call('SADD', 'sc:webhooks', ARGV[1])
return family
