-- webhook_done.lua: record a delivery attempt's outcome (SPEC §6), only if
-- the caller still holds the lease (the member's score is the one its take
-- set): an attempt that outlived its lease was retaken by another instance,
-- whose outcome counts.
--
-- ARGV[1] member "<event id>|<target>", ARGV[2] the lease score, ARGV[3]
-- "1" delivered (a 2xx) or "0", ARGV[4] HTTP status ("" : no answer),
-- ARGV[5] retry base ms, ARGV[6] jitter in permille (800..1200, drawn by the
-- caller: scripts must be deterministic), ARGV[7] most delay ms between
-- attempts, ARGV[8] give up after this many ms since the first queueing.
-- A failure is retried after min(base * 2^(attempts-1), most) * jitter, or
-- marked failed once the next attempt would pass the give-up time.
-- Replies 1 when recorded, 0 when the lease was lost.
--#include "lib/time.lua"
--#include "lib/webhooks.lua"
local now = sc_now_ms()
local m = ARGV[1]
local score = redis.call('ZSCORE', 'sc:whq', m)
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
local eid, target = sc_wh_split(m)
local p = sc_wh_state(eid, target)
local attempts = (tonumber(p[2]) or 0) + 1
local first = tonumber(p[6]) or now
local status = ARGV[4]
if ARGV[3] == '1' then
  sc_wh_finish(m, eid, target, 'delivered', attempts, status, now, sc_fmt(first))
  return 1
end
local delay = tonumber(ARGV[5]) * 2 ^ math.min(attempts - 1, 30)
delay = math.floor(math.min(delay, tonumber(ARGV[7])) * tonumber(ARGV[6]) / 1000)
local nxt = now + delay
if nxt - first > tonumber(ARGV[8]) then
  sc_wh_finish(m, eid, target, 'failed', attempts, status, now, sc_fmt(first))
  return 1
end
redis.call('ZADD', 'sc:whq', 'XX', nxt, m)
redis.call('HSET', 'sc:evs:' .. eid, target, 'pending|' .. attempts .. '|' .. sc_fmt(nxt) .. '|' .. status .. '|' ..
           sc_fmt(now) .. '|' .. sc_fmt(first))
return 1
