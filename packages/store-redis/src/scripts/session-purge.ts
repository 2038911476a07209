import { SESSION_LUA } from './prelude.js';

/**
 * purgeEnded, step 2 (session slot): deletes a session that ended before the cutoff.
 * KEYS: session. ARGV: endedBefore.
 */
export const sessionPurge = {
  numberOfKeys: 1,
  lua: `${SESSION_LUA}
local s = load(KEYS[1])
if not s then return {'unknown', ''} end
if s.e ~= nil and s.e < tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return reply('purged', '', s)
end
return reply('kept', '', s)
`,
};
