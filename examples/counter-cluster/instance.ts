/**
 * One instance of the counter cluster: cluster mode over Redis (adapter for fan-out, Redis
 * store for the counter and presence). start.ts runs two of these; run it alone with
 *
 *   PORT=3001 INSTANCE_NAME=A tsx instance.ts
 *
 * It listens on 127.0.0.1 (HOST to change it).
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { createRealtimeServer } from "@loly-rt/server";

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** The cluster's name in Redis: instances with the same prefix share the counter and presence. */
const prefix = process.env.COUNTER_PREFIX ?? "counter-demo:";
const name = process.env.INSTANCE_NAME ?? String(process.pid);

const [html, bundle] = await Promise.all([
  readFile(here("./web/index.html"), "utf8"),
  build({
    entryPoints: [here("./web/main.ts")],
    tsconfig: here("./tsconfig.json"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    write: false,
    logLevel: "silent",
  }),
]);
const js = bundle.outputFiles[0]!.text;

const httpServer = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method === "GET" && (path === "/" || path === "/app.js")) {
    res.writeHead(200, { "content-type": path === "/" ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8" });
    res.end(path === "/" ? html.replaceAll("%INSTANCE%", name) : js);
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("Not found");
});

const rt = await createRealtimeServer({
  routesDir: here("./app/wss"),
  httpServer,
  config: {
    scale: {
      mode: "cluster",
      adapter: { type: "redis", url: redisUrl },
      stateStore: { type: "redis", url: redisUrl, prefix },
    },
    logging: { level: (process.env.LOG_LEVEL as "info" | undefined) ?? "warn" },
  },
});
// Loopback only unless HOST says otherwise (HOST=0.0.0.0 to reach it from other machines).
const host = process.env.HOST || "127.0.0.1";
const port = await rt.listen(Number(process.env.PORT ?? 3001), host);
const shownHost = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
// start.ts reads this line.
console.log(`instance ${name} pid ${process.pid} ready at http://${shownHost}:${port}`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await rt.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
