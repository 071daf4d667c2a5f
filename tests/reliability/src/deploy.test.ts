/**
 * Deploys as users see them: two instances behind a TCP balancer of the test's own, stock
 * socket.io-client with reconnection on, acked work all along, and a rolling restart with real
 * signals (SIGTERM A, start A', SIGTERM B). No executed event goes unanswered, and every client
 * is back within `shutdown.drainMs` + 3 s after each stop.
 */
import { afterAll, describe, expect, it } from "vitest";
import { io, type Socket } from "socket.io-client";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../setup/redis.js";
import { startBalancer, type Balancer } from "./support/balancer.js";
import { startInstance, type Proc } from "./support/procs.js";

const CLIENTS = Number(process.env.LOLY_DEPLOY_CLIENTS ?? 40);
const DRAIN_MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const prefix = testPrefix("rel-deploy");
const config = () => {
  const url = redisUrl();
  return {
    logging: { level: "warn" as const, pretty: false },
    scale: { mode: "cluster" as const, adapter: { type: "redis" as const, url }, stateStore: { type: "redis" as const, url, prefix } },
    limits: { connectionsPerIp: 10_000 },
    shutdown: { graceMs: 5000, drainMs: DRAIN_MS },
  };
};

interface Client {
  socket: Socket;
  user: string;
  answered: Set<number>;
  /** When each disconnection happened and how long until the client was connected again. */
  gaps: number[];
}

function startClient(url: string, user: string): Client {
  const socket = io(`${url}/rel`, {
    path: "/wss",
    transports: ["websocket"],
    auth: { token: user },
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  const client: Client = { socket, user, answered: new Set(), gaps: [] };
  let lostAt = 0;
  socket.on("disconnect", () => (lostAt = Date.now()));
  socket.on("connect", () => {
    if (lostAt > 0) client.gaps.push(Date.now() - lostAt);
    lostAt = 0;
  });
  return client;
}

/** Two acked requests a second from every client until `stop()`. */
function load(clients: Client[]): { stop(): Promise<void> } {
  let running = true;
  const loops = clients.map(async (c, i) => {
    await sleep(i * 10);
    for (let seq = 1; running; seq++) {
      if (c.socket.connected) {
        c.socket
          .timeout(10_000)
          .emitWithAck("work", seq)
          .then(
            (ack: { ok: boolean; data: number }) => {
              if (ack.ok) c.answered.add(ack.data);
            },
            () => undefined,
          );
      }
      await sleep(500);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await sleep(1500); // the last answers
    },
  };
}

let balancer: Balancer | undefined;
const procs: Proc[] = [];
afterAll(async () => {
  await balancer?.close();
  await Promise.all(procs.map((p) => p.kill()));
  await deleteKeys(prefix);
});

describe("rolling restart behind a load balancer", () => {
  it(`${CLIENTS} clients with acked work: nothing executed goes unanswered, everyone is back within drainMs + 3 s`, {
    timeout: 90_000,
  }, async () => {
    const a = await startInstance(config());
    const b = await startInstance(config());
    procs.push(a, b);
    balancer = await startBalancer([a.port, b.port]);
    const clients = Array.from({ length: CLIENTS }, (_, i) => startClient(balancer!.url, `d${i}`));
    await Promise.all(clients.map((c) => new Promise<void>((r) => c.socket.once("connect", () => r()))));
    const work = load(clients);
    await sleep(1500);

    // SIGTERM A: its clients drain to B.
    balancer.setBackends([b.port]);
    expect(await a.stop()).toBe(0);
    await sleep(DRAIN_MS + 1000);
    // A comes back (a new process), then B goes.
    const a2 = await startInstance(config());
    procs.push(a2);
    balancer.setBackends([a2.port]);
    expect(await b.stop()).toBe(0);
    await sleep(DRAIN_MS + 1000);
    balancer.setBackends([a2.port, b.port]);
    await work.stop();

    const redis = testRedis();
    try {
      let executed = 0;
      const unanswered: string[] = [];
      for (const c of clients) {
        const seqs = (await redis.smembers(`${prefix}state:exec:${c.user}`)).map(Number);
        executed += seqs.length;
        for (const seq of seqs) if (!c.answered.has(seq)) unanswered.push(`${c.user}#${seq}`);
      }
      const gaps = clients.flatMap((c) => c.gaps).sort((x, y) => x - y);
      console.log(
        `[figure] rolling restart, ${CLIENTS} clients: ${executed} events executed, ${unanswered.length} unanswered; ` +
          `reconnections ${gaps.length}, gap p50 ${gaps[Math.floor(gaps.length / 2)]} ms, max ${gaps[gaps.length - 1]} ms`,
      );
      expect(executed).toBeGreaterThan(CLIENTS * 4);
      expect(unanswered).toEqual([]);
      expect(gaps.length).toBeGreaterThanOrEqual(CLIENTS);
      expect(gaps[gaps.length - 1]).toBeLessThanOrEqual(DRAIN_MS + 3000);
      expect(clients.every((c) => c.socket.connected)).toBe(true);
    } finally {
      redis.disconnect();
      for (const c of clients) c.socket.close();
    }
  });
});
