-- webhook_remove.lua: remove a webhook (SPEC §6).  ARGV[1] its id.
-- Its queued deliveries are dropped when they next fall due (the take
-- finds no webhook: lib/webhooks.lua), so removal costs no queue scan.
-- Replies 1, or ERR_NO_WEBHOOK.
if redis.call('DEL', 'sc:wh:' .. ARGV[1]) == 0 then
  return redis.error_reply('ERR_NO_WEBHOOK no such webhook')
end
redis.call('SREM', 'sc:webhooks', ARGV[1])
return 1
