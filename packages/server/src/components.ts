import type {
  ConnectionCounter,
  LolyLogger,
  PresenceBackend,
  RateLimitBackend,
  RealtimeConfig,
  RealtimeStateStore,
} from "@loly-rt/core";
import { LolyError, withTimeout } from "@loly-rt/core";
import { createMemoryStateStore } from "@loly-rt/state-memory";
import { createMemoryRateLimitBackend, withStorePolicy } from "@loly-rt/ratelimit";
import { createMemoryConnectionCounter, createMemoryPresence } from "@loly-rt/presence";
import type { Redis } from "ioredis";
import type { ServerMetrics } from "./metrics.js";

/** The parts the server assembles: chosen from `scale.mode` unless injected. */
export interface Components {
  state: RealtimeStateStore;
  presence: PresenceBackend;
  /** `count(ip)`: counts a connection admitted by policy without a successful `acquire` (Redis counter). */
  counter: ConnectionCounter & { count?(ip: string): void };
  sharedLimiter: RateLimitBackend;
  /** Socket.IO adapter constructor (cluster mode). */
  adapter?: unknown;
  /** Health of Redis connections (cluster mode). */
  health(): { ok: boolean; details: Record<string, string> };
  /** Closes what the server created (never injected instances). */
  close(): Promise<void>;
}

export interface ComponentOverrides {
  stateStore?: RealtimeStateStore;
  logger: LolyLogger;
  metrics: ServerMetrics;
  /** Clients see generic outage messages (no Redis addresses, key names or driver errors). */
  production?: boolean;
}

/** What a client reads in production when a backend is unavailable. */
export const GENERIC_UNAVAILABLE = "Service temporarily unavailable, try again";

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Bounds a backend call by `ms` like `withTimeout`, and turns every failure into
 * `UNAVAILABLE` (`mapAll`), or keeps the store's own errors and only hides the text of
 * `UNAVAILABLE` ones in production. The cause stays on the error for the logs.
 */
export function bounded<T>(promise: Promise<T>, ms: number, what: string, production: boolean, mapAll = true): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer =
      ms > 0 && ms !== Infinity
        ? setTimeout(() => reject(new LolyError("UNAVAILABLE", production ? GENERIC_UNAVAILABLE : `${what} did not answer within ${ms} ms`)), ms)
        : undefined;
    timer?.unref?.();
    promise.then(
      (value) => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (timer !== undefined) clearTimeout(timer);
        reject(unavailable(err, what, production, mapAll));
      },
    );
  });
}

function unavailable(err: unknown, what: string, production: boolean, mapAll: boolean): unknown {
  if (LolyError.is(err)) {
    if (err.code !== "UNAVAILABLE" || !production) return err;
    return new LolyError("UNAVAILABLE", GENERIC_UNAVAILABLE, undefined, { cause: err });
  }
  if (!mapAll) return err;
  return new LolyError("UNAVAILABLE", production ? GENERIC_UNAVAILABLE : `${what} failed: ${errorMessage(err)}`, undefined, { cause: err });
}

/**
 * Wraps a store so no call waits longer than `ms` (UNAVAILABLE after). The store's own
 * errors pass through, except that in production an `UNAVAILABLE` one reads generic.
 */
export function boundedStore(store: RealtimeStateStore, ms: number, production = false): RealtimeStateStore {
  const b = <T>(p: Promise<T>, op: string): Promise<T> => bounded(p, ms, `state.${op}`, production, false);
  return {
    get: (k) => b(store.get(k), "get"),
    set: (k, v, o) => b(store.set(k, v, o), "set"),
    del: (k) => b(store.del(k), "del"),
    incr: (k, by) => b(store.incr(k, by), "incr"),
    decr: (k, by) => b(store.decr(k, by), "decr"),
    listPush: (k, v) => b(store.listPush(k, v), "listPush"),
    listRange: (k, s, e) => b(store.listRange(k, s, e), "listRange"),
    setAdd: (k, m) => b(store.setAdd(k, m), "setAdd"),
    setRem: (k, m) => b(store.setRem(k, m), "setRem"),
    setMembers: (k) => b(store.setMembers(k), "setMembers"),
    lock: (k, ttl) => b(store.lock(k, ttl), "lock"),
    close: () => store.close?.() ?? Promise.resolve(),
  } as RealtimeStateStore;
}

function redisUrlOf(config: RealtimeConfig): string {
  const url = config.scale.stateStore.url ?? config.scale.adapter?.url ?? process.env.REDIS_URL;
  if (!url) throw new LolyError("INVALID_CONFIG", "cluster mode needs a Redis URL (scale.adapter.url, scale.stateStore.url or REDIS_URL)");
  return url;
}

async function connectRedis(url: string, config: RealtimeConfig, logger: LolyLogger, metrics: ServerMetrics, role: string): Promise<Redis> {
  let Redis: typeof import("ioredis").Redis;
  try {
    ({ Redis } = await import("ioredis"));
  } catch (err) {
    // ioredis is an optional peer: single-instance apps never install it.
    throw new LolyError(
      "INVALID_CONFIG",
      "Redis is configured (scale.mode \"cluster\" or scale.stateStore.type \"redis\") but the `ioredis` package is not installed: npm install ioredis",
      undefined,
      { cause: err },
    );
  }
  const client = new Redis(url, {
    lazyConnect: true,
    // Bounded waits: a command never queues longer than the command timeout.
    commandTimeout: config.scale.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    connectionName: `loly-${role}`,
  });
  let down = false;
  client.on("error", (err: Error) => {
    metrics.backendErrors.labels(`redis-${role}`).inc();
    if (!down) {
      down = true;
      logger.warn({ err: { message: err.message }, component: `redis-${role}` }, `Redis (${role}) unreachable: ${err.message}; retrying`);
    }
  });
  client.on("ready", () => {
    if (down) logger.info({ component: `redis-${role}` }, `Redis (${role}) is back`);
    down = false;
  });
  try {
    await withTimeout(client.connect(), Math.max(config.scale.commandTimeoutMs, 1000), `Redis connect (${url})`);
  } catch (err) {
    client.disconnect();
    throw new LolyError(
      "UNAVAILABLE",
      `cluster mode: Redis at ${redactUrl(url)} did not answer at start-up (${err instanceof Error ? err.message : String(err)}). Start Redis or fix scale.stateStore.url / scale.adapter.url.`,
      undefined,
      { cause: err },
    );
  }
  return client;
}

/** The oldest Redis that cluster mode runs on: the rate limiter's script needs `SET ... KEEPTTL`/`PXAT` (6.2). */
export const MIN_REDIS_VERSION = "6.2.0";

/** Whether dotted version `v` is at least `min` (missing parts read as 0; non-numeric parts as 0). */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const b = min.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/**
 * Refuses a Redis older than {@link MIN_REDIS_VERSION} at start-up, with a clear error, rather
 * than failing every cluster-wide rate-limit decision later. A server that will not give a
 * version number (INFO denied by an ACL, a proxy, a fork) is let through with a warning.
 */
async function checkRedisVersion(client: Redis, url: string, logger: LolyLogger): Promise<void> {
  let version: string | undefined;
  try {
    version = /^redis_version:(\S+)/m.exec(await client.info("server"))?.[1];
  } catch (err) {
    logger.warn({ err: { message: errorMessage(err) } }, `could not read the Redis version (${errorMessage(err)}); cluster mode needs Redis ${MIN_REDIS_VERSION} or later`);
    return;
  }
  if (version === undefined || !/^\d+\.\d+/.test(version)) {
    // No version, or one that is not numbered (a fork or a proxy): let it through, say so.
    logger.warn({ version }, `Redis did not report a version number; cluster mode needs Redis ${MIN_REDIS_VERSION} or later`);
    return;
  }
  if (!versionAtLeast(version, MIN_REDIS_VERSION)) {
    client.disconnect();
    throw new LolyError(
      "INVALID_CONFIG",
      `cluster mode needs Redis ${MIN_REDIS_VERSION} or later; ${redactUrl(url)} runs ${version}. Upgrade Redis or point scale.adapter.url / scale.stateStore.url at a newer one.`,
    );
  }
}

/** Hides a password in a Redis URL for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid url>";
  }
}

/** Builds the components of `scale.mode`. */
export async function createComponents(config: RealtimeConfig, o: ComponentOverrides): Promise<Components> {
  const { logger, metrics } = o;
  if (config.scale.mode === "single") {
    const ownsState = !o.stateStore;
    const rawState = o.stateStore ?? (config.scale.stateStore.type === "memory" ? createMemoryStateStore() : undefined);
    let state: RealtimeStateStore;
    let redis: Redis | undefined;
    if (rawState) {
      state = ownsState ? rawState : boundedStore(rawState, config.scale.commandTimeoutMs, o.production);
    } else {
      // single instance with a Redis store (state survives restarts)
      redis = await connectRedis(redisUrlOf(config), config, logger, metrics, "state");
      const { createRedisStateStore } = await import("@loly-rt/state-redis");
      state = boundedStore(createRedisStateStore({ redis, prefix: config.scale.stateStore.prefix }), config.scale.commandTimeoutMs, o.production);
    }
    const presence = createMemoryPresence();
    const counter = createMemoryConnectionCounter();
    const sharedLimiter = createMemoryRateLimitBackend();
    return {
      state,
      presence,
      counter,
      sharedLimiter,
      health: () => ({ ok: redis ? redis.status === "ready" : true, details: redis ? { state: redis.status } : ({} as Record<string, string>) }),
      async close() {
        await presence.close();
        await counter.close();
        await sharedLimiter.close?.();
        if (ownsState) await rawState?.close?.();
        else if (redis) await state.close?.();
        if (redis) await redis.quit().catch(() => redis?.disconnect());
      },
    };
  }

  // cluster
  const prefix = config.scale.stateStore.prefix;
  const url = redisUrlOf(config);
  const redis = await connectRedis(url, config, logger, metrics, "command");
  await checkRedisVersion(redis, url, logger);
  // Background errors (heartbeats, reconnection attempts, failed publishes) come once per
  // attempt or per broadcast during an outage: warn once per outage, count them all.
  const outageLog = (component: string): { report: (err: unknown, stage?: string) => void; ok: () => void } => {
    let down = false;
    return {
      report: (err, stage) => {
        metrics.backendErrors.labels(component).inc();
        const line = { err: { message: errorMessage(err) }, component, stage };
        if (down) {
          logger.debug(line, `${component}: Redis error`);
          return;
        }
        down = true;
        logger.warn(line, `${component}: Redis unreachable (${errorMessage(err)}); retrying (repeats of this outage are logged at debug)`);
      },
      ok: () => {
        if (!down) return;
        down = false;
        logger.info({ component }, `${component}: Redis is back`);
      },
    };
  };
  try {
    const [{ createRedisStateStore }, { createRedisPresence, createRedisConnectionCounter }, { createRedisRateLimitBackend }, { createRedisAdapter }] =
      await Promise.all([
        import("@loly-rt/state-redis"),
        import("@loly-rt/presence"),
        import("@loly-rt/ratelimit"),
        import("@loly-rt/adapter-redis"),
      ]);
    const ownsState = !o.stateStore;
    let state: RealtimeStateStore;
    if (o.stateStore) state = boundedStore(o.stateStore, config.scale.commandTimeoutMs, o.production);
    else if (config.scale.stateStore.type === "redis") {
      state = boundedStore(createRedisStateStore({ redis, prefix }), config.scale.commandTimeoutMs, o.production);
    }
    else state = createMemoryStateStore();
    const ttlMs = config.presence.ttlMs;
    const presenceLog = outageLog("presence");
    const counterLog = outageLog("connections");
    redis.on("ready", presenceLog.ok);
    redis.on("ready", counterLog.ok);
    const presence = createRedisPresence({ redis, prefix, ttlMs, onError: presenceLog.report });
    const counter = createRedisConnectionCounter({ redis, prefix, ttlMs, onError: counterLog.report });
    // withStorePolicy calls onOutage once per outage and onRecover once when it ends.
    const sharedLimiter = withStorePolicy(createRedisRateLimitBackend({ redis, prefix }), {
      onStoreError: config.limits.onStoreError,
      timeoutMs: config.scale.commandTimeoutMs,
      onOutage: (err: unknown) => {
        metrics.backendErrors.labels("ratelimit").inc();
        logger.warn(
          { err: { message: errorMessage(err) }, component: "ratelimit", policy: config.limits.onStoreError },
          `cluster rate limiter unreachable: ${config.limits.onStoreError === "allow" ? "admitting" : "refusing"} events until Redis is back`,
        );
      },
      onRecover: () => logger.info({ component: "ratelimit" }, "cluster rate limiter is back"),
    });
    const adapterUrl = config.scale.adapter?.url ?? url;
    const adapterLog = outageLog("adapter");
    const adapter = createRedisAdapter({ url: adapterUrl, key: `${prefix}socket.io`, onError: adapterLog.report });
    adapter.pubClient.on("ready", adapterLog.ok);
    adapter.subClient.on("ready", adapterLog.ok);
    return {
      state,
      presence,
      counter,
      sharedLimiter,
      adapter: adapter.adapter,
      health: () => {
        const a = adapter.health();
        return { ok: redis.status === "ready" && a.ok, details: { command: redis.status, pub: a.pub, sub: a.sub } };
      },
      async close() {
        await presence.close().catch(() => undefined);
        await counter.close().catch(() => undefined);
        await sharedLimiter.close?.();
        if (ownsState) await state.close?.();
        await adapter.close().catch(() => undefined);
        await redis.quit().catch(() => redis.disconnect());
      },
    };
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}
