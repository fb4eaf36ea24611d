-- log_write.lua: append one sealed call record to the log, with its
-- indexes, and settle the send it records: one script after the answer.
--
-- KEYS[1]  sc:log
-- ARGV[1]  writer id      ARGV[2] seq        ARGV[3] trim: MINID cutoff (ms)
-- ARGV[4]  intent request id to remove ("" if none)
-- ARGV[5]  key id         ARGV[6] agent_run_id   ARGV[7] claimed run id
-- ARGV[8]  record time (ms, the index score)
-- ARGV[9]  sends to give back (a send Resend clearly did not accept)
-- ARGV[10] the counter call.lua reserved on ("" if none)
-- ARGV[11] the key family that sent   ARGV[12] email owner TTL (s)
-- ARGV[13] m, then ARGV[14..13+m] the Resend email ids returned
-- ARGV[14+m..] the record's field, value pairs, in order (w, seq, prev, mac last)
-- A record whose seq this writer already wrote (bit set in
-- sc:logbits:<writer>) is a re-send after a lost reply: neither it nor its
-- settlement is applied twice.  Replies the stream id, or "dup".
if redis.call('SETBIT', 'sc:logbits:' .. ARGV[1], ARGV[2], 1) == 1 then
  return 'dup'
end
local n = tonumber(ARGV[9])
if n > 0 and ARGV[10] ~= '' and redis.call('EXISTS', ARGV[10]) == 1 then
  if redis.call('DECRBY', ARGV[10], n) < 0 then
    redis.call('SET', ARGV[10], 0, 'KEEPTTL')
  end
end
local m = tonumber(ARGV[13])
for i = 14, 13 + m do
  redis.call('SET', 'sc:em:' .. ARGV[i], ARGV[11], 'EX', ARGV[12])
end
local fields = {}
for i = 14 + m, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id = redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[3], '*', unpack(fields))
-- Index entries older than the retention are trimmed now and then, not on
-- every write (queries bound by time anyway).
local cutoff = tonumber(ARGV[3])
local trim = cutoff > 0 and tonumber(ARGV[2]) % 64 == 0
local function index(k)
  redis.call('ZADD', k, ARGV[8], id)
  if trim then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[3])
  end
end
if ARGV[5] ~= '' then index('sc:lk:' .. ARGV[5]) end
if ARGV[6] ~= '' then index('sc:lr:' .. ARGV[6]) end
if ARGV[7] ~= '' and ARGV[7] ~= ARGV[6] then index('sc:lr:' .. ARGV[7]) end
if ARGV[4] ~= '' then
  redis.call('ZREM', 'sc:intents', ARGV[4])
  redis.call('DEL', 'sc:intent:' .. ARGV[4])
end
if trim then
  redis.call('ZREMRANGEBYSCORE', 'sc:intents', '-inf', '(' .. ARGV[3])
end
return id
