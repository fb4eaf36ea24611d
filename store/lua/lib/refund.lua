-- lib/refund.lua: giving a reservation back, one rule for every script that
-- does it (log_write.lua for a send Resend did not accept; lib/held.lua for
-- a held send rejected, expired or refused by Resend).  Included after
-- lib/time.lua.

-- Give n sends back off counter k: never below 0, and never bringing back a
-- counter that expired (its day or month is over), which would restart it
-- without its TTL.
local function sc_refund(k, n)
  if n > 0 and k ~= '' and redis.call('EXISTS', k) == 1 then
    if redis.call('DECRBY', k, n) < 0 then
      redis.call('SET', k, 0, 'KEEPTTL')
    end
  end
end

-- The per-recipient counters under prefix rp of the address hashes in rg
-- (64 hex each, back to back): one refund per address, however often it
-- appears (as call.lua counts them): clamping at 0 once gives what n steps
-- of 1 would.
local function sc_refund_rcpts(rp, rg)
  if rp == '' or rg == '' then return end
  local rcnt, rorder = {}, {}
  for o = 1, #rg, 64 do
    local r = string.sub(rg, o, o + 63)
    if not rcnt[r] then
      rcnt[r] = 0
      rorder[#rorder + 1] = r
    end
    rcnt[r] = rcnt[r] + 1
  end
  for _, r in ipairs(rorder) do
    sc_refund(rp .. r, rcnt[r])
  end
end

-- Set k to v only if it holds was (and keeps its TTL): one SET XX KEEPTTL
-- GET, which answers what it replaced; in the rare case that was another
-- send's value, it is put back.
local function sc_confirm(k, was, v)
  local old = redis.call('SET', k, v, 'XX', 'KEEPTTL', 'GET')
  if old and old ~= was then
    redis.call('SET', k, old, 'KEEPTTL')
  end
end

-- One dedupe record under prefix dp, if it still holds request id rid: op
-- "<facts hash>" deletes it (not sent: a retry may go), "<facts hash>:<email
-- id>" names the email Resend accepted.
local function sc_dedupe_settle(dp, op, rid)
  local k = dp .. string.sub(op, 1, 64)
  if #op > 65 then
    sc_confirm(k, rid, rid .. string.sub(op, 65))
  elseif redis.call('GET', k) == rid then
    redis.call('DEL', k)
  end
end
