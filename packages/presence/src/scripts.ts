/**
 * Lua scripts that write and read an instance's data: the presence's writes and reads, the
 * counter's acquire and release (the instance's lifecycle, heartbeat, re-assert and close, is
 * in `instance-scripts.ts`). Every script takes ARGV only (the keys are derived from the root
 * prefix and instance ids) and reads time from Redis `TIME`. Every key lies under the root: on
 * Redis Cluster the root is a hash tag (one of 16 groups, see `groups.ts`), so a script's keys
 * share one slot, and the script is routed by a key of that tag.
 *
 * Layout under `root` (`<prefix>presence:` or `<prefix>conn:`; on Redis Cluster
 * `{<prefix>presence:<g>}:` or `{<prefix>conn:<g>}:`):
 * - `root instances`        ZSET  instanceId -> deadline (Redis ms); live = deadline >= now
 * - `root i:<id>`           STRING marker (JSON host/pid/since), PX ttl
 * - `root i:<id>:keys`      SET   names of this instance's data hashes, PX 2 * ttl
 * - `root i:<id>:<suffix>`  HASH  data (presence: `u:<ns>`, `r:<len(ns)>:<ns>:<room>`; counter: `c`),
 *                                 PX 2 * ttl (they outlive the deadline: a survivor reads who was
 *                                 on a stopped instance when it drops them, see `REAP`)
 * - `root i:<id>:old`       SET   only during a re-assert: data hashes of before it, not rewritten
 *                                 yet (swept at its end, dropped by the first write to one), PX 2 * ttl
 * - `root i:<id>:s:<suffix>` HASH only during a re-assert: a hash too large for one call, staged
 *                                 and renamed onto `i:<id>:<suffix>` by its last call, PX 2 * ttl
 */
import { CLAIM, FIELDS_PER_READ, HOLDERS, KEEP, NOW_MS } from "./lua.js";

const READ_PRELUDE = `${NOW_MS}
local function live(root)
  return redis.call('ZRANGEBYSCORE', root .. 'instances', now_ms(), '+inf')
end
`;

/**
 * ARGV: root, id, ttl, then [suffix, field, value]... Sets each hash field of this instance
 * (value '' deletes it), keeping every touched key expiring and listed in the keys set.
 *
 * Returns the room transitions it made, cluster-wide: for the n-th triple (1-based), `n` when
 * it added a user to a room hash (`r:` suffix) that no live instance had them in (their
 * first socket there), `-n` when it removed the last entry of a user from a room on every
 * live instance (their last socket there). Other triples are not listed.
 */
export const WRITE = `${CLAIM}${NOW_MS}${KEEP}${HOLDERS}
if redis.replicate_commands then redis.replicate_commands() end
local root, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local keep = keep_ms(ttl)
local base = root .. 'i:' .. id
local set = base .. ':keys'
local grew = false
local all, now
local out = {}
for i = 4, #ARGV, 3 do
  local suffix, field, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local k = base .. ':' .. suffix
  local room = string.sub(suffix, 1, 2) == 'r:'
  claim(base, k)
  if v == '' then
    if redis.call('HDEL', k, field) == 1 then
      if redis.call('EXISTS', k) == 0 then redis.call('SREM', set, k) end
      if room then
        if all == nil then all, now = registered(root), now_ms() end
        if gone_everywhere(root, all, id, suffix, field, now) then out[#out + 1] = -((i - 1) / 3) end
      end
    end
  else
    local added = redis.call('HSET', k, field, v) == 1
    redis.call('PEXPIRE', k, keep)
    redis.call('SADD', set, k)
    grew = true
    if added and room then
      if all == nil then all, now = registered(root), now_ms() end
      if not held_live(root, all, id, suffix, field, now) then out[#out + 1] = (i - 1) / 3 end
    end
  end
end
if grew then redis.call('PEXPIRE', set, keep) end
return out
`;

/**
 * ARGV: root, suffix. Union of the hash fields (user ids) of `suffix` over live instances,
 * when they are at most ${FIELDS_PER_READ} in all. A larger answer would be one long call: the
 * reply is then `{ {id...} }`, the live instances, whose fields the caller reads a page per
 * call with {@link USERS_PAGE}.
 */
export const USERS = `${READ_PRELUDE}
local root, suffix = ARGV[1], ARGV[2]
local ids = live(root)
local total = 0
for _, id in ipairs(ids) do total = total + redis.call('HLEN', root .. 'i:' .. id .. ':' .. suffix) end
if total > ${FIELDS_PER_READ} then return {ids} end
if #ids == 1 then return redis.call('HKEYS', root .. 'i:' .. ids[1] .. ':' .. suffix) end
local seen, out = {}, {}
for _, id in ipairs(ids) do
  for _, f in ipairs(redis.call('HKEYS', root .. 'i:' .. id .. ':' .. suffix)) do
    if not seen[f] then
      seen[f] = true
      out[#out + 1] = f
    end
  end
end
return out
`;

/** ARGV: root, id, suffix, cursor. One page of the fields of an instance's hash: `{cursor, field...}`. */
export const USERS_PAGE = `
local page = redis.call('HSCAN', ARGV[1] .. 'i:' .. ARGV[2] .. ':' .. ARGV[3], ARGV[4], 'COUNT', ${FIELDS_PER_READ})
local out = {page[1]}
local kv = page[2]
for i = 1, #kv, 2 do out[#out + 1] = kv[i] end
return out
`;

/** ARGV: root, suffix, userId. The JSON socket-id arrays of `userId` on live instances. */
export const SOCKETS = `${READ_PRELUDE}
local root, suffix, user = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for _, id in ipairs(live(root)) do
  local v = redis.call('HGET', root .. 'i:' .. id .. ':' .. suffix, user)
  if v then out[#out + 1] = v end
end
return out
`;

/** ARGV: root, suffix, userId. 1 when `userId` has a field on a live instance. */
export const ONLINE = `${READ_PRELUDE}
local root, suffix, user = ARGV[1], ARGV[2], ARGV[3]
for _, id in ipairs(live(root)) do
  if redis.call('HEXISTS', root .. 'i:' .. id .. ':' .. suffix, user) == 1 then return 1 end
end
return 0
`;

/**
 * ARGV: root, id, ttl, ip, limit. Sums the live instances' counts for `ip` (this instance's
 * always counts) and increments this instance's count only when the sum is below `limit`.
 */
export const ACQUIRE = `${READ_PRELUDE}${CLAIM}${KEEP}
if redis.replicate_commands then redis.replicate_commands() end
local root, id, ttl, ip, limit = ARGV[1], ARGV[2], keep_ms(tonumber(ARGV[3])), ARGV[4], tonumber(ARGV[5])
local base = root .. 'i:' .. id
local own = base .. ':c'
claim(base, own)
local total = tonumber(redis.call('HGET', own, ip) or '0')
for _, other in ipairs(live(root)) do
  if other ~= id then
    total = total + tonumber(redis.call('HGET', root .. 'i:' .. other .. ':c', ip) or '0')
  end
end
if total >= limit then return 0 end
redis.call('HINCRBY', own, ip, 1)
redis.call('PEXPIRE', own, ttl)
redis.call('SADD', base .. ':keys', own)
redis.call('PEXPIRE', base .. ':keys', ttl)
return 1
`;

/** ARGV: root, id, ttl, ip. Decrements this instance's count for `ip`, dropping it at zero. */
export const RELEASE = `${CLAIM}${KEEP}
local root, id, ttl, ip = ARGV[1], ARGV[2], keep_ms(tonumber(ARGV[3])), ARGV[4]
local base = root .. 'i:' .. id
local own = base .. ':c'
claim(base, own)
if redis.call('HINCRBY', own, ip, -1) <= 0 then
  redis.call('HDEL', own, ip)
  if redis.call('EXISTS', own) == 0 then redis.call('SREM', base .. ':keys', own) end
else
  redis.call('PEXPIRE', own, ttl)
end
return 1
`;
