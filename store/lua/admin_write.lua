-- admin_write.lua: append one sealed admin record to the admin trail, only
-- if the chain's head is still the one the record was sealed after.
--
-- KEYS[1]  sc:admin        the trail: a stream, never trimmed
-- KEYS[2]  sc:admin:head   "<seq> <mac>" of the newest record (absent: none)
-- ARGV[1]  the head the record follows ("" for the first record)
-- ARGV[2]  the head it becomes ("<its seq> <its mac>")
-- ARGV[3..] the record's field, value pairs in sealed order (mac last)
-- Replies the stream id, or the error ERR_ADMIN_RACE when another writer
-- appended first: the caller seals again after the new head, so every
-- record of every CLI process lands in one chain, in seq order.
local head = redis.call('GET', KEYS[2]) or ''
if head ~= ARGV[1] then
  return redis.error_reply('ERR_ADMIN_RACE the admin trail moved on')
end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[2], ARGV[2])
return id
