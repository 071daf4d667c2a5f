/**
 * Sharded fan-out (SPEC 14): 4 instances over one Redis, each hosting rooms no other instance
 * hosts; every instance broadcasts to the rooms of all of them, round robin. For each instance:
 * pub/sub messages its adapter's subscriber received / broadcasts meant for its own rooms.
 * Classic pub/sub gives every instance every broadcast (about 4x); sharded pub/sub by room
 * interest gives it its own (target <= 1.1x). Loly (sharded and classic) side by side with
 * Socket.IO + `@socket.io/redis-adapter` (createShardedAdapter dynamic, and createAdapter).
 *
 *   node bench/load/sharded.mjs [--instances 4] [--rooms 25] [--broadcasts 2000]
 *
 * Also scenario `sharded` of `pnpm bench`. Never asserts: it measures and prints.
 */
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { killAll, startChild } from "../lib/proc.mjs";

export const SHARDED_KINDS = ["plain-sharded", "loly-sharded", "plain-classic", "loly-classic"];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One run of `kind`: resolves per instance `{ received, own, ratio }` and the totals.
 * `own` counts every broadcast to the instance's rooms (its own included: they come back
 * through its subscription in both modes).
 */
export async function runSharded(kind, { redisUrl, prefix, instances = 4, roomsPer = 25, broadcasts = 2000 }) {
  const roomsOf = Array.from({ length: instances }, (_, i) => Array.from({ length: roomsPer }, (_, r) => `i${i}-r${r}`));
  const allRooms = roomsOf.flat();
  const children = roomsOf.map((rooms, i) =>
    startChild("servers/sharded.ts", {
      env: { BENCH_OPTS: JSON.stringify({ kind, redisUrl, prefix: `${prefix}${kind}:`, rooms }) },
      label: `${kind}#${i}`,
    }),
  );
  try {
    await Promise.all(children.map((c) => c.next("ready", 60_000)));
    // Every subscription confirmed (joins awaited), and the namespaces' channels too.
    await sleep(300);
    const before = await Promise.all(children.map((c) => c.ask({ type: "counts" }, "counts")));
    await Promise.all(children.map((c) => c.ask({ type: "broadcast", rooms: allRooms, count: broadcasts }, "broadcast-done", 120_000)));
    // Each room's member gets every broadcast to it: wait until they all did.
    const perRoom = (instances * broadcasts) / allRooms.length;
    const expectedTicks = perRoom * roomsPer;
    let after;
    for (let i = 0; i < 200; i++) {
      after = await Promise.all(children.map((c) => c.ask({ type: "counts" }, "counts")));
      if (after.every((a, j) => a.ticks - before[j].ticks >= expectedTicks)) break;
      await sleep(100);
    }
    await sleep(200);
    after = await Promise.all(children.map((c) => c.ask({ type: "counts" }, "counts")));
    const rows = after.map((a, j) => {
      const received = a.received - before[j].received;
      return { received, own: expectedTicks, ticks: a.ticks - before[j].ticks, ratio: received / expectedTicks };
    });
    return { kind, instances, roomsPer, broadcasts, rows, worst: Math.max(...rows.map((r) => r.ratio)) };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

/** Deletes what the run left under `prefix` (SCAN over the run's own prefix only). */
export async function cleanup(redisUrl, prefix) {
  const redis = new Redis(redisUrl);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

export function printSharded(results) {
  console.log("\nSharded fan-out: pub/sub messages each instance received / broadcasts for its own rooms");
  for (const r of results) {
    const ratios = r.rows.map((row) => `${row.ratio.toFixed(2)}x`).join("  ");
    const lost = r.rows.some((row) => row.ticks < row.own) ? "  (DELIVERY SHORT)" : "";
    console.log(`  ${r.kind.padEnd(14)} per instance: ${ratios}   worst ${r.worst.toFixed(2)}x${lost}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const flag = (name, dflt) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `loly-bench:${randomBytes(4).toString("hex")}:`;
  process.on("SIGINT", () => {
    killAll();
    process.exit(130);
  });
  const results = [];
  try {
    for (const kind of SHARDED_KINDS) {
      results.push(
        await runSharded(kind, {
          redisUrl,
          prefix,
          instances: flag("--instances", 4),
          roomsPer: flag("--rooms", 25),
          broadcasts: flag("--broadcasts", 2000),
        }),
      );
    }
    printSharded(results);
  } finally {
    await cleanup(redisUrl, prefix);
    killAll();
  }
}
