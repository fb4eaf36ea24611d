-- lib/events.lua: the one writer of events (SPEC §6).  Included with
-- --#include "lib/events.lua" (after lib/time.lua) by every script whose
-- step causes an event, so an event is written in the same atomic step as
-- the change it reports, and its deliveries are queued with it: nothing
-- is lost if the process that ran the script dies right after.
--
-- Schema (store/events.h documents the same, for the C side):
--   sc:events          stream, one entry an event, trimmed to 30 days
--                      (MINID): fields type, key (key id or ""), family,
--                      at (Redis ms), data (a JSON object: never a key
--                      value, a real key or an email body)
--   sc:webhooks        set of webhook ids (wh_...)
--   sc:wh:<id>         hash: url, events (comma-joined types, "" = all),
--                      key (a key id: that key's family only, "" = all),
--                      sealed (the signing secret, sealed like real keys),
--                      created_at
--   sc:whq             zset of due deliveries "<event id>|<target>" by the
--                      Redis ms of their next attempt; target: a webhook id,
--                      or "notice" (the owner's email, SPEC §6)
--   sc:evs:<event id>  hash: per target "<state>|<attempts>|<next_at>|
--                      <last status>|<last_at>|<first_at>", state pending,
--                      delivered or failed; expires with the stream
--   sc:notice          exists while a sendcapd with SENDCAP_NOTICE_FROM and
--                      SENDCAP_NOTICE_UPSTREAM runs (it refreshes it): only
--                      then are owner notices queued
local SC_EVENT_KEEP_MS = 30 * 86400000
local SC_NOTICE_TYPES = {['key.issued'] = true, ['key.rotated'] = true, ['key.revoked'] = true,
                         ['key.expiring'] = true, ['key.cap_reached'] = true,
                         ['key.rotation_due'] = true}

local function sc_csv_has(list, item)
  for v in string.gmatch(list, '[^,]+') do
    if v == item then return true end
  end
  return false
end

-- Append an event and queue its deliveries: one per webhook whose filters
-- take it, and the owner's notice.  data is a Lua table (JSON object);
-- key_id/family/owner "" for events of no key.  hold_ms > 0 queues the
-- deliveries leased to the caller for that long (it delivers them itself
-- at once, as sendcapd does with key.cap_reached before its 429; if it
-- dies, they fall due when the lease ends).  only (optional): queue it for
-- that one webhook and nothing else (`sendcap webhook test`).  Returns the
-- event id.
local function sc_emit(now, etype, key_id, family, owner, data, hold_ms, only)
  local due = now + (hold_ms or 0)
  if key_id ~= '' then data['key_id'] = key_id end
  local eid = redis.call('XADD', 'sc:events', 'MINID', '~', sc_fmt(now - SC_EVENT_KEEP_MS), '*',
                         'type', etype, 'key', key_id, 'family', family, 'at', sc_fmt(now),
                         'data', cjson.encode(data))
  local st = 'sc:evs:' .. eid
  local pending = 'pending|0|' .. sc_fmt(now) .. '||0|' .. sc_fmt(now)
  local queued = false
  for _, wid in ipairs(redis.call('SMEMBERS', 'sc:webhooks')) do
    local w = redis.call('HMGET', 'sc:wh:' .. wid, 'events', 'key', 'family')
    if w[1] and (only == wid or (not only and (w[1] == '' or sc_csv_has(w[1], etype)) and
       (not w[2] or w[2] == '' or (family ~= '' and w[3] == family)))) then
      redis.call('ZADD', 'sc:whq', due, eid .. '|' .. wid)
      redis.call('HSET', st, wid, pending)
      queued = true
    end
  end
  if not only and SC_NOTICE_TYPES[etype] and owner and owner ~= '' and
     redis.call('EXISTS', 'sc:notice') == 1 then
    redis.call('ZADD', 'sc:whq', due, eid .. '|notice')
    redis.call('HSET', st, 'notice', pending)
    queued = true
  end
  if queued then
    redis.call('PEXPIRE', st, SC_EVENT_KEEP_MS)
  end
  return eid
end
