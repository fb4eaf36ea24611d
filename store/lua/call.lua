-- call.lua: the one round trip the proxy makes before it answers or
-- forwards a call with a vault key.
--
-- KEYS[1]  sc:vk:<sha256 of the vault key>
-- ARGV[1]  generation of the key record the proxy has cached ("" if none)
-- ARGV[2]  version of the upstream record the proxy has cached ("" if none)
-- ARGV[3]  "forward": a call that is not a send; "send": reserve ARGV[4]
--          sends; "deny": the proxy will refuse the call, only check status;
--          "whoami": GET /sendcap/v1/whoami, answered with the key's usage
-- ARGV[4]  sends to reserve (recipients: to + cc + bcc), for "send"
-- ARGV[5]  email id the call reads or changes ("" if none): a key of the
--          sending scope may only touch emails its family sent
-- ARGV[6]  request id of the call (its rate slot's member; for "send", its
--          intent and records)
-- ARGV[7]  the call log's retention (seconds): how long an intent may wait
--          for its final record, and gated-new-recipients' memory
-- ARGV[8]  the intent: the call's packed record (see store/audit.h); ""
--          writes none
-- ARGV[9]  sha256 hex of the send's Idempotency-Key ("" if none)
-- ARGV[10] sha256 hex of the send's body
-- ARGV[11] the send's messages (batch elements; "" for other modes): the
--          sha256 hex of each one's canonical send facts
--          (policy_send_canon), back to back
-- ARGV[12] the sha256 hex of every to/cc/bcc address, lower-cased (an
--          address twice is there twice), back to back, message by message
-- ARGV[13] for "deny": why the proxy refuses the call, when it is a rule a
--          confused or prompt-injected agent breaks (from_domain,
--          from_required, to_domain, scope, header): key.denied; "" for a
--          malformed body (no event)
-- ARGV[14] how long (ms) a key.cap_reached's deliveries stay leased to the
--          calling instance, which delivers them before its 429
-- ARGV[15] for "send" with a gated or gated-new-recipients key (SPEC §7):
--          the held id (held_…) the send is kept under if it is held; ""
--          when the proxy's record had no such mode
-- ARGV[16] ... and the send sealed (store/held.h: AES-256-GCM under the
--          master key, aad "sendcap/held/<held id>"): the only copy of
--          its body Redis ever holds
-- ARGV[17] the send's from domain(s), comma-joined (events)
-- ARGV[18] the send's route name (emails.send / emails.batch)
-- ARGV[19] most held sends of a family waiting for a person, ARGV[20] most
--          bytes of their sealed bodies: past either, a send that would be
--          held is refused, {"heldfull", id, waiting, bytes, now_ms}
-- ARGV[21] the proxy's view of the record whose gen is ARGV[1]
--          (store_call_key_view): "id|upstream|family|daily_cap|scope|
--          monthly_cap|per_recipient_cap|rate_limit|rate_window_ms|
--          dedupe_window_ms|oversight|", "" for a control the key lacks; ""
--          if none.  Used only while that gen is the record's: every change
--          of these fields bumps gen (key update, rotate, revoke)
--
-- Oversight (SPEC §7; the record's oversight field, absent = auto): after
-- every check and the reservation, a send of a gated key, or of a
-- gated-new-recipients key with an address hash (ARGV[12], always sent for
-- these keys) not in sc:rcpts:<family>, is held instead of forwarded:
-- sc:held:<held id> (store/held.h) and sc:held:pending, send.held, reply
-- "held".  A forwarded send of a gated-new-recipients key adds its address
-- hashes to sc:rcpts:<family> (zset by ms, trimmed to ARGV[7], the call
-- log's retention).  A held send sets no idempotent-replay record, and a
-- gated key never replays (every send waits for a person).  A send of a
-- monitored key is forwarded and emits send.monitored.  GET of a held_ id
-- (ARGV[5]) is answered here from its record, for its family only:
--   {"heldget", id, now_ms, status, email_id, error}
--
-- Events (SPEC §6; written by lib/events.lua's sc_emit in this same step,
-- so an event exists exactly when its cause does):
--   key.usage_threshold  a reservation took the day's (month's) count from
--        below p % of the daily (monthly) cap to at least p %, p one of the
--        key's alert_at (absent field: 80,100; "": none); once per
--        threshold per window: marker sc:evm:<family>:<d|m>:<day number|
--        YYYYMM>:<p> (SET NX, expiring with the window)
--   key.cap_reached      the first send of a window the daily (monthly) cap
--        refuses: marker sc:evm:<family>:<d|m>:<window>:cap; emitted with
--        hold_ms = ARGV[14]
--   key.rate_limited, key.denied  at most one per key family per minute,
--        with count = the refusals since the last one emitted (this one
--        included): sc:evx:<family> hash, fields <rate|denied>_at (ms of the
--        last emitted) and <rate|denied>_n (refusals since), kept a day
--        after the last refusal.  key.denied also for not_own (reason
--        not_own_email).
--
-- Agent-safety controls (SPEC §5; key names in store/keys.h),
-- read from the record: rate_limit/rate_window_ms (sc:rate:<family>, a
-- sliding-window log: a zset of request ids by Redis ms, exact), then for
-- sends daily_cap, monthly_cap (sc:mcnt:<family>:<YYYYMM>),
-- per_recipient_cap (sc:rcnt:<family>:<day>:<address hash>) and
-- dedupe_window_ms (sc:dd:<family>:<facts hash> = request id; absent field:
-- 600000, "0": off).  A call refused by any of them takes nothing: the
-- caps are checked on the counts their INCRBYs answer and a refused call's
-- increments are undone in the same atomic step; a call refused by the proxy
-- ("deny") or by a cap takes no rate slot.  An idempotent replay is
-- checked before the dedupe window: it is not a duplicate.
--
-- By Redis's clock, in this order: the key exists, is not revoked, has not
-- expired; the proxy's cached record and sealed real key are current;
-- ownership; then the daily counter of the key's family
-- (sc:cnt:<family>:<UTC day number>) is increased by the sends only if the
-- result stays within daily_cap (decided here only; it_cap_lua_edges tests the edges),
-- and the audit intent is written in the same step: an allowed send is on
-- record before it is forwarded.  The first write is the day counter's
-- INCRBY, so a Redis out of memory refuses the call before anything is
-- counted or recorded.
-- Replies:
--   {"unknown"}
--   {"revoked", id, revoked_at_ms, now_ms}
--   {"expired", id, expires_at_ms, now_ms}
--   {"no_upstream", id, upstream}
--   {"stale", {key record as HGETALL}, {upstream ver, sealed}}   nothing written
--   {"not_own", id}
--   {"cap", id, used, cap, now_ms, event_id}                    nothing reserved
--   {"mcap", id, used, cap, now_ms, reset_ms, event_id}         monthly cap;
--        event_id: the key.cap_reached this call emitted, "" if none
--   {"rcap", id, position, used, cap, now_ms}  per-recipient cap; position:
--        1-based among the address hashes of ARGV
--   {"rate", id, limit, window_ms, used, reset_ms, now_ms}      nothing taken
--   {"dup", id, message (0-based), earlier value, earlier message or -1}
--        earlier value "<request id>[:<email id>]"; earlier message: an
--        element of the same batch it repeats
--   {"who", id, now_ms, name, expires_at, daily_cap, daily_used,
--        monthly_cap, monthly_used, month_reset_ms, per_recipient_cap,
--        rate_limit, rate_window_ms, rate_used, rate_reset_ms,
--        dedupe_window_ms, alert_at}          "" for a control the key lacks
--        (alert_at absent from the record: the default 80,100)
--   {"held", ...as "ok"}  the send was reserved and held, not to be forwarded
--        ("ok" of a send and "held" come as one string, the elements
--        joined by "\n", which none of them can hold)
--   {"heldfull", id, waiting, bytes, now_ms}  it would be held, but its
--        family has too many held sends waiting (ARGV[19], ARGV[20]);
--        nothing reserved
--   {"ok", id, now_ms, counter_key, used_after, idem_key, idem_value,
--        monthly_key, remaining, rcpt_prefix, dedupe_prefix}
--        monthly_key "" when nothing was reserved (a replay); remaining: the
--        tightest of the daily and monthly caps after this call ("" if the
--        key has neither); rcpt_prefix / dedupe_prefix: where the
--        per-recipient counters / dedupe records of this send are ("" when
--        none was taken), for its refund
--        last_used_at set; counter_key "" for an idempotent replay (nothing
--        reserved); idem_key/idem_value: the replay record this call set
--        ("" if none), which the settlement that gives the reservation back
--        deletes (log_write.lua) if it still holds idem_value
--
-- Idempotent replays (SPEC §3): sc:idem:<family>:<sha256 of the key> holds
-- "<sha256 of the body>:<request id>" of the send that reserved under that
-- key, for 24 h; its settlement (log_write.lua) deletes it when all was
-- given back, or confirms it (":ok" appended) when the reservation was
-- kept.  A send repeating key and body of a confirmed record reserves
-- nothing (its intent is still written) and is forwarded, so Resend
-- replays.  While the first is still in flight a repeat reserves like any
-- send (the counter may run ahead, never behind: a repeat cannot go out
-- unreserved if the first is then given back).  Another body under the key
-- reserves as a new send and leaves the record to the send that set it.
--#include "lib/time.lua"
--#include "lib/events.lua"
local now = sc_now_ms()
local nows = sc_fmt(now)

-- The record: with the proxy's cached view current (its gen is the
-- record's), the fields a call needs come from ARGV[21] and Redis is asked
-- only for what changes without a new gen (revoked_at and expires_at are
-- bumped with it, but are read here anyway: they are the checks), and the
-- rarely used text fields are read when an event or hold needs them
-- (cold()).  Indices as the record's fields were always numbered here:
-- 1 id, 2 gen, 3 revoked_at, 4 expires_at, 5 upstream, 6 family,
-- 7 daily_cap, 8 scope, 9 last_used_at, 10 monthly_cap,
-- 11 per_recipient_cap, 12 rate_limit, 13 rate_window_ms,
-- 14 dedupe_window_ms, 18 oversight ("" for a control the key lacks).
local live = redis.call('HMGET', KEYS[1], 'id', 'gen', 'revoked_at', 'expires_at', 'last_used_at')
local id = live[1]
if not id then
  return {'unknown'}
end
if (tonumber(live[3]) or 0) > 0 then
  return {'revoked', id, live[3], nows}
end
local expires = tonumber(live[4]) or 0
if expires > 0 and now >= expires then
  return {'expired', id, live[4], nows}
end
local rec = nil
if live[2] == ARGV[1] and ARGV[21] and ARGV[21] ~= '' then
  -- One match for the eleven fields (a gmatch loop costs three times it).
  local v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11 = string.match(ARGV[21],
    '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|$')
  if v11 then
    rec = {v1, live[2], live[3], live[4], v2, v3, v4 ~= '' and v4 or nil, v5, live[5],
           v6 ~= '' and v6 or nil, v7 ~= '' and v7 or nil, v8 ~= '' and v8 or nil,
           v9 ~= '' and v9 or nil, v10, nil, nil, nil, v11}
  end
end
local up = 'sc:up:' .. (rec and rec[5] or redis.call('HGET', KEYS[1], 'upstream') or '')
local upv = redis.call('HGET', up, 'ver')
if not upv then
  return {'no_upstream', id, string.sub(up, 7)}
end
if not rec or upv ~= ARGV[2] then
  return {'stale', redis.call('HGETALL', KEYS[1]), redis.call('HMGET', up, 'ver', 'sealed')}
end
-- name, alert_at, owner, hold_ttl_ms: read once, when needed.
local cold_rec = nil
local function cold()
  if not cold_rec then
    cold_rec = redis.call('HMGET', KEYS[1], 'name', 'alert_at', 'owner', 'hold_ttl_ms')
  end
  return cold_rec
end
-- last_used_at is kept to the minute: one write a minute per key, not one
-- a call (it only feeds `key list`'s stale flag).
if now - (tonumber(rec[9]) or 0) >= 60000 then
  redis.call('HSET', KEYS[1], 'last_used_at', nows)
end
local family = rec[6] or id
local fmt = sc_fmt
local function owner() return cold()[3] or '' end
local function ev_data(d)
  d.name = cold()[1] or ''
  d.owner = owner()
  return d
end
-- key.rate_limited / key.denied (what: "rate" / "denied"): one a minute
-- per family, with the refusals counted since the last one emitted.
local function ev_refused(etype, what, d)
  local k = 'sc:evx:' .. family
  local n = redis.call('HINCRBY', k, what .. '_n', 1)
  if now - (tonumber(redis.call('HGET', k, what .. '_at')) or 0) >= 60000 then
    d.count = n
    sc_emit(now, etype, id, family, owner(), ev_data(d), 0)
    redis.call('HSET', k, what .. '_at', nows, what .. '_n', '0')
  end
  redis.call('PEXPIRE', k, 86400000)
end
if ARGV[3] == 'deny' then
  if ARGV[13] and ARGV[13] ~= '' then
    ev_refused('key.denied', 'denied', {reason = ARGV[13]})
  end
  return {'ok', id, nows, '', '0'}
end
local oversight = rec[18] or 'auto'
local held_get = nil
if ARGV[5] == '' then
  -- most calls (every send) name no email: nothing to check
elseif string.sub(ARGV[5], 1, 5) == 'held_' then
  -- a held send (SPEC §7): answered from its record, to its family only
  held_get = redis.call('HMGET', 'sc:held:' .. ARGV[5], 'family', 'status', 'email_id', 'error')
  if held_get[1] ~= family then
    ev_refused('key.denied', 'denied', {reason = 'not_own_email'})
    return {'not_own', id}
  end
elseif ARGV[5] ~= '' and rec[8] ~= 'full' then
  if redis.call('GET', 'sc:em:' .. ARGV[5]) ~= family then
    ev_refused('key.denied', 'denied', {reason = 'not_own_email'})
    return {'not_own', id}
  end
end
local function next_month(y, m)
  if m == 12 then return y + 1, 1 end
  return y, m + 1
end

-- The rate window (every mode but "deny"): a sliding-window log, counted
-- over (now - window, now] by ZCOUNT (read-only).  Entries older than the
-- window are trimmed by take_rate about one send in 20, not on
-- every call: a trim is a write Redis appends to its AOF, and the count
-- does not depend on it.
local rlim, rwin = tonumber(rec[12]), tonumber(rec[13])
local rk, rlo = nil, nil
local rused = 0
local function oldest_in_window()
  local o = redis.call('ZRANGEBYSCORE', rk, rlo, '+inf', 'WITHSCORES', 'LIMIT', '0', '1')
  return (tonumber(o[2]) or now) + rwin
end
if rlim and rwin and rwin > 0 then
  rk = 'sc:rate:' .. family
  rlo = '(' .. fmt(now - rwin)
  rused = redis.call('ZCOUNT', rk, rlo, '+inf')
  if rused >= rlim then
    local reset = oldest_in_window()
    ev_refused('key.rate_limited', 'rate', {limit = rlim, window_ms = rwin})
    return {'rate', id, fmt(rlim), fmt(rwin), fmt(rused), fmt(reset), nows}
  end
end
-- Numbers given to redis.call are written out by Redis with "%.17g" (about
-- 2,500 instructions each, most of a cheap command's cost): the hot path
-- passes the strings it already holds (nows, the record's fields, ARGV).
local function take_rate()
  if rk then
    redis.call('ZADD', rk, nows, ARGV[6])
    redis.call('PEXPIRE', rk, rec[13])
    -- About one call in 20: the request id's last character is the last
    -- base62 digit of its instance's request counter, so 3 calls in every
    -- 62 an instance makes trim (not chosen by the clock, which a send
    -- loop with a fixed period could keep clear of).
    if string.byte(ARGV[6], #ARGV[6]) % 16 == 0 then
      redis.call('ZREMRANGEBYSCORE', rk, '-inf', string.sub(rlo, 2))
    end
    rused = rused + 1
  end
end

if held_get then
  take_rate()
  return {'heldget', id, nows, held_get[2] or '', held_get[3] or '', held_get[4] or ''}
end
if ARGV[3] ~= 'send' and ARGV[3] ~= 'whoami' then
  take_rate()
  return {'ok', id, nows, '', '0'}
end
local gated = oversight == 'gated' or oversight == 'gated-new-recipients'
if ARGV[3] == 'send' and gated and (ARGV[15] or '') == '' then
  -- the proxy prepared no hold: its copy predates the mode (never with the
  -- gen check above; kept so a send of a gated key can never go unheld)
  return {'stale', redis.call('HGETALL', KEYS[1]), redis.call('HMGET', up, 'ver', 'sealed')}
end

local day = math.floor(now / 86400000)
local days = fmt(day)
local y, mo = sc_civil(day)
local mcap = tonumber(rec[10])
local wmonth = string.format('%04d%02d', y, mo)
local mk = 'sc:mcnt:' .. family .. ':' .. wmonth
local ny, nm = next_month(y, mo)
local mreset = sc_days_from_civil(ny, nm) * 86400000
local ck = 'sc:cnt:' .. family .. ':' .. days
local cap = tonumber(rec[7])

if ARGV[3] == 'whoami' then
  take_rate()
  local function opt(v) return v and fmt(v) or '' end
  local dd = rec[14]
  if not dd or dd == '' then dd = '600000' end
  return {'who', id, nows, cold()[1] or '', rec[4] or '0', opt(cap),
          redis.call('GET', ck) or '0', opt(mcap), redis.call('GET', mk) or '0', fmt(mreset),
          opt(tonumber(rec[11])), opt(rlim), opt(rk and rwin), fmt(rused),
          rk and fmt(oldest_in_window()) or '', dd, cold()[2] or '80,100'}
end
local n = tonumber(ARGV[4])
local function count(k) return tonumber(redis.call('GET', k) or '0') end
local function remaining(d, m)
  local r = nil
  if cap then r = cap - d end
  if mcap and (not r or mcap - m < r) then r = mcap - m end
  if not r then return '' end
  return fmt(r < 0 and 0 or r)
end
-- The intent is one member of sc:intents, the packed record itself (unique:
-- it holds the request id), scored by time: log_write.lua removes it by the
-- same bytes, and sc:intents is trimmed to the retention there.
local function intent()
  if ARGV[8] and ARGV[8] ~= '' then
    redis.call('ZADD', 'sc:intents', nows, ARGV[8])
  end
end
local ik, iv = '', ''
if ARGV[9] and ARGV[9] ~= '' and oversight ~= 'gated' then
  local k = 'sc:idem:' .. family .. ':' .. ARGV[9]
  local prev = redis.call('GET', k)
  if prev and string.sub(prev, 1, #ARGV[10] + 1) == ARGV[10] .. ':' and
     string.sub(prev, -3) == ':ok' then
    intent()
    take_rate()
    local used = count(ck)
    return {'ok', id, nows, '', fmt(used), '', '', '', remaining(used, mcap and count(mk) or 0),
            '', ''}
  end
  if not prev then
    ik, iv = k, ARGV[10] .. ':' .. ARGV[6]
  end
end
-- The end of the day's and the month's windows, for their event markers.
local dend, mend = (day + 1) * 86400000, mreset
local function marker(win, wid, what, until_ms)
  return redis.call('SET', 'sc:evm:' .. family .. ':' .. win .. ':' .. wid .. ':' .. what, '1',
                    'NX', 'PX', math.max(until_ms - now, 1))
end
-- key.cap_reached, once per window: its id for the reply ("" if not now).
local function cap_reached(win, wid, until_ms, d)
  if not marker(win, wid, 'cap', until_ms) then return '' end
  d.requested = n
  d.resets_at = sc_iso(until_ms)
  return sc_emit(now, 'key.cap_reached', id, family, owner(), ev_data(d), tonumber(ARGV[14]) or 0)
end

-- The messages: facts hashes, and the address hashes counted per address.
local msgs = {}
for o = 1, #ARGV[11], 64 do
  msgs[#msgs + 1] = string.sub(ARGV[11], o, o + 63)
end
-- The address hashes (sent only with a per-recipient cap), counted per
-- address.
local pcap = tonumber(rec[11])
local rcnt, rorder, rfirst = {}, {}, {}
local rp = ''
if pcap then
  local pos = 0
  for o = 1, #ARGV[12], 64 do
    local r = string.sub(ARGV[12], o, o + 63)
    pos = pos + 1
    if not rcnt[r] then
      rcnt[r] = 0
      rorder[#rorder + 1] = r
      rfirst[r] = pos
    end
    rcnt[r] = rcnt[r] + 1
  end
  rp = 'sc:rcnt:' .. family .. ':' .. days .. ':'
end
-- The checks that only read come first; their refusals are answered after
-- the caps', in the order the rules have always had: cap, monthly cap,
-- per-recipient cap, duplicate, too many held.
local refused = nil
local ddws = rec[14] or ''
local ddw = tonumber(ddws)
if not ddw then ddws, ddw = '600000', 600000 end
local dp = ''
if ddw > 0 then
  dp = 'sc:dd:' .. family .. ':'
  local seen = {}
  for i, h in ipairs(msgs) do
    if seen[h] then
      refused = {'dup', id, fmt(i - 1), '', fmt(seen[h] - 1)}
      break
    end
    seen[h] = i
    local prev = redis.call('GET', dp .. h)
    if prev then
      refused = {'dup', id, fmt(i - 1), prev, '-1'}
      break
    end
  end
end

-- Held (SPEC §7)?  Decided with the checks; the reservation follows.
local hold = oversight == 'gated'
local rset = 'sc:rcpts:' .. family
if oversight == 'gated-new-recipients' and not refused then
  for o = 1, #ARGV[12], 64 do
    if not redis.call('ZSCORE', rset, string.sub(ARGV[12], o, o + 63)) then
      hold = true
      break
    end
  end
end
-- The family's held sends still waiting (sc:held:fam:<family>: n and
-- bytes of sealed bodies, lib/held.lua gives them back) are bounded
-- (ARGV[19], ARGV[20]: common/limits.h).
local hfam = 'sc:held:fam:' .. family
if hold and not refused then
  local q = redis.call('HMGET', hfam, 'n', 'bytes')
  local qn, qb = tonumber(q[1]) or 0, tonumber(q[2]) or 0
  if qn >= (tonumber(ARGV[19]) or 0) or qb + #ARGV[16] > (tonumber(ARGV[20]) or 0) then
    refused = {'heldfull', id, fmt(qn), fmt(qb), nows}
  end
end

-- The reservation: each counter is increased and its cap checked on the
-- count INCRBY answers (one command, where a GET and then an INCRBY were
-- two).  A call a cap refuses gives back what it took in this same atomic
-- step (DEL of a counter it started, DECRBY otherwise), so no client ever
-- sees it counted and a refusal reserves nothing.  The first write is an
-- INCRBY: a Redis out of memory refuses it, and with it the whole call,
-- before anything is counted.  The month is counted whether or not the key
-- has a monthly cap, so a cap set later by `key update` (and whoami, `key
-- show`) sees the whole month.  Counters this call started are kept a day
-- (the day's and the recipients') past their own, so a late refund still
-- finds them; the month's to the end of the month after.
local function back(k, by, v, nby)
  if v == nby then redis.call('DEL', k) else redis.call('DECRBY', k, by) end
end
local rby, rv = {}, {}
-- Give back the day's and month's counts (mafter nil: not taken) and the
-- first nr recipients'.
local function give_back(after, mafter, nr)
  for j = nr, 1, -1 do
    back(rp .. rorder[j], rby[j], rv[j], rcnt[rorder[j]])
  end
  if mafter then back(mk, ARGV[4], mafter, n) end
  back(ck, ARGV[4], after, n)
end
local after = redis.call('INCRBY', ck, ARGV[4])
if cap and after > cap then
  give_back(after, nil, 0)
  local used = after - n
  return {'cap', id, fmt(used), fmt(cap), nows,
          cap_reached('d', days, dend, {window = 'day', used = used, cap = cap})}
end
local mafter = redis.call('INCRBY', mk, ARGV[4])
if mcap and mafter > mcap then
  give_back(after, mafter, 0)
  local mused = mafter - n
  return {'mcap', id, fmt(mused), fmt(mcap), nows, fmt(mreset),
          cap_reached('m', wmonth, mend, {window = 'month', used = mused, cap = mcap})}
end
local nr = pcap and #rorder or 0
for j = 1, nr do
  local c = rcnt[rorder[j]]
  rby[j] = c == 1 and '1' or fmt(c)
  rv[j] = redis.call('INCRBY', rp .. rorder[j], rby[j])
  if rv[j] > pcap then
    give_back(after, mafter, j)
    return {'rcap', id, fmt(rfirst[rorder[j]]), fmt(rv[j] - c), fmt(pcap), nows}
  end
end
if refused then
  give_back(after, mafter, nr)
  return refused
end
if after == n then
  redis.call('EXPIREAT', ck, (day + 2) * 86400)
end
if mafter == n then
  local y2, m2 = next_month(ny, nm)
  redis.call('EXPIREAT', mk, sc_days_from_civil(y2, m2) * 86400)
end
for j = 1, nr do
  if rv[j] == rcnt[rorder[j]] then
    redis.call('EXPIREAT', rp .. rorder[j], (day + 2) * 86400)
  end
end
if hold then
  ik = ''
end
intent()
if ik ~= '' then
  redis.call('SET', ik, iv, 'EX', 86400)
end
if dp ~= '' then
  for _, h in ipairs(msgs) do
    redis.call('SET', dp .. h, ARGV[6], 'PX', ddws)
  end
end
take_rate()
-- key.usage_threshold: each alert percent this reservation crossed.
local function thresholds(win, wid, until_ms, a, c)
  -- The percents crossed are the integers in (lo, hi]: most sends cross
  -- none, and pay two divisions (and no read of alert_at) instead of a
  -- walk over the list.
  if c <= 0 or math.floor((a - n) * 100 / c) == math.floor(a * 100 / c) then return end
  local alerts = cold()[2] or '80,100'
  for p in string.gmatch(alerts, '%d+') do
    local t = c * tonumber(p)
    if (a - n) * 100 < t and a * 100 >= t and marker(win, wid, p, until_ms) then
      sc_emit(now, 'key.usage_threshold', id, family, owner(),
              ev_data({window = win == 'd' and 'day' or 'month', percent = tonumber(p),
                       used = a, cap = c}), 0)
    end
  end
end
if cap then thresholds('d', days, dend, after, cap) end
if mcap then thresholds('m', wmonth, mend, mafter, mcap) end
local function send_data()
  return {request_id = ARGV[6], recipients = n, from_domain = ARGV[17] or ''}
end
if hold then
  local evd = send_data()
  local hid = ARGV[15]
  local ttl = tonumber(cold()[4]) or 86400000
  redis.call('HSET', 'sc:held:' .. hid, 'key', id, 'family', family, 'status', 'pending',
             'created_at', nows, 'expires_at', fmt(now + ttl), 'request_id', ARGV[6],
             'route', ARGV[18] or '', 'sends', fmt(n), 'ck', ck, 'mk', mk, 'rp', rp,
             'rcpts', ARGV[12], 'dp', dp, 'facts', ARGV[11], 'sealed', ARGV[16],
             'upstream', rec[5], 'from_domain', ARGV[17] or '', 'size', fmt(#ARGV[16]))
  redis.call('ZADD', 'sc:held:pending', now + ttl, hid)
  redis.call('HINCRBY', hfam, 'n', '1')
  redis.call('HINCRBY', hfam, 'bytes', fmt(#ARGV[16]))
  evd.held_id = hid
  evd.expires_at = sc_iso(now + ttl)
  sc_emit(now, 'send.held', id, family, owner(), ev_data(evd), 0)
  return 'held\n' .. id .. '\n' .. nows .. '\n' .. ck .. '\n' .. fmt(after) .. '\n\n\n' .. mk ..
         '\n' .. remaining(after, mafter) .. '\n' .. rp .. '\n' .. dp
end
if oversight == 'gated-new-recipients' and #ARGV[12] > 0 then
  local keep = (tonumber(ARGV[7]) or 2592000) * 1000
  local zargs = {}
  for o = 1, #ARGV[12], 64 do
    zargs[#zargs + 1] = now
    zargs[#zargs + 1] = string.sub(ARGV[12], o, o + 63)
    if #zargs >= 512 or o + 64 > #ARGV[12] then -- unpack's stack is bounded
      redis.call('ZADD', rset, unpack(zargs))
      zargs = {}
    end
  end
  redis.call('ZREMRANGEBYSCORE', rset, '-inf', now - keep)
  redis.call('PEXPIRE', rset, keep)
elseif oversight == 'monitored' then
  sc_emit(now, 'send.monitored', id, family, owner(), ev_data(send_data()), 0)
end
-- One string, the elements joined by newlines (none can hold one): Redis
-- makes a table reply element by element (store_call_reply_parse reads both).
return 'ok\n' .. id .. '\n' .. nows .. '\n' .. ck .. '\n' .. fmt(after) .. '\n' .. ik .. '\n' .. iv ..
       '\n' .. mk .. '\n' .. remaining(after, mafter) .. '\n' .. rp .. '\n' .. dp
