import { KEEP_LUA } from './prelude.js';

/**
 * The index side of what session scripts decided (bucket slot), in groups of five ARGV:
 * - `end` (value endedAt): the session has ended; its expiry entry goes (uncounting it, once, as
 *   ZREM answers 1 only once), its warning entry goes, and it is indexed for purging at endedAt.
 * - `gone`: the session no longer exists; every entry goes.
 * - `live` (value deadline): a due entry was early; it moves to the true deadline, unless someone
 *   changed it since we leased it (compare with the lease score).
 * - `warn-drop` / `warn-later` (value warnAt): same for the warning index; `warn-over` drops the
 *   warning entry whatever its score (an ended session never warns again).
 * Every action is idempotent, so a repair that runs twice, or after the first writer, is harmless.
 * The deadline index's member is `policy NUL id` (keys.ts `indexMember`); the others' the bare id.
 * KEYS: exp, warn, ended, live. ARGV: lease ('' for none), then action, id, policy, value, ttlMs.
 */
export const bucketApply = {
  numberOfKeys: 4,
  lua: `${KEEP_LUA}
local lease = tonumber(ARGV[1])
local NUL = string.char(0)
local function leased(key, member)
  local score = redis.call('ZSCORE', key, member)
  return score and lease ~= nil and tonumber(score) == lease
end
for i = 2, #ARGV, 5 do
  local action, id, policy, value, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  if action == 'end' or action == 'gone' then
    if redis.call('ZREM', KEYS[1], policy .. NUL .. id) == 1 then
      if redis.call('HINCRBY', KEYS[4], policy, -1) <= 0 then redis.call('HDEL', KEYS[4], policy) end
    end
    redis.call('ZREM', KEYS[2], id)
    if action == 'end' then
      redis.call('ZADD', KEYS[3], value, id)
      keep(KEYS[3], ttl)
    else
      redis.call('ZREM', KEYS[3], id)
    end
  elseif action == 'live' then
    local member = policy .. NUL .. id
    if leased(KEYS[1], member) then redis.call('ZADD', KEYS[1], 'XX', value, member) end
  elseif action == 'warn-drop' then
    if leased(KEYS[2], id) then redis.call('ZREM', KEYS[2], id) end
  elseif action == 'warn-later' then
    if leased(KEYS[2], id) then redis.call('ZADD', KEYS[2], 'XX', value, id) end
  elseif action == 'warn-over' then
    redis.call('ZREM', KEYS[2], id)
  elseif action == 'warn-add' then
    redis.call('ZADD', KEYS[2], value, id)
    keep(KEYS[2], ttl)
  end
end
return 'OK'
`,
};
