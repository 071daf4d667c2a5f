import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Namespace, type ServerOptions, type Socket } from "socket.io";
import {
  ERROR_EVENT,
  LolyError,
  assertWssRouteDefinition,
  isWssRoute,
  withTimeout,
  type AnyWssRoute,
  type AuthContext,
  type LolyLogger,
  type RealtimeConfig,
  type RealtimeConfigInput,
  type RealtimeStateStore,
  type WssHandshake,
  type WssSocket,
} from "@loly-rt/core";
import type { Registry } from "prom-client";
import { resolveConfig } from "./config.js";
import { bounded as boundedCall, createComponents, errorMessage, type Components } from "./components.js";
import { userRoom, requestOf, socketLogger } from "./context.js";
import { loadRoutesDir } from "./loader.js";
import { createLogger } from "./logging.js";
import { createServerMetrics, type ServerMetrics } from "./metrics.js";
import { compileNamespace } from "./namespace.js";
import { clientIp, originAllowed } from "./net.js";
import { attachPipeline, compileRoute, globalBucketFor, runHook, type CompiledRoute } from "./pipeline.js";
import { RECORD, SocketRecord, type SharedServices } from "./record.js";

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
}

/** A running realtime server. */
export interface RealtimeServer {
  /** The Socket.IO server. */
  readonly io: Server;
  /** The state store handlers see as `ctx.state`. */
  readonly state: RealtimeStateStore;
  /** The prom-client registry of this server. */
  readonly metrics: Registry;
  /** The HTTP server Socket.IO (and `/metrics`) are attached to. */
  readonly httpServer: HttpServer;
  /** The resolved configuration. */
  readonly config: RealtimeConfig;
  /** The server's logger. */
  readonly logger: LolyLogger;
  /** Listens on `port` (0 = any free port); resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  /**
   * Disconnects every socket of `userId`, in every namespace (dynamic ones included), on
   * every instance. Resolves once this instance's sockets are gone and the other instances
   * were told (cluster mode).
   */
  disconnectUser(userId: string): Promise<void>;
  /**
   * Re-runs the route's `auth` hook for connected sockets (every socket, or those matching
   * `filter`) on every instance, with each socket's original handshake. A socket stays only
   * when the hook returns the same user (same id, same JSON) as at connect time; otherwise
   * (the hook throws, returns another user, or none where there was one) it gets
   * `__loly:error` `UNAUTHORIZED` and is disconnected. A hook that fails with `UNAVAILABLE`
   * or does not answer within `handlerTimeoutMs` leaves the socket connected (counted in
   * `failed`). Use it after revoking a session or token: the hook sees the revocation.
   *
   * @example
   * await db.revokeSession(sessionId);
   * const { disconnected } = await rt.revalidate({ userId: "42" });
   */
  revalidate(filter?: RevalidateFilter): Promise<RevalidateResult>;
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
}

const CONN_ADMIT = Symbol("loly-rt.admit");
const CONN_IP = Symbol("loly-rt.ip");

interface EngineConn {
  request: IncomingMessage;
  close(): void;
  on(event: "close", fn: () => void): void;
  [CONN_ADMIT]?: Promise<boolean> | boolean;
  [CONN_IP]?: string;
}

function connectError(code: string): Error & { data?: unknown } {
  const err = new Error(code) as Error & { data?: unknown };
  err.data = { code };
  return err;
}

/** Sockets re-checked at once by `revalidate` (an auth hook may call a database). */
const REVALIDATE_CONCURRENCY = 32;

/** Private parts of socket.io's Namespace and ParentNamespace this file relies on. */
interface ChildNamespace {
  readonly name: string;
  readonly sockets: Map<string, Socket>;
  readonly adapter: { close(): Promise<void> | void };
  _remove(socket: Socket): void;
  _preConnectSockets?: Map<string, Socket>;
}
interface DynamicParent {
  children: Set<Namespace>;
}

function sameUser(a: unknown, b: unknown): boolean {
  if (userIdOf(a) !== userIdOf(b)) return false;
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    // Not JSON (cycles, BigInt): the id decides.
    return true;
  }
}

function userIdOf(user: unknown): string | null {
  if (typeof user === "string" && user.length > 0) return user;
  if (typeof user === "number" && Number.isFinite(user)) return String(user);
  if (typeof user === "object" && user !== null) {
    const id = (user as { id?: unknown }).id;
    if ((typeof id === "string" && id.length > 0) || (typeof id === "number" && Number.isFinite(id))) return String(id);
  }
  return null;
}

/**
 * Creates a realtime server: validates the config, loads the routes, assembles state,
 * presence, limits, logs and metrics (in process, or over Redis in cluster mode) and
 * attaches Socket.IO to an HTTP server.
 *
 * @example
 * const rt = await createRealtimeServer({ routes: { "/chat": chatRoute } });
 * const port = await rt.listen(3000);
 */
export async function createRealtimeServer(options: RealtimeServerOptions = {}): Promise<RealtimeServer> {
  const { config, warnings, production } = resolveConfig(options.config, { NODE_ENV: process.env.NODE_ENV });
  const logger = options.logger ?? (await createLogger(config));
  for (const w of warnings) logger.warn({ component: "config" }, w);

  // Routes: from code and from files; every problem fails start-up here.
  const routeList: Array<{ pattern: string; route: AnyWssRoute; file?: string }> = [];
  for (const [pattern, route] of Object.entries(options.routes ?? {})) {
    if (!isWssRoute(route)) {
      throw new LolyError("INVALID_ROUTE", `routes["${pattern}"]: expected a route from defineWssRoute({...})`);
    }
    assertWssRouteDefinition(route, `routes["${pattern}"]`);
    routeList.push({ pattern, route });
  }
  if (options.routesDir) {
    for (const r of await loadRoutesDir(options.routesDir)) routeList.push({ pattern: r.namespace, route: r.route, file: r.file });
  }
  const seen = new Set<string>();
  for (const r of routeList) {
    if (seen.has(r.pattern)) throw new LolyError("INVALID_ROUTE", `two routes for namespace "${r.pattern}"${r.file ? ` (${r.file})` : ""}`);
    seen.add(r.pattern);
  }

  const metrics = createServerMetrics();
  const components = await createComponents(config, { stateStore: options.stateStore, logger, metrics, production });

  const shared: SharedServices = {
    config,
    production,
    logger,
    state: components.state,
    presence: components.presence,
    metrics,
    sharedLimiter: components.sharedLimiter,
    // Presence calls: any failure is the backend's (UNAVAILABLE), bounded by the command timeout.
    bounded: (p, what) => boundedCall(p, config.scale.commandTimeoutMs, what, production),
  };

  const ownsHttp = !options.httpServer;
  const httpServer = options.httpServer ?? createServer();
  const metricsHandler = config.metrics.enabled ? installMetricsEndpoint(httpServer, config, metrics, ownsHttp) : null;

  const allowed: "*" | ReadonlySet<string> =
    config.allowedOrigins === "*" ? "*" : new Set(config.allowedOrigins.map((o) => o.toLowerCase()));
  const ioOptions: Partial<ServerOptions> = {
    path: config.path,
    transports: config.transports,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    maxHttpBufferSize: config.maxPayloadBytes,
    serveClient: false,
    cors:
      allowed === "*"
        ? { origin: "*", credentials: false }
        : { origin: [...config.allowedOrigins], credentials: true, methods: ["GET", "POST"] },
  };
  // enabled: false builds everything but attaches no endpoint to the HTTP server.
  const io = config.enabled ? new Server(httpServer, ioOptions) : new Server(ioOptions);
  if (components.adapter) io.adapter(components.adapter as never);
  const clustered = components.adapter !== undefined;

  // One warning per outage and component; the rest of that outage is logged at debug.
  const failing = new Set<string>();
  const degraded = (component: string, err: unknown, msg: string, fields: Record<string, unknown> = {}): void => {
    const line = { ...fields, err: { message: errorMessage(err) }, component };
    if (failing.has(component)) {
      logger.debug(line, msg);
      return;
    }
    failing.add(component);
    logger.warn(line, `${msg} (repeats of this outage are logged at debug)`);
  };
  const recovered = (component: string): void => {
    if (failing.size > 0 && failing.delete(component)) logger.info({ component }, `${component}: available again`);
  };

  // Per-IP connection limit, counted per Engine.IO connection (the thing that costs).
  const limit = config.limits.connectionsPerIp;
  const counter = components.counter;
  // Shared listeners (`this` is the Engine.IO connection): nothing allocated per connection
  // beyond what it must hold.
  function releaseConn(this: EngineConn): void {
    const ip = this[CONN_IP];
    if (ip !== undefined) void Promise.resolve(counter.release(ip)).catch(() => undefined);
  }
  const settle = (conn: EngineConn, ok: boolean): boolean => {
    if (ok) conn.on("close", releaseConn);
    // Over the limit: the client's CONNECT gets TOO_MANY_CONNECTIONS; one that never sends
    // it must not hold the session until socket.io's 45 s connect timeout.
    else setTimeout(() => conn.close(), REFUSED_GRACE_MS).unref();
    return ok;
  };
  io.engine?.on("connection", (conn: EngineConn) => {
    const ip = clientIp(conn.request, config.trustProxy);
    conn[CONN_IP] = ip;
    const acquired = counter.acquire(ip, limit);
    if (typeof acquired === "boolean") {
      conn[CONN_ADMIT] = settle(conn, acquired);
      return;
    }
    const release = (): void => releaseConn.call(conn);
    conn[CONN_ADMIT] = new Promise<boolean>((resolve) => {
      // Same policy as cluster-wide limiters when the store is unreachable or too slow.
      const allow = config.limits.onStoreError === "allow";
      let decided: boolean | undefined;
      let closed = false;
      conn.on("close", () => (closed = true));
      const byPolicy = (err: unknown): void => {
        decided = allow;
        degraded("connections", err, `per-IP connection count unavailable: ${allow ? "admitting" : "refusing"} connections (limits.onStoreError)`);
        resolve(settle(conn, allow));
      };
      const timer = setTimeout(
        () => byPolicy(new LolyError("UNAVAILABLE", `connection count did not answer within ${config.scale.commandTimeoutMs} ms`)),
        config.scale.commandTimeoutMs,
      );
      timer.unref();
      acquired.then(
        (ok) => {
          if (decided === undefined) {
            clearTimeout(timer);
            decided = ok;
            recovered("connections");
            resolve(settle(conn, ok));
          } else if (ok && (!decided || closed)) release(); // counted late: after a refusal, or after the connection closed
        },
        (err: unknown) => {
          if (decided === undefined) {
            clearTimeout(timer);
            byPolicy(err);
            // Admitted uncounted: count it locally so the re-assert after the outage includes it.
            if (allow) counter.count?.(ip);
          } else if (decided && !closed) counter.count?.(ip);
        },
      );
    });
  });

  const records = new Set<SocketRecord>();
  const pendingHooks = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    pendingHooks.add(p);
    void p.finally(() => pendingHooks.delete(p));
  };

  const compiled: CompiledRoute[] = [];
  const dynamicParents: DynamicParent[] = [];
  for (const { pattern, route } of routeList) {
    const ns = compileNamespace(pattern);
    const croute = compileRoute(pattern, route, shared);
    compiled.push(croute);
    const nsp = (ns.dynamic && ns.regex ? io.of(ns.regex) : io.of(pattern)) as unknown as Namespace;
    if (ns.dynamic && ns.regex) dynamicParents.push(nsp as unknown as DynamicParent);
    setupNamespace(nsp, ns.match.bind(ns), croute);
  }

  // A dynamic route creates a child namespace (with its adapter, and Redis subscriptions in
  // cluster mode) for every name a client asks for; socket.io keeps them forever. Drop a
  // child once its last socket left or was refused, so names cannot pile up.
  if (dynamicParents.length > 0) {
    io.on("new_namespace", (child: Namespace) => {
      const parent = dynamicParents.find((p) => p.children.has(child));
      if (parent) reapWhenEmpty(child as unknown as ChildNamespace, parent);
    });
  }

  function reapWhenEmpty(child: ChildNamespace, parent: DynamicParent): void {
    const remove = child._remove;
    const empty = (): boolean => child.sockets.size === 0 && (child._preConnectSockets?.size ?? 0) === 0;
    child._remove = function (this: ChildNamespace, socket: Socket): void {
      remove.call(this, socket);
      if (!empty()) return;
      // After the ticks in which a socket that is being created registers itself.
      setImmediate(() => {
        if (!empty() || !parent.children.delete(child as unknown as Namespace)) return;
        if ((io._nsps.get(child.name) as unknown) === child) io._nsps.delete(child.name);
        void Promise.resolve(child.adapter.close()).catch(() => undefined);
      });
    };
  }

  // Cluster-wide commands travel as server-side events of the main namespace.
  function disconnectLocal(userId: string): void {
    const room = userRoom(userId);
    for (const nsp of io._nsps.values()) nsp.local.in(room).disconnectSockets(true);
  }
  if (clustered) {
    io.on("loly:disconnectUser", (userId: unknown) => {
      if (typeof userId === "string") disconnectLocal(userId);
    });
    io.on("loly:revalidate", (filter: unknown, ack: unknown) => {
      void revalidateLocal(isFilter(filter) ? filter : {}).then((result) => {
        if (typeof ack === "function") (ack as (r: RevalidateResult) => void)(result);
      });
    });
  }

  /** One listener for every socket (`this` is the socket): no closure per connection. */
  function onSocketDisconnect(this: Socket, reason: string): void {
    const rec = (this as unknown as Record<symbol, SocketRecord | undefined>)[RECORD];
    if (!rec) return;
    records.delete(rec);
    metrics.connections.labels(rec.route.pattern).dec();
    track(onLeave(rec, String(reason)));
  }

  function setupNamespace(nsp: Namespace, match: (name: string) => Record<string, string> | null, route: CompiledRoute): void {
    nsp.use((socket, next) => {
      admit(socket, match, route).then(
        () => next(),
        (err: unknown) => {
          const code = err instanceof Error ? err.message : "UNAUTHORIZED";
          metrics.refusedConnections.labels(route.pattern, code).inc();
          next(connectError(code));
        },
      );
    });
    nsp.on("connection", (socket: Socket) => {
      const rec = (socket as unknown as Record<symbol, SocketRecord | undefined>)[RECORD];
      if (!rec) {
        socket.disconnect(true);
        return;
      }
      records.add(rec);
      metrics.connections.labels(route.pattern).inc();
      metrics.connectionsTotal.labels(route.pattern).inc();
      attachPipeline(socket, rec);
      socket.on("disconnect", onSocketDisconnect);
      if (route.onConnect) track(runHook(rec, route.onConnect, "connect"));
    });
  }

  async function admit(socket: Socket, match: (name: string) => Record<string, string> | null, route: CompiledRoute): Promise<void> {
    const conn = socket.conn as unknown as EngineConn;
    const origin = socket.handshake.headers.origin;
    if (!originAllowed(typeof origin === "string" ? origin : undefined, allowed)) {
      refuseConn(conn);
      throw new Error("FORBIDDEN_ORIGIN");
    }
    const admitted = await conn[CONN_ADMIT];
    if (admitted === false) {
      refuseConn(conn);
      throw new Error("TOO_MANY_CONNECTIONS");
    }
    const ip = conn[CONN_IP] ?? clientIp(socket.request, config.trustProxy);
    const params = match(socket.nsp.name) ?? {};

    let user: unknown = null;
    if (route.route.auth) {
      try {
        user = await callAuth(socket, route, ip, params);
      } catch (err) {
        logger.info({ namespace: socket.nsp.name, socketId: socket.id, err: { message: errorMessage(err) } }, "auth refused the connection");
        throw new Error("UNAUTHORIZED");
      }
    }
    const userId = user === null ? null : userIdOf(user);
    if (user !== null && userId === null) {
      logger.error({ namespace: socket.nsp.name }, "auth returned a user without an `id` (string or number): connection refused");
      throw new Error("UNAUTHORIZED");
    }
    if (route.requireAuth && userId === null) throw new Error("UNAUTHORIZED");

    // Identity lives server-side only: read-only on socket.data, nothing the client sends can set it.
    Object.defineProperty(socket.data, "user", { value: user, enumerable: true, writable: false, configurable: false });
    const rec = new SocketRecord(socket, route, shared, user, userId, ip, params, globalBucketFor(route));
    (socket as unknown as Record<symbol, SocketRecord>)[RECORD] = rec;

    if (userId !== null) {
      await socket.join(userRoom(userId));
      try {
        await shared.bounded(shared.presence.add({ namespace: socket.nsp.name, socketId: socket.id, userId }), "presence.add");
        recovered("presence");
      } catch (err) {
        // Degraded, not refused: the presence backend re-asserts its entries when it is back.
        degraded("presence", err, "presence unavailable at connect: admitted anyway, re-asserted when the backend is back", {
          namespace: socket.nsp.name,
          socketId: socket.id,
        });
      }
    }
  }

  /** Runs the route's auth hook for a socket (its handshake as at connect time); resolves the user or null. */
  async function callAuth(socket: Socket, route: CompiledRoute, ip: string, params: Record<string, string>): Promise<unknown> {
    const auth = route.route.auth as (ctx: AuthContext) => unknown;
    const probe = new SocketRecord(socket, route, shared, null, null, ip, params, null);
    const actx: AuthContext = {
      socket: socket as unknown as WssSocket,
      get req() {
        return requestOf(probe);
      },
      handshake: socket.handshake as unknown as WssHandshake,
      namespace: socket.nsp.name,
      params,
      get log() {
        return socketLogger(probe);
      },
      state: shared.state,
    };
    return (await auth(actx)) ?? null;
  }

  async function revalidateLocal(filter: RevalidateFilter): Promise<RevalidateResult> {
    const result: RevalidateResult = { instances: 1, checked: 0, disconnected: 0, failed: 0 };
    const userId = filter.userId === undefined ? undefined : String(filter.userId);
    const targets = [...records].filter(
      (rec) =>
        rec.route.route.auth !== undefined &&
        (userId === undefined || rec.userId === userId) &&
        (filter.namespace === undefined || rec.socket.nsp.name === filter.namespace || rec.route.pattern === filter.namespace),
    );
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < targets.length) await recheck(targets[next++] as SocketRecord, result);
    };
    await Promise.all(Array.from({ length: Math.min(REVALIDATE_CONCURRENCY, targets.length) }, worker));
    return result;
  }

  async function recheck(rec: SocketRecord, result: RevalidateResult): Promise<void> {
    const socket = rec.socket;
    if (!socket.connected) return;
    result.checked++;
    let keep: boolean;
    try {
      const pending = callAuth(socket, rec.route, rec.ip, rec.params);
      const user = await (config.handlerTimeoutMs > 0 ? withTimeout(pending, config.handlerTimeoutMs, "auth") : pending);
      keep = sameUser(user, rec.user);
    } catch (err) {
      if (LolyError.is(err) && err.code === "UNAVAILABLE") {
        result.failed++;
        degraded("revalidate", err, "revalidate: auth hook unavailable; socket left connected", { namespace: socket.nsp.name, socketId: socket.id });
        return;
      }
      keep = false;
    }
    if (keep || !socket.connected) return;
    result.disconnected++;
    logger.info({ namespace: socket.nsp.name, socketId: socket.id, userId: rec.userId }, "revalidate: authentication no longer valid, socket disconnected");
    socket.emit(ERROR_EVENT, {
      code: "UNAUTHORIZED",
      message: "Authentication is no longer valid",
      event: "revalidate",
      requestId: randomUUID(),
    });
    socket.disconnect(true);
  }

  function refuseConn(conn: EngineConn): void {
    // Let the CONNECT_ERROR packet flush, then free the Engine.IO session.
    setTimeout(() => conn.close(), 200).unref();
  }

  async function onLeave(rec: SocketRecord, reason: string): Promise<void> {
    // Presence first: onDisconnect sees the world without this socket (e.g. to push the
    // room's new user list).
    if (rec.userId !== null) {
      await shared.bounded(shared.presence.remove(rec.socket.nsp.name, rec.socket.id), "presence.remove").then(
        () => recovered("presence"),
        (err: unknown) => {
          degraded("presence", err, "presence unavailable at disconnect: re-asserted when the backend is back", {
            namespace: rec.socket.nsp.name,
            socketId: rec.socket.id,
          });
        },
      );
    }
    if (rec.route.onDisconnect) await runHook(rec, rec.route.onDisconnect, "disconnect", reason);
  }

  /** Waits for running hooks, at most `handlerTimeoutMs` (a hook that never settles must not stop a shutdown). */
  async function drainHooks(): Promise<void> {
    if (pendingHooks.size === 0) return;
    const all = Promise.allSettled([...pendingHooks]).then(() => true);
    const limit = config.handlerTimeoutMs;
    if (!(limit > 0)) {
      await all;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), limit);
    });
    const finished = await Promise.race([all, late]);
    clearTimeout(timer);
    if (!finished) logger.warn({ component: "close", hooks: pendingHooks.size }, `close: ${pendingHooks.size} connection hook(s) still running after handlerTimeoutMs (${limit} ms); closing anyway`);
  }

  let closing: Promise<void> | null = null;
  const rt: RealtimeServer = {
    io,
    state: shared.state,
    metrics: metrics.registry,
    httpServer,
    config,
    logger,
    listen(port = 0, host?: string) {
      return new Promise<number>((resolve, reject) => {
        if (httpServer.listening) {
          resolve((httpServer.address() as AddressInfo).port);
          return;
        }
        const onError = (err: Error) => reject(err);
        httpServer.once("error", onError);
        const cb = () => {
          httpServer.off("error", onError);
          const bound = (httpServer.address() as AddressInfo).port;
          logger.info({ port: bound, path: config.path, mode: config.scale.mode }, `realtime server listening on :${bound}${config.path}`);
          resolve(bound);
        };
        if (host) httpServer.listen(port, host, cb);
        else httpServer.listen(port, cb);
      });
    },
    async disconnectUser(userId: string) {
      const id = String(userId);
      disconnectLocal(id);
      // One message for every namespace: another instance may have dynamic children this one lacks.
      if (clustered) io.serverSideEmit("loly:disconnectUser", id);
    },
    async revalidate(filter: RevalidateFilter = {}) {
      if (!isFilter(filter)) throw new LolyError("INVALID_CONFIG", "revalidate(filter): filter must be { userId?: string, namespace?: string }");
      const local = revalidateLocal(filter);
      if (!clustered) return local;
      const remote = new Promise<RevalidateResult[]>((resolve) => {
        // The adapter swallows its own failures (Redis away): bound the wait ourselves.
        const timer = setTimeout(() => {
          logger.warn({ component: "revalidate" }, "revalidate: other instances did not answer in time; counting this instance only");
          resolve([]);
        }, REMOTE_WAIT_MS);
        timer.unref();
        io.serverSideEmit("loly:revalidate", filter, (err: Error | null, responses: unknown[]) => {
          clearTimeout(timer);
          if (err) logger.warn({ component: "revalidate", err: { message: err.message } }, "revalidate: some instances did not answer");
          resolve((responses ?? []).filter(isResult));
        });
      });
      const [mine, theirs] = await Promise.all([local, remote]);
      for (const r of theirs) {
        mine.instances += 1;
        mine.checked += r.checked;
        mine.disconnected += r.disconnected;
        mine.failed += r.failed;
      }
      return mine;
    },
    health: () => components.health(),
    close() {
      closing ??= (async () => {
        // Sockets disconnect (onDisconnect runs for each), then the parts close.
        for (const nsp of io._nsps.values()) nsp.local.disconnectSockets(true);
        await drainHooks();
        await new Promise<void>((resolve) => {
          io.close(() => resolve());
        }).catch(() => undefined);
        if (metricsHandler) metricsHandler.uninstall();
        await components.close();
      })();
      return closing;
    },
  };
  return rt;
}

/** How long an Engine.IO connection over the per-IP limit may stay open (to read its refusal). */
const REFUSED_GRACE_MS = 1000;

/** How long `revalidate` waits for the other instances (the adapter's request timeout is 5 s). */
const REMOTE_WAIT_MS = 6000;

function isFilter(value: unknown): value is RevalidateFilter {
  if (typeof value !== "object" || value === null) return false;
  const f = value as Record<string, unknown>;
  return (f.userId === undefined || typeof f.userId === "string" || typeof f.userId === "number") && (f.namespace === undefined || typeof f.namespace === "string");
}

function isResult(value: unknown): value is RevalidateResult {
  const r = value as RevalidateResult | null;
  return typeof r === "object" && r !== null && typeof r.checked === "number" && typeof r.disconnected === "number" && typeof r.failed === "number";
}

/** Serves `metrics.path` on the HTTP server, before Socket.IO and any user listener. */
function installMetricsEndpoint(
  httpServer: HttpServer,
  config: RealtimeConfig,
  metrics: ServerMetrics,
  owned: boolean,
): { uninstall(): void } {
  const previous = httpServer.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === config.metrics.path && req.method === "GET") {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (previous.length > 0) {
      for (const l of previous) l.call(httpServer, req, res);
      return;
    }
    if (owned) {
      // Socket.IO answers its own path before this handler runs; the rest is a 404.
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not found");
    }
  };
  httpServer.removeAllListeners("request");
  httpServer.on("request", handler);
  return {
    uninstall() {
      httpServer.off("request", handler);
    },
  };
}
