/**
 * Connection-state recovery (SPEC 10) as users see it: stock socket.io-client with reconnection
 * on, a transport cut by the server (what a network blip or a drain looks like to the client),
 * events sent while the client was away delivered once, in order, before new ones, with its
 * socket id and rooms back; `auth` runs again; past the window the client starts fresh.
 */
import { createServer as createHttpServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { defineWssRoute } from "@loly-rt/core";
import { lolySocket, type LolySocket } from "@loly-rt/client";
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client";
import { request, sleep, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";

const revoked = new Set<string>();
const connects: Array<{ user: string; recovered: boolean }> = [];
const room = defineWssRoute({
  auth: ({ handshake }) => {
    const token = String(handshake.auth.token ?? "");
    if (revoked.has(token)) throw new Error("revoked");
    return token ? { id: token } : null;
  },
  onConnect: (ctx) => {
    connects.push({ user: String((ctx.user as { id: string } | null)?.id), recovered: ctx.recovered });
  },
  events: {
    join: async (ctx) => {
      await ctx.actions.join(String(ctx.data));
      return "joined";
    },
    say: (ctx) => {
      const { to, seq } = ctx.data as { to: string; seq: number };
      ctx.actions.toRoom(to).emit("said", seq);
      return seq;
    },
    shout: (ctx) => {
      ctx.actions.emit("shouted", ctx.data);
      return "ok";
    },
  },
});

const servers: TestServer[] = [];
const clients: ClientSocket[] = [];
const opened: LolySocket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const c of opened.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  revoked.clear();
  connects.length = 0;
});

async function server(config: Parameters<typeof startServer>[1] = {}): Promise<TestServer> {
  const s = await startServer({ "/r": room }, { limits: { eventsPerSecond: 10_000, burst: 10_000 }, ...config });
  servers.push(s);
  return s;
}

/** A stock client with reconnection on. */
function client(srv: TestServer, token: string): ClientSocket {
  const c = ioClient(`${srv.url}/r`, {
    path: "/wss",
    transports: ["websocket"],
    auth: { token },
    reconnectionDelay: 300,
    reconnectionDelayMax: 300,
    randomizationFactor: 0,
  });
  clients.push(c);
  return c;
}
const connected = (c: ClientSocket): Promise<void> =>
  new Promise((resolve) => (c.connected ? resolve() : c.once("connect", () => resolve())));
/** Cuts the client's transport from the server side: the client sees "transport close" and reconnects by itself. */
function cut(srv: TestServer, c: ClientSocket): void {
  srv.rt.io
    .of("/r")
    .sockets.get(c.id as string)
    ?.conn.close();
}

describe("recovery after a transport cut (single mode)", () => {
  it("same socket id, rooms back, every missed room and namespace event once and in order, before new ones", async () => {
    const srv = await server();
    const alice = client(srv, "alice");
    const bob = client(srv, "bob");
    await Promise.all([connected(alice), connected(bob)]);
    expect(await request(alice, "join", "lobby")).toEqual({ ok: true, data: "joined" });
    const heard: Array<number | string> = [];
    alice.on("said", (seq: number) => heard.push(seq));
    alice.on("shouted", (text: string) => heard.push(text));
    const idBefore = alice.id;
    await request(bob, "say", { to: "lobby", seq: 1 });
    await sleep(50);

    cut(srv, alice);
    await new Promise((r) => alice.once("disconnect", r));
    for (let seq = 2; seq <= 6; seq++) await request(bob, "say", { to: "lobby", seq });
    await request(bob, "shout", "hey");
    await connected(alice);
    expect(alice.recovered).toBe(true);
    expect(alice.id).toBe(idBefore);
    // Its room is back: new room events reach it, after the missed ones.
    await request(bob, "say", { to: "lobby", seq: 7 });
    await sleep(100);
    expect(heard).toEqual([1, 2, 3, 4, 5, 6, "hey", 7]);
    expect(connects.filter((c) => c.user === "alice")).toEqual([
      { user: "alice", recovered: false },
      { user: "alice", recovered: true },
    ]);
  });

  it("a client that received nothing before the cut recovers too", async () => {
    const srv = await server();
    const alice = client(srv, "alice");
    const bob = client(srv, "bob");
    await Promise.all([connected(alice), connected(bob)]);
    const heard: string[] = [];
    alice.on("shouted", (t: string) => heard.push(t));
    cut(srv, alice);
    await new Promise((r) => alice.once("disconnect", r));
    await request(bob, "shout", "while away");
    await connected(alice);
    expect(alice.recovered).toBe(true);
    await sleep(50);
    expect(heard).toEqual(["while away"]);
  });

  it("new connections while a client is away take no place in the log: a connection storm evicts none of its missed events", async () => {
    // Room for the 3 missed broadcasts only: had each new socket's first offset been kept as a
    // broadcast (as socket.emit does with recovery on), the 10 newcomers would have pushed them out.
    const srv = await server({ recovery: { maxEvents: 3 } });
    const alice = client(srv, "alice");
    const bob = client(srv, "bob");
    await Promise.all([connected(alice), connected(bob)]);
    await request(alice, "join", "lobby");
    const heard: number[] = [];
    alice.on("said", (seq: number) => heard.push(seq));
    cut(srv, alice);
    await new Promise((r) => alice.once("disconnect", r));
    for (let seq = 1; seq <= 3; seq++) await request(bob, "say", { to: "lobby", seq });
    const storm = Array.from({ length: 10 }, (_, i) => client(srv, `newcomer-${i}`));
    const offsets = await Promise.all(
      storm.map((c) => new Promise<unknown[]>((r) => c.once("__loly:offset", (...args: unknown[]) => r(args)))),
    );
    // Each newcomer got its first offset, and only that (no offset of its own: it is not a kept broadcast).
    for (const args of offsets) expect(args).toEqual([expect.any(String)]);
    await connected(alice);
    expect(alice.recovered).toBe(true);
    await sleep(50);
    expect(heard).toEqual([1, 2, 3]);
  });

  it("auth runs again: a revoked user is refused (UNAUTHORIZED) and recovers nothing", async () => {
    const srv = await server();
    const alice = client(srv, "alice");
    const bob = client(srv, "bob");
    await Promise.all([connected(alice), connected(bob)]);
    await request(alice, "join", "lobby");
    const heard: number[] = [];
    alice.on("said", (seq: number) => heard.push(seq));
    revoked.add("alice");
    cut(srv, alice);
    await new Promise((r) => alice.once("disconnect", r));
    await request(bob, "say", { to: "lobby", seq: 1 });
    const error = await new Promise<Error>((resolve) => alice.once("connect_error", resolve));
    expect(error.message).toBe("UNAUTHORIZED");
    await sleep(100);
    expect(heard).toEqual([]);
  });

  it("past recovery.windowMs the client connects fresh (recovered false, a new id)", async () => {
    const srv = await server({ recovery: { windowMs: 1000 } });
    // Back after 1.6 s: past the 1 s window.
    const alice = ioClient(`${srv.url}/r`, {
      path: "/wss",
      transports: ["websocket"],
      auth: { token: "alice" },
      reconnectionDelay: 1600,
      reconnectionDelayMax: 1600,
      randomizationFactor: 0,
    });
    clients.push(alice);
    await connected(alice);
    const idBefore = alice.id;
    cut(srv, alice);
    await new Promise((r) => alice.once("disconnect", r));
    await new Promise<void>((r) => alice.once("connect", () => r()));
    expect(alice.recovered).toBe(false);
    expect(alice.id).not.toBe(idBefore);
  });

  it("recovery: false turns it off (Socket.IO's own behaviour: a new socket)", async () => {
    const srv = await server({ recovery: false });
    const alice = client(srv, "alice");
    await connected(alice);
    const idBefore = alice.id;
    cut(srv, alice);
    await new Promise((r) => alice.once("disconnect", r));
    await new Promise<void>((r) => alice.once("connect", () => r()));
    expect(alice.recovered).not.toBe(true);
    expect(alice.id).not.toBe(idBefore);
  });
});

describe("lolySocket across reconnections", () => {
  it("reports connecting, connected, reconnecting, connected again, and whether it recovered", async () => {
    const srv = await server();
    const chat = lolySocket("/r", {
      url: srv.url,
      transports: ["websocket"],
      auth: { token: "carol" },
      reconnectionDelay: 200,
      randomizationFactor: 0,
    });
    opened.push(chat);
    const seen: string[] = [];
    chat.onState((state, detail) => seen.push(`${state}${state === "connected" ? `:${detail.recovered}` : ""}`));
    expect(chat.state).toBe("connecting");
    await chat.ready();
    expect(chat.recovered).toBe(false);
    cut(srv, chat.socket);
    await new Promise<void>((r) => chat.socket.once("connect", () => r()));
    expect(chat.state).toBe("connected");
    expect(chat.recovered).toBe(true);
    expect(seen).toEqual(["connected:false", "reconnecting", "connected:true"]);
  });

  it("a refusal on a reconnection reaches onError and ready(), and leaves it disconnected", async () => {
    const srv = await server();
    const chat = lolySocket("/r", {
      url: srv.url,
      transports: ["websocket"],
      auth: { token: "dave" },
      reconnectionDelay: 200,
      randomizationFactor: 0,
    });
    opened.push(chat);
    await chat.ready();
    const errors: unknown[] = [];
    chat.onError((e) => errors.push(e));
    revoked.add("dave");
    cut(srv, chat.socket);
    await eventuallyTrue(() => chat.state === "disconnected");
    expect(errors).toEqual([{ code: "UNAUTHORIZED", message: "UNAUTHORIZED", event: "connect", refused: true }]);
    await expect(chat.ready()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});

describe("lolySocket through a drain", () => {
  it("a handshake refused with UNAVAILABLE by a draining server is retried: the client comes back when a server is up again", {
    timeout: 20_000,
  }, async () => {
    // The application's own HTTP server (as the chat example has): it keeps listening while Loly
    // drains, so a reconnection reaches the draining server and is refused at the handshake.
    const httpServer = createHttpServer();
    const first = await startServer(
      { "/r": room },
      { limits: { eventsPerSecond: 10_000, burst: 10_000 }, shutdown: { graceMs: 1000, drainMs: 2000 } },
      { httpServer },
    );
    const port = first.port;
    // Polling first (a browser's default): the draining server's 403 UNAVAILABLE is readable.
    const open = (token: string) => {
      const c = lolySocket("/r", {
        url: first.url,
        auth: { token },
        reconnectionDelay: 50,
        reconnectionDelayMax: 100,
        randomizationFactor: 0,
      });
      opened.push(c);
      return c;
    };
    const pages = ["erin", "frank", "grace", "heidi"].map(open);
    await Promise.all(pages.map((p) => p.ready()));
    const refusals: unknown[] = [];
    for (const p of pages) p.onError((e) => refusals.push(e));
    const seen = new Set<string>();
    for (const p of pages) p.onState((_state, detail) => detail.error && seen.add(detail.error.code));
    await first.close();
    await new Promise((resolve) => httpServer.close(resolve));
    // Those closed first tried the draining server meanwhile, and were told UNAVAILABLE.
    expect(seen.has("UNAVAILABLE")).toBe(true);
    await eventuallyTrue(() => pages.every((p) => p.state === "reconnecting"), 2000);
    const again = await startServer({ "/r": room }, { limits: { eventsPerSecond: 10_000, burst: 10_000 } }, {}, port);
    servers.push(again);
    await eventuallyTrue(() => pages.every((p) => p.state === "connected"), 10_000);
    expect(refusals).toEqual([]);
    expect([...seen].every((code) => code === "UNAVAILABLE" || code === "CONNECT_FAILED")).toBe(true);
  });
});

async function eventuallyTrue(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}
