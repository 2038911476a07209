import { SESSION_LUA } from './prelude.js';

/**
 * eviction and "log out everywhere" (session slot): ends the session with the caller's reason only
 * if it is live at `now`. One past its deadline is left alone, so that the path that reports
 * expiries (a read or the sweeper) still yields its one event. Replies with the record as it was
 * before this call. KEYS: session. ARGV: now, reason.
 */
export const sessionEndIfLive = {
  numberOfKeys: 1,
  lua: `${SESSION_LUA}
local s = load(KEYS[1])
if not s then return {'unknown', ''} end
local now = tonumber(ARGV[1])
if s.e ~= nil then return reply('ended', '', s) end
if now >= deadline(s) then return reply('expired', '', s) end
local before = reply('ended', 'n', s)
end_session(s, ARGV[2], now)
save_end(KEYS[1], s)
return before
`,
};
