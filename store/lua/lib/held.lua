-- lib/held.lua: deciding a held send (SPEC §7), shared by held_decide.lua
-- (`sendcap approval approve|reject`) and held_expire.lua (the sweep's
-- --hold-ttl).  Included after lib/time.lua, lib/events.lua and
-- lib/refund.lua.  Schema: store/held.h.
local SC_HELD_KEEP_MS = 30 * 86400000

local function sc_held_read(hid)
  local h = redis.call('HGETALL', 'sc:held:' .. hid)
  if #h == 0 then return nil end
  local r = {}
  for i = 1, #h, 2 do r[h[i]] = h[i + 1] end
  return r
end

-- Delete a held send's sealed body, and take it off its family's waiting
-- count and bytes (call.lua bounds them), once: only the call that deletes
-- the body gives them back.
local function sc_held_drop_body(hid)
  local k = 'sc:held:' .. hid
  local f = redis.call('HMGET', k, 'family', 'size')
  if redis.call('HDEL', k, 'sealed') == 1 and f[1] then
    local q = 'sc:held:fam:' .. f[1]
    if redis.call('HINCRBY', q, 'n', '-1') <= 0 then
      redis.call('DEL', q)
    else
      redis.call('HINCRBY', q, 'bytes', '-' .. (f[2] or '0'))
    end
  end
end

-- The key's owner and name, for the events (the key may be gone).
local function sc_held_owner(r)
  local hash = redis.call('GET', 'sc:id:' .. (r.key or ''))
  if not hash then return '', '' end
  local o = redis.call('HMGET', 'sc:vk:' .. hash, 'owner', 'name')
  return o[1] or '', o[2] or ''
end

local function sc_held_event(now, etype, hid, r, extra)
  local owner, name = sc_held_owner(r)
  local d = {held_id = hid, request_id = r.request_id or '', recipients = tonumber(r.sends) or 0,
             from_domain = r.from_domain or '', name = name, owner = owner}
  for k, v in pairs(extra) do d[k] = v end
  sc_emit(now, etype, r.key or '', r.family or '', owner, d, 0)
end

-- Give back everything the held send reserved (call.lua's "held" reply
-- named it), and forget the sealed body.
local function sc_held_release(hid, r)
  local n = tonumber(r.sends) or 0
  sc_refund(r.ck or '', n)
  sc_refund(r.mk or '', n)
  sc_refund_rcpts(r.rp or '', r.rcpts or '')
  if (r.dp or '') ~= '' then
    for o = 1, #(r.facts or ''), 64 do
      sc_dedupe_settle(r.dp, string.sub(r.facts, o, o + 63), r.request_id or '')
    end
  end
  sc_held_drop_body(hid)
  redis.call('PEXPIRE', 'sc:held:' .. hid, SC_HELD_KEEP_MS)
end

-- Has the key that sent it been revoked (or is its record gone)?  A
-- revoked key's sends never go out (SPEC §3: revocation takes effect on
-- the next call), approved or not.
local function sc_held_key_revoked(r)
  local hash = redis.call('GET', 'sc:id:' .. (r.key or ''))
  if not hash then return true end
  return (tonumber(redis.call('HGET', 'sc:vk:' .. hash, 'revoked_at')) or 0) > 0
end

-- A held send whose key was revoked: rejected, its reservation given back.
local function sc_held_revoked(now, hid, r, actor)
  redis.call('ZREM', 'sc:held:pending', hid)
  redis.call('ZREM', 'sc:held:q', hid)
  redis.call('HSET', 'sc:held:' .. hid, 'status', 'rejected', 'decided_by', actor,
             'decided_at', sc_fmt(now), 'note', 'its key was revoked')
  sc_held_release(hid, r)
  sc_held_event(now, 'send.rejected', hid, r, {reason = 'revoked', decided_by = actor,
                                               note = 'its key was revoked'})
end

-- pending -> approved (queued for a forwarder), rejected or expired.
-- action: "approve" | "reject" | "expire".  Returns the new status, or
-- nil, why (the record is not pending: its status; or "not_due").  An
-- approval of a revoked key's send rejects it instead ("revoked").
local function sc_held_decide(now, hid, r, action, actor, text)
  if r.status ~= 'pending' then return nil, r.status end
  local k = 'sc:held:' .. hid
  if action == 'expire' and now < (tonumber(r.expires_at) or 0) then return nil, 'not_due' end
  if action ~= 'expire' and now >= (tonumber(r.expires_at) or 0) then action = 'expire' end
  if action == 'approve' and sc_held_key_revoked(r) then
    sc_held_revoked(now, hid, r, actor)
    return 'revoked'
  end
  redis.call('ZREM', 'sc:held:pending', hid)
  local at = sc_fmt(now)
  if action == 'approve' then
    redis.call('HSET', k, 'status', 'approved', 'decided_by', actor, 'decided_at', at,
               'note', text)
    redis.call('ZADD', 'sc:held:q', now, hid)
    sc_held_event(now, 'send.approved', hid, r, {decided_by = actor})
    return 'approved'
  end
  local st = action == 'reject' and 'rejected' or 'expired'
  redis.call('HSET', k, 'status', st, 'decided_by', actor, 'decided_at', at, 'note', text)
  sc_held_release(hid, r)
  sc_held_event(now, 'send.rejected', hid, r,
                {reason = st == 'rejected' and 'rejected' or 'expired', decided_by = actor,
                 note = text})
  return st
end
