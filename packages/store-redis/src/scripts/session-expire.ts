import { SESSION_LUA } from './prelude.js';

/**
 * claimExpired, step 2 (session slot): settles one session that the expiry index says is due.
 * `claimed` goes to exactly one caller, whichever node and path got there first; `live` means the
 * index entry was early (the session was extended since), `ended` that someone else recorded the
 * end. KEYS: session. ARGV: now.
 */
export const sessionExpire = {
  numberOfKeys: 1,
  lua: `${SESSION_LUA}
local s = load(KEYS[1])
if not s then return {'unknown', ''} end
if settle(s, tonumber(ARGV[1])) then
  save_end(KEYS[1], s)
  return reply('claimed', 'n', s)
end
if s.e ~= nil then return reply('ended', '', s) end
return reply('live', '', s)
`,
};
