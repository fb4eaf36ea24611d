-- key_rotate.lua: a new vault key for an old one's policy, counters and emails.
--
-- KEYS[1] sc:vk:<old hash>   KEYS[2] sc:vk:<new hash>   KEYS[3] sc:id:<new id>
-- ARGV[1] new id   ARGV[2] new hash   ARGV[3] grace (ms): how long the old key
-- stays valid (by Redis's clock; never longer than it already was)
-- The new record copies the old one (policy, upstream, family: the daily
-- counter and the own-email rule follow the family) with a new id, hash and
-- times.  Replies {created_at_ms, old_expires_at_ms} or an error.  Emits
-- key.rotated.
--#include "lib/time.lua"
--#include "lib/events.lua"
--#include "lib/key.lua"
local rec, old, now = sc_key_live(KEYS[1])
if not rec then return old end
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('ERR_COLLISION key id or hash already exists')
end
local oexp = tonumber(rec['expires_at']) or 0
rec['rotated_from'] = rec['id']
rec['id'] = ARGV[1]
rec['hash'] = ARGV[2]
rec['created_at'] = string.format('%d', now)
rec['last_used_at'] = '0'
rec['revoked_at'] = '0'
rec['gen'] = '1'
if not rec['family'] or rec['family'] == '' then rec['family'] = old[2] end
local fields = {}
for k, v in pairs(rec) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', 'sc:keys', now, ARGV[1])
redis.call('SADD', 'sc:upkeys:' .. rec['upstream'], ARGV[1])
local nexp = now + tonumber(ARGV[3])
if oexp > 0 and oexp < nexp then nexp = oexp end
redis.call('HSET', KEYS[1], 'expires_at', string.format('%d', nexp), 'rotated_to', ARGV[1])
redis.call('HSET', KEYS[1], 'gen', sc_next_gen(redis.call('HGET', KEYS[1], 'gen'), now))
sc_emit(now, 'key.rotated', rec['rotated_from'], rec['family'], rec['owner'] or '',
        {name = rec['name'] or '', owner = rec['owner'] or '', new_key_id = ARGV[1],
         old_key_valid_until = sc_iso(nexp)})
return {string.format('%d', now), string.format('%d', nexp)}
