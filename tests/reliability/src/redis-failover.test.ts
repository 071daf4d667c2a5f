/**
 * A Redis Cluster failover under load (SPEC 12: the section 7 criteria hold "through the loss of
 * a master with a replica, with nothing lost beyond what was in flight"), with classic pub/sub
 * and the recovery log (the default) and with sharded pub/sub (`recovery: false`). A 3-master
 * cluster with one replica each, started by the test; two Loly instances in their own processes
 * given only the seed nodes; clients on both, in one room, sending broadcasts and counter
 * increments with acks continuously. The key prefix is chosen so that one master serves the
 * namespace's presence group (`{<prefix>presence:<g>}`), the load address's per-IP count group
 * (`{<prefix>conn:<g>}`), the counter and the room (its recovery stream, or its sharded
 * channel); that master is SIGKILLed. Once its
 * replica is promoted: both instances still run, broadcasts cross instances both ways,
 * presence lists every user of both instances and follows changes, the per-IP count is right
 * and its limit holds, the counter counts, and every request sent after the recovery is
 * answered and every broadcast delivered. What failed or was lost is only what was sent or in
 * flight between the kill and the recovery. Then the killed node comes back (as a replica) and
 * the node an instance's subscriber is on is killed: broadcasts cross both ways again.
 *
 * It prints what it measured (time to promotion, until fan-out, presence and the counter were
 * back, what failed and what was lost): docs/clustering.md quotes it.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { Redis } from "ioredis";
import { io, type Socket } from "socket.io-client";
import { startRedisCluster, type ClusterNode, type OwnRedisCluster } from "../../setup/redis-cluster.js";
import { groupOf } from "../../../packages/presence/src/groups.js";
import { request } from "../../../packages/server/src/test-helpers.js";
import { FATAL_MARKER, startInstance, type Proc, sleep } from "./support/procs.js";

const clients: Socket[] = [];

/**
 * The two ways broadcasts travel: classic pub/sub with the recovery log (the default), and
 * sharded pub/sub (`recovery: false`), where a room's channel lives on one shard.
 */
const modes = [
  { pubsub: "classic" as const, recovery: true, net: "10.8" },
  { pubsub: "sharded" as const, recovery: false, net: "10.7" },
];

/** CRC16/XMODEM, Redis Cluster's key hash. */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
/** A key's hash slot (the hash tag's, when the key has one). */
function slotOf(key: string): number {
  const open = key.indexOf("{");
  const close = open >= 0 ? key.indexOf("}", open + 1) : -1;
  return crc16(close > open + 1 ? key.slice(open + 1, close) : key) % 16384;
}
/**
 * The keys (one per slot) the failover hits, under `p`: the `/rel` presence group, the per-IP
 * count group of the load's address `ip`, the counter, and the room "hall": the `/rel`
 * recovery stream (classic) or the room's channel (sharded).
 */
const hitKeys = (p: string, pubsub: "classic" | "sharded", ip: string) => ({
  presence: `{${p}presence:${groupOf("/rel")}}:x`,
  conn: `{${p}conn:${groupOf(ip)}}:x`,
  counter: `${p}state:counter`,
  ...(pubsub === "classic" ? { recovery: `${p}recovery:log:/rel` } : { room: `${p}socket.io#/rel#hall#` }),
});

/** The address the load's clients connect from. */
const loadIpOf = (net: string): string => `${net}.0.1`;

function connect(url: string, token: string, ip: string, extra: Record<string, unknown> = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = io(`${url}/rel`, {
      path: "/wss",
      transports: ["websocket"],
      extraHeaders: { "x-forwarded-for": ip },
      auth: { token },
      reconnectionDelay: 300,
      reconnectionDelayMax: 300,
      randomizationFactor: 0,
      ...extra,
    });
    clients.push(c);
    c.once("connect", () => resolve(c));
    c.once("connect_error", (err) => reject(err));
  });
}

/** Polls `check` until `ok` (or the deadline: then throws with the last value); resolves the value. */
async function eventually<T>(check: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | string = "";
  for (;;) {
    try {
      const v = await check();
      if (ok(v)) return v;
      last = v;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`condition not met in time (last: ${JSON.stringify(last)})`);
    await sleep(100);
  }
}

/** The `said` sequence numbers each socket received. */
function heard(socks: Socket[]): Array<Set<number>> {
  return socks.map((s) => {
    const got = new Set<number>();
    s.on("said", (m: { seq: number }) => got.add(m.seq));
    return got;
  });
}

let probeSeq = 900_000;
/** Whether a fresh broadcast to "hall" from `socks[from]` reaches `socks[to]` (within 300 ms). */
async function crosses(socks: Socket[], received: Array<Set<number>>, from: number, to: number, room = "hall"): Promise<boolean> {
  const seq = ++probeSeq;
  await request(socks[from] as Socket, "say", { room, seq }, 2000).catch(() => undefined);
  const deadline = Date.now() + 300;
  while (Date.now() < deadline && received[to]?.has(seq) !== true) await sleep(20);
  return received[to]?.has(seq) === true;
}

/** One acked request of the load. */
interface Sent {
  readonly client: number;
  readonly event: "say" | "incr";
  readonly seq: number;
  readonly at: number;
  settledAt?: number;
  ok?: boolean;
  value?: unknown;
  error?: string;
}

describe.each(modes)("Redis Cluster failover under load ($pubsub pub/sub)", ({ pubsub, recovery, net }) => {
  let cluster: OwnRedisCluster;
  let prefix = "";
  let victim: ClusterNode;
  let a: Proc;
  let b: Proc;
  const config = () => ({
    logging: { level: "warn" as const, pretty: false },
    scale: {
      mode: "cluster" as const,
      adapter: { type: "redis" as const, cluster: cluster.seeds, pubsub },
      stateStore: { type: "redis" as const, prefix },
      // Redis calls that cannot be answered during the failover fail within a second.
      commandTimeoutMs: 1000,
    },
    recovery: { enabled: recovery },
    presence: { ttlMs: 1500 },
    trustProxy: ["loopback"],
    limits: { connectionsPerIp: 6, eventsPerSecond: 1000, burst: 1000 },
    shutdown: { graceMs: 1000, drainMs: 200 },
  });

  beforeAll(async () => {
    cluster = await startRedisCluster(3, 1, { nodeTimeoutMs: 1000 });
    // A prefix whose presence, per-IP count, recovery stream and counter slots share one master.
    const ranges = (await cluster.client().call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
    const ownerOf = (slot: number) => ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
    for (let i = 0; !prefix; i++) {
      const p = `rel-rf-${pubsub}${i}:`;
      const owners = new Set(Object.values(hitKeys(p, pubsub, loadIpOf(net))).map((k) => ownerOf(slotOf(k))));
      if (owners.size === 1) prefix = p;
    }
    // The local hash agrees with the cluster's.
    const { presence } = hitKeys(prefix, pubsub, loadIpOf(net));
    expect(await cluster.slotOf(presence)).toBe(slotOf(presence));
    victim = await cluster.primaryOf(presence);
    [a, b] = await Promise.all([startInstance(config()), startInstance(config())]);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all([a?.kill(), b?.kill()]);
    await cluster?.stop();
  });

  it("a master is killed under load: its replica takes over, fan-out, presence, counts and the counter come back, only in-flight work fails", {
    timeout: 60_000,
  }, async () => {
    onTestFailed(() => {
      cluster.keepLogs();
      process.stderr.write(`instance a:\n${a.output.join("").slice(-3000)}\ninstance b:\n${b.output.join("").slice(-3000)}\n`);
    });
    expect(await cluster.replicaOf(victim)).toHaveLength(1);
    const [replica] = await cluster.replicaOf(victim);

    // Two users on each instance, all in the room "hall", from one address.
    const loadIp = loadIpOf(net);
    const users = ["ua1", "ua2", "ub1", "ub2"];
    const socks = await Promise.all(users.map((u, i) => connect(i < 2 ? a.url : b.url, u, loadIp, { auth: { token: u, room: "hall" } })));
    const received = heard(socks);
    const usersFrom = async (s: Socket): Promise<string[]> => {
      const r = await request(s, "users", undefined, 2000);
      if (!r.ok) throw new Error(JSON.stringify(r));
      return (r.data as string[]).slice().sort();
    };
    await eventually(
      async () => [await usersFrom(socks[0] as Socket), await usersFrom(socks[2] as Socket)],
      ([x, y]) => JSON.stringify(x) === JSON.stringify(users) && JSON.stringify(y) === JSON.stringify(users),
    );
    // The kill hits what it should: the victim holds the presence, count and counter keys and the room's stream or channel.
    expect((await request(socks[0] as Socket, "incr")).ok).toBe(true);
    await request(socks[2] as Socket, "say", { room: "hall", seq: 0 });
    const direct = new Redis({ port: victim.port, host: "127.0.0.1", lazyConnect: true });
    try {
      for (const [part, key] of Object.entries(hitKeys(prefix, pubsub, loadIpOf(net)))) {
        // A room's channel is no key: the victim has subscribers on it.
        const used =
          part === "room"
            ? ((await direct.call("PUBSUB", "SHARDCHANNELS")) as string[]).includes(key)
            : Number(await direct.call("CLUSTER", "COUNTKEYSINSLOT", String(slotOf(key)))) > 0;
        const onVictim = (await cluster.primaryOf(key)).port === victim.port;
        expect({ part, onVictim, used }).toEqual({ part, onVictim: true, used: true });
      }
    } finally {
      direct.disconnect();
    }

    // The load: every client sends a broadcast and an increment, each acked, one after another.
    const sent: Sent[] = [];
    let loading = true;
    const loop = async (client: number): Promise<void> => {
      const s = socks[client] as Socket;
      for (let n = 1; loading; n++) {
        for (const event of ["say", "incr"] as const) {
          const seq = client * 1_000_000 + n;
          const entry: Sent = { client, event, seq, at: Date.now() };
          sent.push(entry);
          try {
            const r = await request(s, event, event === "say" ? { room: "hall", seq } : undefined, 3000);
            entry.ok = r.ok === true;
            entry.value = r.data;
            if (!entry.ok) entry.error = JSON.stringify(r.error);
          } catch (err) {
            entry.ok = false;
            entry.error = String(err);
          }
          entry.settledAt = Date.now();
        }
        await sleep(20);
      }
    };
    const loops = socks.map((_, i) => loop(i));
    await sleep(1500);

    // Kill the master.
    const beforeKill = sent.length;
    const killedAt = Date.now();
    await cluster.kill(victim);
    const promotion = await cluster.waitPromoted(victim);
    expect(promotion.primary.port).toBe(replica?.port);

    // Polled side by side from the promotion: fan-out both ways (a fresh broadcast from each
    // instance reaches the other's clients), presence (every user of both instances, from
    // both), the counter (through both instances).
    const since = () => Date.now() - killedAt;
    const [fanoutMs, presenceMs, counterMs] = await Promise.all([
      eventually(
        async () => (await crosses(socks, received, 0, 2)) && (await crosses(socks, received, 2, 0)),
        (v) => v,
        30_000,
      ).then(since),
      eventually(
        async () => [await usersFrom(socks[1] as Socket), await usersFrom(socks[3] as Socket)],
        ([x, y]) => JSON.stringify(x) === JSON.stringify(users) && JSON.stringify(y) === JSON.stringify(users),
        30_000,
      ).then(since),
      eventually(
        async () =>
          (await request(socks[1] as Socket, "incr", undefined, 2000)).ok &&
          (await request(socks[3] as Socket, "incr", undefined, 2000)).ok,
        (v) => v === true,
        30_000,
      ).then(since),
    ]);
    const recoveredAt = Date.now();

    // The load goes on after the recovery: then stops.
    await sleep(3000);
    loading = false;
    await Promise.all(loops);

    // Both instances ran through it.
    expect(a.alive && b.alive).toBe(true);
    expect(`${a.output.join("")}${b.output.join("")}`).not.toContain(FATAL_MARKER);

    // Before the kill, everything was answered.
    const pre = sent.slice(0, beforeKill).filter((e) => (e.settledAt ?? Infinity) < killedAt);
    expect(pre.length).toBeGreaterThan(20);
    expect(pre.filter((e) => !e.ok)).toEqual([]);
    // What failed was in flight at the kill or sent before the recovery.
    const failed = sent.filter((e) => !e.ok);
    expect(failed.filter((e) => (e.settledAt ?? 0) < killedAt || e.at >= recoveredAt)).toEqual([]);
    // After the recovery every request is answered, every broadcast reaches the room's other clients.
    const post = sent.filter((e) => e.at >= recoveredAt);
    expect(post.length).toBeGreaterThan(20);
    expect(post.filter((e) => !e.ok)).toEqual([]);
    const postSays = post.filter((e) => e.event === "say");
    const missing = async () =>
      postSays.flatMap((e) =>
        socks
          .map((_, i) => i)
          .filter((i) => i !== e.client && !received[i]?.has(e.seq))
          .map((i) => `${e.seq}->${i}`),
      );
    await eventually(missing, (m) => m.length === 0, 10_000);
    // Broadcasts acked but never delivered: only ones sent between the kill and the recovery.
    const says = sent.filter((e) => e.event === "say" && e.ok);
    const undelivered = says.filter((e) => socks.some((_, i) => i !== e.client && !received[i]?.has(e.seq)));
    expect(undelivered.filter((e) => (e.settledAt ?? 0) < killedAt || e.at >= recoveredAt)).toEqual([]);
    // For the figures: how many of them a client on the sender's own instance missed too, and
    // what the instances counted as dropped (not published, or received stale).
    const instanceOf = (i: number) => (i < 2 ? a : b);
    const missedLocally = undelivered.filter((e) =>
      socks.some((_, i) => i !== e.client && instanceOf(i) === instanceOf(e.client) && !received[i]?.has(e.seq)),
    ).length;
    const dropped = async (p: Proc) =>
      [...String(await p.call("metrics")).matchAll(/^loly_broadcasts_dropped_total\{reason="(\w+)"\} (\d+)/gm)]
        .map((m) => `${m[1]} ${m[2]}`)
        .join(", ") || "none";
    const drops = `a: ${await dropped(a)}; b: ${await dropped(b)}`;

    // The counter: the increments acked after the kill are all distinct (exact again); an
    // increment acknowledged by the old master and lost with it (asynchronous replication) can
    // only be one acked just before the kill.
    const incrs = sent.filter((e) => e.event === "incr" && e.ok);
    const after = incrs.filter((e) => (e.settledAt ?? 0) >= killedAt).map((e) => e.value as number);
    expect(new Set(after).size).toBe(after.length);
    const firstAfter = Math.min(...after);
    const lostAcked = incrs.filter((e) => (e.settledAt ?? 0) < killedAt && (e.value as number) >= firstAfter);
    expect(lostAcked.filter((e) => (e.settledAt ?? 0) < killedAt - 1000)).toEqual([]);

    // Presence follows changes again: a user who leaves is gone from both lists, a new one is listed.
    (socks[1] as Socket).close();
    const hal = await connect(b.url, "hal", loadIp);
    const now = ["hal", "ua1", "ub1", "ub2"];
    await eventually(
      async () => [await usersFrom(socks[0] as Socket), await usersFrom(hal)],
      ([x, y]) => JSON.stringify(x) === JSON.stringify(now) && JSON.stringify(y) === JSON.stringify(now),
    );
    // The per-IP count came through right: 4 open from this address, 2 more fit, the 7th is refused on both.
    await connect(a.url, "ivy", loadIp);
    await connect(b.url, "jon", loadIp);
    await expect(connect(a.url, "kim", loadIp, { reconnection: false })).rejects.toThrow("TOO_MANY_CONNECTIONS");
    await expect(connect(b.url, "kim", loadIp, { reconnection: false })).rejects.toThrow("TOO_MANY_CONNECTIONS");

    const failedSays = failed.filter((e) => e.event === "say").length;
    process.stdout.write(
      `failover (${pubsub}): promoted in ${promotion.ms} ms; back after the kill: fan-out both ways ${fanoutMs} ms, presence ${presenceMs} ms, ` +
        `counter ${counterMs} ms; failures settled ${Math.min(...failed.map((e) => e.settledAt ?? 0)) - killedAt}..${Math.max(...failed.map((e) => e.settledAt ?? 0)) - killedAt} ms; ${sent.length} requests, ${failed.length} failed (${failedSays} broadcasts, ` +
        `${failed.length - failedSays} increments), ${undelivered.length} acked broadcasts not delivered everywhere (${missedLocally} of them missed on the sender's own instance too; dropped: ${drops}), ${lostAcked.length} acked increments lost\n`,
    );
  });

  it("the node an instance's subscriber is on is killed: broadcasts reach both instances again", { timeout: 60_000 }, async () => {
    onTestFailed(() => {
      cluster.keepLogs();
      process.stderr.write(`instance a:\n${a.output.join("").slice(-3000)}\ninstance b:\n${b.output.join("").slice(-3000)}\n`);
    });
    // The killed master comes back as its replica's replica: every primary has a replica again.
    await cluster.restart(victim);
    await cluster.waitReplicated();
    const ip = `${net}.0.2`;
    const socks = [
      await connect(a.url, "xa", ip, { auth: { token: "xa", room: "yard" } }),
      await connect(b.url, "xb", ip, { auth: { token: "xb", room: "yard" } }),
    ];
    const received = heard(socks);
    await eventually(
      async () => (await crosses(socks, received, 0, 1, "yard")) && (await crosses(socks, received, 1, 0, "yard")),
      (v) => v,
    );
    // The instances' subscribers (classic pub/sub: one per instance, on any node).
    const counts = await Promise.all(cluster.nodes.map((n) => cluster.subscribers(n)));
    expect(counts.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(2);
    const target = cluster.nodes[counts.findIndex((c) => c > 0)] as ClusterNode;
    const wasPrimary = (await cluster.primaries()).includes(target);
    const killedAt = Date.now();
    await cluster.kill(target);
    const promotedMs = wasPrimary ? (await cluster.waitPromoted(target)).ms : undefined;
    await eventually(
      async () => (await crosses(socks, received, 0, 1, "yard")) && (await crosses(socks, received, 1, 0, "yard")),
      (v) => v,
      30_000,
    );
    const fanoutMs = Date.now() - killedAt;
    // From then on every broadcast crosses, both ways.
    const seqs: Array<[number, number]> = [];
    for (let i = 0; i < 20; i++) {
      const from = i % 2;
      const seq = 800_000 + i;
      expect((await request(socks[from] as Socket, "say", { room: "yard", seq })).ok).toBe(true);
      seqs.push([1 - from, seq]);
    }
    await eventually(
      async () => seqs.filter(([to, seq]) => !received[to]?.has(seq)),
      (m) => m.length === 0,
      5000,
    );
    expect(a.alive && b.alive).toBe(true);
    expect(`${a.output.join("")}${b.output.join("")}`).not.toContain(FATAL_MARKER);
    process.stdout.write(
      `subscriber node killed (${pubsub}, ${wasPrimary ? `a primary, promoted in ${promotedMs} ms` : "a replica"}, ${counts[cluster.nodes.indexOf(target)]} subscriber(s) on it): ` +
        `fan-out both ways back ${fanoutMs} ms after the kill\n`,
    );
  });
});
