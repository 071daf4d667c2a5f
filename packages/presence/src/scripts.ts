/**
 * Lua scripts of the Redis presence and connection counter. Every script takes ARGV only
 * (the keys are derived from the root prefix and instance ids, so they target a single
 * Redis or a primary behind Sentinel, not Redis Cluster) and reads time from Redis `TIME`,
 * so instances with skewed clocks agree on who is alive.
 *
 * Layout under `root` (`<prefix>presence:` or `<prefix>conn:`):
 * - `root instances`        ZSET  instanceId -> deadline (Redis ms); live = deadline >= now
 * - `root i:<id>`           STRING marker (JSON host/pid/since), PX ttl
 * - `root i:<id>:keys`      SET   names of this instance's data hashes, PX ttl
 * - `root i:<id>:<suffix>`  HASH  data (presence: `u:<ns>`, `r:<len(ns)>:<ns>:<room>`; counter: `c`), PX ttl
 */

const PRELUDE = `
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function forget_dead(root, now)
  local z = root .. 'instances'
  local dead = redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. now)
  if #dead == 0 then return end
  for _, id in ipairs(dead) do
    local base = root .. 'i:' .. id
    for _, k in ipairs(redis.call('SMEMBERS', base .. ':keys')) do redis.call('DEL', k) end
    redis.call('DEL', base, base .. ':keys')
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. now)
end
local function register(root, id, ttl, now)
  local z = root .. 'instances'
  redis.call('ZADD', z, now + ttl, id)
  if redis.call('PTTL', z) < ttl then redis.call('PEXPIRE', z, ttl) end
end
`;

const READ_PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function live(root)
  return redis.call('ZRANGEBYSCORE', root .. 'instances', now_ms(), '+inf')
end
`;

/**
 * ARGV: root, id, ttl. Renews this instance (deadline, marker, every data key) and forgets
 * dead instances. Returns 0 without renewing when the marker or the registration is gone
 * (expired during an outage, pruned, or Redis lost its data): the caller then re-asserts.
 */
export const HEARTBEAT = `${PRELUDE}
local root, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
forget_dead(root, now)
local base = root .. 'i:' .. id
if redis.call('EXISTS', base) == 0 or not redis.call('ZSCORE', root .. 'instances', id) then return 0 end
register(root, id, ttl, now)
redis.call('PEXPIRE', base, ttl)
local set = base .. ':keys'
local keys = redis.call('SMEMBERS', set)
for _, k in ipairs(keys) do redis.call('PEXPIRE', k, ttl) end
if #keys > 0 then redis.call('PEXPIRE', set, ttl) end
return 1
`;

/**
 * ARGV: root, id, ttl, marker, then [suffix, field, value]... Replaces everything this
 * instance has in Redis with the given hash fields and registers it as live.
 */
export const REASSERT = `${PRELUDE}
local root, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
forget_dead(root, now)
local base = root .. 'i:' .. id
local set = base .. ':keys'
for _, k in ipairs(redis.call('SMEMBERS', set)) do redis.call('DEL', k) end
redis.call('DEL', set)
redis.call('SET', base, ARGV[4], 'PX', ttl)
local seen = false
local expired = {}
for i = 5, #ARGV, 3 do
  local v = ARGV[i + 2]
  if v ~= '' then
    local k = base .. ':' .. ARGV[i]
    redis.call('HSET', k, ARGV[i + 1], v)
    if not expired[k] then
      expired[k] = true
      redis.call('PEXPIRE', k, ttl)
      redis.call('SADD', set, k)
      seen = true
    end
  end
end
if seen then redis.call('PEXPIRE', set, ttl) end
register(root, id, ttl, now)
return 1
`;

/**
 * ARGV: base (root .. 'i:' .. id), ttl, then [suffix, field, value]... Sets each hash field
 * (value '' deletes it), keeping every touched key expiring and listed in the keys set.
 */
export const WRITE = `
local base, ttl = ARGV[1], tonumber(ARGV[2])
local set = base .. ':keys'
local grew = false
for i = 3, #ARGV, 3 do
  local k = base .. ':' .. ARGV[i]
  local v = ARGV[i + 2]
  if v == '' then
    if redis.call('HDEL', k, ARGV[i + 1]) == 1 and redis.call('EXISTS', k) == 0 then redis.call('SREM', set, k) end
  else
    redis.call('HSET', k, ARGV[i + 1], v)
    redis.call('PEXPIRE', k, ttl)
    redis.call('SADD', set, k)
    grew = true
  end
end
if grew then redis.call('PEXPIRE', set, ttl) end
return 1
`;

/** ARGV: root, id. Removes this instance's data, marker and registration. */
export const CLOSE = `
local root, id = ARGV[1], ARGV[2]
local base = root .. 'i:' .. id
for _, k in ipairs(redis.call('SMEMBERS', base .. ':keys')) do redis.call('DEL', k) end
redis.call('DEL', base, base .. ':keys')
redis.call('ZREM', root .. 'instances', id)
return 1
`;

/** ARGV: root, suffix. Union of the hash fields (user ids) of `suffix` over live instances. */
export const USERS = `${READ_PRELUDE}
local root, suffix = ARGV[1], ARGV[2]
local ids = live(root)
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
export const ACQUIRE = `${READ_PRELUDE}
if redis.replicate_commands then redis.replicate_commands() end
local root, id, ttl, ip, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local base = root .. 'i:' .. id
local own = base .. ':c'
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
export const RELEASE = `
local root, id, ttl, ip = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local base = root .. 'i:' .. id
local own = base .. ':c'
if redis.call('HINCRBY', own, ip, -1) <= 0 then
  redis.call('HDEL', own, ip)
  if redis.call('EXISTS', own) == 0 then redis.call('SREM', base .. ':keys', own) end
else
  redis.call('PEXPIRE', own, ttl)
end
return 1
`;
