-- held_done.lua: the outcome of forwarding an approved held send (SPEC §7).
--
-- KEYS[1] sc:held:<held id>
-- ARGV[1] held id   ARGV[2] "sent" | "failed" | "retry"
-- ARGV[3] Resend's email id (sent)   ARGV[4] "1": give the reservation back
-- (failed: Resend clearly did not accept it)   ARGV[5] why it failed
-- ARGV[6] how long the family owns the email (s)
-- ARGV[7] how long recipients are remembered (ms: the call log's retention)
-- ARGV[8] wait (ms): Resend rate-limited the attempt (429), so it is
-- tried again then without using one of its attempts, until ARGV[9] ms
-- after the approval; past that it fails, its sends kept (an earlier
-- attempt may have gone)
-- Only an approved send changes (a second outcome is a no-op: "gone").
-- sent: email_id set, the family owns the email (GET /emails/<id>), its
-- addresses are known to a gated-new-recipients family, its dedupe records
-- name the email; failed: error set, the reservation given back if asked;
-- both delete the sealed body.  retry: the lease ends sooner.  wait: see
-- ARGV[8].
--#include "lib/time.lua"
--#include "lib/events.lua"
--#include "lib/refund.lua"
--#include "lib/held.lua"
local k = KEYS[1]
local r = redis.call('HMGET', k, 'status', 'family', 'rcpts', 'dp', 'facts', 'request_id', 'sends',
                     'ck', 'mk', 'rp')
if r[1] ~= 'approved' then return 'gone' end
local now = sc_now_ms()
if ARGV[2] == 'retry' then
  redis.call('ZADD', 'sc:held:q', now + 1000, ARGV[1])
  return 'retry'
end
if ARGV[2] == 'wait' then
  local decided = tonumber(redis.call('HGET', k, 'decided_at')) or now
  if now - decided < tonumber(ARGV[9]) then
    if redis.call('HINCRBY', k, 'attempts', '-1') < 0 then
      redis.call('HSET', k, 'attempts', '0')
    end
    redis.call('ZADD', 'sc:held:q', now + tonumber(ARGV[8]), ARGV[1])
    return 'wait'
  end
  ARGV[2], ARGV[4] = 'failed', '0'
  ARGV[5] = 'Resend rate-limited it for 24 h; it may have been sent by an earlier attempt'
end
if ARGV[2] == 'sent' then
  redis.call('HSET', k, 'status', 'sent', 'email_id', ARGV[3])
  for em in string.gmatch(ARGV[3], '[^,]+') do -- a batch: its ids, comma-joined
    redis.call('SET', 'sc:em:' .. em, r[2], 'EX', ARGV[6])
  end
  local rs = r[3] or ''
  if #rs > 0 then
    local set = 'sc:rcpts:' .. r[2]
    local keep = tonumber(ARGV[7])
    for o = 1, #rs, 64 do
      redis.call('ZADD', set, now, string.sub(rs, o, o + 63))
    end
    redis.call('ZREMRANGEBYSCORE', set, '-inf', now - keep)
    redis.call('PEXPIRE', set, keep)
  end
  if (r[4] or '') ~= '' and ARGV[3] ~= '' then
    for o = 1, #(r[5] or ''), 64 do
      sc_dedupe_settle(r[4], string.sub(r[5], o, o + 63) .. ':' .. string.match(ARGV[3], '^[^,]*'),
                       r[6] or '')
    end
  end
else
  redis.call('HSET', k, 'status', 'failed', 'error', ARGV[5])
  if ARGV[4] == '1' then
    local n = tonumber(r[7]) or 0
    sc_refund(r[8] or '', n)
    sc_refund(r[9] or '', n)
    sc_refund_rcpts(r[10] or '', r[3] or '')
    for o = 1, (r[4] or '') ~= '' and #(r[5] or '') or 0, 64 do
      sc_dedupe_settle(r[4] or '', string.sub(r[5], o, o + 63), r[6] or '')
    end
  end
end
sc_held_drop_body(ARGV[1])
redis.call('ZREM', 'sc:held:q', ARGV[1])
redis.call('PEXPIRE', k, 30 * 86400000)
return ARGV[2]
