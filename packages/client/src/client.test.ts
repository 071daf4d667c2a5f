import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket as ServerSocket } from "socket.io";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { lolySocket, LolyClientError, type LolySocket } from "./index.js";

/**
 * A plain socket.io server that answers like a Loly server: acks `{ ok: true, data }` or
 * `{ ok: false, error }`, refusals as `__loly:error`, connection refusals as `connect_error`
 * whose message is the code.
 */
let http: HttpServer;
let ioServer: Server;
let url: string;
const open: LolySocket[] = [];
const serverSockets: ServerSocket[] = [];

type Ack = (answer: unknown) => void;
/** Splits `(payload?, ack?)` like the Loly server does: the ack is the last function argument. */
function split(args: unknown[]): { payload: unknown; ack: Ack | undefined; count: number } {
  const last = args[args.length - 1];
  const ack = typeof last === "function" ? (last as Ack) : undefined;
  const rest = ack ? args.slice(0, -1) : args;
  return { payload: rest[0], ack, count: rest.length };
}

function client(namespace = "/chat", opts: Parameters<typeof lolySocket>[1] = {}): LolySocket {
  const c = lolySocket(namespace, { url, transports: ["websocket"], ...opts });
  open.push(c);
  return c;
}

beforeAll(async () => {
  http = createServer();
  ioServer = new Server(http, { path: "/wss" });
  const chat = ioServer.of("/chat");
  chat.use((socket, next) => {
    const token = socket.handshake.auth.token;
    if (token === "bad") next(Object.assign(new Error("UNAUTHORIZED"), { data: { reason: "bad token" } }));
    else if (token === "crowd") next(new Error("TOO_MANY_CONNECTIONS"));
    else next();
  });
  /** Snapshot requests answered so far (the first and the later ones answer differently). */
  let snapshots = 0;
  chat.on("connection", (socket) => {
    serverSockets.push(socket);
    socket.on("echo", (...args: unknown[]) => {
      const { payload, ack } = split(args);
      ack?.({ ok: true, data: payload });
    });
    socket.on("count", (...args: unknown[]) => {
      const { ack, count } = split(args);
      ack?.({ ok: true, data: count });
    });
    socket.on("whoami", (...args: unknown[]) => {
      split(args).ack?.({ ok: true, data: socket.handshake.auth });
    });
    socket.on("forbidden", (...args: unknown[]) => {
      const { ack } = split(args);
      const error = { code: "FORBIDDEN", message: "not the owner", details: { owner: "u2" } };
      socket.emit("__loly:error", { ...error, event: "forbidden", requestId: "r-1" });
      ack?.({ ok: false, error });
    });
    socket.on("raw", (...args: unknown[]) => {
      split(args).ack?.("pong");
    });
    socket.on("slow", () => {
      // never answers
    });
    socket.on("kick", () => {
      socket.disconnect(true);
    });
    // Live presence, as a Loly server answers it: diffs to the room may come before the snapshot.
    socket.on("__loly:presence", (...args: unknown[]) => {
      const { payload, ack } = split(args);
      const room = (payload as { room: string }).room;
      snapshots++;
      socket.emit("__loly:presence", { room, left: "gone" });
      socket.emit("__loly:presence", { room, joined: "late" });
      socket.emit("__loly:presence", { room: "elsewhere", joined: "other-room" });
      const users = snapshots === 1 ? ["ann", "gone"] : ["ann", "late", "fresh"];
      setTimeout(() => ack?.({ ok: true, data: { room, users } }), 20);
    });
    socket.on("presence-diff", (...args: unknown[]) => {
      const { payload, ack } = split(args);
      socket.emit("__loly:presence", payload);
      ack?.({ ok: true, data: null });
    });
    socket.on("ping-me", (...args: unknown[]) => {
      const { payload, ack } = split(args);
      socket.emit("push", { got: payload });
      ack?.({ ok: true, data: null });
    });
  });
  ioServer.of("/other").on("connection", (socket) => {
    socket.on("where", (ack: Ack) => ack({ ok: true, data: socket.nsp.name }));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

afterAll(async () => {
  await new Promise<void>((resolve) => ioServer.close(() => resolve()));
});

async function rejection(promise: Promise<unknown>): Promise<LolyClientError> {
  const err = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
  expect(LolyClientError.is(err)).toBe(true);
  return err as LolyClientError;
}

describe("lolySocket().presence(room)", () => {
  test("applies the diffs that came while the snapshot was on its way, then the room's diffs; resyncs after a reconnection", async () => {
    const c = client("/chat", { reconnectionDelay: 20, reconnectionDelayMax: 50 });
    const list = c.presence("hall");
    const changes: unknown[] = [];
    list.onChange((_users, change) => changes.push(change));
    expect(list.synced).toBe(false);
    await list.ready();
    // Snapshot ["ann", "gone"], then "gone" left and "late" joined (sent before the answer).
    expect(list.users).toEqual(["ann", "late"]);
    expect(list.synced).toBe(true);
    expect(changes).toEqual([{ synced: true }]);

    await c.request("presence-diff", { room: "hall", joined: "bo" });
    await c.request("presence-diff", { room: "hall", joined: "bo" }); // already there: no change
    await c.request("presence-diff", { room: "hall", left: "ann" });
    await c.request("presence-diff", { room: "other", left: "late" }); // another room
    await c.request("presence-diff", { room: "hall", what: "not a diff" });
    expect(list.users).toEqual(["bo", "late"]);
    expect(list.has("bo")).toBe(true);
    expect(changes).toEqual([{ synced: true }, { joined: "bo" }, { left: "ann" }]);

    // A dropped connection: the list asks again once back (second snapshot, and its diffs).
    const resynced = new Promise<void>((resolve) => list.onChange((_u, change) => "synced" in change && resolve()));
    let syncedWhileAway: boolean | undefined;
    c.socket.once("disconnect", () => {
      syncedWhileAway = list.synced;
    });
    (c.socket.io as unknown as { engine: { close(): void } }).engine.close();
    await resynced;
    expect(syncedWhileAway).toBe(false);
    expect(list.users).toEqual(["ann", "fresh", "late"]);
    expect(list.synced).toBe(true);

    list.close();
    await c.request("presence-diff", { room: "hall", joined: "after-close" });
    expect(list.has("after-close")).toBe(false);
  });

  test("a failed snapshot request rejects ready() and reaches onError", async () => {
    const c = client("/other", { ackTimeout: 200 });
    const list = c.presence("hall");
    const errors: string[] = [];
    list.onError((e) => errors.push(e.code));
    // The /other namespace has no __loly:presence handler: the request times out.
    const err = await rejection(list.ready());
    expect(err.code).toBe("TIMEOUT");
    expect(err.event).toBe("__loly:presence");
    expect(errors).toEqual(["TIMEOUT"]);
    expect(list.synced).toBe(false);
  });
});

describe("lolySocket", () => {
  test("ready() resolves on connect; request() resolves with the ack's data", async () => {
    const c = client();
    expect(c.connected).toBe(false);
    await c.ready();
    expect(c.connected).toBe(true);
    await expect(c.ready()).resolves.toBeUndefined();
    await expect(c.request("echo", { text: "hi" })).resolves.toEqual({ text: "hi" });
  });

  test("a request sent while connecting waits for the connection", async () => {
    const c = client();
    await expect(c.request("echo", [1, 2])).resolves.toEqual([1, 2]);
  });

  test("an absent payload is not sent (the server gets only the ack)", async () => {
    const c = client();
    await expect(c.request("count")).resolves.toBe(0);
    await expect(c.request("count", undefined, { timeoutMs: 5000 })).resolves.toBe(0);
    await expect(c.request("count", null)).resolves.toBe(1);
  });

  test("a refusal rejects with the server's code, message and details", async () => {
    const c = client();
    const err = await rejection(c.request("forbidden", {}));
    expect(err).toBeInstanceOf(LolyClientError);
    expect(err.code).toBe("FORBIDDEN");
    expect(err.message).toBe("not the owner");
    expect(err.details).toEqual({ owner: "u2" });
    expect(err.event).toBe("forbidden");
  });

  test("onError receives __loly:error until unsubscribed", async () => {
    const c = client();
    const seen: unknown[] = [];
    const off = c.onError((e) => seen.push(e));
    await rejection(c.request("forbidden"));
    expect(seen).toEqual([{ code: "FORBIDDEN", message: "not the owner", details: { owner: "u2" }, event: "forbidden", requestId: "r-1" }]);
    off();
    await rejection(c.request("forbidden"));
    expect(seen).toHaveLength(1);
  });

  test("no answer within timeoutMs rejects with TIMEOUT", async () => {
    const c = client();
    await c.ready();
    const err = await rejection(c.request("slow", { a: 1 }, { timeoutMs: 50 }));
    expect(err.code).toBe("TIMEOUT");
    expect(err.event).toBe("slow");
  });

  test("the ackTimeout option is the default request timeout", async () => {
    const c = client("/chat", { ackTimeout: 50 });
    await c.ready();
    expect((await rejection(c.request("slow"))).code).toBe("TIMEOUT");
  });

  test("an answer that is not an envelope rejects with INVALID_ACK", async () => {
    const c = client();
    const err = await rejection(c.request("raw"));
    expect(err.code).toBe("INVALID_ACK");
    expect(err.details).toBe("pong");
  });

  test("emit sends, on receives server events, and its return value unsubscribes", async () => {
    const c = client();
    const got: unknown[] = [];
    const off = c.on("push", (payload) => got.push(payload));
    c.emit("ping-me", "one");
    await expect.poll(() => got).toEqual([{ got: "one" }]);
    off();
    await c.request("ping-me", "two"); // the push precedes the ack on the same connection
    expect(got).toEqual([{ got: "one" }]);

    const listener = (payload: unknown): void => {
      got.push(payload);
    };
    c.on("push", listener);
    await c.request("ping-me", "three");
    c.off("push", listener);
    await c.request("ping-me", "four");
    expect(got).toEqual([{ got: "one" }, { got: "three" }]);
  });

  test("auth is sent in the handshake: an object, or a (possibly async) function", async () => {
    const a = client("/chat", { auth: { token: "t1" } });
    await expect(a.request("whoami")).resolves.toEqual({ token: "t1" });
    let calls = 0;
    const b = client("/chat", {
      auth: async () => {
        calls += 1;
        return { token: `t${calls + 1}` };
      },
    });
    await expect(b.request("whoami")).resolves.toEqual({ token: "t2" });
    const c = client("/chat", { auth: (cb: (data: object) => void) => cb({ token: "cb" }) });
    await expect(c.request("whoami")).resolves.toEqual({ token: "cb" });
  });

  test("a failing auth function rejects ready() with CONNECT_FAILED and stops", async () => {
    const c = client("/chat", {
      auth: async () => {
        throw new Error("no token");
      },
    });
    const err = await rejection(c.ready());
    expect(err.code).toBe("CONNECT_FAILED");
    expect(err.message).toContain("no token");
    expect(c.socket.active).toBe(false);
  });

  test("ready() rejects with the connect_error code of a refusal, also when called later", async () => {
    const c = client("/chat", { auth: { token: "bad" } });
    const err = await rejection(c.ready());
    expect(err.code).toBe("UNAUTHORIZED");
    expect(err.details).toEqual({ reason: "bad token" });
    const again = await rejection(c.ready());
    expect(again.code).toBe("UNAUTHORIZED");
    expect((await rejection(c.request("echo", 1))).code).toBe("DISCONNECTED");

    const crowd = client("/chat", { auth: { token: "crowd" } });
    expect((await rejection(crowd.ready())).code).toBe("TOO_MANY_CONNECTIONS");
  });

  test("an unreachable server rejects ready() with CONNECT_FAILED", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const c = lolySocket("/chat", { url: `http://127.0.0.1:${port}`, reconnection: false, transports: ["websocket"] });
    open.push(c);
    const err = await rejection(c.ready());
    expect(err.code).toBe("CONNECT_FAILED");
  });

  test("close() disconnects and rejects pending requests with DISCONNECTED", async () => {
    const c = client();
    await c.ready();
    const serverSide = serverSockets.find((s) => s.id === c.socket.id);
    expect(serverSide).toBeDefined();
    const disconnected = new Promise<void>((resolve) => serverSide?.once("disconnect", () => resolve()));
    const pending = c.request("slow", null, { timeoutMs: 10_000 });
    c.close();
    expect((await rejection(pending)).code).toBe("DISCONNECTED");
    expect(c.connected).toBe(false);
    await disconnected;
    expect((await rejection(c.request("echo", 1))).code).toBe("DISCONNECTED");
    expect((await rejection(c.ready())).code).toBe("DISCONNECTED");
  });

  test("close() while connecting rejects the buffered requests at once", async () => {
    const c = client();
    const pending = c.request("echo", 1, { timeoutMs: 60_000 });
    c.close();
    const err = await rejection(pending);
    expect(err.code).toBe("DISCONNECTED");
    expect(c.socket.sendBuffer).toHaveLength(0);
  });

  test("a connection dropped by the server rejects pending requests with DISCONNECTED", async () => {
    const c = client();
    await c.ready();
    const pending = c.request("slow", null, { timeoutMs: 10_000 });
    c.emit("kick");
    expect((await rejection(pending)).code).toBe("DISCONNECTED");
  });

  test("namespaces of one server share the connection", async () => {
    // A server of its own: socket.io-client caches one connection per origin.
    const http2 = createServer();
    const io2 = new Server(http2, { path: "/wss" });
    for (const name of ["/a", "/b"]) {
      io2.of(name).on("connection", (socket) => {
        socket.on("where", (ack: Ack) => ack({ ok: true, data: socket.nsp.name }));
      });
    }
    await new Promise<void>((resolve) => http2.listen(0, "127.0.0.1", resolve));
    try {
      const origin = `http://127.0.0.1:${(http2.address() as AddressInfo).port}`;
      const a = client("/a", { url: origin });
      const b = client("b", { url: `${origin}/ignored/path` });
      await expect(a.request("where")).resolves.toBe("/a");
      await expect(b.request("where")).resolves.toBe("/b");
      expect(a.socket.io).toBe(b.socket.io);
    } finally {
      for (const c of open.splice(0)) c.close();
      await new Promise<void>((resolve) => io2.close(() => resolve()));
    }
  });

  test("the path defaults to /wss", async () => {
    const c = client();
    await c.ready();
    expect(c.socket.io.opts.path).toBe("/wss");
    const wrong = client("/chat", { path: "/socket.io", reconnection: false });
    expect((await rejection(wrong.ready())).code).toBe("CONNECT_FAILED");
  });

  test("outside a browser, url is required and must be absolute", () => {
    expect(() => lolySocket("/chat")).toThrow(/`url` is required outside a browser/);
    expect(() => lolySocket("/chat", { url: "localhost:3000" })).toThrow(/absolute URL/);
  });
});
