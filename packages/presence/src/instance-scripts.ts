/**
 * Lua scripts of an instance's lifecycle (key layout in `scripts.ts`): the heartbeat that
 * renews it, the re-assert that rewrites it from the local mirror, and close. Whatever an
 * instance holds, each call does a bounded amount of work (the limits of `lua.ts`): the caller
 * sends as many calls as the instance needs.
 */
import { DEAD_PER_CALL, KEYS_PER_CALL, NOW_MS } from "./lua.js";

const PRELUDE = `
if redis.replicate_commands then redis.replicate_commands() end
${NOW_MS}
-- Unlinks every key a set lists and deletes the set (only for a set known to be small).
local function drop_all(set)
  local ks = redis.call('SMEMBERS', set)
  for _, k in ipairs(ks) do redis.call('UNLINK', k) end
  redis.call('DEL', set)
  return #ks
end
-- Unlinks one page of the keys a set lists and takes them out of it; returns the next cursor.
-- (SSCAN, not SPOP: random picks from a set that shrank are slow, a page never is.)
local function drop_page(set, cursor)
  local page = redis.call('SSCAN', set, cursor, 'COUNT', ${KEYS_PER_CALL})
  local ks = page[2]
  if #ks > 0 then
    for _, k in ipairs(ks) do redis.call('UNLINK', k) end
    redis.call('SREM', set, unpack(ks))
  end
  return page[1]
end
-- Deletes what instances whose deadline passed left (at most ${DEAD_PER_CALL} of them, at most
-- ${KEYS_PER_CALL} keys in all) and forgets them. Their marker goes first: one that was only
-- late finds it gone at its next heartbeat and re-asserts. One with more keys than that is
-- left to its keys' expiry (nothing renews them) and forgotten once they are gone.
local function forget_dead(root, now)
  local z = root .. 'instances'
  local budget = ${KEYS_PER_CALL}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. now, 'LIMIT', 0, ${DEAD_PER_CALL})) do
    local base = root .. 'i:' .. id
    local set, old = base .. ':keys', base .. ':old'
    redis.call('DEL', base)
    local n = redis.call('SCARD', set) + redis.call('SCARD', old)
    if n <= budget then
      budget = budget - drop_all(set) - drop_all(old)
      redis.call('ZREM', z, id)
    end
  end
end
local function register(root, id, ttl, now)
  local z = root .. 'instances'
  redis.call('ZADD', z, now + ttl, id)
  if redis.call('PTTL', z) < ttl then redis.call('PEXPIRE', z, ttl) end
end
-- Renews one page of the keys set: {1, next cursor, how many listed keys were gone}.
local function renew(set, cursor, ttl)
  local page = redis.call('SSCAN', set, cursor, 'COUNT', ${KEYS_PER_CALL})
  local lost = 0
  for _, k in ipairs(page[2]) do
    if redis.call('PEXPIRE', k, ttl) == 0 then lost = lost + 1 end
  end
  return {1, page[1], lost}
end
`;

/**
 * ARGV: root, id, ttl. Forgets dead instances (bounded), renews this instance's deadline,
 * marker and keys set, and the first page of its data keys: `{1, cursor, lost}`, to be
 * continued with {@link RENEW} while the cursor is not "0". Returns `{0, "0", 0}` without
 * renewing when the marker or the registration is gone or its deadline passed (expired
 * during an outage, pruned, or Redis lost its data): the caller then re-asserts, as it does
 * when `lost` counts listed keys that were gone.
 */
export const HEARTBEAT = `${PRELUDE}
local root, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
forget_dead(root, now)
local base = root .. 'i:' .. id
local deadline = redis.call('ZSCORE', root .. 'instances', id)
if redis.call('EXISTS', base) == 0 or not deadline or tonumber(deadline) < now then return {0, '0', 0} end
register(root, id, ttl, now)
redis.call('PEXPIRE', base, ttl)
redis.call('PEXPIRE', base .. ':keys', ttl)
return renew(base .. ':keys', '0', ttl)
`;

/** ARGV: base (root .. 'i:' .. id), ttl, cursor. The next page of a heartbeat: `{1, cursor, lost}`. */
export const RENEW = `${PRELUDE}
return renew(ARGV[1] .. ':keys', ARGV[3], tonumber(ARGV[2]))
`;

/**
 * ARGV: root, id, ttl, marker, first ("1"/"0"), last ("1"/"0"), then groups of
 * [suffix, part, n, field, value (n pairs)]. One call of a re-assert, which replaces
 * everything this instance has in Redis with the hashes of the groups, sent as several calls
 * in one go (nothing of this instance is written in between). Returns `{began, cursor}`.
 *
 * The first call forgets dead instances (bounded), moves the keys set to `old` (O(1)), sets
 * the marker and registers the instance; `began` is 0 when an earlier re-assert's `old` was
 * still there (the keys set stays: the caller re-asserts again once it is swept). `part` is
 * "w" for a hash whole in this call (replaced at once), or "f", "m", "l" for the first, a
 * middle and the last part of a larger one, staged in `s:<suffix>` and renamed onto the hash
 * by its last part, so no reader sees half of a hash. The last call sweeps the first page of
 * `old`; `cursor` is where {@link SWEEP} goes on ("0": nothing left).
 */
export const REBUILD = `${PRELUDE}
local root, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local base = root .. 'i:' .. id
local set, old = base .. ':keys', base .. ':old'
local began = 1
if ARGV[5] == '1' then
  local now = now_ms()
  forget_dead(root, now)
  if redis.call('EXISTS', old) == 1 then
    began = 0
  elseif redis.call('EXISTS', set) == 1 then
    redis.call('RENAME', set, old)
  end
  redis.call('SET', base, ARGV[4], 'PX', ttl)
  register(root, id, ttl, now)
end
local i, added = 7, false
while i <= #ARGV do
  local suffix, part, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local key = base .. ':' .. suffix
  local target = key
  if part ~= 'w' then target = base .. ':s:' .. suffix end
  if part == 'w' or part == 'f' then redis.call('UNLINK', target) end
  redis.call('HSET', target, unpack(ARGV, i + 3, i + 2 + 2 * n))
  if part == 'w' or part == 'l' then
    redis.call('SREM', old, key)
    if part == 'l' then
      redis.call('UNLINK', key)
      redis.call('RENAME', target, key)
    end
    redis.call('PEXPIRE', key, ttl)
    redis.call('SADD', set, key)
    added = true
  else
    redis.call('PEXPIRE', target, ttl)
  end
  i = i + 3 + 2 * n
end
if added then redis.call('PEXPIRE', set, ttl) end
local cursor = '0'
if ARGV[6] == '1' then cursor = drop_page(old, '0') end
return {began, cursor}
`;

/** ARGV: base (root .. 'i:' .. id), cursor. Deletes the next page of the keys a re-assert left behind; returns the next cursor. */
export const SWEEP = `${PRELUDE}
return drop_page(ARGV[1] .. ':old', ARGV[2])
`;

/**
 * ARGV: root, id, set ("keys" or "old"), cursor. Removes this instance: the first call (keys,
 * "0") unregisters it and deletes its marker, so readers stop seeing it at once; each call
 * deletes one page of the keys `set` lists. Returns the next cursor (the caller goes on until
 * "0", for both sets).
 */
export const CLOSE = `${PRELUDE}
local root, id, which, cursor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local base = root .. 'i:' .. id
if which == 'keys' and cursor == '0' then
  redis.call('ZREM', root .. 'instances', id)
  redis.call('DEL', base)
end
return drop_page(base .. ':' .. which, cursor)
`;
