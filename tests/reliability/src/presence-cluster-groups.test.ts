/**
 * Presence and per-IP counts on a real 3-master Redis Cluster spread over the slots (SPEC 12:
 * "hash tags chosen so load still spreads over the slots"). A script touches one slot, and the
 * presence and count scripts read across instances: their keys are split into 16 groups, each
 * a hash tag of its own (`{<prefix>presence:<g>}:` by namespace, `{<prefix>conn:<g>}:` by IP).
 * Two backends per kind, each with its own `Cluster` client, as two instances would have: the
 * groups land on every master; each namespace's and IP's keys are in its group's slot only;
 * reads, room transitions, limits, a re-assert after Redis lost an instance's keys, and a dead
 * instance's (SIGKILLed, in its own process) users expiring and being reported all work in
 * every group.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { spawnTsFixture } from "../../setup/child.js";
import { startRedisCluster, type OwnRedisCluster } from "../../setup/redis-cluster.js";
import {
  createRedisConnectionCounter,
  createRedisPresence,
  type RedisConnectionCounter,
  type RedisPresence,
} from "../../../packages/presence/src/index.js";
import { CLUSTER_GROUPS, groupOf } from "../../../packages/presence/src/groups.js";

const PREFIX = "rel-pgroups:";
const TTL_MS = 1500;
const WAIT = { timeout: 10_000, interval: 100 };
let cluster: OwnRedisCluster;
const clients: Cluster[] = [];
const backends: Array<{ close(): Promise<void> }> = [];
const children = new Set<ChildProcess>();

/** A client of the cluster of its own (what each instance has). */
function client(): Cluster {
  const c = new Cluster(cluster.seeds.map((url) => ({ host: new URL(url).hostname, port: Number(new URL(url).port) })));
  clients.push(c);
  return c;
}

function presence(): RedisPresence {
  const p = createRedisPresence({ redis: client(), prefix: PREFIX, ttlMs: TTL_MS });
  backends.push(p);
  return p;
}

function counter(): RedisConnectionCounter {
  const c = createRedisConnectionCounter({ redis: client(), prefix: PREFIX, ttlMs: TTL_MS });
  backends.push(c);
  return c;
}

/** One name per group: `${stem}<n>` for the first n that falls in each group. */
function onePerGroup(stem: (n: number) => string): string[] {
  const byGroup: Array<string | undefined> = new Array(CLUSTER_GROUPS).fill(undefined);
  for (let n = 0; byGroup.includes(undefined); n++) {
    const name = stem(n);
    byGroup[groupOf(name)] ??= name;
  }
  return byGroup as string[];
}

const namespaces = onePerGroup((n) => `/ns${n}`);
const ips = onePerGroup((n) => `10.9.${n >> 8}.${n & 255}`);

/** The instance's data hashes in group `g` of `segment` (from the instance's own keys set). */
async function dataKeys(segment: "presence" | "conn", g: number, instanceId: string): Promise<string[]> {
  const set = `{${PREFIX}${segment}:${g}}:i:${instanceId}:keys`;
  return ((await cluster.client().smembers(set)) as string[]).sort();
}

describe("presence and per-IP counts spread over a 3-master Redis Cluster", () => {
  beforeAll(async () => {
    cluster = await startRedisCluster(3, 0);
  }, 60_000);
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(backends.splice(0).map((b) => b.close()));
    for (const c of clients.splice(0)) c.disconnect();
    await cluster?.stop();
  });

  it("the 16 groups land on every master, and each namespace's keys are in its group's slot", { timeout: 30_000 }, async () => {
    const owners = new Set<number>();
    for (let g = 0; g < CLUSTER_GROUPS; g++) owners.add((await cluster.primaryOf(`{${PREFIX}presence:${g}}:x`)).port);
    expect(owners.size).toBe(3);
    const connOwners = new Set<number>();
    for (let g = 0; g < CLUSTER_GROUPS; g++) connOwners.add((await cluster.primaryOf(`{${PREFIX}conn:${g}}:x`)).port);
    expect(connOwners.size).toBe(3);

    const a = presence();
    const b = presence();
    for (const [i, ns] of namespaces.entries()) {
      await a.add({ namespace: ns, socketId: `sa${i}`, userId: `ua${i}` });
      await b.add({ namespace: ns, socketId: `sb${i}`, userId: `ub${i}` });
    }
    for (const [i, ns] of namespaces.entries()) {
      expect((await a.users(ns)).sort()).toEqual([`ua${i}`, `ub${i}`]);
      expect(await b.socketsOf(ns, `ua${i}`)).toEqual([`sa${i}`]);
      expect(await b.isOnline(ns, `ub${i}`)).toBe(true);
      expect(await b.isOnline(ns, `ua${(i + 1) % CLUSTER_GROUPS}`)).toBe(false);
    }
    // Group g holds the hashes of its own namespace and no other's.
    for (const [g, ns] of namespaces.entries()) {
      expect(await dataKeys("presence", g, a.instanceId)).toEqual([`{${PREFIX}presence:${g}}:i:${a.instanceId}:u:${ns}`]);
    }
    await a.close();
    for (const [i, ns] of namespaces.entries()) expect(await b.users(ns)).toEqual([`ub${i}`]);
    await b.close();
  });

  it("room transitions are decided cluster-wide in every group", { timeout: 30_000 }, async () => {
    const a = presence();
    const b = presence();
    for (const [i, ns] of namespaces.entries()) {
      await a.add({ namespace: ns, socketId: `ta${i}`, userId: "same" });
      await b.add({ namespace: ns, socketId: `tb${i}`, userId: "same" });
      expect(await a.join(ns, `ta${i}`, "room")).toBe(true);
      expect(await b.join(ns, `tb${i}`, "room")).toBe(false);
      expect(await a.users(ns, "room")).toEqual(["same"]);
      expect(await a.leave(ns, `ta${i}`, "room")).toBe(false);
      expect(await b.remove(ns, `tb${i}`)).toEqual(["room"]);
      expect(await b.users(ns, "room")).toEqual([]);
    }
    await Promise.all([a.close(), b.close()]);
  });

  it("the per-IP limit holds in every group across two counters", { timeout: 30_000 }, async () => {
    const a = counter();
    const b = counter();
    for (const ip of ips) {
      expect(await a.acquire(ip, 3)).toBe(true);
      expect(await b.acquire(ip, 3)).toBe(true);
      expect(await a.acquire(ip, 3)).toBe(true);
      expect(await b.acquire(ip, 3)).toBe(false);
      await a.release(ip);
      expect(await b.acquire(ip, 3)).toBe(true);
    }
    for (const g of ips.keys()) expect(await dataKeys("conn", g, a.instanceId)).toEqual([`{${PREFIX}conn:${g}}:i:${a.instanceId}:c`]);
    for (const [g, ip] of ips.entries()) {
      expect(await cluster.client().hgetall(`{${PREFIX}conn:${g}}:i:${a.instanceId}:c`)).toEqual({ [ip]: "1" });
    }
    await Promise.all([a.close(), b.close()]);
  });

  it("after Redis lost an instance's keys in every group, each group is rebuilt with its own share", { timeout: 30_000 }, async () => {
    const a = presence();
    const b = presence();
    const ca = counter();
    const cb = counter();
    for (const [i, ns] of namespaces.entries()) {
      await a.add({ namespace: ns, socketId: `ra${i}`, userId: `ra${i}` });
      await a.join(ns, `ra${i}`, `room${i}`);
    }
    for (const ip of ips) expect(await ca.acquire(ip, 1)).toBe(true);
    // Lose every key of a's instances (a failover that lost writes, a FLUSHALL by someone else).
    const admin = cluster.client();
    for (let g = 0; g < CLUSTER_GROUPS; g++) {
      for (const [segment, id] of [
        ["presence", a.instanceId],
        ["conn", ca.instanceId],
      ] as const) {
        const base = `{${PREFIX}${segment}:${g}}:i:${id}`;
        await admin.del(base, `${base}:keys`, ...(await dataKeys(segment, g, id)));
        await admin.zrem(`{${PREFIX}${segment}:${g}}:instances`, id);
      }
    }
    expect(await b.users(namespaces[0] as string)).toEqual([]);
    expect(await cb.acquire(ips[0] as string, 1)).toBe(true);
    await cb.release(ips[0] as string);
    // The next heartbeat re-asserts each group from the mirror, its own share only.
    await vi.waitFor(async () => {
      for (const [i, ns] of namespaces.entries()) {
        expect(await b.users(ns)).toEqual([`ra${i}`]);
        expect(await b.users(ns, `room${i}`)).toEqual([`ra${i}`]);
      }
      for (const ip of ips) expect(await cb.acquire(ip, 1)).toBe(false);
    }, WAIT);
    for (const [g, ns] of namespaces.entries()) {
      expect(await dataKeys("presence", g, a.instanceId)).toEqual(
        [
          `{${PREFIX}presence:${g}}:i:${a.instanceId}:r:${ns.length}:${ns}:room${g}`,
          `{${PREFIX}presence:${g}}:i:${a.instanceId}:u:${ns}`,
        ].sort(),
      );
      expect(await dataKeys("conn", g, ca.instanceId)).toEqual([`{${PREFIX}conn:${g}}:i:${ca.instanceId}:c`]);
    }
    await Promise.all([a.close(), b.close(), ca.close(), cb.close()]);
  });

  it("a SIGKILLed instance: its users leave every group within ttlMs, reported once by the survivor", { timeout: 30_000 }, async () => {
    const survivor = presence();
    const survivorCounter = counter();
    const reported: string[] = [];
    survivor.onExpired((expired) => {
      for (const e of expired) reported.push(`${e.namespace} ${e.room} ${e.userId}`);
    });
    const doomed = spawnTsFixture(fileURLToPath(new URL("fixtures/presence-groups.ts", import.meta.url)), {
      env: { SEEDS: cluster.seeds.join(","), PREFIX, TTL_MS: String(TTL_MS), NAMESPACES: namespaces.join(","), IPS: ips.join(",") },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.add(doomed);
    const lines = createInterface({ input: doomed.stdout as NodeJS.ReadableStream });
    await Promise.race([
      once(lines, "line"),
      once(doomed, "exit").then(([code]) => {
        throw new Error(`fixture exited early with code ${String(code)}`);
      }),
    ]);
    lines.close();
    for (const [i, ns] of namespaces.entries()) expect(await survivor.users(ns, "hall")).toEqual([`d${i}`]);
    for (const ip of ips) expect(await survivorCounter.acquire(ip, 1)).toBe(false);
    const gone = once(doomed, "exit");
    doomed.kill("SIGKILL");
    await gone;
    const killedAt = Date.now();
    await vi.waitFor(async () => {
      for (const ns of namespaces) expect(await survivor.users(ns)).toEqual([]);
      for (const ip of ips) {
        expect(await survivorCounter.acquire(ip, 1)).toBe(true);
        await survivorCounter.release(ip);
      }
    }, WAIT);
    expect(Date.now() - killedAt).toBeLessThan(TTL_MS + 3000);
    await vi.waitFor(() => expect(reported.length).toBe(CLUSTER_GROUPS), WAIT);
    expect(reported.sort()).toEqual(namespaces.map((ns, i) => `${ns} hall d${i}`).sort());
  });
});
