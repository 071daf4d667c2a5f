import { randomBytes } from "node:crypto";
import { LolyError } from "@loly-rt/core";
import { closeRedisClient, createOutageReporter, describeTopology } from "@loly-rt/core/redis";
import type { Adapter } from "socket.io-adapter";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { FreshRedisAdapter } from "./fresh-adapter.js";
import { createFreshness, type RedisAdapterDropReason } from "./freshness.js";
import { guarded } from "./guarded.js";
import { ShardedChannels, ShardedRedisAdapter } from "./sharded.js";
import { SubscriptionWatchdog } from "./watchdog.js";
import { RecoveringRedisAdapter, type RecoveryHooks } from "./recovery/adapter.js";
import { RedisRecoveryLog } from "./recovery/log.js";
import { RedisRecoverySessions } from "./recovery/sessions.js";

/** Which client a Redis error came from: the publisher or the subscriber. */
export type RedisAdapterErrorStage = "pub" | "sub";

/** Options of {@link createRedisAdapter}. Give `url`, or your own `pubClient` (and optionally `subClient`). */
export interface CreateRedisAdapterOptions {
  /**
   * Redis URL; both clients are created (and owned) from it. Ignored when `pubClient` is given.
   * @default process.env.REDIS_URL
   */
  url?: string;
  /** Instead of `url`: the seed nodes of a Redis Cluster (ioredis `Cluster` clients are created and owned). */
  cluster?: readonly string[];
  /** Instead of `url`: a Redis Sentinel group (the clients follow its master). */
  sentinel?: { readonly sentinels: readonly string[]; readonly name: string };
  /** Your publisher client. It stays yours: `close()` leaves it open. */
  pubClient?: Redis;
  /**
   * Your subscriber client (put in subscriber mode). Needs `pubClient`. When omitted with a
   * `pubClient`, a duplicate of it is created and owned.
   */
  subClient?: Redis;
  /**
   * Channel prefix. Use the cluster's prefix (e.g. `${prefix}socket.io`) so two clusters on one
   * Redis never exchange packets.
   * @default "socket.io"
   */
  key?: string;
  /**
   * How broadcasts travel between instances. `"classic"`: Redis pub/sub, every instance
   * receives every broadcast of its namespaces (any Redis 6.2+; what `@socket.io/redis-adapter`
   * does). `"sharded"`: Redis 7 sharded pub/sub by room interest, an instance receives the
   * broadcasts of the rooms it has members in (see {@link ShardedRedisAdapter}); on Redis
   * Cluster they stay on the shard of their channel's slot. Every instance of a cluster must
   * use the same mode (the two do not hear each other). Not with `recovery`, whose log needs one
   * order per namespace.
   * @default "classic"
   */
  pubsub?: "classic" | "sharded";
  /**
   * How long cross-instance requests (fetchSockets, serverSideEmitWithAck...) wait for answers.
   * @default 5000
   */
  requestsTimeout?: number;
  /**
   * ioredis options for the clients created from `url` (merged over the defaults: the publisher
   * gives up on a command after one reconnection attempt, the subscriber keeps its
   * subscriptions queued until connected).
   */
  redisOptions?: RedisOptions;
  /**
   * Every Redis error of either client ('error' events, failed publishes and subscriptions),
   * none of which may become an unhandled error or rejection. During an outage this is called
   * for each reconnection attempt and failed publish: rate-limit the log it writes.
   * @default a process warning once per outage and client
   */
  onError?: (err: unknown, stage: RedisAdapterErrorStage) => void;
  /**
   * The end of an outage `onError` reported: the client is ready again, or Redis answers the
   * publisher again after a hang.
   */
  onRecover?: (stage: RedisAdapterErrorStage) => void;
  /**
   * The most a broadcast may be late; one that Redis could not take sooner is dropped, never
   * delivered late. While Redis hangs (stopped, or stuck in a long script, with its connections
   * open) and has left a publish unanswered for longer, broadcasts reach this instance's
   * sockets only; and since a hung Redis still runs, when it resumes, the publishes it had
   * received, every instance dates its broadcasts on Redis's clock (sampled with `TIME`, so the
   * hosts' clocks need not agree) and drops those that arrive older. The server passes
   * `scale.commandTimeoutMs`.
   * @default 3000
   */
  staleAfterMs?: number;
  /**
   * Called once for each broadcast dropped: `"publish"` (this instance did not publish it: Redis
   * was hung) or `"stale"` (it arrived from another instance older than
   * `staleAfterMs`). Keep it cheap: it runs in the broadcast. A throw is ignored.
   */
  onDrop?: (reason: RedisAdapterDropReason) => void;
  /**
   * Connection-state recovery across the cluster (SPEC 10): broadcasts logged in a Redis stream
   * per namespace under `root` (written with their publish, so every instance receives them in
   * log order), sessions kept in Redis while sockets live. The server passes its `recovery`
   * settings and the hooks that tie Socket.IO's sessions to its admission.
   */
  recovery?: {
    root: string;
    windowMs: number;
    maxEvents: number;
    hooks: (log: RedisRecoveryLog, sessions: RedisRecoverySessions) => Pick<RecoveryHooks, "describe" | "restoring">;
  };
}

/** What {@link RedisAdapterHandle.health} reports: ioredis `status` of each client. */
export interface RedisAdapterHealth {
  /** Both clients are `"ready"`. */
  ok: boolean;
  /** The publisher's status, or `"stalled"` while Redis hangs and broadcasts are held back. */
  pub: string;
  sub: string;
}

/** The Socket.IO Redis adapter with its clients, health and lifecycle. */
export interface RedisAdapterHandle {
  /** Recovery's log and sessions, when `recovery` was given. */
  readonly recovery?: { readonly log: RedisRecoveryLog; readonly sessions: RedisRecoverySessions } | undefined;
  /** Pass to `io.adapter()`. */
  readonly adapter: (nsp: unknown) => Adapter;
  readonly pubClient: Redis;
  readonly subClient: Redis;
  /** How broadcasts travel (the `pubsub` option). */
  readonly pubsub: "classic" | "sharded";
  /**
   * Pub/sub messages of this adapter's channels the subscriber received since it was created
   * (broadcasts, joins and leaves, requests and answers): what fan-out by interest lowers.
   */
  messagesReceived(): number;
  /** ioredis status of each client (`"stalled"` for a publisher Redis leaves unanswered); after `close()`, the clients it owned report `"end"`. */
  health(): RedisAdapterHealth;
  /**
   * Quits the clients this handle created (the ones you passed stay open) and detaches its
   * listeners from yours. Close the Socket.IO server first. Idempotent; never rejects.
   */
  close(): Promise<void>;
}

/** An owned client gets this long to end after QUIT before it is dropped. */
const CLOSE_TIMEOUT_MS = 1000;
/** `requestsTimeout` when not given (the stock adapter's). */
const DEFAULT_REQUESTS_TIMEOUT_MS = 5000;
/** `staleAfterMs` when not given: the server's default `scale.commandTimeoutMs`. */
const DEFAULT_STALE_AFTER_MS = 3000;

/** The listeners that report one client's errors: `report` for 'error' events and failed commands, `ready` ends an outage. */
interface ClientReporter {
  report: (err: unknown) => void;
  ready: () => void;
}

/**
 * Every error of `client` to `onError` when given (one that throws must not turn into an
 * unhandled error), else a process warning once per outage and client; the end of an outage
 * to `onRecover`.
 */
function clientReporter(client: Redis, stage: RedisAdapterErrorStage, options: CreateRedisAdapterOptions): ClientReporter {
  const { onError, onRecover } = options;
  const handler = onError && ((err: unknown): void => onError(err, stage));
  const recovered = onRecover && ((): void => onRecover(stage));
  const outage = createOutageReporter<void>(
    handler
      ? { onFirst: handler, onRepeat: handler, onRecover: recovered }
      : {
          onFirst: (err) => {
            const message = err instanceof Error ? err.message : String(err);
            process.emitWarning(`@loly-rt/adapter-redis ${stage} client (${client.status}): ${message}`, "LolyAdapterWarning");
          },
          onRecover: recovered,
        },
  );
  return { report: (err: unknown): void => outage.fail(err), ready: (): void => outage.ok() };
}

/**
 * Builds the `@socket.io/redis-adapter` from a URL or your ioredis clients, so broadcasts,
 * rooms and `fetchSockets` span every instance. Errors of both clients go to `onError` (never
 * an unhandled 'error' event or rejection that would kill the process); clients it created are
 * its to close. A broadcast Redis could not take within `staleAfterMs` is dropped and counted
 * (`onDrop`), never delivered late; this instance's sockets get it all the same.
 *
 * @example
 * const handle = createRedisAdapter({ url: "redis://127.0.0.1:6379", key: "loly:socket.io" });
 * io.adapter(handle.adapter);
 * handle.health(); // { ok: true, pub: "ready", sub: "ready" }
 * // on shutdown, after io.close():
 * await handle.close();
 */
export function createRedisAdapter(options: CreateRedisAdapterOptions = {}): RedisAdapterHandle {
  if (options.subClient && !options.pubClient) {
    throw new LolyError("INVALID_CONFIG", "createRedisAdapter: `subClient` needs `pubClient` too (or pass `url` only)");
  }
  const sharded = options.pubsub === "sharded";
  if (options.pubsub !== undefined && options.pubsub !== "classic" && !sharded) {
    throw new LolyError("INVALID_CONFIG", `createRedisAdapter: \`pubsub\` must be "classic" or "sharded", got ${String(options.pubsub)}`);
  }
  if (sharded && options.recovery) {
    throw new LolyError(
      "INVALID_CONFIG",
      'createRedisAdapter: `pubsub: "sharded"` cannot keep a recovery log (it needs one order per namespace, sharded channels have one per room): use `pubsub: "classic"` with `recovery`',
    );
  }
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  if (!(staleAfterMs > 0 && Number.isFinite(staleAfterMs))) {
    throw new LolyError(
      "INVALID_CONFIG",
      `createRedisAdapter: \`staleAfterMs\` must be a finite number of milliseconds > 0, got ${String(options.staleAfterMs)}`,
    );
  }
  const owned: Redis[] = [];
  let pubClient: Redis;
  let subClient: Redis;
  if (options.pubClient) {
    pubClient = options.pubClient;
    if (options.subClient) subClient = options.subClient;
    else {
      subClient = options.pubClient.duplicate({ maxRetriesPerRequest: null });
      owned.push(subClient);
    }
  } else if (options.cluster || options.sentinel) {
    const topology = options.cluster
      ? { cluster: options.cluster }
      : { sentinel: options.sentinel as NonNullable<typeof options.sentinel> };
    const open = (retries: number | null): Redis => {
      const t = describeTopology(topology);
      if (t.kind === "cluster")
        return new Cluster(t.nodes, {
          // After a failover the slots move: learn the new masters within a second.
          slotsRefreshInterval: 1000,
          // Sharded channels are subscribed on the shard that owns their slot.
          ...(sharded && retries === null ? { shardedSubscribers: true } : {}),
          redisOptions: { ...t.redisOptions, ...options.redisOptions, maxRetriesPerRequest: retries },
        }) as unknown as Redis;
      return new Redis({ ...(t.kind === "sentinel" ? t.options : {}), ...options.redisOptions, maxRetriesPerRequest: retries });
    };
    pubClient = open(1);
    subClient = open(null);
    owned.push(pubClient, subClient);
  } else {
    const url = options.url ?? process.env.REDIS_URL;
    if (!url) {
      throw new LolyError(
        "INVALID_CONFIG",
        "createRedisAdapter: no Redis to connect to. Pass `url` (e.g. redis://127.0.0.1:6379), set REDIS_URL, or pass `pubClient`.",
      );
    }
    pubClient = new Redis(url, { maxRetriesPerRequest: 1, ...options.redisOptions });
    subClient = new Redis(url, { ...options.redisOptions, maxRetriesPerRequest: null });
    owned.push(pubClient, subClient);
  }

  const pub = clientReporter(pubClient, "pub", options);
  const sub = clientReporter(subClient, "sub", options);
  pubClient.on("error", pub.report);
  pubClient.on("ready", pub.ready);
  subClient.on("error", sub.report);
  subClient.on("ready", sub.ready);

  const fresh = createFreshness({ pubClient, staleAfterMs, onDrop: options.onDrop, report: pub.report, recovered: pub.ready });
  const guardedPub = guarded(pubClient, pub.report, fresh.publishes);
  const guardedSub = guarded(subClient, sub.report);
  const adapterOptions = {
    ...(options.key !== undefined ? { key: options.key } : {}),
    ...(options.requestsTimeout !== undefined ? { requestsTimeout: options.requestsTimeout } : {}),
  };
  const recovery = options.recovery ? openRecovery(options.recovery, pubClient, subClient, pub.report) : undefined;
  const shardedChannels = sharded ? new ShardedChannels(guardedSub, sub.report) : undefined;
  const received = shardedChannels ? undefined : countReceived(subClient, options.key ?? "socket.io");
  // A Redis Cluster subscriber may stay unsubscribed after a failover: probed and re-subscribed.
  const watchdog =
    (subClient as { isCluster?: unknown }).isCluster === true && !sharded
      ? new SubscriptionWatchdog(pubClient, subClient, options.key ?? "socket.io", sub.report, () => sub.ready())
      : undefined;
  const shardedOptions = { key: options.key ?? "socket.io", requestsTimeout: options.requestsTimeout ?? DEFAULT_REQUESTS_TIMEOUT_MS };
  // biome-ignore lint/complexity/useArrowFunction: Socket.IO calls it with `new` (and gets the adapter it returns); an arrow cannot be.
  const adapter = function (nsp: unknown): FreshRedisAdapter | ShardedRedisAdapter {
    if (shardedChannels) return new ShardedRedisAdapter(nsp, guardedPub, shardedChannels, shardedOptions, fresh);
    const made = recovery
      ? new RecoveringRedisAdapter(nsp, guardedPub, guardedSub, adapterOptions, fresh, recovery.hooks)
      : new FreshRedisAdapter(nsp, guardedPub, guardedSub, adapterOptions, fresh);
    watchdog?.adapters.add(made as never);
    return made;
  };

  let closing: Promise<void> | undefined;
  return {
    recovery: recovery ? { log: recovery.hooks.log, sessions: recovery.hooks.sessions } : undefined,
    adapter,
    pubClient,
    subClient,
    pubsub: sharded ? "sharded" : "classic",
    messagesReceived: () => (shardedChannels ? shardedChannels.received : (received?.count ?? 0)),
    health(): RedisAdapterHealth {
      // A client this handle closed is "end" even where ioredis still says "reconnecting".
      const pubStatus = closing && owned.includes(pubClient) ? "end" : fresh.gate.open ? pubClient.status : "stalled";
      const subStatus = closing && owned.includes(subClient) ? "end" : subClient.status;
      return { ok: pubStatus === "ready" && subStatus === "ready", pub: pubStatus, sub: subStatus };
    },
    close(): Promise<void> {
      if (!closing) {
        fresh.stop();
        watchdog?.stop();
        shardedChannels?.stop();
        received?.stop();
        recovery?.hooks.sessions.close();
        for (const [client, r] of [
          [pubClient, pub],
          [subClient, sub],
        ] as const) {
          // Listeners stay on the clients we end (they may still report while closing).
          if (owned.includes(client)) continue;
          client.off("error", r.report);
          client.off("ready", r.ready);
        }
        closing = Promise.all(owned.map((client) => closeRedisClient(client, { timeoutMs: CLOSE_TIMEOUT_MS }))).then(() => undefined);
      }
      return closing;
    },
  };
}

/**
 * The recovery log and sessions of one handle. The log decodes entries with the adapter's
 * parser (msgpack, dated: what `@socket.io/redis-adapter` and the stamping parser write).
 */
function openRecovery(
  o: NonNullable<CreateRedisAdapterOptions["recovery"]>,
  pubClient: Redis,
  subClient: Redis,
  report: (err: unknown) => void,
): { hooks: RecoveryHooks } {
  const log = new RedisRecoveryLog(pubClient, `${o.root}log:`, o.windowMs, o.maxEvents);
  const sessions = new RedisRecoverySessions(pubClient, `${o.root}session:`, randomBytes(6).toString("hex"), o.windowMs, report);
  return { hooks: { log, sessions, subscribed: watchSubscription(subClient), ...o.hooks(log, sessions) } };
}

/**
 * Whether the subscriber is subscribed: from the answer to a PING sent after it is ready
 * (ioredis resubscribes on `ready`; the PING is answered after the subscriptions), until it
 * closes. A broadcast of this instance reaches its own sockets through the subscription.
 */
function watchSubscription(sub: Redis): () => boolean {
  let subscribed = false;
  let generation = 0;
  const onReady = (): void => {
    const mine = ++generation;
    sub.ping().then(
      () => {
        if (mine === generation && sub.status === "ready") subscribed = true;
      },
      () => undefined,
    );
  };
  sub.on("ready", onReady);
  sub.on("close", () => {
    generation++;
    subscribed = false;
  });
  if (sub.status === "ready") onReady();
  return () => subscribed;
}

/** Counts the classic subscriber's messages on the adapter's channels (`key`...). */
function countReceived(sub: Redis, key: string): { count: number; stop(): void } {
  const prefix = Buffer.from(key);
  const counter = {
    count: 0,
    stop: (): void => {
      sub.off("pmessageBuffer", onPattern);
      sub.off("messageBuffer", onChannel);
    },
  };
  const mine = (channel: Buffer): boolean => channel.length >= prefix.length && prefix.equals(channel.subarray(0, prefix.length));
  const onPattern = (_pattern: Buffer, channel: Buffer): void => {
    if (mine(channel)) counter.count++;
  };
  const onChannel = (channel: Buffer): void => {
    if (mine(channel)) counter.count++;
  };
  sub.on("pmessageBuffer", onPattern);
  sub.on("messageBuffer", onChannel);
  return counter;
}
