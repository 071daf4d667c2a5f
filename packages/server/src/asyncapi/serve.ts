import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { AsyncApiDocument, AsyncApiOptions } from "./document.js";

/**
 * Answers `GET docs.asyncapiPath`: the server's document, built once on the first request,
 * with its server entry pointing where the request came (its `Host`, `wss` over TLS) so that
 * tools reading it reach this server.
 */
export function asyncapiResponder(
  build: (options?: AsyncApiOptions) => AsyncApiDocument,
): (req: IncomingMessage, res: ServerResponse) => void {
  let base: AsyncApiDocument | undefined;
  return (req, res) => {
    let body: string;
    try {
      base ??= build();
      const servers = base.servers as Record<string, Record<string, unknown>>;
      const here = {
        host: req.headers.host ?? "localhost",
        protocol: (req.socket as Partial<TLSSocket>).encrypted ? "wss" : "ws",
      };
      body = JSON.stringify({
        ...base,
        servers: Object.fromEntries(Object.entries(servers).map(([name, server]) => [name, { ...server, ...here }])),
      });
    } catch {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("AsyncAPI document unavailable");
      return;
    }
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache" });
    res.end(body);
  };
}
