-- peer.lua: the peer sendcapd is measured against (issue #15), the access
-- phase of an nginx + Lua + Redis proxy in the shape of Kong's
-- rate-limiting-with-Redis: per request one EVALSHA of a check-and-INCRBY
-- of a daily counter (cap.lua below, loaded by run.sh) and one XADD of a
-- log entry, then the vault key is swapped for the real one and nginx's
-- proxy_pass forwards.  Both commands go in one write (one round trip, as
-- sendcapd's one call.lua); a Redis error or a refusal answers without
-- forwarding (fail closed).  The Redis client is a few lines of RESP over
-- a keep-alive cosocket, so no package beyond Debian's
-- libnginx-mod-http-lua is needed.
--
-- nginx variables: $peer_redis (unix:/path), $peer_sha (the script's SHA1),
-- $peer_vk (the vault key), $peer_real (the real key), $peer_cap.
local function bulk(t, s)
  t[#t + 1] = '$' .. #s .. '\r\n' .. s .. '\r\n'
end
local function command(t, args)
  t[#t + 1] = '*' .. #args .. '\r\n'
  for _, a in ipairs(args) do bulk(t, a) end
end
local function deny(status, msg)
  ngx.status = status
  ngx.header['Content-Type'] = 'application/json'
  ngx.say('{"statusCode":' .. status .. ',"message":"' .. msg .. '","name":"peer"}')
  return ngx.exit(status)
end

local v = ngx.var
if ngx.req.get_headers()['authorization'] ~= 'Bearer ' .. v.peer_vk then
  return deny(401, 'unknown key')
end
local sock = ngx.socket.tcp()
local ok, err = sock:connect(v.peer_redis)
if not ok then return deny(503, 'redis: ' .. err) end
local day = tostring(math.floor(ngx.time() / 86400))
local t = {}
command(t, {'EVALSHA', v.peer_sha, '1', 'peer:cnt:bench:' .. day, v.peer_cap})
command(t, {'XADD', 'peer:log', 'MAXLEN', '~', '1000000', '*', 'key', 'bench', 'at',
            tostring(ngx.now()), 'path', v.uri, 'len', v.content_length or '0'})
local _, werr = sock:send(t)
if werr then return deny(503, 'redis: ' .. werr) end
local r1 = sock:receive('*l')
local r2 = sock:receive('*l')
if r2 and r2:sub(1, 1) == '$' then r2 = sock:receive('*l') end
if not r1 or not r2 then return deny(503, 'redis: no reply') end
sock:setkeepalive(0, 64)
if r1:sub(1, 1) ~= ':' then return deny(503, 'redis: ' .. r1) end
if r1 == ':-1' then return deny(429, 'daily cap reached') end
ngx.req.set_header('Authorization', 'Bearer ' .. v.peer_real)
