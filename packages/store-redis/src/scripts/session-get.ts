import { SESSION_LUA } from './prelude.js';

/**
 * get (session slot): reads a session, recording its timeout if it has passed a deadline, so that
 * exactly one caller sees `endedNow`. KEYS: session. ARGV: now.
 */
export const sessionGet = {
  numberOfKeys: 1,
  lua: `${SESSION_LUA}
local s = load(KEYS[1])
if not s then return {'unknown', ''} end
if settle(s, tonumber(ARGV[1])) then
  save_end(KEYS[1], s)
  return reply('ended', 'n', s)
end
if s.e ~= nil then return reply('ended', '', s) end
return reply('live', '', s)
`,
};
