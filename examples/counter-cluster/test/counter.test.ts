/**
 * Smoke test of the counter cluster: `start.ts` (as `pnpm start` runs it) starts two instance
 * processes on free ports with a test-only Redis prefix; clients on both instances increment
 * one counter and read one presence list; stopping start.ts leaves no process behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect as tcpConnect } from "node:net";
import { networkInterfaces } from "node:os";
import { fileURLToPath } from "node:url";
import { lolySocket, type LolySocket } from "@loly-rt/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisUrl, testPrefix } from "../../../tests/setup/redis.js";
import type counterRoute from "../app/wss/counter/events.js";
import type { CounterServerEvents } from "../protocol.js";

type Counter = LolySocket<typeof counterRoute, CounterServerEvents>;

const exampleDir = fileURLToPath(new URL("..", import.meta.url));
const prefix = testPrefix("counter-cluster");

let starter: ChildProcess | undefined;
const output: string[] = [];
const instancePids: number[] = [];
const clients: Counter[] = [];

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs start.ts; resolves the two URLs it prints. */
function startCluster(): Promise<[string, string]> {
  const proc = spawn(process.execPath, ["--import", "tsx", "start.ts"], {
    cwd: exampleDir,
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      COUNTER_PREFIX: prefix,
      PORT_A: "0",
      PORT_B: "0",
      HOST: "", // the default: loopback only
      LOG_LEVEL: "warn",
      TSX_TSCONFIG_PATH: `${exampleDir}tsconfig.json`,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  starter = proc;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster did not start:\n${output.join("")}`)), 20_000);
    proc.stdout?.on("data", (d: Buffer) => {
      output.push(d.toString());
      const text = output.join("");
      for (const m of text.matchAll(/pid (\d+) ready/g)) {
        const pid = Number(m[1]);
        if (!instancePids.includes(pid)) instancePids.push(pid);
      }
      const urls = /open (http:\/\/\S+) and (http:\/\/\S+)/.exec(text);
      if (urls) {
        clearTimeout(timer);
        resolve([urls[1]!, urls[2]!]);
      }
    });
    proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`start.ts exited with ${code}:\n${output.join("")}`));
    });
  });
}

async function connect(url: string): Promise<Counter> {
  const client = lolySocket<typeof counterRoute, CounterServerEvents>("/counter", {
    url,
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  clients.push(client);
  await client.ready();
  return client;
}

describe("examples/counter-cluster", () => {
  let urls: [string, string];

  beforeAll(async () => {
    urls = await startCluster();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    if (starter && starter.exitCode === null && starter.signalCode === null) starter.kill("SIGKILL");
    // Whatever happened above, leave no instance running.
    for (const pid of instancePids) if (alive(pid)) process.kill(pid, "SIGKILL");
    await deleteKeys(prefix);
  });

  it("starts two instances in two processes on two ports, listening on 127.0.0.1 by default", () => {
    expect(instancePids).toHaveLength(2);
    expect(instancePids[0]).not.toBe(instancePids[1]);
    expect(urls[0]).not.toBe(urls[1]);
    for (const url of urls) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("cannot be reached through another interface of the machine", async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;
    if (external === undefined) return; // no other interface here
    const reach = (port: number): Promise<string> =>
      new Promise((resolve) => {
        const socket = tcpConnect(port, external);
        socket.once("connect", () => {
          socket.destroy();
          resolve("connected");
        });
        socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
      });
    for (const url of urls) expect(await reach(Number(new URL(url).port))).toBe("ECONNREFUSED");
  });

  it("keeps one counter and one presence list across both instances", async () => {
    const onA = await connect(urls[0]);
    const onB = await connect(urls[1]);
    const [helloA, helloB] = await Promise.all([onA.request("hello"), onB.request("hello")]);
    expect(helloA.instance).toBe("A");
    expect(helloB.instance).toBe("B");

    // Presence: both instances list both guests, the same way.
    const guests = [helloA.you, helloB.you].sort();
    const [usersA, usersB] = await Promise.all([onA.request("users"), onB.request("users")]);
    expect(usersA).toEqual(guests);
    expect(usersB).toEqual(usersA);

    // Counter: concurrent increments through both instances add up exactly.
    let lastSeenByB = 0;
    onB.on("count", ({ count }) => (lastSeenByB = Math.max(lastSeenByB, count)));
    const start = helloA.count;
    const perClient = 15;
    const results = await Promise.all([onA, onB].flatMap((c) => Array.from({ length: perClient }, () => c.request("incr"))));
    const end = start + 2 * perClient;
    expect(new Set(results).size).toBe(2 * perClient);
    expect(Math.max(...results)).toBe(end);
    const [afterA, afterB] = await Promise.all([onA.request("hello"), onB.request("hello")]);
    expect(afterA.count).toBe(end);
    expect(afterB.count).toBe(end);
    // Count events from instance A reach a client of instance B (through the Redis adapter).
    await eventually(() => lastSeenByB === end);

    // A guest leaving instance B disappears from the list on both.
    onB.close();
    await eventually(async () => (await onA.request("users")).join() === helloA.you);
  });

  it("stops both instances when start.ts stops", async () => {
    const proc = starter!;
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    await eventually(() => instancePids.every((pid) => !alive(pid)));
    expect(instancePids.filter(alive)).toEqual([]);
    // Everything the cluster wrote is under the test prefix.
    expect(await deleteKeys(prefix)).toBeGreaterThan(0);
  });
});
