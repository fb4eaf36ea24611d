-- call.lua: the one round trip the proxy makes before it forwards a call.
--
-- KEYS[1]  sc:vk:<sha256 of the vault key>
-- ARGV[1]  generation of the key record the proxy has cached ("" if none)
-- ARGV[2]  version of the upstream record the proxy has cached ("" if none)
--
-- Checks, by Redis's clock, that the key exists, is not revoked and has not
-- expired, and that the proxy's cached copy of the key and of its upstream's
-- sealed real key are current.  Replies:
--   {"unknown"}
--   {"revoked", id, revoked_at_ms, now_ms}
--   {"expired", id, expires_at_ms, now_ms}
--   {"no_upstream", id, upstream}
--   {"stale", {key record as HGETALL}, {upstream ver, sealed}}  -- nothing written
--   {"ok", id, now_ms}                                           -- last_used_at set
-- No cache can serve a revoked key: this runs on every call.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local rec = redis.call('HMGET', KEYS[1], 'id', 'gen', 'revoked_at', 'expires_at', 'upstream')
local id = rec[1]
if not id then
  return {'unknown'}
end
local revoked = tonumber(rec[3]) or 0
if revoked > 0 then
  return {'revoked', id, rec[3], string.format('%d', now)}
end
local expires = tonumber(rec[4]) or 0
if expires > 0 and now >= expires then
  return {'expired', id, rec[4], string.format('%d', now)}
end
local up = 'sc:up:' .. rec[5]
local upv = redis.call('HGET', up, 'ver')
if not upv then
  return {'no_upstream', id, rec[5]}
end
if rec[2] ~= ARGV[1] or upv ~= ARGV[2] then
  return {'stale', redis.call('HGETALL', KEYS[1]), redis.call('HMGET', up, 'ver', 'sealed')}
end
redis.call('HSET', KEYS[1], 'last_used_at', string.format('%d', now))
return {'ok', id, string.format('%d', now)}
