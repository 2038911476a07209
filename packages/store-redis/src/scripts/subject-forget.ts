/**
 * After ends and purges (subject slot): `ended` takes sessions out of the subject's live index;
 * `gone` out of both indexes. An index left empty is deleted by Redis itself, so a subject whose
 * sessions are all purged leaves no key behind. KEYS: subj, live. ARGV: mode, ids….
 */
export const subjectForget = {
  numberOfKeys: 2,
  lua: `
if #ARGV < 2 then return 0 end
if ARGV[1] == 'gone' then redis.call('ZREM', KEYS[1], unpack(ARGV, 2)) end
return redis.call('ZREM', KEYS[2], unpack(ARGV, 2))
`,
};
