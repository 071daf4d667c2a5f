/**
 * With recovery on in cluster mode, Socket.IO sends a socket's own emits through the adapter;
 * one to a socket connected here is delivered here and never published to Redis (no other
 * instance has the socket): not the first offset a new socket gets, not `ctx.actions.reply`.
 */
import { defineWssRoute } from "@loly-rt/core";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { redisUrl, testPrefix } from "../../../../tests/setup/redis.js";
import { request, startServer, type TestServer } from "../test-helpers.js";

const route = defineWssRoute({
  auth: ({ handshake }) => ({ id: String(handshake.auth.token ?? "anon") }),
  events: {
    poke: (ctx) => ctx.actions.reply("poked", { n: 1 }),
    shout: (ctx) => ctx.actions.toRoom("all").emit("shouted", {}),
    join: (ctx) => ctx.actions.join("all"),
  },
});

const servers: TestServer[] = [];
const monitors: Redis[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const m of monitors.splice(0)) m.disconnect();
});

describe("recovery on, cluster mode: a socket's own emits", () => {
  it("are delivered without a Redis PUBLISH; room broadcasts are still published", async () => {
    const prefix = testPrefix("direct");
    const url = redisUrl();
    const server = await startServer(
      { "/d": route },
      {
        scale: { mode: "cluster", adapter: { type: "redis", url }, stateStore: { type: "redis", url, prefix } },
        logging: { level: "silent" },
      },
    );
    servers.push(server);
    const published: string[] = [];
    const monitor = new Redis(url);
    monitors.push(monitor);
    const feed = await monitor.monitor();
    feed.on("monitor", (_time: string, args: string[]) => {
      const name = String(args[0]).toLowerCase();
      // PUBLISH, or the recovery log's script (which publishes in Redis).
      if (
        (name === "publish" && String(args[1]).startsWith(prefix)) ||
        (name === "evalsha" && args.some((a) => String(a).startsWith(`${prefix}recovery:log:`)))
      )
        published.push(`${name} ${args.slice(1, 4).map(String).join(" ").slice(0, 300)}`);
    });
    monitors.push(feed as unknown as Redis);

    const sockets = await Promise.all([1, 2, 3].map((i) => server.connected("/d", { auth: { token: `u${i}` } })));
    const poked = new Promise((r) => sockets[0]?.once("poked", r));
    expect((await request(sockets[0] as never, "poke")).ok).toBe(true);
    expect(await poked).toEqual({ n: 1 });
    for (const s of sockets) expect((await request(s, "join")).ok).toBe(true);
    const shouted = Promise.all(sockets.map((s) => new Promise((r) => s.once("shouted", r))));
    expect((await request(sockets[1] as never, "shout")).ok).toBe(true);
    await shouted;
    await new Promise((r) => setTimeout(r, 100));
    // One publish: the room broadcast's, by the log's script (MONITOR shows the script and the
    // PUBLISH it runs); none for the three first offsets or the reply.
    expect(published, published.join("\n")).toHaveLength(2);
    expect(published[0]).toMatch(/^evalsha \w+ 1 .*recovery:log:\/d$/);
    expect(published[1]).toMatch(new RegExp(`^publish ${prefix}socket\\.io#/d#all# `));
  });
});
