/**
 * Vitest global setup: makes sure a Redis server answers for the Redis suites.
 *
 * Uses REDIS_URL (default redis://127.0.0.1:6379). When nothing answers there and
 * `redis-server` is on the PATH, starts a throwaway one on a free port (no persistence)
 * and stops it after the run. Otherwise REDIS_URL is left unset-reachable and the Redis
 * suites fail with a message saying how to get one. Never flushes anything: every suite
 * uses its own key prefix and deletes its own keys.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Socket } from "node:net";
import { freePort } from "./redis-server.js";

const DEFAULT_URL = "redis://127.0.0.1:6379";

function ping(url: string, timeoutMs = 1000): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = new Socket();
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("error", () => done(false));
    sock.connect(Number(u.port || 6379), u.hostname, () => sock.write("PING\r\n"));
    sock.once("data", (d) => done(d.toString().startsWith("+PONG") || d.toString().startsWith("-NOAUTH")));
  });
}

let child: ChildProcess | undefined;

export async function setup(): Promise<void> {
  const url = process.env.REDIS_URL ?? DEFAULT_URL;
  if (await ping(url)) {
    process.env.REDIS_URL = url;
    return;
  }
  const port = await freePort();
  try {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
  } catch {
    child = undefined;
  }
  if (child) {
    child.once("error", () => undefined);
    const local = `redis://127.0.0.1:${port}`;
    for (let i = 0; i < 50; i++) {
      if (await ping(local, 200)) {
        process.env.REDIS_URL = local;
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGKILL");
    child = undefined;
  }
  process.env.LOLY_REDIS_MISSING = `No Redis answered at ${url} and no redis-server could be started. Start one (apt-get install redis-server, or docker run -p 6379:6379 redis:7) or set REDIS_URL.`;
}

export async function teardown(): Promise<void> {
  if (child) {
    child.kill("SIGTERM");
    child = undefined;
  }
}
