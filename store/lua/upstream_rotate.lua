-- upstream_rotate.lua: replace an upstream's real key.
--
-- KEYS[1] sc:up:<name>
-- ARGV[1] name  ARGV[2] sealed key  ARGV[3] fingerprint  ARGV[4] master check
-- Bumping ver makes every proxy's next call on a key of this upstream
-- (call.lua compares versions) fetch and use the new key.  Emits
-- upstream.rotated (its fingerprint is re_...last4, never the key).
--#include "lib/time.lua"
--#include "lib/events.lua"
local mc = redis.call('HGET', 'sc:meta', 'master_check')
if mc and mc ~= ARGV[4] then
  return redis.error_reply('ERR_MASTER_MISMATCH this master key is not the one this Redis was set up with')
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('ERR_NO_UPSTREAM no upstream named ' .. ARGV[1])
end
local now = sc_now_ms()
redis.call('HSET', KEYS[1], 'sealed', ARGV[2], 'fingerprint', ARGV[3], 'rotated_at', sc_fmt(now))
local ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)
sc_emit(now, 'upstream.rotated', '', '', '',
        {upstream = ARGV[1], fingerprint = ARGV[3],
         vault_keys = redis.call('SCARD', 'sc:upkeys:' .. ARGV[1])})
return ver
