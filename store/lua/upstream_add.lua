-- upstream_add.lua: store a new upstream (a sealed real Resend key).
--
-- KEYS[1] sc:up:<name>
-- ARGV[1] name  ARGV[2] sealed key  ARGV[3] fingerprint  ARGV[4] master check
-- The first upstream pins the master key's check value in sc:meta; a later
-- call with another master key is refused, so one Redis never holds secrets
-- sealed under two master keys.
local mc = redis.call('HGET', 'sc:meta', 'master_check')
if mc and mc ~= ARGV[4] then
  return redis.error_reply('ERR_MASTER_MISMATCH this master key is not the one this Redis was set up with')
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ERR_EXISTS upstream ' .. ARGV[1] .. ' already exists (use upstream rotate)')
end
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', 'sc:meta', 'master_check', ARGV[4], 'schema', '1')
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'sealed', ARGV[2], 'fingerprint', ARGV[3],
           'created_at', now, 'rotated_at', '0', 'ver', '1')
redis.call('SADD', 'sc:upstreams', ARGV[1])
return now
