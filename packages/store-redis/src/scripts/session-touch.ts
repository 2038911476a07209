/**
 * touch (session slot): core's lifecycle.ts `applyTouch`, restated. A signal after a deadline never
 * revives the session; an active signal moves the idle deadline when that move is at least the
 * touch granularity; otherwise `lastSeenAt` moves when it moves by at least the granularity.
 * Flags: `n` this call recorded the end, `x` extended from its warning period, `w` the warning
 * time was set again after it had been claimed (the caller re-indexes it).
 *
 * Every heartbeat runs this, so unlike the other scripts it does not build on prelude.ts: the
 * fields go into locals, not a table, and the prelude's helpers (their `settle` included) are
 * written out inline. That takes about a third off its time in Redis. The reply is the same as
 * prelude's `reply`: outcome, flags, then the fields in FIELDS order, times as integers (absolute:
 * the hash keeps them as offsets from createdAt, see codec.ts).
 *
 * `touch(key, now, signal, idle, warn_before, granularity)` is one session's touch; the two scripts
 * below call it for one key or for many.
 */
const TOUCH_LUA = `
local function fmt(n)
  return string.format('%.17g', n)
end
-- codec.ts: times after createdAt are stored as offsets from it ('@' and the time when inexact).
local function at(x, c)
  if x == false or x == nil or x == '' then return nil end
  if string.byte(x, 1) == 64 then return tonumber(string.sub(x, 2)) end
  return c + tonumber(x)
end
local function rel(t, c)
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

local function touch(key, now, signal, idle, warn_before, granularity)
  local v = redis.call('HMGET', key, 's', 'p', 'c', 'a', 'l', 'i', 'x', 'w', 'd', 'e', 'r')
  if not v[1] then return {'unknown', ''} end

  local c = tonumber(v[3])
  local sub, pol, a = v[1], v[2], v[9] or '{}'
  local la, ls, ie, ae = at(v[4], c), at(v[5], c), at(v[6], c), at(v[7], c)
  local w, e, r = at(v[8], c), at(v[10], c), v[11] or ''

  if e ~= nil then
    return {'ended', '', sub, pol, out(c), out(la), out(ls), out(ie), out(ae), out(w), a, out(e), r}
  end
  -- lifecycle.ts settle(): past min(idle, absolute) the session ends at that deadline.
  local old_end = math.min(ie, ae)
  if now >= old_end then
    if ae <= ie then r = 'absolute_timeout' else r = 'idle_timeout' end
    redis.call('HSET', key, 'e', rel(old_end, c), 'r', r)
    redis.call('HDEL', key, 'w')
    return {'ended', 'n', sub, pol, out(c), out(la), out(ls), out(ie), out(ae), false, a, out(old_end), r}
  end

  local flags = ''
  local seen_moves = now - ls >= granularity and now > ls
  local next_ie = now + idle
  if signal == 'active' and next_ie - ie >= granularity and next_ie > ie then
    local in_warning = warn_before > 0 and now >= old_end - warn_before
    local had_warning = w ~= nil
    la, ls, ie = now, now, next_ie
    local new_end = math.min(ie, ae)
    if new_end ~= old_end then
      if warn_before > 0 then w = new_end - warn_before else w = nil end
    end
    local at_now = rel(now, c)
    if w ~= nil then
      redis.call('HSET', key, 'a', at_now, 'l', at_now, 'i', rel(ie, c), 'w', rel(w, c))
    else
      redis.call('HSET', key, 'a', at_now, 'l', at_now, 'i', rel(ie, c))
      redis.call('HDEL', key, 'w')
    end
    if new_end > old_end and in_warning then flags = flags .. 'x' end
    if w ~= nil and not had_warning then flags = flags .. 'w' end
  elseif seen_moves then
    ls = now
    redis.call('HSET', key, 'l', rel(now, c))
  end
  return {'live', flags, sub, pol, out(c), out(la), out(ls), out(ie), out(ae), out(w), a, false, ''}
end
`;

/** Arguments per session of `sessionTouchMany`, in ARGV. */
const TOUCH_ARGS = 5;

/** One session. KEYS: session. ARGV: now, signal, idleTimeoutMs, warnBeforeMs, touchGranularityMs. */
export const sessionTouch = {
  numberOfKeys: 1,
  lua: `${TOUCH_LUA}
return touch(KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
`,
};

/**
 * Many sessions, one after the other, as that many `sessionTouch` calls in that order would (a key
 * may repeat: its later touch sees the earlier one). Standalone Redis only (touch-batch.ts): on a
 * cluster a script's keys must share a slot. KEYS: the sessions. ARGV: for each
 * key, in order, its five `sessionTouch` arguments. Reply: one `sessionTouch` reply per key.
 */
export const sessionTouchMany = {
  lua: `${TOUCH_LUA}
local replies = {}
for i = 1, #KEYS do
  local j = (i - 1) * ${TOUCH_ARGS}
  replies[i] = touch(KEYS[i], tonumber(ARGV[j + 1]), ARGV[j + 2], tonumber(ARGV[j + 3]),
    tonumber(ARGV[j + 4]), tonumber(ARGV[j + 5]))
end
return replies
`,
};
