/**
 * claimExpired / claimWarnings, step 1 (bucket slot): takes up to `limit` entries that are due and
 * moves them to `leaseUntil`, so that concurrent claimers (other nodes) skip them; a claimer that
 * dies mid-way only delays them until the lease runs out. Exactly-once does not rest on the lease
 * but on the session script that records the end. KEYS: index. ARGV: now, leaseUntil, limit.
 */
export const bucketLease = {
  numberOfKeys: 1,
  lua: `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member) end
return due
`,
};
