-- upstream_remove.lua: delete an upstream.
--
-- KEYS[1] sc:up:<name>  KEYS[2] sc:upkeys:<name>
-- ARGV[1] name  ARGV[2] "1" to force
-- Without force, refuses while vault keys that are not revoked use it and
-- replies {0, count}.  With force, revokes those keys first (they could not
-- work without it) and replies {1, revoked_count}.
--#include "lib/time.lua"
--#include "lib/key.lua"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('ERR_NO_UPSTREAM no upstream named ' .. ARGV[1])
end
local ids = redis.call('SMEMBERS', KEYS[2])
local live = {}
for _, id in ipairs(ids) do
  local h = redis.call('GET', 'sc:id:' .. id)
  if h then
    local r = tonumber(redis.call('HGET', 'sc:vk:' .. h, 'revoked_at')) or 0
    if r == 0 then
      live[#live + 1] = h
    end
  end
end
if #live > 0 and ARGV[2] ~= '1' then
  return {0, #live}
end
local nowms = sc_now_ms()
local now = sc_fmt(nowms)
for _, h in ipairs(live) do
  local k = 'sc:vk:' .. h
  redis.call('HSET', k, 'revoked_at', now, 'gen', sc_next_gen(redis.call('HGET', k, 'gen'), nowms))
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', 'sc:upstreams', ARGV[1])
return {1, #live}
