import { LolyError, type LolyLogger, type RealtimeConfig } from "@loly-rt/core";
import { withTimeout } from "@loly-rt/core/internal";
import { createOutageReporter, describeTopology, type RedisTopology, topologyText } from "@loly-rt/core/redis";
import type { Redis } from "ioredis";
import type { ServerMetrics } from "../metrics.js";
import { errorMessage } from "./bounded.js";

/** The oldest Redis that cluster mode runs on: the rate limiter's script needs `SET ... KEEPTTL`/`PXAT` (6.2). */
export const MIN_REDIS_VERSION = "6.2.0";

/**
 * Where the state store and the command connection connect: the store's Redis (URL, Redis
 * Cluster seeds or Sentinel group), else the adapter's, else `REDIS_URL`.
 */
export function redisUrlOf(config: RealtimeConfig): RedisTopology {
  const { stateStore: store, adapter } = config.scale;
  if (store.cluster) return { cluster: store.cluster };
  if (store.sentinel) return { sentinel: store.sentinel };
  if (store.url) return { url: store.url };
  if (adapter?.cluster) return { cluster: adapter.cluster };
  if (adapter?.sentinel) return { sentinel: adapter.sentinel };
  const url = adapter?.url ?? process.env.REDIS_URL;
  if (!url) throw new LolyError("INVALID_CONFIG", "cluster mode needs a Redis URL (scale.adapter.url, scale.stateStore.url or REDIS_URL)");
  return { url };
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

/** ioredis is an optional peer: single-instance apps never install it. */
async function loadIoredis(): Promise<typeof import("ioredis")> {
  try {
    return await import("ioredis");
  } catch (err) {
    throw new LolyError(
      "INVALID_CONFIG",
      'Redis is configured (scale.mode "cluster" or scale.stateStore.type "redis") but the `ioredis` package is not installed: npm install ioredis',
      undefined,
      { cause: err },
    );
  }
}

/**
 * Connects one of the server's own Redis clients (`role` names it in logs, metrics and
 * `CLIENT LIST`): commands bounded by `scale.commandTimeoutMs`, reconnection forever, a
 * warning once per outage. Fails start-up with `UNAVAILABLE` when Redis does not answer.
 */
export async function connectRedis(
  topology: RedisTopology,
  config: RealtimeConfig,
  logger: LolyLogger,
  metrics: ServerMetrics,
  role: string,
): Promise<Redis> {
  const { Redis, Cluster } = await loadIoredis();
  const options = {
    // Bounded waits: a command never queues longer than the command timeout.
    commandTimeout: config.scale.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
    connectionName: `loly-${role}`,
  };
  const t = describeTopology(topology);
  // A Redis Cluster client is not a `Redis` to TypeScript; the packages use what both have.
  const client: Redis =
    t.kind === "url"
      ? new Redis(t.url, { ...options, lazyConnect: true })
      : t.kind === "sentinel"
        ? new Redis({ ...options, ...t.options, lazyConnect: true })
        : (new Cluster(t.nodes, {
            lazyConnect: true,
            enableOfflineQueue: true,
            clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
            // After a failover the slots move: learn the new masters within a second.
            slotsRefreshInterval: 1000,
            redisOptions: { ...options, ...t.redisOptions },
          }) as unknown as Redis);
  const url = topologyText(topology);
  const component = `redis-${role}`;
  const outage = createOutageReporter({
    onFirst: (err) =>
      logger.warn({ err: { message: errorMessage(err) }, component }, `Redis (${role}) unreachable: ${errorMessage(err)}; retrying`),
    onRecover: () => logger.info({ component }, `Redis (${role}) is back`),
  });
  client.on("error", (err: Error) => {
    metrics.backendErrors.labels(component).inc();
    outage.fail(err);
  });
  client.on("ready", () => outage.ok());
  try {
    await withTimeout(client.connect(), Math.max(config.scale.commandTimeoutMs, 1000), `Redis connect (${url})`);
  } catch (err) {
    client.disconnect();
    throw new LolyError(
      "UNAVAILABLE",
      `cluster mode: Redis at ${url} did not answer at start-up (${errorMessage(err)}). Start Redis or fix scale.stateStore.url / scale.adapter.url.`,
      undefined,
      { cause: err },
    );
  }
  return client;
}

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
export async function checkRedisVersion(client: Redis, topology: RedisTopology, logger: LolyLogger): Promise<string | undefined> {
  const url = topologyText(topology);
  let version: string | undefined;
  try {
    version = /^redis_version:(\S+)/m.exec(await client.info("server"))?.[1];
  } catch (err) {
    logger.warn(
      { err: { message: errorMessage(err) } },
      `could not read the Redis version (${errorMessage(err)}); cluster mode needs Redis ${MIN_REDIS_VERSION} or later`,
    );
    return undefined;
  }
  if (version === undefined || !/^\d+\.\d+/.test(version)) {
    // No version, or one that is not numbered (a fork or a proxy): let it through, say so.
    logger.warn({ version }, `Redis did not report a version number; cluster mode needs Redis ${MIN_REDIS_VERSION} or later`);
    return undefined;
  }
  if (!versionAtLeast(version, MIN_REDIS_VERSION)) {
    client.disconnect();
    throw new LolyError(
      "INVALID_CONFIG",
      `cluster mode needs Redis ${MIN_REDIS_VERSION} or later; ${url} runs ${version}. Upgrade Redis or point scale.adapter.url / scale.stateStore.url at a newer one.`,
    );
  }
  return version;
}
