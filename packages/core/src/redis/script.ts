import { createHash } from "node:crypto";
import type { RedisArg, RedisScriptClient } from "./client.js";

/** A Lua script with its SHA1, as `EVALSHA` takes it, and how many of its arguments are keys. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
  /** The first `numKeys` arguments of a call are keys (`KEYS`), the rest `ARGV`. */
  readonly numKeys: number;
}

/** How {@link runScript} treats the reply and the fallback. */
export interface RunScriptOptions<T> {
  /**
   * Turns the reply into the result, in the same step that catches NOSCRIPT (no extra promise).
   * @default the reply as it is
   */
  parse?: (reply: unknown) => T;
  /**
   * Runs when Redis lacked the script and the EVAL fallback is sent. That EVAL goes out after
   * the commands sent meanwhile, so a caller whose writes must stay in order learns here that
   * this one may not have.
   * @default nothing
   */
  onFallback?: () => void;
}

/**
 * Wraps a Lua source with its SHA1 (computed once: call it at module load) and its number of
 * keys. A client's key prefix (ioredis `keyPrefix`) applies to those keys only.
 *
 * @param numKeys how many arguments of each call are keys. @default 0 (a script that names its
 *   keys from its arguments)
 * @example
 * const release = luaScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`, 1);
 */
export function luaScript(source: string, numKeys = 0): LuaScript {
  return { source, sha: createHash("sha1").update(source).digest("hex"), numKeys };
}

/**
 * True for Redis's answer to an `EVALSHA` of a script it does not hold (a fresh or restarted
 * server, `SCRIPT FLUSH`).
 *
 * @example
 * redis.evalsha(sha, 0).catch((err) => (isNoScriptError(err) ? redis.eval(source, 0) : Promise.reject(err)));
 */
export function isNoScriptError(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("NOSCRIPT");
}

/**
 * The second half of {@link runScript}, for a caller that sends the `EVALSHA` itself (a hot
 * path that spreads its arguments instead of building an array per call). Meant as the body
 * of that call's rejection handler: throws `err` again unless it is NOSCRIPT, else sends
 * `EVAL` (which also caches the script). The arguments array is built only on this rare path.
 *
 * @example
 * redis.evalsha(bucket.sha, 1, key, capacity, rate, cost).then(toDecision, (err: unknown) =>
 *   evalOnNoScript(err, redis, bucket, [key, capacity, rate, cost], { parse: toDecision }));
 */
export function evalOnNoScript<T = unknown>(
  err: unknown,
  redis: RedisScriptClient,
  script: LuaScript,
  args: readonly RedisArg[],
  options?: RunScriptOptions<T>,
): Promise<T> {
  if (!isNoScriptError(err)) throw err;
  options?.onFallback?.();
  const reply = redis.eval(script.source, script.numKeys, ...args);
  const parse = options?.parse;
  return (parse === undefined ? reply : reply.then(parse)) as Promise<T>;
}

/**
 * Runs a script in one round trip: `EVALSHA`, and a second one (`EVAL`, which also caches it)
 * only when Redis answers NOSCRIPT. The first `script.numKeys` arguments are keys. Rejects when
 * Redis does.
 *
 * Not ioredis `defineCommand`: that one sends the whole source as `EVAL` on the first call of
 * every connection, hides when it fell back, and costs more per call.
 *
 * @example
 * const released = Number(await runScript(redis, release, [lockKey, token])) === 1;
 */
export function runScript<T = unknown>(
  redis: RedisScriptClient,
  script: LuaScript,
  args: readonly RedisArg[],
  options?: RunScriptOptions<T>,
): Promise<T> {
  return redis
    .evalsha(script.sha, script.numKeys, ...args)
    .then(options?.parse, (err: unknown) => evalOnNoScript(err, redis, script, args, options)) as Promise<T>;
}
