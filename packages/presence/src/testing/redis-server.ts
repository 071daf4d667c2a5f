/** A throwaway redis-server of a test's own, so a test can stop and restart Redis. */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => done(port));
    });
  });
}

/** Starts `redis-server` on `port` (no persistence) and resolves once it answers PING. */
export async function startRedisServer(port: number): Promise<ChildProcess> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  child.once("error", () => undefined);
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => undefined);
  try {
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        await probe.ping();
        return child;
      } catch {
        probe.disconnect();
        await sleep(50);
      }
    }
  } finally {
    probe.disconnect();
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not start on port ${port}`);
}

/** SIGKILLs a redis-server started by {@link startRedisServer} and waits for it to exit. */
export function stopRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once("exit", () => done());
    child.kill("SIGKILL");
  });
}

/** Polls `check` every `everyMs` until it returns true (errors count as false) or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 20): Promise<number> {
  const start = performance.now();
  for (;;) {
    try {
      if (await check()) return performance.now() - start;
    } catch {
      // not yet
    }
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Every key under `match` with its PTTL. */
export async function keysWithTtl(redis: Redis, match: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", match, "COUNT", 500);
    cursor = next;
    for (const key of keys) out.set(key, await redis.pttl(key));
  } while (cursor !== "0");
  return out;
}

/**
 * A real client to the test Redis that records the name of every command it sends (one entry
 * per round trip for single commands), so tests can count round trips without MONITOR.
 */
export function countingClient(url: string): { redis: Redis; sent: string[] } {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const sent: string[] = [];
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command, stream) => {
    sent.push(command.name);
    return send(command, stream);
  }) as Redis["sendCommand"];
  return { redis, sent };
}
