-- log_write.lua: append one sealed call record to the log, with its indexes.
--
-- KEYS[1]  sc:log
-- ARGV[1]  writer id      ARGV[2] seq        ARGV[3] trim: MINID cutoff (ms)
-- ARGV[4]  intent request id to remove ("" if none)
-- ARGV[5]  key id         ARGV[6] agent_run_id   ARGV[7] claimed run id
-- ARGV[8]  record time (ms, the index score)
-- ARGV[9..] the record's field, value pairs, in order (w, seq, prev, mac last)
-- A record whose seq this writer already wrote (bit set in
-- sc:logbits:<writer>) is a re-send after a lost reply: it is not written
-- twice.  Replies the stream id, or "dup".
if redis.call('SETBIT', 'sc:logbits:' .. ARGV[1], ARGV[2], 1) == 1 then
  return 'dup'
end
local fields = {}
for i = 9, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id = redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[3], '*', unpack(fields))
local cutoff = tonumber(ARGV[3])
local function index(k)
  redis.call('ZADD', k, ARGV[8], id)
  if cutoff > 0 then
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
if cutoff > 0 then
  redis.call('ZREMRANGEBYSCORE', 'sc:intents', '-inf', '(' .. ARGV[3])
end
return id
