-- lib/key.lua: the key record a CLI change acts on (key update, key
-- rotate), with the checks they share: it exists, is not revoked and has
-- not expired by Redis's clock.  Included after lib/time.lua.

-- Returns rec (field -> value), the HGETALL reply and now (Redis ms); or
-- nil and the error reply to return: ERR_NO_KEY, ERR_REVOKED, ERR_EXPIRED.
local function sc_key_live(k)
  local old = redis.call('HGETALL', k)
  if #old == 0 then
    return nil, redis.error_reply('ERR_NO_KEY no such key')
  end
  local rec = {}
  for i = 1, #old, 2 do rec[old[i]] = old[i + 1] end
  if (tonumber(rec['revoked_at']) or 0) > 0 then
    return nil, redis.error_reply('ERR_REVOKED the key is revoked')
  end
  local now = sc_now_ms()
  local exp = tonumber(rec['expires_at']) or 0
  if exp > 0 and now >= exp then
    return nil, redis.error_reply('ERR_EXPIRED the key has expired')
  end
  return rec, old, now
end
