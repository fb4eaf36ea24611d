-- sweep.lua: one batch of the sweep for time-based events (SPEC §6), run by
-- the sendcapd that holds the sweep lease (proxy/sweep.c, store/sweep.c).
--
-- ARGV[1] the holder's token   ARGV[2] lease ms
-- ARGV[3] first rank in sc:keys (0: a new sweep)   ARGV[4] keys in the batch
-- The lease, sc:lease:sweep (the holder's token, PX the lease): a new sweep
-- takes it when it is free or already its own (its last sweep ended); every
-- batch first checks that it still holds it and extends it.  Keys join
-- sc:keys at the end (scored by creation) and never leave, so ranks are a
-- stable cursor across batches.
-- Replies {'busy'} (another instance holds the lease), {'lost'} (the lease
-- ran out and moved: stop), or {'ok', next rank (0: the sweep is done),
-- events emitted}.
--
-- Each event fires once per key and threshold because its marker, a field
-- of sc:kev:<key id>, is written in the same script as the event: a sweep
-- that stops midway (a crash, a lost lease) and the one that starts over
-- can never both fire it.  Marker fields and what re-arms them:
--   expiring      "<expires_at>|<days>": the tightest threshold fired for
--                 that expiry (a key found inside several fires only the
--                 tightest; the wider ones count as fired); a new expiry
--                 re-arms it
--   expired       the expires_at it fired for
--   stale         the last use (created_at if never used) it fired for: a
--                 key used again and then unused 30 days fires again
--   rotation_due  the rotate_after_ms it fired for: a new --rotate-after
--                 re-arms it
-- Revoked keys and keys rotated away (rotated_to) are skipped: their owners
-- already acted.
--#include "lib/time.lua"
--#include "lib/events.lua"
local DAY_MS = 86400000
local EXPIRING_DAYS = {1, 7, 14, 30} -- tightest first
local STALE_MS = 30 * DAY_MS
local ROTATE_AFTER_DEFAULT_MS = 90 * DAY_MS
-- A key that expired before anyone swept (all instances down, or a key
-- from before events existed) is reported only while its event would still
-- be in the stream; older ones are past news.
local EXPIRED_LOOKBACK_MS = SC_EVENT_KEEP_MS

-- Emit one event for key r and write its marker, in this one step.
local function fire(now, r, etype, field, value, data)
  data.name = r.name or ''
  data.owner = r.owner or ''
  sc_emit(now, etype, r.id, r.family or r.id, r.owner or '', data, 0)
  redis.call('HSET', 'sc:kev:' .. r.id, field, value)
  return 1
end

local function check_expiry(now, r, m)
  local exp = tonumber(r.expires_at) or 0
  if exp <= 0 then return 0 end
  if now >= exp then
    if m.expired == r.expires_at or now - exp > EXPIRED_LOOKBACK_MS then return 0 end
    return fire(now, r, 'key.expired', 'expired', r.expires_at, {expires_at = sc_iso(exp)})
  end
  for _, days in ipairs(EXPIRING_DAYS) do
    if exp - now <= days * DAY_MS then
      -- The expiry as the record spells it (any spelling tonumber reads),
      -- so an odd one still matches its own marker and fires once.
      local at, done = string.match(m.expiring or '', '^(.+)|(%d+)$')
      if at == r.expires_at and tonumber(done) <= days then return 0 end
      return fire(now, r, 'key.expiring', 'expiring', r.expires_at .. '|' .. days,
                  {expires_at = sc_iso(exp), days = days})
    end
  end
  return 0
end

-- Past its expiry a key can no longer be stale or due for rotation.
local function expired(now, r)
  local exp = tonumber(r.expires_at) or 0
  return exp > 0 and now >= exp
end

local function check_stale(now, r, m)
  if expired(now, r) then return 0 end
  local used = tonumber(r.last_used_at) or 0
  local since = used > 0 and used or (tonumber(r.created_at) or now)
  if now - since < STALE_MS or m.stale == sc_fmt(since) then return 0 end
  return fire(now, r, 'key.stale', 'stale', sc_fmt(since),
              {last_used_at = used > 0 and sc_iso(used) or cjson.null,
               unused_days = math.floor((now - since) / DAY_MS)})
end

local function check_rotation(now, r, m)
  if expired(now, r) then return 0 end
  local after = tonumber(r.rotate_after_ms) or ROTATE_AFTER_DEFAULT_MS
  local created = tonumber(r.created_at) or now
  if after <= 0 or now - created < after or m.rotation_due == sc_fmt(after) then return 0 end
  return fire(now, r, 'key.rotation_due', 'rotation_due', sc_fmt(after),
              {created_at = sc_iso(created), rotate_after_ms = after})
end

-- Every per-key check of the sweep, in order: the one place to add more
-- (#14's held-send expiry goes here).  A check gets Redis's time, the key
-- record and its markers, emits through fire(), and returns how many
-- events it emitted.
local CHECKS = {check_expiry, check_stale, check_rotation}

local function sweep_key(now, id)
  local hash = redis.call('GET', 'sc:id:' .. id)
  if not hash then return 0 end
  local flat = redis.call('HGETALL', 'sc:vk:' .. hash)
  if #flat == 0 then return 0 end
  local r = {}
  for i = 1, #flat, 2 do r[flat[i]] = flat[i + 1] end
  if (tonumber(r.revoked_at) or 0) > 0 or (r.rotated_to or '') ~= '' then return 0 end
  local mflat = redis.call('HGETALL', 'sc:kev:' .. id)
  local m = {}
  for i = 1, #mflat, 2 do m[mflat[i]] = mflat[i + 1] end
  local n = 0
  for _, check in ipairs(CHECKS) do n = n + check(now, r, m) end
  return n
end

local token, lease = ARGV[1], tonumber(ARGV[2])
local first, count = tonumber(ARGV[3]), tonumber(ARGV[4])
local holder = redis.call('GET', 'sc:lease:sweep')
if first == 0 then
  if holder and holder ~= token then return {'busy'} end
elseif holder ~= token then
  return {'lost'}
end
redis.call('SET', 'sc:lease:sweep', token, 'PX', lease)
local now = sc_now_ms()
local ids = redis.call('ZRANGE', 'sc:keys', first, first + count - 1)
local fired = 0
for _, id in ipairs(ids) do fired = fired + sweep_key(now, id) end
return {'ok', #ids < count and 0 or first + count, fired}
