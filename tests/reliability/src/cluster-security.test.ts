/**
 * A revoked user is cut off on every instance: `rt.disconnectUser()` and `rt.revalidate()`
 * called on one instance reach the user's sockets on the other, in static and dynamic
 * namespaces. Two OS processes, one real Redis.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../setup/redis.js";
import { ask, closeClients, connectClient, disconnected } from "./support/clients.js";
import { startInstance, type Proc } from "./support/procs.js";

function clusterConfig(prefix: string): RealtimeConfigInput {
  const url = redisUrl();
  return {
    logging: { level: "warn", pretty: false },
    scale: { mode: "cluster", adapter: { type: "redis", url }, stateStore: { type: "redis", url, prefix } },
    presence: { ttlMs: 3000 },
    limits: { eventsPerSecond: 1000, burst: 1000, connectionsPerIp: 1000 },
  };
}

describe("cluster: cutting a user off everywhere", () => {
  const prefix = testPrefix("rel-cut");
  let a: Proc;
  let b: Proc;

  beforeAll(async () => {
    [a, b] = await Promise.all([startInstance(clusterConfig(prefix)), startInstance(clusterConfig(prefix))]);
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    closeClients();
    await Promise.all([a?.kill(), b?.kill()]);
    await deleteKeys(prefix);
  });

  it("disconnectUser on A disconnects the user's sockets on A and B, dynamic namespaces included; others stay", async () => {
    const victim = await Promise.all([
      connectClient(a.url, "/rel", { token: "mallory" }),
      connectClient(b.url, "/rel", { token: "mallory" }),
      // a dynamic child namespace that only B has
      connectClient(b.url, "/rooms/only-on-b", { token: "mallory" }),
    ]);
    const bystanders = await Promise.all([
      connectClient(a.url, "/rel", { token: "trent" }),
      connectClient(b.url, "/rooms/only-on-b", { token: "trent" }),
    ]);
    const gone = victim.map((s) => disconnected(s));
    const started = Date.now();
    await a.call("disconnectUser", { userId: "mallory" });
    expect(await Promise.all(gone)).toEqual(["io server disconnect", "io server disconnect", "io server disconnect"]);
    console.log(`[figure] disconnectUser: every socket on both instances gone within ${Date.now() - started} ms`);
    for (const s of bystanders) expect(await ask(s, "pid")).toBeGreaterThan(0);
    // presence forgets the user on every instance
    const watcher = bystanders[0]!;
    const users = await ask<string[]>(watcher, "users");
    expect(users).not.toContain("mallory");
  });

  it("revalidate on A re-runs auth everywhere: revoked sessions are cut off on both instances", async () => {
    const revoked = await Promise.all([
      connectClient(a.url, "/rel", { token: "oscar:s1", checkRevoked: true }),
      connectClient(b.url, "/rel", { token: "oscar:s1", checkRevoked: true }),
      connectClient(b.url, "/rooms/r1", { token: "oscar:s1", checkRevoked: true }),
    ]);
    const otherSession = await connectClient(b.url, "/rel", { token: "oscar:s2", checkRevoked: true });
    const others = await Promise.all([
      connectClient(a.url, "/rel", { token: "peggy", checkRevoked: true }),
      connectClient(b.url, "/rel", { token: "victor" }),
    ]);
    // revoke session s1 in the shared state store (what an admin endpoint would do)
    const redis = testRedis();
    await redis.set(`${prefix}state:revoked:oscar:s1`, "true");
    redis.disconnect();
    const errors = revoked.map((s) => new Promise<{ code: string }>((resolve) => s.once("__loly:error", resolve)));
    const gone = revoked.map((s) => disconnected(s));
    const result = await a.call<{ instances: number; checked: number; disconnected: number; failed: number }>("revalidate", {});
    expect(result.instances).toBe(2);
    expect(result.disconnected).toBe(3);
    expect(result.failed).toBe(0);
    expect(result.checked).toBeGreaterThanOrEqual(6);
    for (const e of await Promise.all(errors)) expect(e.code).toBe("UNAUTHORIZED");
    await Promise.all(gone);
    for (const s of [otherSession, ...others]) expect(s.connected).toBe(true);
    // filtered: only the user's sockets are re-checked
    const filtered = await b.call<{ instances: number; checked: number }>("revalidate", { filter: { userId: "peggy" } });
    expect(filtered).toMatchObject({ instances: 2, checked: 1 });
  });
});
