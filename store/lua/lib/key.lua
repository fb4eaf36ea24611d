-- lib/key.lua: the key record a CLI change acts on (key update, key
-- rotate), with the checks they share: it exists, is not revoked and has
-- not expired by Redis's clock; and the gen every change of a record takes.
-- Included after lib/time.lua.

-- The gen a changed record takes: above the old one, and at least Redis's
-- clock in ms.  sendcapd trusts its cached copy of a record (its caps and
-- lists: call.lua's view) while the record's gen is the one it cached, so
-- two versions must never share a gen.  A counter alone would let them: a
-- change lost in a failover (replication is asynchronous) and a different
-- change made after it would both be old + 1.
local function sc_next_gen(old, now)
  local g = (tonumber(old) or 0) + 1
  if now > g then g = now end
  return string.format('%d', g)
end

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
