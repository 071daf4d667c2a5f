/**
 * The configuration, declared once. `RealtimeConfig` is inferred from it (`types.ts`), the
 * server's `resolveConfig` checks and fills a user's config with it and `describeConfig`
 * lists it for the docs. The doc comment of each key repeats its description and default
 * for editors (hovering `config.limits.burst`); a test keeps the comments equal to the
 * schema's own.
 */
import {
  bool,
  group,
  httpPath,
  optionalHttpPath,
  integer,
  listOf,
  MAX_TIMER_MS,
  millis,
  nonEmptyString,
  oneOf,
  optionalGroup,
  optionalPort,
  origins,
  rateLimitNumber,
  optionalFunction,
  redisSeeds,
  redisUrl,
  sentinelGroup,
  trustedProxies,
} from "./kinds.js";
import { DEFAULT_KEY_PREFIX } from "../redis/prefix.js";
import { RATE_LIMIT_SCOPES } from "./rate-limit.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const TRANSPORTS = ["websocket", "polling"] as const;

/** The realtime configuration: every key, its check, default and description. */
export const CONFIG_SCHEMA = group("The realtime configuration.", {
  /** Turns the realtime server on; `false` creates it without accepting connections. @default true */
  enabled: bool(true, "Turns the realtime server on; `false` creates it without accepting connections."),
  /** HTTP path of the Socket.IO endpoint (clients use the same `path`). @default "/wss" */
  path: httpPath("/wss", "HTTP path of the Socket.IO endpoint (clients use the same `path`)."),
  /** Engine.IO transports accepted, in upgrade order. @default ["websocket","polling"] */
  transports: listOf(TRANSPORTS, () => ["websocket", "polling"], "Engine.IO transports accepted, in upgrade order."),
  /** Heartbeat interval of the Engine.IO connection. @default 25000 */
  pingIntervalMs: millis(1, 25000, "Heartbeat interval of the Engine.IO connection."),
  /** How long to wait for a heartbeat answer before closing the connection. @default 20000 */
  pingTimeoutMs: millis(1, 20000, "How long to wait for a heartbeat answer before closing the connection."),
  /** Largest accepted message, binary attachments included (websocket frame or polling body); bigger ones never reach a handler. @default 65536 */
  maxPayloadBytes: integer(
    1,
    65536,
    "Largest accepted message, binary attachments included (websocket frame or polling body); bigger ones never reach a handler.",
  ),
  /** An Engine.IO session that has not connected to a namespace within this time is closed (its per-IP slot freed). @default 10000 */
  connectTimeoutMs: millis(
    1,
    10000,
    "An Engine.IO session that has not connected to a namespace within this time is closed (its per-IP slot freed).",
  ),
  /**
   * Origins allowed to connect (websocket and polling handshakes), each like "https://app.example.com". `"*"` allows any origin and is refused in production.
   * @default "*"; required in production
   */
  allowedOrigins: origins(
    "*",
    'Origins allowed to connect (websocket and polling handshakes), each like "https://app.example.com". `"*"` allows any origin and is refused in production.',
  ),
  /**
   * Which proxies in front of the server to trust for `x-forwarded-for`, as Express's `trust proxy`: `false` (none: the peer's address), `true` (every hop), a hop count, or a list of proxy addresses/CIDRs. The client IP is the first untrusted address counting from the peer.
   * @default false
   */
  trustProxy: trustedProxies(
    false,
    "Which proxies in front of the server to trust for `x-forwarded-for`, as Express's `trust proxy`: `false` (none: the peer's address), `true` (every hop), a hop count, or a list of proxy addresses/CIDRs. The client IP is the first untrusted address counting from the peer.",
  ),
  /** Single process or a cluster of instances over Redis. */
  scale: group("Single process or a cluster of instances over Redis.", {
    /** "cluster" runs several instances over Redis and needs `scale.adapter`. @default "single" */
    mode: oneOf(["single", "cluster"], "single", '"cluster" runs several instances over Redis and needs `scale.adapter`.'),
    /** Cross-instance fan-out. Required in cluster mode. */
    adapter: optionalGroup("Cross-instance fan-out. Required in cluster mode.", {
      /** `redis`: Loly's Redis adapter; `custom`: the adapter `create` returns. @default "redis" */
      type: oneOf(["redis", "custom"], "redis", "`redis`: Loly's Redis adapter; `custom`: the adapter `create` returns."),
      /** Redis URL of the adapter (type redis). Falls back to `REDIS_URL`. */
      url: redisUrl("Redis URL of the adapter (type redis). Falls back to `REDIS_URL`."),
      /** Instead of `url`: the seed nodes of a Redis Cluster. */
      cluster: redisSeeds("Instead of `url`: the seed nodes of a Redis Cluster."),
      /** Instead of `url`: a Redis Sentinel group (`sentinels`, the master's `name`). */
      sentinel: sentinelGroup("Instead of `url`: a Redis Sentinel group (`sentinels`, the master's `name`)."),
      /**
       * How broadcasts travel (type redis). `sharded`: Redis 7 sharded pub/sub, an instance receives only the broadcasts of rooms it has members in (needs `recovery: false`). `classic`: every instance receives every broadcast (Redis 6.2). `auto`: sharded when recovery is off and the adapter's Redis is 7 or later, else classic. Every instance of a cluster must travel the same way. @default "auto"
       */
      pubsub: oneOf(
        ["auto", "sharded", "classic"],
        "auto",
        "How broadcasts travel (type redis). `sharded`: Redis 7 sharded pub/sub, an instance receives only the broadcasts of rooms it has members in (needs `recovery: false`). `classic`: every instance receives every broadcast (Redis 6.2). `auto`: sharded when recovery is off and the adapter's Redis is 7 or later, else classic. Every instance of a cluster must travel the same way.",
      ),
      /**
       * Type custom: `(io) => adapter`, called once with the Socket.IO server; returns what `io.adapter()` takes (e.g. `createAdapter(pub, sub)` of `@socket.io/redis-streams-adapter`). Presence, counts and limits still use Redis (`scale.stateStore.url` or `REDIS_URL`).
       */
      create: optionalFunction<(io: never) => unknown>(
        "Type custom: `(io) => adapter`, called once with the Socket.IO server; returns what `io.adapter()` takes (e.g. `createAdapter(pub, sub)` of `@socket.io/redis-streams-adapter`). Presence, counts and limits still use Redis (`scale.stateStore.url` or `REDIS_URL`).",
      ),
    }),
    /** The store behind `ctx.state`; its prefix names every key the cluster writes. */
    stateStore: group("The store behind `ctx.state`; its prefix names every key the cluster writes.", {
      /** `memory` keeps everything in this process; `redis` shares it across the cluster. @default "memory" */
      type: oneOf(["memory", "redis"], "memory", "`memory` keeps everything in this process; `redis` shares it across the cluster."),
      /** Redis URL of the store (type redis). Falls back to `scale.adapter.url`, then `REDIS_URL`. */
      url: redisUrl("Redis URL of the store (type redis). Falls back to `scale.adapter.url`, then `REDIS_URL`."),
      /** Instead of `url`: the seed nodes of a Redis Cluster. Falls back to `scale.adapter.cluster`. */
      cluster: redisSeeds("Instead of `url`: the seed nodes of a Redis Cluster. Falls back to `scale.adapter.cluster`."),
      /** Instead of `url`: a Redis Sentinel group. Falls back to `scale.adapter.sentinel`. */
      sentinel: sentinelGroup("Instead of `url`: a Redis Sentinel group. Falls back to `scale.adapter.sentinel`."),
      /**
       * The cluster's name: every key the cluster writes and the adapter's channels live under it. Instances with the same Redis and prefix form one cluster.
       * @default "loly:"
       */
      prefix: nonEmptyString(
        DEFAULT_KEY_PREFIX,
        "The cluster's name: every key the cluster writes and the adapter's channels live under it. Instances with the same Redis and prefix form one cluster.",
        DEFAULT_KEY_PREFIX,
      ),
    }),
    /** No store, limiter or presence call waits longer; then `UNAVAILABLE`. @default 3000 */
    commandTimeoutMs: millis(1, 3000, "No store, limiter or presence call waits longer; then `UNAVAILABLE`."),
  }),
  /** Connection and event limits. */
  limits: group("Connection and event limits.", {
    /** Open connections per client IP (cluster-wide in cluster mode); more get `TOO_MANY_CONNECTIONS`. @default 20 */
    connectionsPerIp: integer(1, 20, "Open connections per client IP (cluster-wide in cluster mode); more get `TOO_MANY_CONNECTIONS`."),
    /** Namespaces one Engine.IO connection may join (and CONNECTs in a burst); the next gets `TOO_MANY_NAMESPACES`. @default 16 */
    namespacesPerConnection: integer(
      1,
      16,
      "Namespaces one Engine.IO connection may join (and CONNECTs in a burst); the next gets `TOO_MANY_NAMESPACES`.",
    ),
    /** Bytes the server may hold unsent for one connection (a client that stops reading); past it the connection is closed. @default 1048576 */
    maxBufferedBytes: integer(
      1024,
      1048576,
      "Bytes the server may hold unsent for one connection (a client that stops reading); past it the connection is closed.",
    ),
    /** Refill rate of the global event bucket, per second. @default 30 */
    eventsPerSecond: rateLimitNumber("eventsPerSecond", 30, "Refill rate of the global event bucket, per second."),
    /** Capacity of the global event bucket: events accepted at once. @default 60 */
    burst: rateLimitNumber("burst", 60, "Capacity of the global event bucket: events accepted at once."),
    /** Who shares the global bucket (`ip` and `user` are cluster-wide in cluster mode). @default "socket" */
    scope: oneOf(RATE_LIMIT_SCOPES, "socket", "Who shares the global bucket (`ip` and `user` are cluster-wide in cluster mode)."),
    /** What a cluster-wide limiter decides when its store is unreachable: admit (`allow`) or refuse (`deny`). @default "allow" */
    onStoreError: oneOf(
      ["allow", "deny"],
      "allow",
      "What a cluster-wide limiter decides when its store is unreachable: admit (`allow`) or refuse (`deny`).",
    ),
  }),
  /** Who is online. */
  presence: group("Who is online.", {
    /** Entries of an instance that stopped (even by SIGKILL) expire within this time (heartbeat every ttlMs/3). @default 15000 */
    ttlMs: millis(100, 15000, "Entries of an instance that stopped (even by SIGKILL) expire within this time (heartbeat every ttlMs/3)."),
  }),
  /** pino logging. */
  logging: group("pino logging.", {
    /** Lowest level written. @default "info" */
    level: oneOf(LOG_LEVELS, "info", "Lowest level written."),
    /** Human-readable lines (needs `pino-pretty`) instead of JSON. @default true; false in production */
    pretty: bool(true, "Human-readable lines (needs `pino-pretty`) instead of JSON.", false),
  }),
  /** Prometheus metrics. */
  metrics: group("Prometheus metrics.", {
    /** Serve metrics on the same HTTP listener as Socket.IO. @default true */
    enabled: bool(true, "Serve metrics on the same HTTP listener as Socket.IO."),
    /** HTTP path of the metrics endpoint; must differ from `path`. @default "/metrics" */
    path: httpPath("/metrics", "HTTP path of the metrics endpoint; must differ from `path`."),
    /** Serve metrics on a listener of their own on this port (0: any free port) instead of Socket.IO's. Absent: the same listener as Socket.IO. */
    port: optionalPort(
      "Serve metrics on a listener of their own on this port (0: any free port) instead of Socket.IO's. Absent: the same listener as Socket.IO.",
    ),
    /** The address of the metrics listener when `metrics.port` is set. @default "127.0.0.1" */
    host: nonEmptyString("127.0.0.1", "The address of the metrics listener when `metrics.port` is set.", "127.0.0.1"),
  }),
  /** Machine-readable descriptions of the API. */
  docs: group("Machine-readable descriptions of the API.", {
    /** Serve `rt.asyncapi()` (the AsyncAPI 3.0 document of every namespace, JSON) at this path (GET) on Socket.IO's HTTP server; must differ from `path`. Absent: not served. */
    asyncapiPath: optionalHttpPath(
      "Serve `rt.asyncapi()` (the AsyncAPI 3.0 document of every namespace, JSON) at this path (GET) on Socket.IO's HTTP server; must differ from `path`. Absent: not served.",
      "/asyncapi.json",
    ),
  }),
  /** Connection-state recovery: a client that comes back within the window gets its socket id, rooms and missed events. `recovery: false` turns it off. */
  recovery: group(
    "Connection-state recovery: a client that comes back within the window gets its socket id, rooms and missed events. `recovery: false` turns it off.",
    {
      /** Recovery on (`recovery: false` is the same as `recovery: { enabled: false }`). @default true */
      enabled: bool(true, "Recovery on (`recovery: false` is the same as `recovery: { enabled: false }`)."),
      /** How long a disconnected client's session and the events it may miss are kept. @default 120000 */
      windowMs: millis(1000, 120000, "How long a disconnected client's session and the events it may miss are kept."),
      /** Events kept per namespace at most (the oldest go first; a client whose last event went connects fresh). @default 10000 */
      maxEvents: integer(
        1,
        10000,
        "Events kept per namespace at most (the oldest go first; a client whose last event went connects fresh).",
      ),
    },
  ),
  /** How `rt.close()` drains: in-flight events first, then connections closed a few at a time. */
  shutdown: group("How `rt.close()` drains: in-flight events first, then connections closed a few at a time.", {
    /** How long `rt.close()` waits for events in flight to finish and their acks to be written. @default 10000 */
    graceMs: millis(0, 10000, "How long `rt.close()` waits for events in flight to finish and their acks to be written."),
    /** Connections are closed at the transport level spread over this time, so clients reconnect elsewhere without a herd. @default 2000 */
    drainMs: millis(
      0,
      2000,
      "Connections are closed at the transport level spread over this time, so clients reconnect elsewhere without a herd.",
    ),
  }),
  /** A handler that has not settled after this long answers `INTERNAL` and is let go. 0 = never. @default 30000 */
  handlerTimeoutMs: integer(
    0,
    30000,
    "A handler that has not settled after this long answers `INTERNAL` and is let go. 0 = never.",
    MAX_TIMER_MS,
  ),
});
