import { EventEmitter } from "node:events";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { freePort } from "../../../../tests/setup/redis-server.js";
import { redisUrl } from "../../../../tests/setup/redis.js";
import { type ClosableRedisClient, closeRedisClient } from "./close.js";

const ready = (client: Redis): Promise<void> => new Promise((resolve) => client.once("ready", () => resolve()));

describe("closeRedisClient", () => {
  it("QUITs a ready client: commands sent before still get their answers", async () => {
    const client = new Redis(redisUrl());
    await ready(client);
    const ping = client.ping();
    await closeRedisClient(client);
    expect(await ping).toBe("PONG");
    expect(client.status).toBe("end");
  });

  it("ends a client that never connected (lazyConnect) or is still connecting", async () => {
    const lazy = new Redis(redisUrl(), { lazyConnect: true });
    await closeRedisClient(lazy);
    expect(lazy.status).toBe("end");
    const connecting = new Redis(redisUrl());
    expect(connecting.status).toBe("connecting");
    await closeRedisClient(connecting);
    expect(connecting.status).toBe("end");
  });

  it("stops a client retrying a dead server at once", async () => {
    const client = new Redis({ port: await freePort(), host: "127.0.0.1", retryStrategy: () => 50, maxRetriesPerRequest: 0 });
    client.on("error", () => undefined);
    await new Promise<void>((resolve) => client.once("reconnecting", () => resolve()));
    await closeRedisClient(client);
    // ioredis leaves the status at "reconnecting" but no timer is left: no "connect" ever comes.
    let reconnected = false;
    client.once("connecting", () => (reconnected = true));
    await new Promise((r) => setTimeout(r, 150));
    expect(reconnected).toBe(false);
  });

  it("resolves for a client already ended", async () => {
    const client = new Redis(redisUrl(), { lazyConnect: true });
    client.disconnect();
    await closeRedisClient(client);
    expect(client.status).toBe("end");
  });

  it("disconnects and resolves after timeoutMs when the connection never ends", async () => {
    const events = new EventEmitter();
    let disconnects = 0;
    const stuck: ClosableRedisClient = {
      status: "ready",
      quit: () => new Promise(() => undefined),
      disconnect: () => void disconnects++,
      once: (event: string, listener: () => void) => events.once(event, listener),
      off: (event: string, listener: (err: Error) => void) => events.off(event, listener),
    };
    const started = Date.now();
    await closeRedisClient(stuck, { timeoutMs: 100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(disconnects).toBe(1);
    expect(events.listenerCount("end")).toBe(0);
  });
});
