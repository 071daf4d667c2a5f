import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Registry } from "prom-client";

/** An installed endpoint; `uninstall` stops serving it (idempotent). */
export interface Endpoint {
  uninstall(): void;
}

/**
 * Serves the registry at `path` (GET) on `httpServer`, before Socket.IO and before any
 * `request` listener of the application. It sits in front of the server's `request` event
 * rather than among its listeners, so the application's listeners (added before or after,
 * removed later) are never touched and never see a metrics request.
 */
export function serveMetrics(httpServer: HttpServer, path: string, registry: Registry): Endpoint {
  let active = true;
  const emit = httpServer.emit;
  const front = function (this: HttpServer, event: string | symbol, ...args: unknown[]): boolean {
    if (active && event === "request") {
      const req = args[0] as IncomingMessage;
      if (req.method === "GET" && (req.url ?? "/").split("?")[0] === path) {
        scrape(registry, args[1] as ServerResponse);
        return true;
      }
    }
    return emit.apply(this, [event, ...args] as Parameters<HttpServer["emit"]>);
  } as HttpServer["emit"];
  httpServer.emit = front;
  return {
    uninstall() {
      active = false;
      // Restored only when nobody wrapped it after us; otherwise `front` just passes through.
      if (httpServer.emit === front) httpServer.emit = emit;
    },
  };
}

function scrape(registry: Registry, res: ServerResponse): void {
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

/** The `request` listener of an HTTP server Loly creates: Socket.IO answers its own path first, the rest is a 404. */
export function notFound(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("Not found");
}
