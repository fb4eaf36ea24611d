-- settle.lua: what the proxy learns once the upstream has answered a send.
--
-- KEYS[1]  the counter key call.lua reserved on ("" when nothing to refund)
-- ARGV[1]  sends to give back: a send Resend clearly did not accept (a 4xx,
--          or a connection that failed before the request was sent)
-- ARGV[2]  the key family that sent
-- ARGV[3]  how long to remember which family sent an email, in seconds
-- ARGV[4..] Resend email ids the send returned
-- Runs after the reservation, on the same connection, off the critical path.
local n = tonumber(ARGV[1])
if n > 0 and KEYS[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then
  local v = redis.call('DECRBY', KEYS[1], n)
  if v < 0 then
    redis.call('SET', KEYS[1], 0, 'KEEPTTL')
  end
end
for i = 4, #ARGV do
  redis.call('SET', 'sc:em:' .. ARGV[i], ARGV[2], 'EX', ARGV[3])
end
return 1
