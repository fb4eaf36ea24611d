-- log_write.lua: append sealed call records to the log, with their
-- indexes, and settle the sends they record: one script after the answers.
--
-- KEYS[1]  sc:log
-- ARGV     one or more record blocks, back to back (the daemon sends the
--          records that finished in one loop turn together), each:
--   +0  writer id     +1 seq        +2 trim: MINID cutoff (ms)
--   +3  the intent to remove: its packed record, the sc:intents member
--       call.lua wrote ("" if none)
--   +4  key id        +5 agent_run_id   +6 claimed run id
--   +7  record time (ms, the index score)
--   +8  sends to give back (a send Resend clearly did not accept)
--   +9  the counter call.lua reserved on ("" if none)
--   +10 the key family that sent   +11 email owner TTL (s)
--   +12 m, then +13 .. +12+m the Resend email ids returned
--   +13+m the record's r (packed), +14+m its prev, +15+m its mac: the
--         stream entry is r, w (+0), seq (+1), prev, mac (the field names
--         are this script's, not arguments: each argument costs Redis a
--         Lua string)
--   +16+m the idempotent-replay record call.lua set for this send ("" if
--         none), changed only if it still holds +17+m
--   +17+m its value
--   +18+m "1": the send kept its reservation, the record is confirmed
--         ("<value>:ok") and lets an identical repeat replay; "0": all of it
--         was given back, the record is deleted and a repeat reserves anew
--   +19+m the month's counter call.lua reserved on ("" if none): +8 is
--         given back off it too
--   +20+m per-recipient counter prefix ("" if none), +21+m the sha256 hex of
--         each address given back (64 each, back to back): -1 per occurrence
--   +22+m dedupe record prefix ("" if none), +23+m comma-joined per
--         message: "<facts hash>" (not sent: deleted, a retry may go) or
--         "<facts hash>:<email id>" (Resend accepted it: the id is appended)
--   +24+m the request id those records must still hold to be changed
--   +25+m usage: "<calls> <emails sent> <expire at (s), 0: never>
--         <decision>:<reason>" added to the record's UTC hour in
--         sc:uht:<hour> (all calls) and, for a key_ id, sc:uhk:<key>:<hour>
--         (hashes: field "<decision>:<reason>" += calls, "sent" += emails),
--         the per-hour index `sendcap usage` reads; "" counts nothing
-- A record whose seq its writer already wrote (bit set in
-- sc:logbits:<writer>) is a re-send after a lost reply: neither it nor its
-- settlement is applied twice.  Index entries and intent removals of the
-- block are written together (one ZADD per index, one ZREM).
-- A record this script confirms (an email id appended, ":ok") is changed
-- by one SET XX KEEPTTL GET, which answers what it replaced: what another
-- send wrote there meanwhile is put back as it was (rare), so the common
-- case costs one command instead of a GET and a SET.
-- Replies the number of records written (a re-sent one is not): an integer,
-- not a table of ids, which Redis turns into a reply element by element and
-- which no caller read.
--#include "lib/refund.lua"
local written = 0
local idx, order = {}, {}
local rids = {}
local trim = nil
-- The hour hashes' increments, summed over the block: one HINCRBY per hash
-- and field, however many records of the block share them.  An increment
-- stays the string it came as unless records add up (redis.call writes a
-- number out with "%.17g", ~2,500 instructions; a string costs nothing).
local uh, uorder, uexp = {}, {}, {}
local function ucount(k, field, n, at)
  local h = uh[k]
  if not h then
    h = {}
    uh[k] = h
    uorder[#uorder + 1] = k
    uexp[k] = at
  end
  local was = h[field]
  if was then
    h[field] = tonumber(was) + tonumber(n)
  else
    h[field] = n
  end
end
local function index(k, score, id)
  if not idx[k] then
    idx[k] = {}
    order[#order + 1] = k
  end
  local e = idx[k]
  e[#e + 1] = score
  e[#e + 1] = id
end
local refund = sc_refund
local confirm = sc_confirm
local i = 1
while i <= #ARGV do
  local writer, seq, cutoff = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local m = tonumber(ARGV[i + 12])
  local f = i + 13 + m
  -- A record whose seq is already set was written before: skipped.
  if redis.call('SETBIT', 'sc:logbits:' .. writer, seq, '1') == 0 then
    local n = tonumber(ARGV[i + 8])
    refund(ARGV[i + 9], n)
    refund(ARGV[f + 6], n)
    sc_refund_rcpts(ARGV[f + 7], ARGV[f + 8])
    local dp, rid = ARGV[f + 9], ARGV[f + 11]
    if dp ~= '' and rid ~= '' then
      for op in string.gmatch(ARGV[f + 10], '[^,]+') do
        sc_dedupe_settle(dp, op, rid)
      end
    end
    local ik = ARGV[f + 3]
    if ik ~= '' then
      if ARGV[f + 5] == '1' then
        confirm(ik, ARGV[f + 4], ARGV[f + 4] .. ':ok')
      elseif redis.call('GET', ik) == ARGV[f + 4] then
        redis.call('DEL', ik)
      end
    end
    for j = i + 13, i + 12 + m do
      redis.call('SET', 'sc:em:' .. ARGV[j], ARGV[i + 10], 'EX', ARGV[i + 11])
    end
    local id = redis.call('XADD', KEYS[1], 'MINID', '~', cutoff, '*', 'r', ARGV[f], 'w', writer, 'seq', seq,
                              'prev', ARGV[f + 1], 'mac', ARGV[f + 2])
    local t, key, run, claimed = ARGV[i + 7], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
    if key ~= '' then index('sc:lk:' .. key, t, id) end
    if run ~= '' then index('sc:lr:' .. run, t, id) end
    if claimed ~= '' and claimed ~= run then index('sc:lr:' .. claimed, t, id) end
    -- Index entries older than the retention are trimmed now and then, not
    -- on every write (queries bound by time anyway).
    if tonumber(cutoff) > 0 and tonumber(seq) % 64 == 0 then trim = cutoff end
    local calls, sent, at, what = string.match(ARGV[f + 12], '^(%d+) (%d+) (%d+) (%S+)$')
    if calls then
      local hour = string.format('%d', math.floor(tonumber(t) / 3600000))
      local k = 'sc:uht:' .. hour
      ucount(k, what, calls, at)
      if sent ~= '0' then ucount(k, 'sent', sent, at) end
      if string.sub(key, 1, 4) == 'key_' then
        k = 'sc:uhk:' .. key .. ':' .. hour
        ucount(k, what, calls, at)
        if sent ~= '0' then ucount(k, 'sent', sent, at) end
      end
    end
    written = written + 1
  end
  if ARGV[i + 3] ~= '' then
    rids[#rids + 1] = ARGV[i + 3]
  end
  i = f + 13
end
-- A field seen for the first time (its new value is this increment) may be
-- the hash's first: only then is the expiry set, a few times an hour.
for _, k in ipairs(uorder) do
  local first = false
  for field, n in pairs(uh[k]) do
    local by = type(n) == 'string' and n or string.format('%d', n)
    if redis.call('HINCRBY', k, field, by) == tonumber(by) then first = true end
  end
  if first and uexp[k] ~= '0' then redis.call('EXPIREAT', k, uexp[k]) end
end
for _, k in ipairs(order) do
  redis.call('ZADD', k, unpack(idx[k]))
  if trim then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. trim)
  end
end
if #rids > 0 then
  redis.call('ZREM', 'sc:intents', unpack(rids))
end
if trim then
  redis.call('ZREMRANGEBYSCORE', 'sc:intents', '-inf', '(' .. trim)
end
return written
