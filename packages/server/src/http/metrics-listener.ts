import { createServer, type Server as HttpServer } from "node:http";
import type { Registry } from "prom-client";
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, scrape } from "./front.js";
import { listen } from "./listen.js";

/**
 * `metrics.port`: the metrics endpoint on a listener of its own (bound to `metrics.host`,
 * `127.0.0.1` by default), so that it is not served on the public port. Everything but
 * `GET <path>` is a 404. Resolves once it listens.
 */
export async function startMetricsListener(port: number, host: string, path: string, registry: Registry): Promise<HttpServer> {
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    if (req.method === "GET" && (req.url ?? "/").split("?")[0] === path) return scrape(registry, res);
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("Not found");
  });
  await listen(server, port, host);
  return server;
}
