import { SESSION_LUA } from './prelude.js';

/**
 * create, step 2 (session slot): writes the session hash, replacing any previous one, with its
 * safety-net TTL. KEYS: session. ARGV: ttlMs, then field/value pairs.
 */
export const sessionCreate = {
  numberOfKeys: 1,
  lua: `${SESSION_LUA}
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 'OK'
`,
};
