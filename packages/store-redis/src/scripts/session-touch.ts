/**
 * touch (session slot): core's lifecycle.ts `applyTouch`, restated. A signal after a deadline never
 * revives the session; an active signal moves the idle deadline when that move is at least the
 * touch granularity; otherwise `lastSeenAt` moves when it moves by at least the granularity.
 * Flags: `n` this call recorded the end, `x` extended from its warning period, `w` the warning
 * time was set again after it had been claimed (the caller re-indexes it).
 * KEYS: session. ARGV: now, signal, idleTimeoutMs, warnBeforeMs, touchGranularityMs.
 *
 * Every heartbeat runs this script, so unlike the others it does not build on prelude.ts: the
 * fields go into locals, not a table, and the prelude's helpers (their `settle` included) are
 * written out inline. That takes about a third off its time in Redis. The reply is the same as
 * prelude's `reply`: outcome, flags, then the fields in FIELDS order, times as integers (absolute:
 * the hash keeps them as offsets from createdAt, see codec.ts).
 */
export const sessionTouch = {
  numberOfKeys: 1,
  lua: `
local key = KEYS[1]
local v = redis.call('HMGET', key, 's', 'p', 'c', 'a', 'l', 'i', 'x', 'w', 'd', 'e', 'r')
if not v[1] then return {'unknown', ''} end

local function fmt(n)
  return string.format('%.17g', n)
end
-- codec.ts: times after createdAt are stored as offsets from it ('@' and the time when inexact).
local c = tonumber(v[3])
local function at(x)
  if x == false or x == nil or x == '' then return nil end
  if string.byte(x, 1) == 64 then return tonumber(string.sub(x, 2)) end
  return c + tonumber(x)
end
local function rel(t)
  local d = t - c
  if c + d == t then return fmt(d) end
  return '@' .. fmt(t)
end
-- A time in the reply: an integer reply, false (nil) for none, text if not a whole number of ms.
local function out(n)
  if n == nil then return false end
  if n == math.floor(n) then return n end
  return fmt(n)
end

local now = tonumber(ARGV[1])
local idle = tonumber(ARGV[3])
local warn_before = tonumber(ARGV[4])
local granularity = tonumber(ARGV[5])
local sub, pol, a = v[1], v[2], v[9] or '{}'
local la, ls, ie, ae = at(v[4]), at(v[5]), at(v[6]), at(v[7])
local w, e, r = at(v[8]), at(v[10]), v[11] or ''

if e ~= nil then
  return {'ended', '', sub, pol, out(c), out(la), out(ls), out(ie), out(ae), out(w), a, out(e), r}
end
-- lifecycle.ts settle(): past min(idle, absolute) the session ends at that deadline.
local old_end = math.min(ie, ae)
if now >= old_end then
  if ae <= ie then r = 'absolute_timeout' else r = 'idle_timeout' end
  redis.call('HSET', key, 'e', rel(old_end), 'r', r)
  redis.call('HDEL', key, 'w')
  return {'ended', 'n', sub, pol, out(c), out(la), out(ls), out(ie), out(ae), false, a, out(old_end), r}
end

local flags = ''
local seen_moves = now - ls >= granularity and now > ls
local next_ie = now + idle
if ARGV[2] == 'active' and next_ie - ie >= granularity and next_ie > ie then
  local in_warning = warn_before > 0 and now >= old_end - warn_before
  local had_warning = w ~= nil
  la, ls, ie = now, now, next_ie
  local new_end = math.min(ie, ae)
  if new_end ~= old_end then
    if warn_before > 0 then w = new_end - warn_before else w = nil end
  end
  local at_now = rel(now)
  if w ~= nil then
    redis.call('HSET', key, 'a', at_now, 'l', at_now, 'i', rel(ie), 'w', rel(w))
  else
    redis.call('HSET', key, 'a', at_now, 'l', at_now, 'i', rel(ie))
    redis.call('HDEL', key, 'w')
  end
  if new_end > old_end and in_warning then flags = flags .. 'x' end
  if w ~= nil and not had_warning then flags = flags .. 'w' end
elseif seen_moves then
  ls = now
  redis.call('HSET', key, 'l', rel(now))
end
return {'live', flags, sub, pol, out(c), out(la), out(ls), out(ie), out(ae), out(w), a, false, ''}
`,
};
