/**
 * Token mode's refresh-token families (session slot: a family's key carries its session's tag).
 * Fields: `c` current hash, `p` previous hash, `s` salt, `t` rotated at, `r` revoked ('1'), `x`
 * expires at. Epoch ms are exact in Lua's doubles up to 2^53.
 */

/** issue: keeps a new family with its TTL. KEYS: family. ARGV: current hash, expiresAt, ttlMs. Replies 1, or 0 if it exists. */
export const refreshIssue = {
  numberOfKeys: 1,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'x', ARGV[2], 'r', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`,
};

/**
 * rotate: core's refresh-tokens.ts `decideRotation`, restated. KEYS: family. ARGV: now,
 * presented hash, next hash, next salt, grace ms. Replies {outcome} or {'grace', salt, current}
 * or {'reuse', '1' if revoked by this call}.
 */
export const refreshRotate = {
  numberOfKeys: 1,
  lua: `
local v = redis.call('HMGET', KEYS[1], 'c', 'p', 's', 't', 'r', 'x')
local now = tonumber(ARGV[1])
if not v[1] or now >= tonumber(v[6]) then return {'unknown'} end
if v[5] == '1' then return {'reuse', '0'} end
if ARGV[2] == v[1] then
  redis.call('HSET', KEYS[1], 'c', ARGV[3], 'p', ARGV[2], 's', ARGV[4], 't', ARGV[1])
  return {'rotated'}
end
if v[2] and ARGV[2] == v[2] and v[3] and v[4] and now - tonumber(v[4]) <= tonumber(ARGV[5]) then
  return {'grace', v[3], v[1]}
end
redis.call('HSET', KEYS[1], 'r', '1')
return {'reuse', '1'}
`,
};
