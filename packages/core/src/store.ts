/** A value the state store can hold: anything that survives `JSON.stringify`/`JSON.parse`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Options of {@link RealtimeStateStore.set}. */
export interface StoreSetOptions {
  /** Time to live in milliseconds. The key reads as missing once it elapses. No expiry when absent. */
  ttlMs?: number;
}

/** Releases a lock taken with {@link RealtimeStateStore.lock}. Resolves `true` when this holder still owned it. */
export type LockRelease = () => Promise<boolean>;

/**
 * The shared state every handler reaches as `ctx.state`. One contract, several stores
 * (`@loly-rt/state-memory`, `@loly-rt/state-redis`, your own); `@loly-rt/core/testing`
 * holds the conformance suite that proves a store keeps it.
 *
 * An implementation MUST:
 * - treat keys as opaque strings and values as JSON: what `set` stores, `get` returns as an
 *   equal (deep-equal, not identical) value; a missing or expired key reads as `null`;
 * - never return a key whose TTL has elapsed, from any method;
 * - make `incr`/`decr` atomic across every process sharing the store; a missing key counts
 *   as 0; they keep the key's TTL; on a key holding a non-integer they reject;
 * - make `lock` exclusive across every process: while one holder's lock lives, every other
 *   `lock` on that key resolves `null`; a lock frees itself after `ttlMs`; a release
 *   frees only the holder's own lock (a release after expiry and re-acquisition by someone
 *   else does nothing and resolves `false`);
 * - reject (never hang) when the backing service fails; the server bounds every call with
 *   `scale.commandTimeoutMs` and answers `UNAVAILABLE`.
 *
 * An implementation MUST NOT mutate values handed to `set`/`listPush`, nor hand out
 * references a caller could use to mutate stored state.
 */
export interface RealtimeStateStore {
  /** The value under `key`, or `null` when missing or expired. */
  get<T extends JsonValue = JsonValue>(key: string): Promise<T | null>;
  /** Stores `value` under `key`, replacing any value and TTL. */
  set(key: string, value: JsonValue, options?: StoreSetOptions): Promise<void>;
  /** Removes `key` of any kind. Resolves `true` when it existed. */
  del(key: string): Promise<boolean>;
  /** Adds `by` (default 1) to the integer under `key` and resolves the new value. */
  incr(key: string, by?: number): Promise<number>;
  /** Subtracts `by` (default 1) from the integer under `key` and resolves the new value. */
  decr(key: string, by?: number): Promise<number>;
  /** Prepends `value` to the list under `key`; resolves the new length. */
  listPush(key: string, value: JsonValue): Promise<number>;
  /** Items `start`..`stop` inclusive; negative indexes count from the end (-1 = last). */
  listRange<T extends JsonValue = JsonValue>(key: string, start: number, stop: number): Promise<T[]>;
  /** Adds `member` to the set under `key`; resolves `true` when it was not there. */
  setAdd(key: string, member: string): Promise<boolean>;
  /** Removes `member`; resolves `true` when it was there. */
  setRem(key: string, member: string): Promise<boolean>;
  /** Every member of the set (any order); `[]` when missing. */
  setMembers(key: string): Promise<string[]>;
  /** Takes an exclusive lock for `ttlMs`; resolves its release, or `null` when held elsewhere. */
  lock(key: string, ttlMs: number): Promise<LockRelease | null>;
  /** Frees what the store owns (timers, connections it opened). Idempotent. */
  close?(): Promise<void>;
}
