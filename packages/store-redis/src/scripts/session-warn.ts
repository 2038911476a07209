import { SESSION_LUA } from './prelude.js';

/**
 * claimWarnings, step 2 (session slot): claims the warning of a live session whose warning time has
 * come, clearing it so that it is claimed once. `over`: ended or past its deadline (the expiry
 * reports it); `none`: already claimed; `later`: extended since, due at its new warning time.
 * KEYS: session. ARGV: now.
 */
export const sessionWarn = {
  numberOfKeys: 1,
  lua: `${SESSION_LUA}
local s = load(KEYS[1])
if not s then return {'unknown', ''} end
local now = tonumber(ARGV[1])
if s.e ~= nil or now >= deadline(s) then return reply('over', '', s) end
if s.w == nil then return reply('none', '', s) end
if s.w > now then return reply('later', '', s) end
redis.call('HDEL', KEYS[1], 'w')
s.w = nil
return reply('claimed', '', s)
`,
};
