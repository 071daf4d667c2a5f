/**
 * Cluster calls over an in-process bus that carries server-side events as JSON, as the adapter
 * does: every instance answers, a frozen one is named in `missing` by the deadline and still
 * runs what it was asked when it resumes, one that said bye is not waited for, a silent one is
 * forgotten after `presence.ttlMs`. The real thing (processes, Redis, SIGSTOP) is in
 * tests/reliability/src/cluster-calls.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { LolyLogger, RealtimeConfig } from "@loly-rt/core";
import type { Server } from "socket.io";
import type { SocketRecord } from "../socket/record.js";
import { ClusterCommands } from "./commands.js";
import { CLUSTER_EVENT } from "./messages.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const silent = { warn: () => undefined, info: () => undefined, debug: () => undefined, error: () => undefined } as unknown as LolyLogger;

/** A socket as the commands read it: id, namespace, rooms, data, and its record's route and user. */
interface FakeSocket {
  id: string;
  connected: boolean;
  nsp: { name: string };
  rooms: Set<string>;
  data: Record<string, unknown>;
}

/** One instance on the bus: its sockets, and whether it is frozen (messages wait until it thaws). */
class Node {
  frozen = false;
  readonly held: unknown[] = [];
  readonly records: Array<{ socket: FakeSocket; route: { pattern: string }; userId: string | null }> = [];
  revalidations = 0;
  private readonly handlers: Array<(msg: unknown) => void> = [];
  readonly commands: ClusterCommands;

  constructor(
    private readonly bus: Node[],
    mode: "cluster" | "single",
    timeoutMs: number,
    ttlMs: number,
  ) {
    bus.push(this);
    const io = {
      on: (event: string, fn: (msg: unknown) => void) => {
        if (event === CLUSTER_EVENT) this.handlers.push(fn);
      },
      serverSideEmit: (event: string, msg: unknown) => {
        if (this.frozen) return;
        const json = JSON.stringify([event, msg]);
        for (const n of this.bus) if (n !== this) setImmediate(() => n.deliver(json));
      },
      _nsps: new Map([["/rel", this.namespace("/rel")]]),
    } as unknown as Server;
    const config = { scale: { mode, commandTimeoutMs: timeoutMs }, presence: { ttlMs } } as unknown as RealtimeConfig;
    this.commands = new ClusterCommands(
      io,
      config,
      {
        revalidate: async (filter) => {
          this.revalidations++;
          const n = this.records.filter((r) => filter.userId === undefined || r.userId === filter.userId).length;
          return { instances: 1, checked: n, disconnected: 0, failed: 0 };
        },
        records: () => this.records as unknown as SocketRecord[],
      },
      silent,
    );
  }

  get id(): string {
    return this.commands.instanceId;
  }

  connect(id: string, userId: string | null, rooms: string[] = [], data: Record<string, unknown> = {}): FakeSocket {
    const socket: FakeSocket = {
      id,
      connected: true,
      nsp: { name: "/rel" },
      rooms: new Set([id, ...(userId ? [`user:${userId}`] : []), ...rooms]),
      data,
    };
    this.records.push({ socket, route: { pattern: "/rel" }, userId });
    return socket;
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const json of this.held.splice(0)) this.deliver(json as string);
  }

  private deliver(json: string): void {
    if (this.frozen) {
      this.held.push(json);
      return;
    }
    const [, msg] = JSON.parse(json) as [string, unknown];
    for (const fn of this.handlers) fn(msg);
  }

  /** The part of a namespace `disconnectUser` uses: its rooms and a local disconnect of a room. */
  private namespace(name: string) {
    const inRoom = (room: string) =>
      this.records.filter((r) => r.socket.nsp.name === name && r.socket.connected && r.socket.rooms.has(room));
    return {
      adapter: {
        rooms: {
          get: (room: string) => {
            const n = inRoom(room).length;
            return n > 0 ? { size: n } : undefined;
          },
        },
      },
      local: {
        in: (room: string) => ({
          disconnectSockets: () => {
            for (const r of inRoom(room)) r.socket.connected = false;
          },
        }),
      },
    };
  }
}

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.commands.close();
});

/** `count` instances on one bus, each having heard the others. */
async function cluster(count: number, timeoutMs = 300, ttlMs = 10_000): Promise<Node[]> {
  const bus: Node[] = [];
  const list = Array.from({ length: count }, () => new Node(bus, "cluster", timeoutMs, ttlMs));
  nodes.push(...list);
  await sleep(20);
  return list;
}

describe("cluster calls", () => {
  it("every instance answers: complete results, nothing missing, no wait for the deadline", async () => {
    const [a, b, c] = (await cluster(3, 2000)) as [Node, Node, Node];
    a.connect("sa-alice-00000000000x", "alice", ["lobby"]);
    b.connect("sb-alice-00000000000x", "alice", ["lobby", "ops"], { theme: "dark" });
    c.connect("sc-bob-0000000000000x", "bob", ["lobby"]);
    c.connect("sc-anon-000000000000x", null);
    const started = performance.now();
    const all = await a.commands.fetchSockets({});
    expect(performance.now() - started).toBeLessThan(1000);
    expect(all.missing).toEqual([]);
    expect(all.instances).toBe(3);
    expect(all.results.map((s) => s.id).sort()).toEqual([
      "sa-alice-00000000000x",
      "sb-alice-00000000000x",
      "sc-anon-000000000000x",
      "sc-bob-0000000000000x",
    ]);
    const onB = all.results.find((s) => s.id === "sb-alice-00000000000x");
    expect(onB).toEqual({
      id: "sb-alice-00000000000x",
      namespace: "/rel",
      rooms: ["lobby", "ops"],
      userId: "alice",
      data: { theme: "dark" },
      instance: b.id,
    });
    expect((await a.commands.fetchSockets({ user: "alice" })).results.map((s) => s.instance).sort()).toEqual([a.id, b.id].sort());
    expect((await b.commands.fetchSockets({ room: "ops" })).results.map((s) => s.id)).toEqual(["sb-alice-00000000000x"]);
    expect((await c.commands.fetchSockets({ namespace: "/other" })).results).toEqual([]);

    expect(await c.commands.revalidate({ userId: "alice" })).toEqual({ instances: 3, checked: 2, disconnected: 0, failed: 0, missing: [] });
    expect(await c.commands.disconnectUser("alice")).toEqual({ instances: 3, disconnected: 2, missing: [] });
    expect((await c.commands.fetchSockets({ user: "alice" })).results).toEqual([]);
  });

  it("a frozen instance is named in missing by the deadline; it runs the request when it thaws", async () => {
    const [a, b, c] = (await cluster(3, 300)) as [Node, Node, Node];
    a.connect("sa-eve-0000000000000x", "eve");
    const onB = b.connect("sb-eve-0000000000000x", "eve");
    c.connect("sc-eve-0000000000000x", "eve");
    b.freeze();
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const found = await a.commands.fetchSockets({ user: "eve" });
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(1500);
      expect(found.missing).toEqual([b.id]);
      expect(found.instances).toBe(2);
      expect(found.results.map((s) => s.instance).sort()).toEqual([a.id, c.id].sort());
    }
    expect(await c.commands.revalidate({})).toEqual({ instances: 2, checked: 2, disconnected: 0, failed: 0, missing: [b.id] });
    expect(await a.commands.disconnectUser("eve")).toEqual({ instances: 2, disconnected: 2, missing: [b.id] });
    expect(onB.connected).toBe(true);
    b.thaw();
    await sleep(20);
    // what it was asked while frozen runs now: the user is cut off there too
    expect(onB.connected).toBe(false);
    expect(b.revalidations).toBe(1);
    expect((await a.commands.fetchSockets({})).missing).toEqual([]);
  });

  it("an instance that said bye is not waited for; one silent for presence.ttlMs is forgotten", async () => {
    const [a, b, c] = (await cluster(3, 600, 300)) as [Node, Node, Node];
    b.commands.close();
    await sleep(20);
    let started = performance.now();
    expect((await a.commands.disconnectUser("x")).missing).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
    c.freeze();
    expect((await a.commands.fetchSockets({})).missing).toEqual([c.id]);
    await sleep(400);
    started = performance.now();
    expect(await a.commands.fetchSockets({})).toMatchObject({ instances: 1, missing: [] });
    expect(performance.now() - started).toBeLessThan(1000);
    c.thaw();
    await sleep(150);
    expect((await a.commands.fetchSockets({})).instances).toBe(2);
  });

  it("an instance that starts later is known to those already running, and knows them", async () => {
    const [a] = (await cluster(1)) as [Node];
    const bus = (a as unknown as { bus: Node[] }).bus;
    const late = new Node(bus, "cluster", 300, 10_000);
    nodes.push(late);
    await sleep(20);
    expect(await a.commands.disconnectUser("x")).toEqual({ instances: 2, disconnected: 0, missing: [] });
    expect(await late.commands.disconnectUser("x")).toEqual({ instances: 2, disconnected: 0, missing: [] });
  });

  it("answers and messages that are not of this protocol are ignored: the sender counts as missing", async () => {
    const [a, b] = (await cluster(2, 200)) as [Node, Node];
    const io = (b.commands as unknown as { io: { serverSideEmit: (e: string, m: unknown) => void } }).io;
    const send = io.serverSideEmit.bind(io);
    io.serverSideEmit = (event, msg) => {
      const m = msg as { type: string; answer?: unknown };
      if (m.type === "reply") send(event, { ...m, answer: { sockets: [{ id: 1 }] } });
      else send(event, msg);
    };
    expect(await a.commands.fetchSockets({})).toEqual({ instances: 1, results: [], missing: [b.id] });
    io.serverSideEmit = (event, msg) => send(event, { ...(msg as object), v: 99 });
    expect(await a.commands.fetchSockets({})).toEqual({ instances: 1, results: [], missing: [b.id] });
  });

  it("single mode answers locally: missing is empty", async () => {
    const n = new Node([], "single", 100, 10_000);
    nodes.push(n);
    n.connect("s1-0000000000000000x", "u1", ["r"], { user: "not returned", n: 1n, keep: [1] });
    expect(await n.commands.fetchSockets({})).toEqual({
      instances: 1,
      results: [{ id: "s1-0000000000000000x", namespace: "/rel", rooms: ["r"], userId: "u1", data: { keep: [1] }, instance: n.id }],
      missing: [],
    });
    expect(await n.commands.disconnectUser("u1")).toEqual({ instances: 1, disconnected: 1, missing: [] });
    expect(await n.commands.revalidate({})).toEqual({ instances: 1, checked: 1, disconnected: 0, failed: 0, missing: [] });
    await expect(n.commands.fetchSockets({ room: 42 } as never)).rejects.toThrow(/fetchSockets\(filter\)/);
    await expect(n.commands.revalidate({ userId: {} } as never)).rejects.toThrow(/revalidate\(filter\)/);
  });
});
