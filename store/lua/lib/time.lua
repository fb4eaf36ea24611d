-- lib/time.lua: Redis's clock and UTC calendar arithmetic for the scripts
-- (Redis's Lua has no os.date).  Included with --#include "lib/time.lua".

-- Redis's clock, ms since the epoch.
local function sc_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function sc_fmt(v)
  return string.format('%d', v)
end

-- The UTC calendar date of a day number (Howard Hinnant's civil_from_days).
local function sc_civil(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) -
                          math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

-- The day number of the 1st of a month.
local function sc_days_from_civil(y, m)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5)
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- RFC 3339 UTC with milliseconds, as the CLI prints times.
local function sc_iso(ms)
  local day = math.floor(ms / 86400000)
  local y, m, d = sc_civil(day)
  local r = ms - day * 86400000
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(r / 3600000),
                       math.floor(r / 60000) % 60, math.floor(r / 1000) % 60, r % 1000)
end
