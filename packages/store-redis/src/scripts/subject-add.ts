import { KEEP_LUA } from './prelude.js';

/**
 * create, step 3 (subject slot): adds a session to its subject's index and, under `maxSessions`,
 * picks the oldest sessions beyond the limit for eviction, in one step, so that concurrent
 * creations for one subject are serialized here and cannot together exceed the limit.
 * The index holds every session not yet purged (listing); those not known to have ended score
 * their createdAt, the others −inf. The first are a superset of the truly live ones, corrected by
 * the caller, which first reads each candidate's session and passes the ones that are gone
 * (`forget`: removed) or no longer live (`dead`: marked ended).
 * KEYS: subject. ARGV: id, createdAt, ttlMs, maxSessions ('' for none), forget count, forget ids…,
 * dead ids…. Replies with the picked ids, oldest first.
 */
export const subjectAdd = {
  numberOfKeys: 1,
  lua: `${KEEP_LUA}
local id, created_at, ttl, max = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local forget = tonumber(ARGV[5])
for i = 6, 5 + forget do redis.call('ZREM', KEYS[1], ARGV[i]) end
for i = 6 + forget, #ARGV do redis.call('ZADD', KEYS[1], 'XX', '-inf', ARGV[i]) end
local picks = {}
if max ~= '' then
  local others = {}
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(-inf', '+inf')) do
    if member ~= id then others[#others + 1] = member end
  end
  for i = 1, #others - tonumber(max) + 1 do
    picks[#picks + 1] = others[i]
    redis.call('ZADD', KEYS[1], 'XX', '-inf', others[i])
  end
end
redis.call('ZADD', KEYS[1], created_at, id)
keep(KEYS[1], ttl)
return picks
`,
};
