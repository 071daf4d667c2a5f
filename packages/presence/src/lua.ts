/**
 * What every script of the presence and the counter shares: how much one call may do, and the
 * Lua helpers that more than one script uses. Redis runs one script at a time, so a script
 * whose work grows with what an instance holds would block every other client of Redis: each
 * script call here works on at most these many keys and fields, and the work that may be
 * larger is spread over several calls.
 */

/**
 * The SCAN cursor a script answered, "0" (done) for anything that is not one: a loop over
 * pages ends even when the server answers something else (a stand-in, a proxy).
 */
export function cursorOf(value: unknown): string {
  const cursor = String(value);
  return /^\d+$/.test(cursor) ? cursor : "0";
}

/** Element `i` of a script's array reply (undefined when the reply is not an array). */
export function elementOf(reply: unknown, i: number): unknown {
  return Array.isArray(reply) ? reply[i] : undefined;
}

/** The most keys one call renews, deletes or sweeps (a page of `SSCAN ... COUNT`), or dead instances' keys it deletes. */
export const KEYS_PER_CALL = 128;

/**
 * The most hash fields one call writes (a re-assert). Small: writing a field into a small hash
 * (a listpack, up to Redis's `hash-max-listpack-entries`) costs a search of the whole hash.
 */
export const FIELDS_PER_CALL = 128;

/** The most hash fields one read returns (`users()`: the union, or one page of it). */
export const FIELDS_PER_READ = 512;

/** The most hashes one call writes (a re-assert, a write of many changes). */
export const HASHES_PER_CALL = 32;

/** The most dead instances one heartbeat looks at (each costs a few commands plus its keys). */
export const DEAD_PER_CALL = 8;

/** `now_ms()`: Redis `TIME` in ms, so instances with skewed clocks agree on who is alive. */
export const NOW_MS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * `claim(base, k)`: before a write to data key `k`, drops it when it is still listed in the
 * instance's `old` set: a re-assert left it behind (it holds entries of before the re-assert)
 * and has not swept it yet.
 */
export const CLAIM = `
local function claim(base, k)
  if redis.call('SREM', base .. ':old', k) == 1 then redis.call('UNLINK', k) end
end
`;

/**
 * How long data keys live after their last write or renewal: twice `ttl`. An instance's
 * deadline (what readers go by) is `ttl` after its heartbeat; its keys outlive it, so that a
 * surviving instance can still read what a stopped one held when it drops it (and report who
 * left with it: {@link REAP_FUNCTIONS}). A survivor drops them right after the deadline.
 */
export const KEEP = `
local function keep_ms(ttl) return ttl * 2 end
`;

/**
 * Live presence: who holds a user in a room hash (`r:` suffix) on the other instances.
 * `all` is `ZRANGE instances 0 -1 WITHSCORES` (id, deadline, ...); `skip` the instance asking.
 *
 * - `held_live`: a live instance (deadline not passed) other than `skip` has `user` there.
 * - `gone_everywhere`: no live instance other than `skip` has `user` there; then its entries
 *   on instances whose deadline passed (not dropped yet) are deleted as well, so that the
 *   instance that drops them does not report the same user leaving again.
 *
 * A room transition is decided in the script that makes it, so two instances never both
 * report it: a join is the user's first socket in the room when no live instance had them;
 * a leave their last when none has them any more.
 */
export const HOLDERS = `
local function registered(root)
  return redis.call('ZRANGE', root .. 'instances', 0, -1, 'WITHSCORES')
end
local function held_live(root, all, skip, suffix, user, now)
  for i = 1, #all, 2 do
    local other = all[i]
    if other ~= skip and tonumber(all[i + 1]) >= now
      and redis.call('HEXISTS', root .. 'i:' .. other .. ':' .. suffix, user) == 1 then return true end
  end
  return false
end
local function gone_everywhere(root, all, skip, suffix, user, now)
  if held_live(root, all, skip, suffix, user, now) then return false end
  for i = 1, #all, 2 do
    local other = all[i]
    if other ~= skip and tonumber(all[i + 1]) < now then redis.call('HDEL', root .. 'i:' .. other .. ':' .. suffix, user) end
  end
  return true
end
`;
