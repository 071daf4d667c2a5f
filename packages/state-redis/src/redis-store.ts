import { randomUUID } from "node:crypto";
import { LolyError } from "@loly-rt/core";
import type { JsonValue, LockRelease, RealtimeStateStore, StoreSetOptions } from "@loly-rt/core";
import { closeRedisClient, createOutageReporter, DEFAULT_KEY_PREFIX, luaScript, runScript } from "@loly-rt/core/redis";
import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";

/** Options of {@link createRedisStateStore}: pass `redis` (your client) or `url` (the store makes one). */
export interface RedisStateStoreOptions {
  /** Your ioredis client. The store never closes it and leaves its listeners alone (except `onError`'s). */
  redis?: Redis;
  /** A Redis URL (`redis://[:password@]host:port[/db]`); the store creates, owns and closes that client. */
  url?: string;
  /** Extra ioredis options for the client created from `url`. */
  redisOptions?: RedisOptions;
  /**
   * Namespace of every key the store writes (the cluster's name). Values, lists, sets and
   * counters live at `${prefix}state:${key}`, locks at `${prefix}lock:${key}`.
   * @default "loly:"
   */
  prefix?: string;
  /**
   * Receives connection errors of the client (background errors never throw). Attached to
   * the client created from `url`, and to your `redis` client when given.
   * @default a console.warn once per outage for a client created from `url`
   */
  onError?: (error: Error) => void;
}

/** The Redis-backed {@link RealtimeStateStore}: shared by every instance using the same Redis and prefix. */
export interface RedisStateStore extends RealtimeStateStore {
  /**
   * Closes the client the store created from `url` (never your own `redis` client) and
   * removes its listeners. Later calls reject with `UNAVAILABLE`. Idempotent.
   */
  close(): Promise<void>;
  /** The ioredis client in use (yours, or the one created from `url`). */
  readonly redis: Redis;
  /** The key prefix in use. */
  readonly prefix: string;
}

/** Deletes the lock only when it still holds the caller's token: a stale release frees nothing. */
const releaseScript = luaScript(
  `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`,
  1,
);

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ReplyError";
}

/**
 * A Redis reply error (WRONGTYPE, not an integer...) is the caller's mistake and keeps its
 * message; anything else means Redis could not answer and becomes `UNAVAILABLE`.
 */
function failure(op: string, key: string, err: unknown): Error {
  const message = `state-redis: ${op}("${key}") failed: ${err instanceof Error ? err.message : String(err)}`;
  if (isReplyError(err)) return new Error(message, { cause: err });
  if (LolyError.is(err)) return err;
  return new LolyError("UNAVAILABLE", message, undefined, { cause: err });
}

/** Sends one command: whatever it throws or rejects with becomes {@link failure}`(op, key, ...)`. */
async function command<T>(op: string, key: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw failure(op, key, err);
  }
}

function serialize(value: JsonValue, op: string, key: string): string {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) throw new TypeError(`state-redis: ${op}("${key}") got a ${typeof value}; values must be JSON`);
  return json;
}

function parse<T>(json: string, op: string, key: string): T {
  try {
    return JSON.parse(json) as T;
  } catch {
    throw new Error(`state-redis: ${op}("${key}") failed: the stored value is not JSON (was it written by another program?)`);
  }
}

function ttlOf(ttlMs: number, op: string, key: string): number {
  if (!(typeof ttlMs === "number" && ttlMs > 0 && ttlMs !== Infinity)) {
    throw new RangeError(`state-redis: ${op}("${key}") got ttlMs ${String(ttlMs)}; the ttl must be a positive number of milliseconds`);
  }
  // PX takes whole milliseconds; rounding up never expires a key early.
  return Math.ceil(ttlMs);
}

function checkInteger(by: number, op: string, key: string): void {
  if (!Number.isSafeInteger(by)) {
    throw new TypeError(`state-redis: ${op}("${key}") got by = ${String(by)}; it must be an integer`);
  }
}

/**
 * Creates a state store over ioredis: JSON values, and every operation one atomic Redis
 * command (GET, SET PX, DEL, INCRBY/DECRBY, LPUSH, LRANGE, SADD, SREM, SMEMBERS). `lock` is
 * `SET NX PX` with a random token, released by a Lua script that deletes only that token.
 *
 * Key layout under `prefix` (default `"loly:"`): `${prefix}state:${key}` for values, lists,
 * sets and counters, `${prefix}lock:${key}` for locks. Nothing is written outside the prefix.
 *
 * @example
 * const store = createRedisStateStore({ url: "redis://127.0.0.1:6379", prefix: "chat:" });
 * await store.incr("visits");
 * const release = await store.lock("room:42", 5_000);
 * if (release) try { ... } finally { await release(); }
 */
export function createRedisStateStore(options: RedisStateStoreOptions): RedisStateStore {
  const { redis: given, url, redisOptions, prefix = DEFAULT_KEY_PREFIX, onError } = options ?? {};
  if (given !== undefined && url !== undefined) {
    throw new TypeError("createRedisStateStore: pass either `redis` (your ioredis client) or `url`, not both");
  }
  if (given === undefined && url === undefined) {
    throw new TypeError('createRedisStateStore: pass `url` (e.g. "redis://127.0.0.1:6379") or `redis` (an ioredis client)');
  }
  if (typeof prefix !== "string") {
    throw new TypeError(`createRedisStateStore: prefix must be a string, got ${typeof prefix}`);
  }

  const owned = given === undefined;
  const redis = given ?? new Redis(url!, { ...redisOptions });
  const stateKeyPrefix = `${prefix}state:`;
  const lockKeyPrefix = `${prefix}lock:`;

  let errorListener: ((err: Error) => void) | undefined;
  if (onError !== undefined) {
    // Every error to onError; one that throws must not turn a Redis hiccup into a crash.
    const errors = createOutageReporter<void>({ onFirst: onError, onRepeat: onError });
    errorListener = (err: Error): void => errors.fail(err);
  } else if (owned) {
    const outage = createOutageReporter<void>({
      onFirst: (err) => {
        const message = err instanceof Error ? err.message : String(err);
        console.warn(`[@loly-rt/state-redis] Redis error (further errors are silent until it reconnects): ${message}`);
      },
    });
    errorListener = (err: Error): void => outage.fail(err);
    redis.on("ready", () => outage.ok());
  }
  if (errorListener !== undefined) redis.on("error", errorListener);

  let closing: Promise<void> | undefined;

  const ensureOpen = (op: string, key: string): void => {
    if (closing !== undefined) {
      throw new LolyError("UNAVAILABLE", `state-redis: ${op}("${key}") called after close()`);
    }
  };

  // Script caches are emptied by restarts and SCRIPT FLUSH: runScript loads it again with EVAL.
  const release = async (lockKey: string, token: string): Promise<boolean> =>
    Number(await runScript(redis, releaseScript, [lockKey, token])) === 1;

  return {
    redis,
    prefix,

    async get<T extends JsonValue = JsonValue>(key: string): Promise<T | null> {
      ensureOpen("get", key);
      const json = await command("get", key, () => redis.get(stateKeyPrefix + key));
      return json === null ? null : parse<T>(json, "get", key);
    },

    async set(key: string, value: JsonValue, setOptions?: StoreSetOptions): Promise<void> {
      ensureOpen("set", key);
      const ttlMs = setOptions?.ttlMs;
      const px = ttlMs === undefined ? undefined : ttlOf(ttlMs, "set", key);
      const json = serialize(value, "set", key);
      await command("set", key, () =>
        px === undefined ? redis.set(stateKeyPrefix + key, json) : redis.set(stateKeyPrefix + key, json, "PX", px),
      );
    },

    async del(key: string): Promise<boolean> {
      ensureOpen("del", key);
      return Number(await command("del", key, () => redis.del(stateKeyPrefix + key))) > 0;
    },

    async incr(key: string, by = 1): Promise<number> {
      ensureOpen("incr", key);
      checkInteger(by, "incr", key);
      return Number(await command("incr", key, () => redis.incrby(stateKeyPrefix + key, by)));
    },

    async decr(key: string, by = 1): Promise<number> {
      ensureOpen("decr", key);
      checkInteger(by, "decr", key);
      return Number(await command("decr", key, () => redis.decrby(stateKeyPrefix + key, by)));
    },

    async listPush(key: string, value: JsonValue): Promise<number> {
      ensureOpen("listPush", key);
      const json = serialize(value, "listPush", key);
      return Number(await command("listPush", key, () => redis.lpush(stateKeyPrefix + key, json)));
    },

    async listRange<T extends JsonValue = JsonValue>(key: string, start: number, stop: number): Promise<T[]> {
      ensureOpen("listRange", key);
      if (!Number.isInteger(start) || !Number.isInteger(stop)) {
        throw new TypeError(`state-redis: listRange("${key}") needs integer indexes, got ${start}, ${stop}`);
      }
      const items = await command("listRange", key, () => redis.lrange(stateKeyPrefix + key, start, stop));
      const out = new Array<T>(items.length);
      for (let i = 0; i < items.length; i++) out[i] = parse<T>(items[i]!, "listRange", key);
      return out;
    },

    async setAdd(key: string, member: string): Promise<boolean> {
      ensureOpen("setAdd", key);
      if (typeof member !== "string") throw new TypeError(`state-redis: setAdd("${key}") needs a string member`);
      return Number(await command("setAdd", key, () => redis.sadd(stateKeyPrefix + key, member))) === 1;
    },

    async setRem(key: string, member: string): Promise<boolean> {
      ensureOpen("setRem", key);
      return Number(await command("setRem", key, () => redis.srem(stateKeyPrefix + key, member))) === 1;
    },

    async setMembers(key: string): Promise<string[]> {
      ensureOpen("setMembers", key);
      return await command("setMembers", key, () => redis.smembers(stateKeyPrefix + key));
    },

    async lock(key: string, ttlMs: number): Promise<LockRelease | null> {
      ensureOpen("lock", key);
      const px = ttlOf(ttlMs, "lock", key);
      const lockKey = lockKeyPrefix + key;
      const token = randomUUID();
      const taken = await command("lock", key, () => redis.set(lockKey, token, "PX", px, "NX"));
      if (taken === null) return null;
      return (): Promise<boolean> => command("lock release", key, () => release(lockKey, token));
    },

    close(): Promise<void> {
      closing ??= (async (): Promise<void> => {
        if (!owned) {
          if (errorListener !== undefined) redis.off("error", errorListener);
          return;
        }
        // Listeners stay on the owned client: a late error must still find one.
        await closeRedisClient(redis);
      })();
      return closing;
    },
  };
}
