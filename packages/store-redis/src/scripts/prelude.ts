/**
 * Lua shared by the scripts, prepended to each one (a script must be self-contained: EVALSHA runs
 * exactly the text that was hashed). Redis runs Lua 5.1, whose numbers are doubles: epoch
 * milliseconds stay exact up to 2^53, and `fmt` writes them back without an exponent.
 */

/** Reading and writing a session hash, and the lifecycle rules of core's lifecycle.ts `settle`. */
export const SESSION_LUA = `
-- The fields, in codec.ts FIELDS order (written out in load: no table to build on every call).

local function num(v)
  if v == false or v == nil or v == '' then return nil end
  return tonumber(v)
end

local function fmt(n)
  if n == nil then return '' end
  return string.format('%.17g', n)
end

-- A time in a reply: an integer reply (no text to format here and to parse in Node), false (a nil
-- reply) for none; a time that is not a whole number of ms goes as text, so nothing is rounded.
local function out(n)
  if n == nil then return false end
  if n == math.floor(n) and n >= -9007199254740992 and n <= 9007199254740992 then return n end
  return fmt(n)
end

-- codec.ts: times other than createdAt are stored as ms after it, or whole after an '@' when that
-- offset would not add back exactly.
local function rel(t, c)
  local d = t - c
  if c + d == t then return fmt(d) end
  return '@' .. fmt(t)
end

local function at(v, c)
  if v == false or v == nil or v == '' then return nil end
  if string.byte(v, 1) == 64 then return tonumber(string.sub(v, 2)) end
  return c + tonumber(v)
end

local function load(key)
  local v = redis.call('HMGET', key, 's', 'p', 'c', 'a', 'l', 'i', 'x', 'w', 'd', 'e', 'r')
  if not v[1] then return nil end
  local c = num(v[3])
  return { sub = v[1], pol = v[2], c = c, la = at(v[4], c), ls = at(v[5], c), ie = at(v[6], c),
    ae = at(v[7], c), w = at(v[8], c), a = v[9] or '{}', e = at(v[10], c), r = v[11] or '' }
end

-- The reply every session script ends with: outcome, flags, then the record's fields in FIELDS order.
local function reply(outcome, flags, s)
  return { outcome, flags, s.sub, s.pol, out(s.c), out(s.la), out(s.ls), out(s.ie), out(s.ae),
    out(s.w), s.a, out(s.e), s.r }
end

local function deadline(s)
  return math.min(s.ie, s.ae)
end

-- lifecycle.ts settle(): a live record past min(idle, absolute) ends at that deadline, with reason
-- absolute_timeout when absolute <= idle, else idle_timeout. Returns true when it ends now.
local function settle(s, now)
  if s.e ~= nil then return false end
  local d = deadline(s)
  if now < d then return false end
  if s.ae <= s.ie then s.r = 'absolute_timeout' else s.r = 'idle_timeout' end
  s.e = d
  s.w = nil
  return true
end

local function end_session(s, reason, at)
  s.e = at
  s.r = reason
  s.w = nil
end

local function save_end(key, s)
  redis.call('HSET', key, 'e', rel(s.e, s.c), 'r', s.r)
  redis.call('HDEL', key, 'w')
end
`;

/** TTL upkeep for index keys shared by many sessions: a TTL only ever grows, to the longest need. */
export const KEEP_LUA = `
local function keep(key, ttl)
  local current = redis.call('PTTL', key)
  if current == -1 or (current >= 0 and current < ttl) then redis.call('PEXPIRE', key, ttl) end
end
`;
