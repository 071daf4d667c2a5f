import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { Registry } from "prom-client";

/** An installed front; `uninstall` stops it (idempotent). */
export interface Front {
  uninstall(): void;
}

/** What the front answers itself. */
export interface FrontOptions {
  /** Serve the registry at this path (GET). */
  metrics?: { path: string; registry: Registry } | undefined;
  /** Answer GET at this path with the AsyncAPI document (`docs.asyncapiPath`). */
  asyncapi?: { path: string; respond(req: IncomingMessage, res: ServerResponse): void } | undefined;
  /**
   * The Socket.IO path, the largest request body it takes (`maxPayloadBytes`), and how to
   * close the Engine.IO session of a refused POST (as Engine.IO does when it finds a body too large).
   */
  engine: { path: string; maxBytes: number; closeSession(sid: string): void; postDelayMs(sid: string): number };
}

/**
 * What Loly answers on an HTTP server before Socket.IO and the application's own `request`
 * listeners: the metrics endpoint, the AsyncAPI document (`docs.asyncapiPath`), and 413 at once to a long-polling POST whose
 * `Content-Length` is over `maxPayloadBytes` (Engine.IO would read up to the cap first). It
 * sits in front of the server's `request` event rather than among its listeners, so the
 * application's listeners (added before or after, removed later) are never touched and never
 * see these requests.
 */
export function installFront(httpServer: HttpServer, options: FrontOptions): Front {
  let active = true;
  const emit = httpServer.emit;
  const { metrics, asyncapi, engine } = options;
  const front = function (this: HttpServer, event: string | symbol, ...args: unknown[]): boolean {
    if (active && event === "request") {
      const req = args[0] as IncomingMessage;
      if (answered(req, args[1] as ServerResponse)) return true;
      const delay = req.method === "POST" ? throttled(req) : 0;
      if (delay > 0) {
        // A throttled polling session: its body is read (and its events run) only later.
        setTimeout(() => emit.apply(this, [event, ...args] as unknown as Parameters<HttpServer["emit"]>), delay);
        return true;
      }
    }
    return emit.apply(this, [event, ...args] as Parameters<HttpServer["emit"]>);
  } as HttpServer["emit"];
  const sidOf = (url: string): string | null => new URLSearchParams(url.slice(url.indexOf("?") + 1)).get("sid");
  const throttled = (req: IncomingMessage): number => {
    const url = req.url ?? "/";
    if (!url.startsWith(engine.path)) return 0;
    const sid = sidOf(url);
    return sid ? engine.postDelayMs(sid) : 0;
  };
  const answered = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? "/";
    if (req.method === "POST" && url.startsWith(engine.path) && Number(req.headers["content-length"]) > engine.maxBytes) {
      res.writeHead(413, { "content-type": "text/plain", connection: "close" });
      res.end("Payload Too Large");
      const sid = sidOf(url);
      if (sid) engine.closeSession(sid);
      return true;
    }
    if (metrics && req.method === "GET" && url.split("?")[0] === metrics.path) {
      scrape(metrics.registry, res);
      return true;
    }
    if (asyncapi && req.method === "GET" && url.split("?")[0] === asyncapi.path) {
      asyncapi.respond(req, res);
      return true;
    }
    return false;
  };
  httpServer.emit = front;
  return {
    uninstall() {
      active = false;
      // Restored only when nobody wrapped it after us; otherwise `front` just passes through.
      if (httpServer.emit === front) httpServer.emit = emit;
    },
  };
}

/** Answers a metrics scrape with the registry's exposition. */
export function scrape(registry: Registry, res: ServerResponse): void {
  registry.metrics().then(
    (body) => {
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(body);
    },
    () => {
      res.writeHead(500);
      res.end();
    },
  );
}

/** On an HTTP server Loly creates: a request head must be complete within this time (idle and slow-header connections are closed). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** On an HTTP server Loly creates: a whole request, body included, must arrive within this time. */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The HTTP server Loly creates when the application passes none: idle connections and slow
 * requests are bounded ({@link HEADERS_TIMEOUT_MS}, {@link REQUEST_TIMEOUT_MS}, checked every
 * second), and paths that are neither Socket.IO's nor the metrics' answer 404. A server the
 * application passes keeps its own settings.
 */
export function createOwnServer(): HttpServer {
  return createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    notFound,
  );
}

function notFound(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("Not found");
}
