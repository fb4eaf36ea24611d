-- key_update.lua: change a vault key's policy in place (`sendcap key update`).
--
-- KEYS[1] sc:vk:<hash>
-- ARGV[1] expires_at_ms (absolute; "" = unchanged)  ARGV[2] expires_in_ms (> 0: from now)
-- ARGV[3] comma-joined fields to remove ("" = none: a rate of none has no window)
-- ARGV[4..] field, value pairs to set
-- Only policy fields are accepted: id, hash, family, upstream, counters'
-- names and times are the record's identity and stay as they are, so the
-- key keeps its value, its counters (per family) and its emails.
-- The record is rewritten whole (DEL + HSET, not HDEL: the deployed ACL
-- allows only the commands the other scripts use) and gen is bumped, so
-- call.lua answers "stale" and every proxy re-reads it on its next call.
-- Replies {before, after}, each as HGETALL, or an error: ERR_NO_KEY,
-- ERR_REVOKED, ERR_EXPIRED (a retired key is not revived by an update),
-- ERR_FIELD (a field that is not policy).  Emits key.updated with the
-- changed policy fields, old and new (no field of a policy is a secret).
--#include "lib/time.lua"
--#include "lib/events.lua"
--#include "lib/key.lua"
local rec, old, now = sc_key_live(KEYS[1])
if not rec then return old end
local policy = {name = true, owner = true, agent_run_id = true, scope = true, daily_cap = true,
                monthly_cap = true, per_recipient_cap = true, rate_limit = true,
                rate_window_ms = true, dedupe_window_ms = true, alert_at = true,
                from_domains = true, to_domains = true, rotate_after_ms = true,
                oversight = true, hold_ttl_ms = true}
for f in string.gmatch(ARGV[3], '[^,]+') do
  if not policy[f] then
    return redis.error_reply('ERR_FIELD not a policy field: ' .. f)
  end
  rec[f] = nil
end
for i = 4, #ARGV, 2 do
  if not policy[ARGV[i]] then
    return redis.error_reply('ERR_FIELD not a policy field: ' .. ARGV[i])
  end
  rec[ARGV[i]] = ARGV[i + 1]
end
if tonumber(ARGV[2]) > 0 then
  rec['expires_at'] = string.format('%d', now + tonumber(ARGV[2]))
elseif ARGV[1] ~= '' then
  rec['expires_at'] = ARGV[1]
end
rec['gen'] = sc_next_gen(rec['gen'], now)
local fields = {}
for k, v in pairs(rec) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
local before = {}
for i = 1, #old, 2 do before[old[i]] = old[i + 1] end
local changed = {}
local any = false
for f in pairs(policy) do
  if before[f] ~= rec[f] then
    changed[f] = {old = before[f] or cjson.null, new = rec[f] or cjson.null}
    any = true
  end
end
if before['expires_at'] ~= rec['expires_at'] then
  changed['expires_at'] = {old = before['expires_at'], new = rec['expires_at']}
  any = true
end
if any then
  sc_emit(now, 'key.updated', rec['id'], rec['family'] or rec['id'], rec['owner'] or '',
          {name = rec['name'] or '', owner = rec['owner'] or '', changed = changed})
end
return {old, redis.call('HGETALL', KEYS[1])}
