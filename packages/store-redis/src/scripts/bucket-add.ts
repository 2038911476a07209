import { KEEP_LUA } from './prelude.js';

/**
 * create, step 1 (bucket slot): indexes a new session's deadline and warning time and counts it
 * live for its policy. The counter moves only when the expiry entry is added or removed, in the
 * same script, so per bucket it always equals the number of entries of that policy.
 * The deadline entry is `policy NUL id` (keys.ts `indexMember`), the warning entry the bare id.
 * KEYS: exp, warn, live. ARGV: id, policy, deadline, warnAt ('' for none), ttlMs.
 */
export const bucketAdd = {
  numberOfKeys: 3,
  lua: `${KEEP_LUA}
local id, policy, deadline, warn_at, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local member = policy .. string.char(0) .. id
if redis.call('ZADD', KEYS[1], 'NX', deadline, member) == 1 then
  redis.call('HINCRBY', KEYS[3], policy, 1)
end
if warn_at ~= '' then
  redis.call('ZADD', KEYS[2], warn_at, id)
  keep(KEYS[2], ttl)
end
keep(KEYS[1], ttl)
keep(KEYS[3], ttl)
return 'OK'
`,
};
