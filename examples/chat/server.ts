/**
 * Loly chat: one process, the embedded defaults (memory store, no Redis). Serves the page,
 * a demo sign-in endpoint and the realtime endpoint (`/wss`) from one HTTP server.
 *
 *   PORT=3000 tsx server.ts        (HOST=0.0.0.0 to be reachable from other machines)
 *
 * With CHAT_REDIS_URL it is one instance of a cluster: run several (each on its own PORT, the
 * same CHAT_SECRET and CHAT_PREFIX, default "chat:") and people on different instances chat and see each other, the
 * history is shared, and the users of an instance that dies leave the others' lists within
 * PRESENCE_TTL_MS (default 15000).
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { createRealtimeServer } from "@loly-rt/server";
import { cleanName, issueToken } from "./auth.js";

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

// Tokens are signed with this; a fresh one per start signs everybody out on restart.
process.env.CHAT_SECRET ||= randomBytes(32).toString("hex");

/** The page's script: web/main.ts and @loly-rt/client bundled for the browser, in memory. */
async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [here("./web/main.ts")],
    tsconfig: here("./tsconfig.json"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    sourcemap: "inline",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

const [html, css, js] = await Promise.all([
  readFile(here("./web/index.html"), "utf8"),
  readFile(here("./web/style.css"), "utf8"),
  bundleClient(),
]);
const assets: Record<string, { type: string; body: string }> = {
  "/": { type: "text/html; charset=utf-8", body: html },
  "/index.html": { type: "text/html; charset=utf-8", body: html },
  "/style.css": { type: "text/css; charset=utf-8", body: css },
  "/app.js": { type: "text/javascript; charset=utf-8", body: js },
};

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

/** `POST /api/login { name }` -> `{ name, token }`: any acceptable name becomes a user. */
function login(req: IncomingMessage, res: ServerResponse): void {
  let raw = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => {
    raw += chunk;
    if (raw.length > 1024) req.destroy();
  });
  req.on("end", () => {
    let name: string | null = null;
    try {
      name = cleanName((JSON.parse(raw) as { name?: unknown }).name);
    } catch {
      // answered below
    }
    if (name === null) {
      send(res, 400, "application/json", JSON.stringify({ error: "Pick a name of 1 to 20 letters, digits, spaces, _ or -." }));
      return;
    }
    send(res, 200, "application/json", JSON.stringify({ name, token: issueToken(name) }));
  });
}

// Our own HTTP server: the page and the login here; Loly adds /wss (Socket.IO) and /metrics.
const httpServer = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0]!;
  if (path === "/api/login" && req.method === "POST") return login(req, res);
  const asset = req.method === "GET" ? assets[path] : undefined;
  if (asset) return send(res, 200, asset.type, asset.body);
  send(res, 404, "text/plain; charset=utf-8", "Not found");
});

const redisUrl = process.env.CHAT_REDIS_URL;
const rt = await createRealtimeServer({
  routesDir: here("./app/wss"),
  httpServer,
  config: {
    logging: { level: (process.env.LOG_LEVEL as "info" | undefined) ?? "warn" },
    ...(redisUrl
      ? {
          scale: {
            mode: "cluster",
            adapter: { type: "redis", url: redisUrl },
            stateStore: { type: "redis", url: redisUrl, prefix: process.env.CHAT_PREFIX || "chat:" },
          },
        }
      : {}),
    ...(process.env.PRESENCE_TTL_MS ? { presence: { ttlMs: Number(process.env.PRESENCE_TTL_MS) } } : {}),
  },
});
// Only this machine can reach it unless HOST says otherwise (HOST=0.0.0.0: every interface).
const host = process.env.HOST || "127.0.0.1";
const port = await rt.listen(Number(process.env.PORT ?? 3000), host);
const shown = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
console.log(`Loly chat: open http://${shown}:${port}`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await rt.close();
  if (httpServer.listening) httpServer.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
