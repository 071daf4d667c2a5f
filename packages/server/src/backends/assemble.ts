import {
  type ConnectionCounter,
  type LolyLogger,
  LolyError,
  type PresenceBackend,
  type RateLimitBackend,
  type RealtimeConfig,
  type RealtimeStateStore,
} from "@loly-rt/core";
import { closeRedisClient, type RedisTopology, topologyText } from "@loly-rt/core/redis";
import { createMemoryConnectionCounter, createMemoryPresence } from "@loly-rt/presence";
import { createMemoryRateLimitBackend, withStorePolicy } from "@loly-rt/ratelimit";
import { createMemoryStateStore } from "@loly-rt/state-memory";
import type { Redis } from "ioredis";
import { userIdOf } from "../connection/auth.js";
import type { ServerMetrics } from "../metrics.js";
import { type PendingRestores, toRecoverable } from "../recovery/adapter.js";
import { clusterStore } from "../recovery/cluster-store.js";
import type { RecoveryStore } from "../recovery/store.js";
import { boundedStore, errorMessage } from "./bounded.js";
import { backgroundErrors } from "./outages.js";
import { checkRedisVersion, connectRedis, redisUrlOf, versionAtLeast } from "./redis.js";

/** The parts the server assembles: chosen from `scale.mode` unless injected. */
export interface Backends {
  state: RealtimeStateStore;
  presence: PresenceBackend;
  /** `count(ip)`: counts a connection admitted by policy without a successful `acquire` (Redis counter). */
  counter: ConnectionCounter & { count?(ip: string): void };
  sharedLimiter: RateLimitBackend;
  /** Socket.IO adapter constructor (cluster mode). */
  adapter?: unknown;
  /** Where connection-state recovery keeps its log and sessions, when the backends keep them (cluster mode). */
  recoveryStore?: RecoveryStore;
  /** Health of Redis connections (cluster mode). */
  health(): { ok: boolean; details: Record<string, string> };
  /** Closes what the server created (never injected instances). */
  close(): Promise<void>;
}

/** What the application injected, and what the backends report to. */
export interface BackendOptions {
  stateStore?: RealtimeStateStore | undefined;
  logger: LolyLogger;
  metrics: ServerMetrics;
  /** Clients see generic outage messages (no Redis addresses, key names or driver errors). */
  production?: boolean;
  /** Connection-state recovery, when on: where the cluster adapter hands the sessions it found. */
  restores?: PendingRestores | undefined;
}

/** Builds the backends of `scale.mode`: in process for one instance, over Redis for a cluster. */
export function createBackends(config: RealtimeConfig, o: BackendOptions): Promise<Backends> {
  return config.scale.mode === "single" ? singleBackends(config, o) : clusterBackends(config, o);
}

/** `ctx.state`: the injected store (bounded, never closed by us), memory, or Redis over `redis()`. */
async function openState(
  config: RealtimeConfig,
  o: BackendOptions,
  redis: () => Promise<Redis>,
): Promise<{ state: RealtimeStateStore; owned: boolean }> {
  const ms = config.scale.commandTimeoutMs;
  if (o.stateStore) return { state: boundedStore(o.stateStore, ms, o.production), owned: false };
  if (config.scale.stateStore.type === "memory") return { state: createMemoryStateStore(), owned: true };
  const client = await redis();
  const { createRedisStateStore } = await import("@loly-rt/state-redis");
  return {
    state: boundedStore(createRedisStateStore({ redis: client, prefix: config.scale.stateStore.prefix }), ms, o.production),
    owned: true,
  };
}

async function singleBackends(config: RealtimeConfig, o: BackendOptions): Promise<Backends> {
  let redis: Redis | undefined;
  // A single instance with a Redis store: state survives restarts.
  const { state, owned } = await openState(
    config,
    o,
    async () => (redis = await connectRedis(redisUrlOf(config), config, o.logger, o.metrics, "state")),
  );
  const presence = createMemoryPresence();
  const counter = createMemoryConnectionCounter();
  const sharedLimiter = createMemoryRateLimitBackend();
  return {
    state,
    presence,
    counter,
    sharedLimiter,
    health: () => {
      const details: Record<string, string> = {};
      if (redis) details.state = redis.status;
      return { ok: redis ? redis.status === "ready" : true, details };
    },
    async close() {
      await presence.close();
      await counter.close();
      await sharedLimiter.close?.();
      if (owned) await state.close?.();
      if (redis) await closeRedisClient(redis);
    },
  };
}

async function clusterBackends(config: RealtimeConfig, o: BackendOptions): Promise<Backends> {
  const { logger, metrics } = o;
  const prefix = config.scale.stateStore.prefix;
  const url = redisUrlOf(config);
  const redis = await connectRedis(url, config, logger, metrics, "command");
  try {
    const version = await checkRedisVersion(redis, url, logger);
    // Decided before anything with timers is made: a refusal leaves nothing running.
    const pubsub = config.scale.adapter?.type === "custom" ? "classic" : pubsubOf(config, url, version, logger);
    const [{ createRedisPresence, createRedisConnectionCounter }, { createRedisRateLimitBackend }, { createRedisAdapter }] =
      await Promise.all([import("@loly-rt/presence"), import("@loly-rt/ratelimit"), import("@loly-rt/adapter-redis")]);
    const { state, owned } = await openState(config, o, async () => redis);
    const ttlMs = config.presence.ttlMs;
    const presenceLog = backgroundErrors("presence", logger, metrics);
    const counterLog = backgroundErrors("connections", logger, metrics);
    redis.on("ready", presenceLog.ok);
    redis.on("ready", counterLog.ok);
    const presence = createRedisPresence({ redis, prefix, ttlMs, onError: presenceLog.report });
    const counter = createRedisConnectionCounter({ redis, prefix, ttlMs, onError: counterLog.report });
    const policy = config.limits.onStoreError;
    // withStorePolicy calls onOutage once per outage and onRecover once when it ends.
    const sharedLimiter = withStorePolicy(createRedisRateLimitBackend({ redis, prefix }), {
      onStoreError: policy,
      timeoutMs: config.scale.commandTimeoutMs,
      onOutage: (err: unknown) => {
        metrics.backendErrors.labels("ratelimit").inc();
        logger.warn(
          { err: { message: errorMessage(err) }, component: "ratelimit", policy },
          `cluster rate limiter unreachable: ${policy === "allow" ? "admitting" : "refusing"} events until Redis is back`,
        );
      },
      onRecover: () => logger.info({ component: "ratelimit" }, "cluster rate limiter is back"),
    });
    const adapterLog = backgroundErrors("adapter", logger, metrics);
    // A broadcast Redis could not take within the command timeout is dropped and counted, never delivered late.
    const dropped = { publish: metrics.broadcastsDropped.labels("publish"), stale: metrics.broadcastsDropped.labels("stale") };
    const custom = config.scale.adapter?.type === "custom";
    const adapter = custom
      ? undefined
      : createRedisAdapter({
          ...adapterTopology(config, url),
          pubsub,
          key: `${prefix}socket.io`,
          staleAfterMs: config.scale.commandTimeoutMs,
          onError: adapterLog.report,
          onRecover: adapterLog.ok,
          onDrop: (reason) => dropped[reason].inc(),
          recovery: o.restores ? recoveryOptions(config, o.restores) : undefined,
        });
    if (adapter) metrics.readAdapterMessages(() => ({ pubsub: adapter.pubsub, count: adapter.messagesReceived() }));
    return {
      state,
      presence,
      counter,
      sharedLimiter,
      adapter: adapter?.adapter,
      ...(adapter?.recovery ? { recoveryStore: clusterStore(adapter.recovery.log, adapter.recovery.sessions) } : {}),
      health: (): { ok: boolean; details: Record<string, string> } => {
        if (!adapter) return { ok: redis.status === "ready", details: { command: redis.status } };
        const a = adapter.health();
        return { ok: redis.status === "ready" && a.ok, details: { command: redis.status, pub: a.pub, sub: a.sub } };
      },
      async close() {
        await presence.close().catch(() => undefined);
        await counter.close().catch(() => undefined);
        await sharedLimiter.close?.();
        if (owned) await state.close?.();
        await adapter?.close().catch(() => undefined);
        await closeRedisClient(redis);
      },
    };
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}

/** The Redis adapter's recovery settings: log and sessions under `<prefix>recovery:`, tied to admission. */
function recoveryOptions(config: RealtimeConfig, restores: PendingRestores) {
  return {
    root: `${config.scale.stateStore.prefix}recovery:`,
    windowMs: config.recovery.windowMs,
    maxEvents: config.recovery.maxEvents,
    hooks: () => ({
      describe: (nsp: string, session: Parameters<typeof toRecoverable>[0]) => toRecoverable(session, nsp, userIdOf),
      restoring: (pid: string, session: ReturnType<typeof toRecoverable>, offset: string) => restores.set(pid, { session, offset }),
    }),
  };
}

/**
 * How the adapter's broadcasts travel (`scale.adapter.pubsub`): `auto` is sharded when recovery
 * is off and the adapter's Redis runs 7 or later (known when it is the Redis whose version was
 * checked at start-up: the command connection's; an adapter on another Redis stays classic
 * unless asked).
 */
function pubsubOf(config: RealtimeConfig, command: RedisTopology, version: string | undefined, logger: LolyLogger): "sharded" | "classic" {
  const asked = config.scale.adapter?.pubsub ?? "auto";
  const own = adapterTopology(config, command);
  const sameRedis = topologyText(own) === topologyText(command);
  const seven = version !== undefined && versionAtLeast(version, SHARDED_REDIS_VERSION);
  if (asked === "sharded") {
    if (sameRedis && version !== undefined && !seven) {
      throw new LolyError(
        "INVALID_CONFIG",
        `scale.adapter.pubsub "sharded" needs Redis ${SHARDED_REDIS_VERSION} or later (SSUBSCRIBE); ${topologyText(own)} runs ${version}. Use "classic" or "auto".`,
      );
    }
    return "sharded";
  }
  if (asked === "classic") return "classic";
  const chosen = !config.recovery.enabled && sameRedis && seven ? "sharded" : "classic";
  logger.debug({ pubsub: chosen }, `adapter: ${chosen} pub/sub`);
  return chosen;
}

/** Sharded pub/sub (SPUBLISH, SSUBSCRIBE) came with Redis 7.0. */
const SHARDED_REDIS_VERSION = "7.0.0";

/** Where the adapter's clients connect: its own URL, cluster seeds or Sentinel group, else the command connection's. */
function adapterTopology(config: RealtimeConfig, fallback: RedisTopology): RedisTopology {
  const a = config.scale.adapter;
  if (a?.cluster) return { cluster: a.cluster };
  if (a?.sentinel) return { sentinel: a.sentinel };
  if (a?.url) return { url: a.url };
  return fallback;
}
