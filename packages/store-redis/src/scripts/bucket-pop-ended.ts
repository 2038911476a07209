/**
 * purgeEnded, step 1 (bucket slot): takes up to `limit` sessions that ended before the cutoff out of
 * the purge index. If the caller dies before deleting them, the sessions' own TTL removes them.
 * KEYS: ended. ARGV: endedBefore, limit.
 */
export const bucketPopEnded = {
  numberOfKeys: 1,
  lua: `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
`,
};
