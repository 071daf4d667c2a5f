import type { Server as HttpServer } from "node:http";
import type { AnyWssRoute, LolyLogger, RealtimeConfig, RealtimeConfigInput, RealtimeStateStore } from "@loly-rt/core";
import type { Registry } from "prom-client";
import type { Server, ServerOptions } from "socket.io";
import type { AsyncApiDocument, AsyncApiOptions } from "./asyncapi/document.js";

/** Options of {@link createRealtimeServer}. */
export interface RealtimeServerOptions {
  /** Any subset of the configuration; the rest takes its defaults. */
  config?: RealtimeConfigInput;
  /** Routes by namespace pattern (`"/chat"`, `"/rooms/[id]"`). */
  routes?: Record<string, AnyWssRoute>;
  /** A folder of `**\/events.{ts,mts,js,mjs}` route files: folder path = namespace. */
  routesDir?: string;
  /** Attach to your own HTTP server instead of creating one. */
  httpServer?: HttpServer;
  /** Your own state store (bounded by `scale.commandTimeoutMs`). */
  stateStore?: RealtimeStateStore;
  /** Your own pino (or pino-shaped) logger. */
  logger?: LolyLogger;
  /**
   * Options passed to Socket.IO's `Server` (`parser`, `wsEngine`, `perMessageDeflate`,
   * `httpCompression`, `cleanupEmptyChildNamespaces`, ...). Those Loly sets itself (`path`,
   * `transports`, `pingInterval`, `pingTimeout`, `maxHttpBufferSize`, `cors`, `allowRequest`,
   * `adapter`, `connectionStateRecovery`, `connectTimeout`) fail start-up with
   * `INVALID_CONFIG` naming the Loly setting to use. A custom `parser` keeps Loly's size cap.
   */
  io?: Partial<ServerOptions>;
}

/** A running realtime server. */
export interface RealtimeServer {
  /** The Socket.IO server. */
  readonly io: Server;
  /** The state store handlers see as `ctx.state`. */
  readonly state: RealtimeStateStore;
  /** The prom-client registry of this server. */
  readonly metrics: Registry;
  /** The HTTP server Socket.IO (and `/metrics`, unless `metrics.port` is set) are attached to. */
  readonly httpServer: HttpServer;
  /** The metrics listener of its own, when `metrics.port` is set (already listening). */
  readonly metricsServer: HttpServer | undefined;
  /** The resolved configuration. */
  readonly config: RealtimeConfig;
  /** The server's logger. */
  readonly logger: LolyLogger;
  /** Listens on `port` (0 = any free port); resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  /**
   * This instance's id (`<hostname>:<pid>:<random>`): how the other instances name it in the
   * `missing` list of a cluster call, and the `instance` of its sockets in `fetchSockets`.
   */
  readonly instanceId: string;
  /**
   * Disconnects every socket of `userId`, in every namespace (dynamic ones included), on
   * every instance. This instance's sockets are gone before it resolves; it resolves once
   * every other instance answered, and at the latest after `scale.commandTimeoutMs`, naming
   * the instances that did not answer in `missing` (a frozen instance still disconnects
   * them when it resumes). Never rejects because an instance is frozen or restarting.
   *
   * @example
   * const { disconnected, missing } = await rt.disconnectUser("42");
   */
  disconnectUser(userId: string): Promise<DisconnectUserResult>;
  /**
   * Re-runs the route's `auth` hook for connected sockets (every socket, or those matching
   * `filter`) on every instance, with each socket's original handshake. A socket stays only
   * when the hook returns the same user (same id, same JSON) as at connect time; otherwise
   * (the hook throws, returns another user, or none where there was one) it gets
   * `__loly:error` `UNAUTHORIZED` and is disconnected. A hook that fails with `UNAVAILABLE`
   * or does not answer within `handlerTimeoutMs` leaves the socket connected (counted in
   * `failed`). Use it after revoking a session or token: the hook sees the revocation.
   * Resolves by `scale.commandTimeoutMs` with the sums of the instances that answered and
   * the ids of those that did not (`missing`).
   *
   * @example
   * await db.revokeSession(sessionId);
   * const { disconnected } = await rt.revalidate({ userId: "42" });
   */
  revalidate(filter?: RevalidateFilter): Promise<RevalidateResult>;
  /**
   * Describes the connected sockets of the routes (all, or those matching every key of
   * `filter`) on every instance: id, namespace, rooms, user id, a copy of `socket.data`
   * without `user`, and the instance. Copies only: never the user object nor the handshake.
   * Resolves once every instance answered, at the latest after `scale.commandTimeoutMs`
   * with what answered and the ids of the instances that did not (`missing`).
   *
   * @example
   * const { results, missing } = await rt.fetchSockets({ room: "lobby" });
   */
  fetchSockets(filter?: FetchSocketsFilter): Promise<FetchSocketsResult>;
  /**
   * The AsyncAPI 3.0 document of every namespace of this server: client events with their
   * payload JSON Schema, acknowledgements and error codes, the route's `emits`, auth and rate
   * limits. Served at `docs.asyncapiPath` when set.
   *
   * @example
   * await writeFile("asyncapi.json", JSON.stringify(rt.asyncapi({ title: "Chat", host: "chat.example.com", protocol: "wss" }), null, 2));
   */
  asyncapi(options?: AsyncApiOptions): AsyncApiDocument;
  /** Health of the parts (Redis connections in cluster mode). */
  health(): { ok: boolean; details: Record<string, string> };
  /** Graceful stop: disconnect hooks run, presence cleaned, Redis clients closed. Idempotent. */
  close(): Promise<void>;
}

/** Which sockets {@link RealtimeServer.revalidate} re-checks (all given keys must match). */
export interface RevalidateFilter {
  /** Only the sockets of this user. */
  userId?: string;
  /** Only sockets of this namespace: a concrete name (`"/rooms/42"`) or a route pattern (`"/rooms/[id]"`). */
  namespace?: string;
}

/** What {@link RealtimeServer.revalidate} did, summed over the instances that answered. */
export interface RevalidateResult {
  /** Instances whose sockets are counted (this one included). */
  instances: number;
  /** Sockets whose auth hook ran. */
  checked: number;
  /** Sockets disconnected because the hook refused them or returned another user. */
  disconnected: number;
  /** Sockets left connected because the hook was unavailable or too slow. */
  failed: number;
  /** Ids of the instances that did not answer by `scale.commandTimeoutMs` (not counted above). `[]` in single mode. */
  missing: string[];
}

/** What {@link RealtimeServer.disconnectUser} did, summed over the instances that answered. */
export interface DisconnectUserResult {
  /** Instances that answered (this one included). */
  instances: number;
  /** Sockets disconnected (all namespaces). */
  disconnected: number;
  /** Ids of the instances that did not answer by `scale.commandTimeoutMs`. `[]` in single mode. */
  missing: string[];
}

/** Which sockets {@link RealtimeServer.fetchSockets} describes (all given keys must match). */
export interface FetchSocketsFilter {
  /** Only sockets in this room. */
  room?: string;
  /** Only the sockets of this user id. */
  user?: string;
  /** Only sockets of this namespace: a concrete name (`"/rooms/42"`) or a route pattern (`"/rooms/[id]"`). */
  namespace?: string;
}

/** One socket as {@link RealtimeServer.fetchSockets} describes it (plain copies: changing them changes nothing). */
export interface FetchedSocket {
  /** The socket id. */
  id: string;
  /** Its namespace (`"/rooms/42"`). */
  namespace: string;
  /** The rooms it is in, without the room of its own id and its `user:` room. */
  rooms: string[];
  /** The user id the auth hook returned, or `null` (anonymous). */
  userId: string | null;
  /** `socket.data` without `user`, as JSON carries it (what connection-state recovery keeps too). */
  data: Record<string, unknown>;
  /** The instance it is connected to ({@link RealtimeServer.instanceId}). */
  instance: string;
}

/** What {@link RealtimeServer.fetchSockets} found on the instances that answered. */
export interface FetchSocketsResult {
  /** Instances that answered (this one included). */
  instances: number;
  /** The matching sockets of those instances. */
  results: FetchedSocket[];
  /** Ids of the instances that did not answer by `scale.commandTimeoutMs`. `[]` in single mode. */
  missing: string[];
}
