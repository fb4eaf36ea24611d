-- peer_cap.lua: the peer's check-and-INCRBY (bench/peer.lua): KEYS[1] the
-- day's counter, ARGV[1] the cap.  -1: refused, nothing counted; else the
-- count after this request.
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + 1 > tonumber(ARGV[1]) then return -1 end
local after = redis.call('INCRBY', KEYS[1], 1)
if after == 1 then redis.call('EXPIRE', KEYS[1], 172800) end
return after
