-- key_usage.lua: what a key family has used, for `key list` and `key show`.
--
-- KEYS[1] sc:cnt:<family>:<UTC day>   KEYS[2] sc:mcnt:<family>:<YYYYMM>
-- KEYS[3] sc:rate:<family>
-- ARGV[1] the rate window in ms (0: the key has no rate)
-- Read-only.  The rate window is counted by Redis's clock, as call.lua counts
-- it: entries newer than now - window (older ones are what call.lua removes
-- before counting).  Replies {daily, monthly, rate}.
local daily = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local monthly = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local rate = 0
local window = tonumber(ARGV[1]) or 0
if window > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  rate = #redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. string.format('%d', now - window), '+inf')
end
return {daily, monthly, rate}
