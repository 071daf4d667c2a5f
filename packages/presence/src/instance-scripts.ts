/**
 * Lua scripts of an instance's lifecycle (key layout in `scripts.ts`): the heartbeat that
 * renews it, the re-assert that rewrites it from the local mirror, and close. Whatever an
 * instance holds, each call does a bounded amount of work (the limits of `lua.ts`): the caller
 * sends as many calls as the instance needs.
 */
import { DEAD_PER_CALL, HOLDERS, KEEP, KEYS_PER_CALL, NOW_MS } from "./lua.js";

const PRELUDE = `
if redis.replicate_commands then redis.replicate_commands() end
${NOW_MS}${KEEP}${HOLDERS}
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
-- Drops the users of a stopped instance's room hash \`k\` (suffix \`suffix\`), a page at a time
-- while \`budget\` lasts; each one no live instance has in that room goes to \`out\`
-- (suffix, user). Returns what is left of the budget.
local function reap_hash(root, all, id, k, suffix, now, out, budget)
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', k, cursor, 'COUNT', budget)
    cursor = page[1]
    local kv = page[2]
    for i = 1, #kv, 2 do
      local user = kv[i]
      if redis.call('HDEL', k, user) == 1 and gone_everywhere(root, all, id, suffix, user, now) then
        out[#out + 1] = suffix
        out[#out + 1] = user
      end
      budget = budget - 1
    end
  until cursor == '0' or budget <= 0
  return budget
end
-- Drops what instances whose deadline passed left (at most ${DEAD_PER_CALL} of them, at most
-- ${KEYS_PER_CALL} keys and room entries in all per call), then forgets them. Their marker goes
-- first: one that was only late finds it gone at its next heartbeat and re-asserts. The users
-- of their room hashes that no live instance has in that room are appended to \`out\`
-- (suffix, user): each once cluster-wide, since they are deleted as they are reported (see
-- HOLDERS). Returns 1 when more is left to drop (the caller calls REAP again), else 0.
local function reap(root, now, out)
  local z = root .. 'instances'
  local dead = redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. now, 'LIMIT', 0, ${DEAD_PER_CALL})
  if #dead == 0 then return 0 end
  local all = registered(root)
  local budget = ${KEYS_PER_CALL}
  for _, id in ipairs(dead) do
    if budget <= 0 then return 1 end
    local base = root .. 'i:' .. id
    redis.call('DEL', base)
    for _, which in ipairs({':keys', ':old'}) do
      local set = base .. which
      local cursor, cut = '0', false
      repeat
        local page = redis.call('SSCAN', set, cursor, 'COUNT', ${KEYS_PER_CALL})
        cursor = page[1]
        for _, k in ipairs(page[2]) do
          if budget <= 0 then
            cut = true
            break
          end
          local suffix = string.sub(k, #base + 2)
          if string.sub(suffix, 1, 2) == 'r:' then
            budget = reap_hash(root, all, id, k, suffix, now, out, budget)
          else
            redis.call('UNLINK', k)
            budget = budget - 1
          end
          if redis.call('EXISTS', k) == 0 then redis.call('SREM', set, k) else cut = true end
        end
      until cursor == '0' or cut
      if cut or cursor ~= '0' then return 1 end
      redis.call('DEL', set)
    end
    redis.call('ZREM', z, id)
  end
  if #dead == ${DEAD_PER_CALL} then return 1 end
  return 0
end
-- Milliseconds until the earliest deadline of another registered instance that has not passed
-- (-1: none): when that comes before the next heartbeat, the caller calls REAP right then, so
-- that a stopped instance's users leave within ttl of its last heartbeat.
local function soonest(root, id, now)
  local next = redis.call('ZRANGEBYSCORE', root .. 'instances', now, '+inf', 'WITHSCORES', 'LIMIT', 0, 2)
  for i = 1, #next, 2 do
    if next[i] ~= id then return tonumber(next[i + 1]) - now end
  end
  return -1
end
-- Appends the flat list \`list\` to \`reply\`.
local function append(reply, list)
  for _, v in ipairs(list) do reply[#reply + 1] = v end
  return reply
end
local function register(root, id, ttl, now)
  local z = root .. 'instances'
  redis.call('ZADD', z, now + ttl, id)
  if redis.call('PTTL', z) < keep_ms(ttl) then redis.call('PEXPIRE', z, keep_ms(ttl)) end
end
-- Renews one page of the keys set: {1, next cursor, how many listed keys were gone}.
local function renew(set, cursor, ttl)
  local page = redis.call('SSCAN', set, cursor, 'COUNT', ${KEYS_PER_CALL})
  local lost = 0
  for _, k in ipairs(page[2]) do
    if redis.call('PEXPIRE', k, keep_ms(ttl)) == 0 then lost = lost + 1 end
  end
  return {1, page[1], lost}
end
`;

/**
 * ARGV: root, id, ttl. Drops stopped instances (bounded, see `reap`), renews this instance's
 * deadline, marker and keys set, and the first page of its data keys. Replies
 * `{1, cursor, lost, more, soonest, suffix, user, ...}`: continue with {@link RENEW} while
 * the cursor is not "0"; `more` 1 when stopped instances are left to drop ({@link REAP});
 * `soonest` the ms until another instance's deadline (-1: none); then the users that left
 * rooms with the stopped instances (their room suffix and id). Starts with `{0, "0", 0}`
 * without renewing when the marker or the registration is gone or its deadline passed
 * (expired during an outage, pruned, or Redis lost its data): the caller then re-asserts, as
 * it does when `lost` counts listed keys that were gone.
 */
export const HEARTBEAT = `${PRELUDE}
local root, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local reaped = {}
local more = reap(root, now, reaped)
local base = root .. 'i:' .. id
local deadline = redis.call('ZSCORE', root .. 'instances', id)
if redis.call('EXISTS', base) == 0 or not deadline or tonumber(deadline) < now then
  return append({0, '0', 0, more, soonest(root, id, now)}, reaped)
end
register(root, id, ttl, now)
redis.call('PEXPIRE', base, ttl)
redis.call('PEXPIRE', base .. ':keys', keep_ms(ttl))
local page = renew(base .. ':keys', '0', ttl)
return append({1, page[2], page[3], more, soonest(root, id, now)}, reaped)
`;

/**
 * ARGV: root, id. Drops stopped instances (bounded, see `reap`) and nothing else:
 * `{more, soonest, suffix, user, ...}` as in {@link HEARTBEAT}.
 */
export const REAP = `${PRELUDE}
local root, id = ARGV[1], ARGV[2]
local now = now_ms()
local reaped = {}
local more = reap(root, now, reaped)
return append({more, soonest(root, id, now)}, reaped)
`;

/** ARGV: base (root .. 'i:' .. id), ttl, cursor. The next page of a heartbeat: `{1, cursor, lost}`. */
export const RENEW = `${PRELUDE}
return renew(ARGV[1] .. ':keys', ARGV[3], tonumber(ARGV[2]))
`;

/**
 * ARGV: root, id, ttl, marker, first ("1"/"0"), last ("1"/"0"), then groups of
 * [suffix, part, n, field, value (n pairs)]. One call of a re-assert, which replaces
 * everything this instance has in Redis with the hashes of the groups, sent as several calls
 * in one go (nothing of this instance is written in between). Returns
 * `{began, cursor, more, suffix, user, ...}`.
 *
 * The first call drops stopped instances (bounded, see `reap`: `more` and the users that left
 * rooms with them, as in {@link HEARTBEAT}; 0 and none in the other calls), moves the keys set to `old` (O(1)), sets
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
local began, more, reaped = 1, 0, {}
local keep = keep_ms(ttl)
if ARGV[5] == '1' then
  local now = now_ms()
  more = reap(root, now, reaped)
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
    redis.call('PEXPIRE', key, keep)
    redis.call('SADD', set, key)
    added = true
  else
    redis.call('PEXPIRE', target, keep)
  end
  i = i + 3 + 2 * n
end
if added then redis.call('PEXPIRE', set, keep) end
local cursor = '0'
if ARGV[6] == '1' then cursor = drop_page(old, '0') end
return append({began, cursor, more}, reaped)
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
