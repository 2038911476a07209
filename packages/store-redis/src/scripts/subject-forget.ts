/**
 * After ends and purges (subject slot): `ended` marks sessions as ended in the subject's index
 * (score −inf; one already gone stays gone); `gone` removes them. An index left empty is deleted by
 * Redis itself, so a subject whose sessions are all purged leaves no key behind.
 * KEYS: subject. ARGV: mode, ids….
 */
export const subjectForget = {
  numberOfKeys: 1,
  lua: `
if #ARGV < 2 then return 0 end
if ARGV[1] == 'gone' then return redis.call('ZREM', KEYS[1], unpack(ARGV, 2)) end
local marked = 0
for i = 2, #ARGV do marked = marked + redis.call('ZADD', KEYS[1], 'XX', 'CH', '-inf', ARGV[i]) end
return marked
`,
};
