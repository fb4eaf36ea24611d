-- webhook_test.lua: emit a webhook.test event queued for one webhook only
-- (`sendcap webhook test`).  ARGV[1] the webhook id.  Replies the event id,
-- or ERR_NO_WEBHOOK.
--#include "lib/time.lua"
--#include "lib/events.lua"
if redis.call('EXISTS', 'sc:wh:' .. ARGV[1]) == 0 then
  return redis.error_reply('ERR_NO_WEBHOOK no such webhook')
end
local now = sc_now_ms()
return sc_emit(now, 'webhook.test', '', '', '', {webhook_id = ARGV[1], sent_at = sc_iso(now)}, 0,
               ARGV[1])
