/** Test helpers of the presence suites (the throwaway redis-server lives in tests/setup). */
import { Redis } from "ioredis";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { freePort, startRedisServer, stopRedisServer } from "../../../../tests/setup/redis-server.js";

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
