import { LolyError } from "@loly-rt/core";
import { closeRedisClient, createOutageReporter } from "@loly-rt/core/redis";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis, type RedisOptions } from "ioredis";

/** Which client a Redis error came from: the publisher or the subscriber. */
export type RedisAdapterErrorStage = "pub" | "sub";

/** Options of {@link createRedisAdapter}. Give `url`, or your own `pubClient` (and optionally `subClient`). */
export interface CreateRedisAdapterOptions {
  /**
   * Redis URL; both clients are created (and owned) from it. Ignored when `pubClient` is given.
   * @default process.env.REDIS_URL
   */
  url?: string;
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
}

/** What {@link RedisAdapterHandle.health} reports: ioredis `status` of each client. */
export interface RedisAdapterHealth {
  /** Both clients are `"ready"`. */
  ok: boolean;
  pub: string;
  sub: string;
}

/** The Socket.IO Redis adapter with its clients, health and lifecycle. */
export interface RedisAdapterHandle {
  /** Pass to `io.adapter()`. */
  readonly adapter: ReturnType<typeof createAdapter>;
  readonly pubClient: Redis;
  readonly subClient: Redis;
  /** ioredis status of each client; after `close()`, the clients it owned report `"end"`. */
  health(): RedisAdapterHealth;
  /**
   * Quits the clients this handle created (the ones you passed stay open) and detaches its
   * listeners from yours. Close the Socket.IO server first. Idempotent; never rejects.
   */
  close(): Promise<void>;
}

/** Client methods the adapter calls without handling their promise. */
const FIRE_AND_FORGET = new Set([
  "publish",
  "spublish",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
]);

/**
 * The client as the adapter sees it: fire-and-forget commands report their rejection to
 * `report` (the adapter ignores their promises, which would otherwise become unhandled
 * rejections when Redis is away). Everything else is the client itself.
 */
function guarded(client: Redis, report: (err: unknown) => void): Redis {
  const wrappers = new Map<string, (...args: unknown[]) => unknown>();
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (typeof prop !== "string" || !FIRE_AND_FORGET.has(prop)) return Reflect.get(target, prop, receiver);
      let wrapper = wrappers.get(prop);
      if (!wrapper) {
        const method = Reflect.get(target, prop, target) as (...args: unknown[]) => unknown;
        wrapper = (...args: unknown[]): unknown => {
          const result = method.apply(target, args);
          if (result instanceof Promise) result.catch(report);
          return result;
        };
        wrappers.set(prop, wrapper);
      }
      return wrapper;
    },
  });
}

/** An owned client gets this long to end after QUIT before it is dropped. */
const CLOSE_TIMEOUT_MS = 1000;

/** The listeners that report one client's errors: `report` for 'error' events and failed commands, `ready` ends an outage. */
interface ClientReporter {
  report: (err: unknown) => void;
  ready: () => void;
}

/**
 * Every error of `client` to `onError` when given (one that throws must not turn into an
 * unhandled error), else a process warning once per outage and client.
 */
function clientReporter(
  client: Redis,
  stage: RedisAdapterErrorStage,
  onError: ((err: unknown, stage: RedisAdapterErrorStage) => void) | undefined,
): ClientReporter {
  const handler = onError && ((err: unknown): void => onError(err, stage));
  const outage = createOutageReporter<void>(
    handler
      ? { onFirst: handler, onRepeat: handler }
      : {
          onFirst: (err) => {
            const message = err instanceof Error ? err.message : String(err);
            process.emitWarning(`@loly-rt/adapter-redis ${stage} client (${client.status}): ${message}`, "LolyAdapterWarning");
          },
        },
  );
  return { report: (err: unknown): void => outage.fail(err), ready: (): void => outage.ok() };
}

/**
 * Builds the `@socket.io/redis-adapter` from a URL or your ioredis clients, so broadcasts,
 * rooms and `fetchSockets` span every instance. Errors of both clients go to `onError` (never
 * an unhandled 'error' event or rejection that would kill the process); clients it created are
 * its to close.
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
  const onError = options.onError;
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

  const pub = clientReporter(pubClient, "pub", onError);
  const sub = clientReporter(subClient, "sub", onError);
  pubClient.on("error", pub.report);
  pubClient.on("ready", pub.ready);
  subClient.on("error", sub.report);
  subClient.on("ready", sub.ready);

  const adapter = createAdapter(guarded(pubClient, pub.report), guarded(subClient, sub.report), {
    ...(options.key !== undefined ? { key: options.key } : {}),
    ...(options.requestsTimeout !== undefined ? { requestsTimeout: options.requestsTimeout } : {}),
  });

  let closing: Promise<void> | undefined;
  return {
    adapter,
    pubClient,
    subClient,
    health(): RedisAdapterHealth {
      // A client this handle closed is "end" even where ioredis still says "reconnecting".
      const pubStatus = closing && owned.includes(pubClient) ? "end" : pubClient.status;
      const subStatus = closing && owned.includes(subClient) ? "end" : subClient.status;
      return { ok: pubStatus === "ready" && subStatus === "ready", pub: pubStatus, sub: subStatus };
    },
    close(): Promise<void> {
      if (!closing) {
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
