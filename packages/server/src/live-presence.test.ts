/**
 * Live presence on one instance (memory backends): `presence: { broadcast: true }` announces
 * a user's first socket in a room and their last socket out on `__loly:presence`, answers a
 * member's snapshot request, and `lolySocket(...).presence(room)` keeps the live list through
 * reconnections, with and without connection-state recovery. Real servers, real
 * socket.io-client sockets.
 */
import { defineWssRoute, type PresenceDiff } from "@loly-rt/core";
import { lolySocket, type LolyPresence, type LolySocket } from "@loly-rt/client";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { request, startServer, type TestServer } from "./test-helpers.js";

const auth = ({ handshake }: { handshake: { auth: Record<string, unknown> } }) =>
  typeof handshake.auth.userId === "string" ? { id: handshake.auth.userId } : null;

const events = {
  join: {
    schema: z.string(),
    handler: (ctx: { data: string; actions: { join(room: string): Promise<void> } }) => ctx.actions.join(ctx.data),
  },
  leave: {
    schema: z.string(),
    handler: (ctx: { data: string; actions: { leave(room: string): Promise<void> } }) => ctx.actions.leave(ctx.data),
  },
};

const liveRoute = defineWssRoute({ auth, presence: { broadcast: true }, events });
const quietRoute = defineWssRoute({ auth, events });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
}

/** Every `__loly:presence` a socket receives, in order. */
function diffsOf(socket: ClientSocket): PresenceDiff[] {
  const seen: PresenceDiff[] = [];
  socket.on("__loly:presence", (d: PresenceDiff) => seen.push(d));
  return seen;
}

describe("presence: { broadcast: true } on one instance", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ "/live": liveRoute, "/quiet": quietRoute }, { handlerTimeoutMs: 600, logging: { level: "warn" } });
  });
  afterEach(() => server.disconnectAll());
  afterAll(() => server.close());

  const as = (userId: string, ns = "/live") => server.connected(ns, { auth: { userId } });

  it("tells the room a user's first socket in and their last socket out, once each", async () => {
    const watcher = await as("w");
    expect((await request(watcher, "join", "lobby")).ok).toBe(true);
    const seen = diffsOf(watcher);
    const a1 = await as("ada");
    const a2 = await as("ada");
    const mine = diffsOf(a1);
    await request(a1, "join", "lobby");
    await request(a2, "join", "lobby"); // ada's second socket: no news
    await request(a1, "leave", "lobby"); // ada is still there through a2
    const b = await as("bob");
    await request(b, "join", "lobby");
    a2.disconnect(); // ada's last socket
    await request(b, "leave", "lobby");
    await eventually(() => seen.length === 4, "four diffs");
    await sleep(50);
    expect(seen).toEqual([
      { room: "lobby", joined: "ada" },
      { room: "lobby", joined: "bob" },
      { room: "lobby", left: "ada" },
      { room: "lobby", left: "bob" },
    ]);
    // The joining socket is in the room already: it hears its own arrival.
    expect(mine[0]).toEqual({ room: "lobby", joined: "ada" });
  });

  it("a disconnect tells every room the user left with it, and only those", async () => {
    const watcher = await as("w");
    await request(watcher, "join", "r1");
    await request(watcher, "join", "r2");
    await request(watcher, "join", "r3");
    const seen = diffsOf(watcher);
    const c1 = await as("cy");
    const c2 = await as("cy");
    await request(c1, "join", "r1");
    await request(c1, "join", "r2");
    await request(c2, "join", "r2");
    c1.disconnect();
    await eventually(() => seen.filter((d) => d.left).length === 1, "one departure");
    await sleep(50);
    expect(seen).toEqual([
      { room: "r1", joined: "cy" },
      { room: "r2", joined: "cy" },
      { room: "r1", left: "cy" },
    ]);
  });

  it("answers a member's snapshot request with the room's users", async () => {
    const a = await as("ann");
    const b = await as("ben");
    await request(a, "join", "snap");
    await request(b, "join", "snap");
    const res = await request(a, "__loly:presence", { room: "snap" });
    expect(res.ok).toBe(true);
    expect(res.data.room).toBe("snap");
    expect([...res.data.users].sort()).toEqual(["ann", "ben"]);
  });

  it("a request from a socket not in the room waits for it to join, then answers; FORBIDDEN if it does not", async () => {
    const a = await as("al");
    const early = request(a, "__loly:presence", { room: "later" });
    await sleep(100);
    await request(a, "join", "later");
    const res = await early;
    expect(res.ok).toBe(true);
    expect(res.data.users).toContain("al");

    // handlerTimeoutMs 600: it waits 300 ms at most.
    const refused = await request(a, "__loly:presence", { room: "never" });
    expect(refused).toEqual({
      ok: false,
      error: { code: "FORBIDDEN", message: 'not in room "never": a room\'s users are for its members (join it, then ask again)' },
    });
  });

  it("refuses a bad request: no room, a reserved room, a route that does not broadcast", async () => {
    const a = await as("bo");
    expect((await request(a, "__loly:presence", {})).error.code).toBe("BAD_PAYLOAD");
    expect((await request(a, "__loly:presence", "lobby")).error.code).toBe("BAD_PAYLOAD");
    expect((await request(a, "__loly:presence", { room: "user:bo" })).error.code).toBe("FORBIDDEN");
    const q = await as("bo", "/quiet");
    expect((await request(q, "__loly:presence", { room: "lobby" })).error.code).toBe("UNKNOWN_EVENT");
  });

  it("a route without the option sends no __loly:presence", async () => {
    const watcher = await as("w", "/quiet");
    await request(watcher, "join", "lobby");
    const seen = diffsOf(watcher);
    const a = await as("ada", "/quiet");
    await request(a, "join", "lobby");
    a.disconnect();
    await sleep(100);
    expect(seen).toEqual([]);
  });
});

/** lolySocket clients of `url`, closed after each test. */
const clients: LolySocket<typeof liveRoute>[] = [];
function client(url: string, userId: string): LolySocket<typeof liveRoute> {
  const c = lolySocket<typeof liveRoute>("/live", {
    url,
    auth: { userId },
    transports: ["websocket"],
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
  });
  clients.push(c);
  return c;
}
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** Drops a client's connection at the transport (as a network blip does): socket.io-client reconnects by itself. */
function dropConnection(c: LolySocket<typeof liveRoute>): void {
  (c.socket.io as unknown as { engine: { close(): void } }).engine.close();
}

for (const recovery of [true, false]) {
  describe(`lolySocket().presence(room), recovery ${recovery ? "on" : "off"}`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(
        { "/live": liveRoute },
        { logging: { level: "warn" }, ...(recovery ? {} : { recovery: false }), limits: { connectionsPerIp: 100 } },
      );
    });
    afterAll(() => server.close());

    it("keeps the live list: the snapshot, then the room's diffs, resynced after a reconnection", async () => {
      const there = client(server.url, "there");
      await there.ready();
      await there.request("join", "hall");

      const me = client(server.url, "me");
      // The app joins on every fresh (not recovered) connection.
      me.onState((state) => {
        if (state === "connected" && !me.recovered) void me.request("join", "hall").catch(() => undefined);
      });
      await me.ready();
      const hall: LolyPresence = me.presence("hall");
      const changes: unknown[] = [];
      hall.onChange((_users, change) => changes.push(change));
      await hall.ready();
      expect(hall.synced).toBe(true);
      expect(hall.users).toEqual(["me", "there"]);

      const other = client(server.url, "other");
      await other.ready();
      await other.request("join", "hall");
      await eventually(() => hall.has("other"), "other arrives");
      expect(hall.users).toEqual(["me", "other", "there"]);
      other.close();
      await eventually(() => !hall.has("other"), "other leaves");
      expect(changes).toContainEqual({ joined: "other" });
      expect(changes).toContainEqual({ left: "other" });

      // While me is away, "there" leaves and "new" arrives; back, the list is right again.
      dropConnection(me);
      await eventually(() => me.state === "reconnecting", "me reconnecting");
      there.close();
      const late = client(server.url, "new");
      await late.ready();
      await late.request("join", "hall");
      await eventually(() => me.state === "connected", "me back");
      expect(me.recovered).toBe(recovery);
      await eventually(() => hall.synced && hall.users.join() === "me,new", `resynced (users: ${hall.users.join()})`);
      expect(hall.users).toEqual(["me", "new"]);
      hall.close();
    });

    it("a list asked for before joining gets its snapshot once the socket joins", async () => {
      const me = client(server.url, "early");
      const list = me.presence("foyer");
      await me.ready();
      await sleep(100);
      await me.request("join", "foyer");
      await list.ready();
      expect(list.users).toEqual(["early"]);
      list.close();
      await expect(list.ready()).resolves.toBeUndefined();
    });

    it("a list the server refuses reports it, and a closed one rejects ready()", async () => {
      const me = client(server.url, "nobody");
      await me.ready();
      const list = me.presence("user:nobody");
      const errors: string[] = [];
      list.onError((e) => errors.push(e.code));
      await expect(list.ready()).rejects.toMatchObject({ code: "FORBIDDEN" });
      expect(errors).toEqual(["FORBIDDEN"]);
      expect(list.synced).toBe(false);
      const closed = me.presence("somewhere");
      closed.close();
      await expect(closed.ready()).rejects.toMatchObject({ code: "DISCONNECTED" });
    });
  });
}
