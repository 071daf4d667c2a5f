import type { ConnectionCounter } from "@loly-rt/core";
import { luaScript, type RedisClientLike } from "@loly-rt/core/redis";
import { CounterModel } from "./model.js";
import { openRegistries, type RedisPresenceErrorHandler } from "./registry.js";
import { ACQUIRE, RELEASE } from "./scripts.js";

/** Options of {@link createRedisConnectionCounter}. */
export interface RedisConnectionCounterOptions {
  /** An ioredis client, or any client of that shape (yours: the counter never closes it). */
  redis: RedisClientLike;
  /**
   * The cluster's name: keys live under `${prefix}conn:` (after the client's ioredis
   * `keyPrefix`, if it has one).
   * On Redis Cluster (an ioredis `Cluster` client) they are split into 16 groups by client IP,
   * each a hash tag of its own: `{${prefix}conn:<g>}:`.
   * @default "loly:"
   */
  prefix?: string;
  /**
   * Connections of an instance that stopped without `close()` (even SIGKILL) stop counting
   * within this time. The heartbeat runs every `ttlMs / 3`.
   * @default 15000
   */
  ttlMs?: number;
  /** @default `${hostname}:${pid}:${random}` */
  instanceId?: string;
  /**
   * Background failures (heartbeat, re-assert, close).
   * @default a process warning once per outage
   */
  onError?: RedisPresenceErrorHandler;
}

/** A Redis connection counter and the id under which this instance counts. */
export interface RedisConnectionCounter extends ConnectionCounter {
  readonly instanceId: string;
  acquire(ip: string, limit: number): Promise<boolean>;
  release(ip: string): Promise<void>;
  /**
   * Counts a connection from `ip` that was admitted without a successful `acquire` (the
   * server admits by policy while Redis is unreachable). It is written to Redis with the
   * next re-assert, so counts are right again once Redis is back; `release(ip)` forgets it
   * as usual.
   */
  count(ip: string): void;
}

const acquireScript = luaScript(ACQUIRE);
const releaseScript = luaScript(RELEASE);
const done: Promise<void> = Promise.resolve();

/**
 * Cluster-wide, crash-safe count of open connections per IP (`limits.connectionsPerIp`).
 *
 * Each instance keeps its own per-IP counts in one expiring hash renewed by a heartbeat;
 * `acquire` is one atomic Lua round trip that sums the live instances' counts for the IP and
 * increments this instance's count only when the sum is below the limit, so concurrent
 * acquires from many instances never exceed it. Counts of an instance that died (even by
 * SIGKILL) stop counting within `ttlMs`; after an outage the heartbeat rewrites this
 * instance's counts from its local mirror. `acquire`/`release` reject when Redis does.
 *
 * @example
 * const counter = createRedisConnectionCounter({ redis, prefix: "loly:" });
 * if (!(await counter.acquire(ip, 20))) refuse("TOO_MANY_CONNECTIONS");
 * // on disconnect:
 * await counter.release(ip);
 */
export function createRedisConnectionCounter(options: RedisConnectionCounterOptions): RedisConnectionCounter {
  const model = new CounterModel();
  const registries = openRegistries("createRedisConnectionCounter", options, "conn", "connections", (out, keep) =>
    model.snapshot("c", out, keep),
  );
  const { id: instanceId, ttl } = registries;

  return {
    instanceId,
    acquire(ip: string, limit: number): Promise<boolean> {
      if (registries.closed) return Promise.resolve(false);
      const registry = registries.of(ip);
      const generation = registry.generation;
      return registry.mutate(acquireScript, [registry.root, instanceId, ttl, ip, limit]).then(
        (counted) => {
          if (Number(counted) !== 1) return false; // Number(): a `stringNumbers` client answers "1"
          model.increment(ip);
          // A re-assert sent while this acquire was in flight rewrote the counts without it.
          if (registry.generation !== generation) registry.dirty = true;
          return true;
        },
        (err: unknown) => {
          // The increment may or may not have landed: let the heartbeat rewrite the truth.
          registry.dirty = true;
          throw err;
        },
      );
    },
    count(ip: string): void {
      if (registries.closed) return;
      model.increment(ip);
      registries.of(ip).dirty = true;
    },
    release(ip: string): Promise<void> {
      if (registries.closed || !model.decrement(ip)) return done;
      const registry = registries.of(ip);
      return registry.mutate(releaseScript, [registry.root, instanceId, ttl, ip]).then(
        () => undefined,
        (err: unknown) => {
          registry.dirty = true;
          throw err;
        },
      );
    },
    close(): Promise<void> {
      const closing = registries.close();
      model.clear();
      return closing;
    },
  };
}
