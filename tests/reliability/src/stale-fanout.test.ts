/**
 * A hung Redis (SIGSTOP: its connections stay open, nothing answers) must not replay stale
 * broadcasts when it resumes (SPEC section 9, "Stale fan-out"): a broadcast that could not be
 * published within `scale.commandTimeoutMs` is dropped and counted, never delivered late.
 *
 * Both with classic pub/sub and with sharded fan-out (`pubsub: "sharded"`, recovery off).
 * Two instances in their own processes and a redis-server of the test's own, paused for
 * PAUSE_MS while a sender on A broadcasts to a room with members on A and B every 25 ms. Every
 * client lives in this process, so send and arrival times share one clock.
 */
import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { closeClients, connectClient, eventually } from "./support/clients.js";
import { FATAL_MARKER, sleep, startInstance, startOwnRedis, type OwnRedis, type Proc } from "./support/procs.js";

const COMMAND_TIMEOUT = 500;
/** Client to instance and instance to client hops on loopback, and timer slack. */
const MARGIN = 250;
/** Override with LOLY_STALE_PAUSE_MS to measure a longer hang (the was 20 s). */
const PAUSE_MS = Number(process.env.LOLY_STALE_PAUSE_MS ?? 3000);
const EVERY_MS = 25;
const ROOM = "stale";

/** Classic pub/sub (recovery on, the default) and sharded fan-out (recovery off). */
const MODES = ["classic", "sharded"] as const;

const config = (url: string, pubsub: (typeof MODES)[number]): RealtimeConfigInput => ({
  logging: { level: "info", pretty: false },
  ...(pubsub === "sharded" ? { recovery: false as const } : {}),
  scale: {
    mode: "cluster",
    adapter: { type: "redis", url, pubsub },
    stateStore: { type: "redis", url, prefix: "rel-stale:" },
    commandTimeoutMs: COMMAND_TIMEOUT,
  },
  limits: { eventsPerSecond: 1000, burst: 1000, connectionsPerIp: 1000 },
});

/** `loly_broadcasts_dropped_total` of one instance, by reason (0 where absent). */
async function dropped(p: Proc): Promise<Record<string, number>> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const out: Record<string, number> = { publish: 0, stale: 0 };
  for (const m of text.matchAll(/^loly_broadcasts_dropped_total\{reason="(\w+)"\} (\d+)/gm)) out[m[1] as string] = Number(m[2]);
  return out;
}

/** Seq -> arrival time of the broadcasts `member` receives. */
function arrivals(member: Socket): Map<number, number> {
  const got = new Map<number, number>();
  member.on("said", (p: { seq: number }) => got.set(p.seq, Date.now()));
  return got;
}

/** `sender` asks for a broadcast to ROOM every EVERY_MS; `sentAt[seq]` is when it asked for `seq`. */
function sendEvery(sender: Socket): { sentAt: number[]; stop(): void; within(from: number, to: number): number[] } {
  const sentAt: number[] = [];
  const timer = setInterval(() => sender.emit("say", { room: ROOM, seq: sentAt.push(Date.now()) - 1 }), EVERY_MS);
  return {
    sentAt,
    stop: () => clearInterval(timer),
    within: (from, to) => sentAt.flatMap((at, seq) => (at >= from && at < to ? [seq] : [])),
  };
}

describe.each(MODES)("Stale fan-out: Redis hangs (SIGSTOP), %s pub/sub", (pubsub) => {
  const figures: Record<string, number> = {};
  let redis: OwnRedis | undefined;
  let instances: Proc[] = [];

  beforeAll(async () => {
    const own = await startOwnRedis();
    redis = own;
    instances = await Promise.all([0, 1].map(() => startInstance(config(own.url, pubsub))));
  });
  afterAll(async () => {
    closeClients();
    await Promise.all(instances.map((p) => p.kill()));
    redis?.resume(); // a stopped process would not see its SIGKILL until continued
    await redis?.kill();
    console.log(
      `[figure] stale fan-out, ${pubsub} (pause ${PAUSE_MS} ms, commandTimeoutMs ${COMMAND_TIMEOUT}): ${JSON.stringify(figures)}`,
    );
  });

  it("drops and counts what Redis could not take in time, delivers nothing late, and fans out again after resume", {
    timeout: 30_000 + PAUSE_MS,
  }, async () => {
    const [a, b] = instances as [Proc, Proc];
    const own = redis as OwnRedis;
    const sender = await connectClient(a.url, "/rel", { token: "sa1" });
    const local = await connectClient(a.url, "/rel", { token: "la1", room: ROOM });
    const remote = await connectClient(b.url, "/rel", { token: "rb1", room: ROOM });
    const [localGot, remoteGot] = [arrivals(local), arrivals(remote)];
    const traffic = sendEvery(sender);
    const started = Date.now();
    const reaches = (from: number): boolean => traffic.within(from, Infinity).some((seq) => remoteGot.has(seq));
    await eventually(async () => reaches(started + 100), 5000, 25);
    const [beforeA, beforeB] = await Promise.all([dropped(a), dropped(b)]);

    own.pause();
    const pausedAt = Date.now();
    await sleep(PAUSE_MS);
    own.resume();
    const resumedAt = Date.now();
    const backMs = await eventually(async () => reaches(resumedAt), 10_000, 10);
    // Anything Redis still held is delivered (or dropped) within a few ms of SIGCONT.
    await sleep(4 * COMMAND_TIMEOUT);
    traffic.stop();
    await sleep(200);
    const [afterA, afterB] = await Promise.all([dropped(a), dropped(b)]);

    const duringPause = traffic.within(pausedAt, resumedAt);
    const deliveredToRemote = duringPause.filter((seq) => remoteGot.has(seq)).length;
    const ages = [...remoteGot].map(([seq, at]) => at - (traffic.sentAt[seq] as number));
    const late = ages.filter((age) => age > COMMAND_TIMEOUT + MARGIN);
    const droppedByA = (afterA.publish as number) - (beforeA.publish as number);
    const droppedByB = (afterB.stale as number) - (beforeB.stale as number);
    Object.assign(figures, {
      sentDuringPause: duringPause.length,
      deliveredToRemote,
      deliveredLate: late.length,
      maxAgeMs: Math.max(...ages),
      droppedBySender: droppedByA,
      droppedStaleByReceiver: droppedByB,
      crossInstanceBackMs: backMs,
    });

    // Same-instance delivery never stopped (the last 100 ms may still be in flight).
    const localDuring = traffic.within(pausedAt, resumedAt - 100);
    expect(localDuring.length).toBeGreaterThan(PAUSE_MS / EVERY_MS / 2);
    expect(localDuring.filter((seq) => !localGot.has(seq))).toEqual([]);
    // Nothing reached the other instance later than the command timeout allows.
    expect(late.length, `ages of late deliveries (ms): ${late.slice(0, 10).join(", ")}...`).toBe(0);
    // What the other instance missed was dropped and counted (by A, or by B as stale).
    expect(droppedByA + droppedByB).toBeGreaterThan(0);
    expect(droppedByA + droppedByB).toBeGreaterThanOrEqual(duringPause.length - deliveredToRemote);
    // Fan-out came back by itself, and everything sent once it had is delivered.
    expect(backMs).toBeLessThan(5000);
    const afterBack = traffic.within(resumedAt + backMs + 100, Date.now() - 300);
    expect(afterBack.length).toBeGreaterThan(10);
    expect(afterBack.filter((seq) => !remoteGot.has(seq))).toEqual([]);
    for (const p of [a, b]) {
      expect(p.alive).toBe(true);
      expect(p.output.join("")).not.toContain(FATAL_MARKER);
    }
  });
});
