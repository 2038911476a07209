import { SESSION_LUA } from './prelude.js';

/**
 * end (session slot): ends a live session now with the caller's reason. A session already past a
 * deadline ends with its timeout instead (at the deadline), and an ended one keeps its first
 * reason. KEYS: session. ARGV: now, reason.
 */
export const sessionEnd = {
  numberOfKeys: 1,
  lua: `${SESSION_LUA}
local s = load(KEYS[1])
if not s then return {'unknown', ''} end
local now = tonumber(ARGV[1])
if not settle(s, now) then
  if s.e ~= nil then return reply('ended', '', s) end
  end_session(s, ARGV[2], now)
end
save_end(KEYS[1], s)
return reply('ended', 'n', s)
`,
};
