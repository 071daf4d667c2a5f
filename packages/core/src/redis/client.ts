/** An argument of a Redis command as the Loly packages send it. */
export type RedisArg = string | number | Buffer;

/**
 * What the Loly packages need of a client to run their Lua scripts. An ioredis `Redis` or
 * `Cluster` fits as it is; so does any client of the same shape (nothing here imports a Redis
 * library at run time).
 *
 * A client MUST:
 * - reject `evalsha` with an error whose message starts with `NOSCRIPT` when Redis does not
 *   hold the script (that is Redis's own reply: a client only has to pass it on);
 * - prefix the first `numKeys` arguments with its key prefix, if it has one, and nothing else;
 * - reject (never hang) when Redis fails; bound slow answers (ioredis `commandTimeout`).
 *
 * @example
 * const redis: RedisScriptClient = new Redis(process.env.REDIS_URL!);
 * await runScript(redis, luaScript("return ARGV[1]"), ["hi"]); // "hi"
 */
export interface RedisScriptClient {
  /** Runs a script Redis has cached under its SHA1. */
  evalsha(sha: string, numKeys: number, ...args: RedisArg[]): Promise<unknown>;
  /** Runs (and caches) a script from its source. */
  eval(source: string, numKeys: number, ...args: RedisArg[]): Promise<unknown>;
}

/**
 * The Redis client the Loly packages take: the script commands plus what they use of its
 * lifecycle. Only what an ioredis `Cluster` has too, so a cluster can be passed where a
 * package supports it.
 *
 * Besides the {@link RedisScriptClient} rules, a client MUST emit `"ready"` each time it is
 * (re)connected and usable, `"error"` for background errors, and `"end"` once it is closed
 * for good, with `status` reading `"ready"`, `"reconnecting"` or `"end"` in those states (as
 * ioredis does).
 *
 * @example
 * import { Redis } from "ioredis";
 * const redis: RedisClientLike = new Redis(process.env.REDIS_URL!, { commandTimeout: 3000 });
 */
export interface RedisClientLike extends RedisScriptClient {
  /** The connection state, as ioredis names it (`"wait"`, `"connecting"`, `"ready"`, `"reconnecting"`, `"end"`...). */
  readonly status: string;
  /** The client's options; only `keyPrefix` is read. */
  readonly options?: { readonly keyPrefix?: string | undefined };
  /** Deletes a key; resolves how many keys were removed. */
  del(key: string): Promise<number>;
  /** Sends QUIT: the connection ends once Redis answers. */
  quit(): Promise<unknown>;
  /** Drops the connection (and any reconnection attempt) at once. */
  disconnect(): void;
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "ready" | "end", listener: () => void): unknown;
  off(event: "error", listener: (err: Error) => void): unknown;
  off(event: "ready" | "end", listener: () => void): unknown;
  once(event: "ready" | "end", listener: () => void): unknown;
}
