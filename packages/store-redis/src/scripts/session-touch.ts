import { SESSION_LUA } from './prelude.js';

/**
 * touch (session slot): core's lifecycle.ts `applyTouch`, restated. A signal after a deadline never
 * revives the session; an active signal moves the idle deadline when that move is at least the
 * touch granularity; otherwise `lastSeenAt` moves when it moves by at least the granularity.
 * Flags: `n` this call recorded the end, `x` extended from its warning period, `w` the warning
 * time was set again after it had been claimed (the caller re-indexes it).
 * KEYS: session. ARGV: now, signal, idleTimeoutMs, warnBeforeMs, touchGranularityMs.
 */
export const sessionTouch = {
  numberOfKeys: 1,
  lua: `${SESSION_LUA}
local key = KEYS[1]
local s = load(key)
if not s then return {'unknown', ''} end
local now = tonumber(ARGV[1])
local signal = ARGV[2]
local idle = tonumber(ARGV[3])
local warn_before = tonumber(ARGV[4])
local granularity = tonumber(ARGV[5])

if settle(s, now) then
  save_end(key, s)
  return reply('ended', 'n', s)
end
if s.e ~= nil then return reply('ended', '', s) end

local seen_moves = now - s.ls >= granularity and now > s.ls
if signal == 'active' then
  local ie = now + idle
  if ie - s.ie >= granularity and ie > s.ie then
    local old_end = deadline(s)
    local in_warning = warn_before > 0 and now >= old_end - warn_before
    local had_warning = s.w ~= nil
    s.la = now
    s.ls = now
    s.ie = ie
    local new_end = deadline(s)
    if new_end ~= old_end then
      if warn_before > 0 then s.w = new_end - warn_before else s.w = nil end
    end
    redis.call('HSET', key, 'la', fmt(now), 'ls', fmt(now), 'ie', fmt(ie))
    if s.w ~= nil then redis.call('HSET', key, 'w', fmt(s.w)) else redis.call('HDEL', key, 'w') end
    local flags = ''
    if new_end > old_end and in_warning then flags = flags .. 'x' end
    if s.w ~= nil and not had_warning then flags = flags .. 'w' end
    return reply('live', flags, s)
  end
end
if seen_moves then
  s.ls = now
  redis.call('HSET', key, 'ls', fmt(now))
end
return reply('live', '', s)
`,
};
