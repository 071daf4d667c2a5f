import { Server, type Namespace, type ServerOptions } from "socket.io";
import * as defaultParser from "socket.io-parser";
import type { AddressInfo } from "node:net";
import { LolyError } from "@loly-rt/core";
import { createBackends } from "./backends/assemble.js";
import { boundedCalls, errorMessage } from "./backends/bounded.js";
import { Outages } from "./backends/outages.js";
import { ClusterCommands } from "./cluster/commands.js";
import { resolveConfig } from "./config/index.js";
import { checkServerOptions, ioPassThrough } from "./config/server-options.js";
import { Connections } from "./connection/lifecycle.js";
import { engineEventHook } from "./connection/engine.js";
import { NamespaceGuard } from "./connection/guard.js";
import { allowRequest, corsOptions, originAllowList } from "./connection/origin.js";
import { Sessions } from "./connection/sessions.js";
import { NamespaceReaper } from "./connection/reaper.js";
import { revalidateLocal } from "./connection/revalidate.js";
import { listen, untilHealthy } from "./http/listen.js";
import { createOwnServer, installFront } from "./http/front.js";
import { buildAsyncApi, type AsyncApiOptions } from "./asyncapi/document.js";
import { asyncapiResponder } from "./asyncapi/serve.js";
import { startMetricsListener } from "./http/metrics-listener.js";
import { createLogger } from "./logging.js";
import { createServerMetrics } from "./metrics.js";
import { collectRoutes } from "./routes/collect.js";
import { compileRoute } from "./routes/compile.js";
import { compileNamespace } from "./routes/namespace.js";
import { Backpressure } from "./transport/backpressure.js";
import { boundedParser } from "./transport/bounded-parser.js";
import { pollingDelayMs } from "./transport/throttle.js";
import type { SharedServices } from "./services.js";
import { createRecovery } from "./recovery/create.js";
import { Drain, type DrainTarget } from "./shutdown/drain.js";
import { announceExpired } from "./socket/live-presence.js";
import type { SocketRecord } from "./socket/record.js";
import type { RealtimeServer, RealtimeServerOptions } from "./types.js";

/** The open Engine.IO sessions, each with the records of its sockets: what a drain closes. */
function drainTargets(io: Server, records: Iterable<SocketRecord>): DrainTarget[] {
  const byConn = new Map<unknown, SocketRecord[]>();
  for (const rec of records) {
    const list = byConn.get(rec.socket.conn);
    if (list) list.push(rec);
    else byConn.set(rec.socket.conn, [rec]);
  }
  return Object.values(engineSessions(io)).flatMap((session) => (session ? [{ session, records: byConn.get(session) ?? [] }] : []));
}

/** Engine.IO's sessions by id (a protected field of its server, read to close one session at once). */
function engineSessions(io: Server): Record<string, { close(discard?: boolean): void } | undefined> {
  return (io.engine as unknown as { clients?: Record<string, { close(discard?: boolean): void }> } | undefined)?.clients ?? {};
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
  checkServerOptions(options);
  const { config, warnings, production } = resolveConfig(options.config, { NODE_ENV: process.env.NODE_ENV });
  const logger = options.logger ?? (await createLogger(config));
  for (const w of warnings) logger.warn({ component: "config" }, w);

  const routes = await collectRoutes(options.routes, options.routesDir);
  const metrics = createServerMetrics();
  const recovery = createRecovery(config, logger);
  const backends = await createBackends(config, {
    stateStore: options.stateStore,
    logger,
    metrics,
    production,
    restores: recovery?.recovery,
  }).catch((err: unknown) => {
    recovery?.recovery.close();
    throw err;
  });
  if (recovery && backends.recoveryStore) recovery.recovery.use(backends.recoveryStore);
  const shared: SharedServices = {
    config,
    production,
    logger,
    state: backends.state,
    presence: backends.presence,
    metrics,
    sharedLimiter: backends.sharedLimiter,
    bounded: boundedCalls(config.scale.commandTimeoutMs, production),
    recoveryPosition: recovery ? (nsp) => recovery.recovery.position(nsp) : undefined,
  };

  const httpServer = options.httpServer ?? createOwnServer();
  const ownPort = config.metrics.enabled && config.metrics.port !== undefined;
  const metricsServer = ownPort
    ? await startMetricsListener(config.metrics.port as number, config.metrics.host, config.metrics.path, metrics.registry).catch(
        async (err: unknown) => {
          await backends.close();
          throw new LolyError(
            "INVALID_CONFIG",
            `metrics.port ${config.metrics.port} on ${config.metrics.host}: ${errorMessage(err)}`,
            undefined,
            { cause: err },
          );
        },
      )
    : undefined;
  if (metricsServer) {
    const bound = (metricsServer.address() as AddressInfo).port;
    logger.info(
      { port: bound, host: config.metrics.host, path: config.metrics.path },
      `metrics on http://${config.metrics.host}:${bound}${config.metrics.path}`,
    );
  }
  const asyncapi = (opts?: AsyncApiOptions) => buildAsyncApi(routes, config, opts);
  const front = installFront(httpServer, {
    metrics: config.metrics.enabled && !ownPort ? { path: config.metrics.path, registry: metrics.registry } : undefined,
    asyncapi: config.docs.asyncapiPath ? { path: config.docs.asyncapiPath, respond: asyncapiResponder(asyncapi) } : undefined,
    engine: {
      path: config.path,
      maxBytes: config.maxPayloadBytes,
      closeSession: (sid) => engineSessions(io)[sid]?.close(true),
      postDelayMs: (sid) => {
        const session = engineSessions(io)[sid];
        return session ? pollingDelayMs(session) : 0;
      },
    },
  });
  const allowed = originAllowList(config.allowedOrigins);
  const passed = ioPassThrough(options.io);
  const ioOptions: Partial<ServerOptions> = {
    serveClient: false,
    ...passed,
    path: config.path,
    transports: config.transports,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    maxHttpBufferSize: config.maxPayloadBytes,
    connectTimeout: config.connectTimeoutMs,
    // One message, one cap: binary attachments count with their header; a partial message is dropped after pingTimeoutMs.
    parser: boundedParser(
      (passed.parser as typeof defaultParser | undefined) ?? defaultParser,
      config.maxPayloadBytes,
      config.pingTimeoutMs,
    ),
    // Refused before a session (and a namespace) exists: counted under the namespace "(handshake)".
    allowRequest: allowRequest(
      allowed,
      () => metrics.refusedConnections.labels("(handshake)", "FORBIDDEN_ORIGIN").inc(),
      () => drain.draining,
    ),
    cors: corsOptions(allowed),
  };
  // enabled: false builds everything but attaches no endpoint to the HTTP server.
  if (recovery) Object.assign(ioOptions, recovery.ioOptions);
  const io = config.enabled ? new Server(httpServer, ioOptions) : new Server(ioOptions);
  const create = config.scale.mode === "cluster" ? config.scale.adapter?.create : undefined;
  if (create) io.adapter((create as (server: Server) => unknown)(io) as never);
  else if (backends.adapter) io.adapter(backends.adapter as never);

  const outages = new Outages(logger);
  const drain = new Drain(config, logger);
  const sessions = new Sessions(config, backends.counter, outages);
  const backpressure = new Backpressure(sessions, config.limits.maxBufferedBytes, metrics, logger);
  const hookEvents = engineEventHook(
    (conn, packet) => backpressure.packet(conn as never, packet),
    (conn) => sessions.closed(conn as never),
  );
  io.engine?.on("connection", (conn) => {
    sessions.open(conn);
    hookEvents(conn);
  });
  const reaper = new NamespaceReaper(io);
  const guard = new NamespaceGuard(
    sessions,
    config.limits.namespacesPerConnection,
    () => drain.draining,
    (nsp, code) => {
      metrics.refusedConnections.labels(connections.patternOf(nsp), code).inc();
      reaper.check(nsp);
    },
  );
  const connections = new Connections(
    { shared, sessions, outages, logger, recovery: recovery?.recovery },
    guard,
    () => drain.draining,
    (nsp) => reaper.check(nsp),
  );
  guard.install(io);
  /** Namespaces of the routes with `presence: { broadcast: true }`. */
  const broadcasting: Array<{ match(name: string): unknown }> = [];
  for (const { pattern, route } of routes) {
    const ns = compileNamespace(pattern);
    const nsp = (ns.regex ? io.of(ns.regex) : io.of(pattern)) as unknown as Namespace;
    if (ns.regex) reaper.watch(nsp);
    const compiled = compileRoute(pattern, route, shared);
    if (compiled.broadcastPresence) broadcasting.push(ns);
    connections.serve(nsp, ns.match.bind(ns), compiled);
  }
  // The users a stopped instance took out of rooms, when this instance's presence dropped it.
  const stopExpired =
    broadcasting.length > 0
      ? announceExpired(
          io,
          shared.presence,
          (name) => broadcasting.some((ns) => ns.match(name) !== null),
          (nsp) => reaper.check(nsp),
        )
      : () => undefined;
  const commands = new ClusterCommands(
    io,
    config,
    {
      revalidate: (filter) => revalidateLocal(connections.records.values(), filter, outages),
      records: () => connections.records.values(),
    },
    logger,
  );

  let closing: Promise<void> | null = null;
  return {
    io,
    state: shared.state,
    metrics: metrics.registry,
    httpServer,
    metricsServer,
    config,
    logger,
    async listen(port = 0, host?: string) {
      const fresh = !httpServer.listening;
      // Ready before admitting: in cluster mode the adapter's clients may still be connecting.
      if (fresh) await untilHealthy(backends, config.scale.commandTimeoutMs);
      const bound = await listen(httpServer, port, host);
      if (fresh)
        logger.info({ port: bound, path: config.path, mode: config.scale.mode }, `realtime server listening on :${bound}${config.path}`);
      return bound;
    },
    instanceId: commands.instanceId,
    disconnectUser: (userId: string) => commands.disconnectUser(userId),
    revalidate: (filter = {}) => commands.revalidate(filter),
    fetchSockets: (filter = {}) => commands.fetchSockets(filter),
    asyncapi,
    health: () => {
      const h = backends.health();
      return drain.draining ? { ok: false, details: { ...h.details, draining: "true" } } : h;
    },
    close() {
      closing ??= (async () => {
        // Stop admitting (new sessions and namespaces are refused; a server of ours stops listening),
        // let events in flight finish, close the connections at the transport level a few at a
        // time (clients reconnect elsewhere), then hooks, presence, counts, Redis.
        drain.begin();
        if (!options.httpServer && httpServer.listening) httpServer.close();
        await drain.run({ records: () => connections.records.values(), sessions: () => drainTargets(io, connections.records.values()) });
        await connections.pending.drain();
        commands.close();
        stopExpired();
        await new Promise<void>((resolve) => {
          io.close(() => resolve());
        }).catch(() => undefined);
        front.uninstall();
        recovery?.recovery.close();
        if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
        await backends.close();
      })();
      return closing;
    },
  };
}
