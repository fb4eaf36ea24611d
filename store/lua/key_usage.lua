-- key_usage.lua: what a key family has used, for `key list` and `key show`.
--
-- KEYS[1] sc:cnt:<family>:<UTC day>   KEYS[2] sc:mcnt:<family>:<YYYYMM>
-- KEYS[3] sc:rate:<family>
-- ARGV[1] the rate window in ms (0: the key has no rate)
-- ARGV[2] now (ms): the Redis TIME the caller named the day and month keys
--         by, so the three counts of one read are of one instant
-- Read-only.  The rate window is counted as call.lua counts it: entries
-- newer than now - window (older ones are what call.lua removes before
-- counting).  Replies {daily, monthly, rate}.
local daily = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local monthly = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local rate = 0
local window = tonumber(ARGV[1]) or 0
if window > 0 then
  local now = tonumber(ARGV[2])
  -- ZCOUNT counts in the server; a window may hold up to a million members
  rate = redis.call('ZCOUNT', KEYS[3], '(' .. string.format('%d', now - window), '+inf')
end
return {daily, monthly, rate}
