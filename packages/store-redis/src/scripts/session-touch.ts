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
 * prelude's `reply`: outcome, flags, then the fields in FIELDS order, times as integers.
 */
export const sessionTouch = {
  numberOfKeys: 1,
  lua: `
local key = KEYS[1]
local v = redis.call('HMGET', key, 'sub', 'pol', 'c', 'la', 'ls', 'ie', 'ae', 'w', 'a', 'e', 'r')
if not v[1] then return {'unknown', ''} end

local function num(x)
  if x == false or x == nil or x == '' then return nil end
  return tonumber(x)
end
local function fmt(n)
  return string.format('%.17g', n)
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
local c, la, ls, ie, ae = num(v[3]), num(v[4]), num(v[5]), num(v[6]), num(v[7])
local w, e, r = num(v[8]), num(v[10]), v[11] or ''

if e ~= nil then
  return {'ended', '', sub, pol, out(c), out(la), out(ls), out(ie), out(ae), out(w), a, out(e), r}
end
-- lifecycle.ts settle(): past min(idle, absolute) the session ends at that deadline.
local old_end = math.min(ie, ae)
if now >= old_end then
  if ae <= ie then r = 'absolute_timeout' else r = 'idle_timeout' end
  redis.call('HSET', key, 'e', fmt(old_end), 'r', r)
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
  if w ~= nil then
    redis.call('HSET', key, 'la', fmt(now), 'ls', fmt(now), 'ie', fmt(ie), 'w', fmt(w))
  else
    redis.call('HSET', key, 'la', fmt(now), 'ls', fmt(now), 'ie', fmt(ie))
    redis.call('HDEL', key, 'w')
  end
  if new_end > old_end and in_warning then flags = flags .. 'x' end
  if w ~= nil and not had_warning then flags = flags .. 'w' end
elseif seen_moves then
  ls = now
  redis.call('HSET', key, 'ls', fmt(now))
end
return {'live', flags, sub, pol, out(c), out(la), out(ls), out(ie), out(ae), out(w), a, false, ''}
`,
};
