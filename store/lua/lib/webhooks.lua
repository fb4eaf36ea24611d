-- lib/webhooks.lua: taking a queued delivery (SPEC §6), shared by
-- webhook_take.lua (due deliveries, by any instance) and webhook_claim.lua
-- (one event's deliveries, by the instance that holds a cap's 429 for it).
-- Included after lib/time.lua.  The schema is lib/events.lua's.
--
-- A delivery is taken by re-scoring its sc:whq member to now + lease: no
-- other instance sees it due until the lease runs out, and the score is the
-- taker's token, so webhook_done.lua records an outcome only while the
-- lease is still the taker's.  A taker that dies simply lets it fall due.

local function sc_wh_split(m)
  local bar = string.find(m, '|', 1, true)
  if not bar then return nil end
  return string.sub(m, 1, bar - 1), string.sub(m, bar + 1)
end

-- The owner a notice goes to: the event's data.owner, else the key's record.
local function sc_wh_owner(key_id, data)
  local ok, d = pcall(cjson.decode, data)
  local owner = ''
  if ok and type(d) == 'table' and type(d['owner']) == 'string' then
    owner = d['owner']
  end
  if owner == '' and key_id ~= '' then
    local h = redis.call('GET', 'sc:id:' .. key_id)
    if h then owner = redis.call('HGET', 'sc:vk:' .. h, 'owner') or '' end
  end
  -- --owner is free text: only an address can be mailed.
  if not string.match(owner, '^[^@%s<>,]+@[^@%s<>,]+$') then return '' end
  return owner
end

-- A target's delivery state in sc:evs:<eid> (lib/events.lua), split:
-- {state, attempts, next_at, last status, last_at, first_at}; {} if none.
local function sc_wh_state(eid, target)
  local p = {}
  local cur = redis.call('HGET', 'sc:evs:' .. eid, target)
  if cur then
    for v in string.gmatch(cur .. '|', '([^|]*)|') do p[#p + 1] = v end
  end
  return p
end

-- Member m leaves the queue with its final state (delivered or failed).
local function sc_wh_finish(m, eid, target, state, attempts, status, now, first)
  redis.call('ZREM', 'sc:whq', m)
  redis.call('HSET', 'sc:evs:' .. eid, target, state .. '|' .. attempts .. '|0|' .. status .. '|' ..
             sc_fmt(now) .. '|' .. first)
end

-- Drop member m as failed, keeping its attempts: a delivery nothing can
-- ever make (a notice with no upstream to send it).
local function sc_wh_fail(m, eid, target, now)
  local p = sc_wh_state(eid, target)
  if p[1] then
    sc_wh_finish(m, eid, target, 'failed', p[2] or '0', p[4] or '', now, p[6] or sc_fmt(now))
  else
    redis.call('ZREM', 'sc:whq', m)
  end
  return nil
end

-- Lease member m to the caller for lease ms and return what delivering it
-- needs: {member, event id, target, lease score, type, key, at, data, url,
-- sealed, owner, state}; url "" for a notice, whose sealed is the notice
-- upstream's real key (nup: that upstream's name, "" when this instance
-- sends no notices: it then leaves notices alone).  A delivery whose
-- webhook was removed, or whose event was trimmed away, is dropped.
-- Returns nil when there is nothing to deliver.
local function sc_wh_lease(m, now, lease, nup)
  local eid, target = sc_wh_split(m)
  if not eid then
    redis.call('ZREM', 'sc:whq', m)
    return nil
  end
  local url, sealed = '', nil
  if target == 'notice' then
    -- A notice nothing will send must leave the queue: left due, such
    -- notices pile up first in every take's window and starve the webhooks.
    -- No instance sends notices (sc:notice lapsed an hour after the last
    -- one stopped), or the notice upstream was removed: failed.
    if nup == '' then
      if redis.call('EXISTS', 'sc:notice') == 0 then return sc_wh_fail(m, eid, target, now) end
      return nil -- an instance that sends notices takes it
    end
    sealed = redis.call('HGET', 'sc:up:' .. nup, 'sealed')
    if not sealed then return sc_wh_fail(m, eid, target, now) end
  else
    local w = redis.call('HMGET', 'sc:wh:' .. target, 'url', 'sealed')
    if not w[1] or not w[2] then
      redis.call('ZREM', 'sc:whq', m)
      redis.call('HDEL', 'sc:evs:' .. eid, target)
      return nil
    end
    url, sealed = w[1], w[2]
  end
  local st = redis.call('HGET', 'sc:evs:' .. eid, target)
  local ev = redis.call('XRANGE', 'sc:events', eid, eid)
  if not st or #ev == 0 then
    redis.call('ZREM', 'sc:whq', m)
    return nil
  end
  local f = {}
  for i = 1, #ev[1][2], 2 do f[ev[1][2][i]] = ev[1][2][i + 1] end
  local owner = ''
  if target == 'notice' then
    owner = sc_wh_owner(f['key'] or '', f['data'] or '{}')
    if owner == '' then return sc_wh_fail(m, eid, target, now) end -- no address to mail
  end
  local score = now + lease
  redis.call('ZADD', 'sc:whq', 'XX', score, m)
  return {m, eid, target, sc_fmt(score), f['type'] or '', f['key'] or '', f['at'] or '0',
          f['data'] or '{}', url, sealed, owner, st}
end
