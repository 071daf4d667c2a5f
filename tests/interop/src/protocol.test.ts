/**
 * The checks of the official Socket.IO protocol suite (`socketio/socket.io-protocol`,
 * `test-suite/`), rewritten for a Loly server: Engine.IO v4 (handshake, heartbeat, close,
 * upgrade, errors, maxPayload) and Socket.IO v5 (CONNECT, CONNECT_ERROR, DISCONNECT, events,
 * binary attachments, acks), frame by frame, with `fetch` and `ws` and no Socket.IO code.
 *
 * The suite's server uses `/socket.io/`, pingInterval 300, pingTimeout 200 and no recovery;
 * so does the first server here, on Loly's path `/wss`. Loly's deliberate differences, checked
 * as such: an event takes one payload (the suite's multi-argument messages travel as one
 * array) and an ack answers `{ ok, data }`. The second server runs Loly's defaults (recovery
 * on): CONNECT carries a `pid` and every event a string offset as its last argument.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { protocolRoute } from "./support/route.js";
import { Polling, RS, WireSocket, refusedUpgrade, sleep, type Frame } from "./support/wire.js";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 100_000;
const SUITE_CONFIG = {
  pingIntervalMs: PING_INTERVAL,
  pingTimeoutMs: PING_TIMEOUT,
  maxPayloadBytes: MAX_PAYLOAD,
  recovery: false,
  limits: { connectionsPerIp: 1000 },
} as const;

const ph = (num: number) => ({ _placeholder: true, num });
const text = (f: Frame): string => {
  if (typeof f !== "string") throw new Error(`expected a text frame, got ${f.length} bytes`);
  return f;
};

let srv: TestServer;
let poll: Polling;
let opened: WireSocket[] = [];

/** A WebSocket session (pings answered unless `pong` is false) with its open packet. */
async function wsSession(pong = true) {
  const s = await WireSocket.session(srv.url);
  s.socket.autoPong = pong;
  opened.push(s.socket);
  return s;
}

/** A WebSocket session connected to the main namespace, `auth` echo read. */
async function connectedMain(): Promise<WireSocket> {
  const { socket } = await wsSession();
  socket.send("40");
  expect(text(await socket.next())).toMatch(/^40\{"sid":"[^"]+"\}$/);
  expect(await socket.next()).toBe('42["auth",{}]');
  return socket;
}

beforeAll(async () => {
  srv = await startServer({ "/": protocolRoute, "/custom": protocolRoute }, SUITE_CONFIG);
  poll = new Polling(srv.url);
});
afterEach(() => {
  for (const s of opened) s.close();
  opened = [];
});
afterAll(async () => {
  await srv?.close();
});

describe("Engine.IO: handshake", () => {
  describe("HTTP long-polling", () => {
    it("opens a session: one open packet with sid, upgrades, pingInterval, pingTimeout, maxPayload", async () => {
      const { status, body } = await poll.get("EIO=4&transport=polling");
      expect(status).toBe(200);
      expect(body.startsWith("0")).toBe(true);
      expect(body).not.toContain(RS);
      const open = JSON.parse(body.slice(1)) as Record<string, unknown>;
      expect(Object.keys(open).sort()).toEqual(["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
      expect(open).toMatchObject({
        upgrades: ["websocket"],
        pingInterval: PING_INTERVAL,
        pingTimeout: PING_TIMEOUT,
        maxPayload: MAX_PAYLOAD,
      });
      expect(typeof open.sid).toBe("string");
    });

    it.each([["transport=polling"], ["EIO=abc&transport=polling"], ["EIO=3&transport=polling"]])(
      "refuses an invalid EIO (%s) with 400",
      async (query) => {
        expect((await poll.get(query)).status).toBe(400);
      },
    );

    it.each([["EIO=4"], ["EIO=4&transport=abc"]])("refuses an invalid transport (%s) with 400", async (query) => {
      expect((await poll.get(query)).status).toBe(400);
    });

    it.each([["POST"], ["PUT"]])("refuses a %s handshake with 400", async (method) => {
      expect((await poll.post("EIO=4&transport=polling", "", method)).status).toBe(400);
    });

    it("refuses an unknown sid with 400 (GET and POST)", async () => {
      const got = await poll.get("EIO=4&transport=polling&sid=nope");
      expect(got.status).toBe(400);
      expect(JSON.parse(got.body)).toEqual({ code: 1, message: "Session ID unknown" });
      expect((await poll.push("nope", "40")).status).toBe(400);
    });
  });

  describe("WebSocket", () => {
    it("opens a session: upgrades is empty", async () => {
      const { open } = await wsSession();
      expect(Object.keys(open).sort()).toEqual(["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
      expect(open).toMatchObject({ upgrades: [], pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, maxPayload: MAX_PAYLOAD });
    });

    it.each([["EIO=4"], ["EIO=4&transport=abc"], ["EIO=4&transport=websocket&sid=nope"]])(
      "refuses the upgrade %s with 400",
      async (query) => {
        expect(await refusedUpgrade(srv.url, query)).toMatchObject({ status: 400 });
      },
    );

    it.each([["transport=websocket"], ["EIO=abc&transport=websocket"], ["EIO=3&transport=websocket"]])(
      "closes a WebSocket with an invalid EIO (%s) before any open packet (as stock Socket.IO: upgraded, then closed)",
      async (query) => {
        expect(await refusedUpgrade(srv.url, query)).toEqual({ closedWithoutOpen: true });
      },
    );
  });
});

describe("Engine.IO: heartbeat", () => {
  it("HTTP long-polling: the server pings, the client's pong keeps the session", async () => {
    const { sid } = await poll.handshake();
    for (let i = 0; i < 3; i++) {
      const ping = await poll.poll(sid);
      expect(ping).toEqual({ status: 200, body: "2" });
      expect(await poll.push(sid, "3")).toEqual({ status: 200, body: "ok" });
    }
  });

  it("HTTP long-polling: no pong closes the session after pingInterval + pingTimeout", async () => {
    const { sid } = await poll.handshake();
    await sleep(PING_INTERVAL + PING_TIMEOUT + 150);
    expect((await poll.poll(sid)).status).toBe(400);
  });

  it("WebSocket: the server pings, the client's pong keeps the session", async () => {
    const { socket } = await wsSession(false);
    for (let i = 0; i < 3; i++) {
      expect(await socket.next()).toBe("2");
      socket.send("3");
    }
    expect(await socket.closesWithin(50)).toBe(false);
  });

  it("WebSocket: no pong closes the session after pingInterval + pingTimeout", async () => {
    const { socket } = await wsSession(false);
    const started = Date.now();
    expect(await socket.next()).toBe("2");
    expect(await socket.closesWithin(PING_INTERVAL + PING_TIMEOUT + 500)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(PING_INTERVAL + PING_TIMEOUT - 50);
  });
});

describe("Engine.IO: close", () => {
  it("HTTP long-polling: a close packet ends the pending poll with a noop, then the sid is unknown", async () => {
    const { sid } = await poll.handshake();
    const [pending, pushed] = await Promise.all([poll.poll(sid), sleep(50).then(() => poll.push(sid, "1"))]);
    expect(pushed.status).toBe(200);
    expect(pending).toEqual({ status: 200, body: "6" });
    expect((await poll.poll(sid)).status).toBe(400);
  });

  it("WebSocket: a close packet; the session ends by the ping timeout (engine.io 6.6 ignores it, as stock Socket.IO 4.8 does)", async () => {
    const { socket } = await wsSession(false);
    socket.send("1");
    expect(await socket.closesWithin(PING_INTERVAL + PING_TIMEOUT + 500)).toBe(true);
  });
});

describe("Engine.IO: upgrade", () => {
  it("upgrades HTTP long-polling to WebSocket with the probe; the pending poll gets a noop", async () => {
    const { sid } = await poll.handshake();
    const pending = poll.poll(sid);
    const ws = await WireSocket.open(srv.url, `EIO=4&transport=websocket&sid=${sid}`);
    opened.push(ws);
    ws.autoPong = true;
    ws.send("2probe");
    expect(await ws.next()).toBe("3probe");
    // On a slow machine the ping (due after pingInterval) may answer the pending poll first.
    let answer = await pending;
    for (let i = 0; answer.body === "2" && i < 3; i++) {
      await poll.push(sid, "3");
      answer = await poll.poll(sid);
    }
    expect(answer).toEqual({ status: 200, body: "6" });
    ws.send("5");
    // The session now lives on the WebSocket: a Socket.IO CONNECT over it is answered over it.
    ws.send("40");
    expect(text(await ws.next())).toMatch(/^40\{"sid":/);
  });

  it("refuses HTTP long-polling requests with the same sid after the upgrade", async () => {
    const { sid } = await poll.handshake();
    const ws = await WireSocket.open(srv.url, `EIO=4&transport=websocket&sid=${sid}`);
    opened.push(ws);
    ws.send("2probe");
    expect(await ws.next()).toBe("3probe");
    ws.send("5");
    await sleep(50);
    expect((await poll.poll(sid)).status).toBe(400);
  });

  it("closes a second WebSocket with the same sid after the upgrade", async () => {
    const { sid } = await poll.handshake();
    const ws = await WireSocket.open(srv.url, `EIO=4&transport=websocket&sid=${sid}`);
    opened.push(ws);
    ws.autoPong = true;
    ws.send("2probe");
    expect(await ws.next()).toBe("3probe");
    ws.send("5");
    await sleep(50);
    const second = await WireSocket.open(srv.url, `EIO=4&transport=websocket&sid=${sid}`).catch(() => null);
    if (second) {
      opened.push(second);
      expect(await second.closesWithin(1000)).toBe(true);
    }
    // The first one is unharmed.
    ws.send("40");
    expect(text(await ws.next())).toMatch(/^40\{"sid":/);
  });
});

describe("Engine.IO: maxPayload", () => {
  /** A whole Engine.IO message frame (`4` + the Socket.IO EVENT `2[...]`) of exactly `bytes` bytes. */
  const event = (bytes: number): string => {
    const head = '42["message","';
    return `${head}${"a".repeat(bytes - head.length - 2)}"]`;
  };

  it("WebSocket: a frame of maxPayload bytes passes, one byte more closes the connection (1009)", async () => {
    const socket = await connectedMain();
    socket.send(event(MAX_PAYLOAD));
    expect(text(await socket.next()).slice(0, 22)).toBe('42["message-back","aaa');
    socket.send(event(MAX_PAYLOAD + 1));
    expect(await socket.closed).toMatchObject({ code: 1009 });
  });

  it("HTTP long-polling: a body of maxPayload bytes passes, a bigger one is answered 413 and ends the session", async () => {
    const { sid } = await poll.handshake();
    expect((await poll.push(sid, "40")).status).toBe(200);
    await poll.packets(sid, 2);
    expect(await poll.push(sid, event(MAX_PAYLOAD))).toEqual({ status: 200, body: "ok" });
    const [back] = await poll.packets(sid, 1);
    expect(back?.slice(0, 22)).toBe('42["message-back","aaa');
    expect((await poll.push(sid, event(MAX_PAYLOAD + 1))).status).toBe(413);
    expect((await poll.poll(sid)).status).toBe(400);
  });
});

describe("Socket.IO: connect", () => {
  it("connects to the main namespace (CONNECT answered with a sid)", async () => {
    const { socket } = await wsSession();
    socket.send("40");
    const answer = text(await socket.next());
    expect(answer.startsWith("40")).toBe(true);
    const handshake = JSON.parse(answer.slice(2)) as Record<string, unknown>;
    expect(Object.keys(handshake)).toEqual(["sid"]);
    expect(typeof handshake.sid).toBe("string");
    expect(await socket.next()).toBe('42["auth",{}]');
  });

  it("connects to the main namespace with an auth payload (the auth hook sees it)", async () => {
    const { socket } = await wsSession();
    socket.send('40{"token":"123"}');
    expect(text(await socket.next())).toMatch(/^40\{"sid":"[^"]+"\}$/);
    expect(await socket.next()).toBe('42["auth",{"token":"123"}]');
  });

  it("connects to a custom namespace", async () => {
    const { socket } = await wsSession();
    socket.send("40/custom,");
    const answer = text(await socket.next());
    expect(answer.startsWith("40/custom,")).toBe(true);
    expect(Object.keys(JSON.parse(answer.slice("40/custom,".length)) as object)).toEqual(["sid"]);
    expect(await socket.next()).toBe('42/custom,["auth",{}]');
  });

  it("connects to a custom namespace with an auth payload", async () => {
    const { socket } = await wsSession();
    socket.send('40/custom,{"token":"abc"}');
    expect(text(await socket.next())).toMatch(/^40\/custom,\{"sid":"[^"]+"\}$/);
    expect(await socket.next()).toBe('42/custom,["auth",{"token":"abc"}]');
  });

  it("connects over HTTP long-polling (CONNECT in a POST, the answer in the next poll)", async () => {
    const { sid } = await poll.handshake();
    expect(await poll.push(sid, '40/custom,{"token":"abc"}')).toEqual({ status: 200, body: "ok" });
    const [connected, authEcho] = await poll.packets(sid, 2);
    expect(connected).toMatch(/^40\/custom,\{"sid":"[^"]+"\}$/);
    expect(authEcho).toBe('42/custom,["auth",{"token":"abc"}]');
  });

  it("refuses an unknown namespace with CONNECT_ERROR Invalid namespace", async () => {
    const { socket } = await wsSession();
    socket.send("40/random");
    expect(await socket.next()).toBe('44/random,{"message":"Invalid namespace"}');
  });

  it("refuses a token the auth hook rejects with CONNECT_ERROR UNAUTHORIZED (Loly: the message is a code)", async () => {
    const { socket } = await wsSession();
    socket.send('40/custom,{"token":"bad"}');
    expect(JSON.parse(text(await socket.next()).slice("44/custom,".length))).toEqual({
      message: "UNAUTHORIZED",
      data: { code: "UNAUTHORIZED" },
    });
  });

  it("closes the connection on an invalid handshake packet", async () => {
    const { socket } = await wsSession();
    socket.send("4abc");
    expect(await socket.closesWithin(1000)).toBe(true);
  });
});

describe("Socket.IO: disconnect", () => {
  it("DISCONNECT from the main namespace leaves the Engine.IO session open (pings go on)", async () => {
    const socket = await connectedMain();
    socket.autoPong = false;
    socket.send("41");
    expect(await socket.next(PING_INTERVAL + 500)).toBe("2");
    socket.send("3");
    expect(await socket.closesWithin(50)).toBe(false);
  });

  it("connects then disconnects from a custom namespace; the main namespace still answers", async () => {
    const socket = await connectedMain();
    socket.send("40/custom,");
    expect(text(await socket.next())).toMatch(/^40\/custom,\{"sid":/);
    expect(await socket.next()).toBe('42/custom,["auth",{}]');
    socket.send("41/custom,");
    socket.send('42["message","message to main namespace"]');
    expect(await socket.next()).toBe('42["message-back","message to main namespace"]');
  });
});

describe("Socket.IO: messages", () => {
  it("a plain-text event is answered", async () => {
    const socket = await connectedMain();
    socket.send('42["message",[1,"2",{"3":[true]}]]');
    expect(await socket.next()).toBe('42["message-back",[1,"2",{"3":[true]}]]');
  });

  it("an event with binary attachments is answered with the same attachments", async () => {
    const socket = await connectedMain();
    socket.send(`452-["message",${JSON.stringify([ph(0), ph(1)])}]`);
    socket.send(Buffer.from([1, 2, 3]));
    socket.send(Buffer.from([4, 5, 6]));
    const [header, first, second] = await socket.take(3);
    expect(header).toBe(`452-["message-back",${JSON.stringify([ph(0), ph(1)])}]`);
    expect(first).toEqual(Buffer.from([1, 2, 3]));
    expect(second).toEqual(Buffer.from([4, 5, 6]));
  });

  it("an event with an ack id is answered by ACK (Loly's envelope: { ok, data })", async () => {
    const socket = await connectedMain();
    socket.send('42456["message-with-ack",[1,"2",{"3":[false]}]]');
    expect(await socket.next()).toBe('43456[{"ok":true,"data":[1,"2",{"3":[false]}]}]');
  });

  it("an event with binary attachments and an ack id is answered by BINARY_ACK", async () => {
    const socket = await connectedMain();
    socket.send(`452-789["message-with-ack",${JSON.stringify([ph(0), ph(1)])}]`);
    socket.send(Buffer.from([1, 2, 3]));
    socket.send(Buffer.from([4, 5, 6]));
    const [header, first, second] = await socket.take(3);
    expect(header).toBe(`462-789[{"ok":true,"data":${JSON.stringify([ph(0), ph(1)])}}]`);
    expect(first).toEqual(Buffer.from([1, 2, 3]));
    expect(second).toEqual(Buffer.from([4, 5, 6]));
  });

  it("over HTTP long-polling: binary attachments travel as base64 packets (b...)", async () => {
    const { sid } = await poll.handshake();
    await poll.push(sid, "40");
    await poll.packets(sid, 2);
    const body = [`451-789["message-with-ack",${JSON.stringify(ph(0))}]`, `b${Buffer.from([9, 8, 7]).toString("base64")}`].join(RS);
    expect((await poll.push(sid, body)).status).toBe(200);
    const [header, attachment] = await poll.packets(sid, 2);
    expect(header).toBe(`461-789[{"ok":true,"data":${JSON.stringify(ph(0))}}]`);
    expect(attachment).toBe(`b${Buffer.from([9, 8, 7]).toString("base64")}`);
  });

  it("an unknown event with an ack id: __loly:error, then the ACK with { ok: false, error }", async () => {
    const socket = await connectedMain();
    socket.send('427["nope",1]');
    const [error, ack] = (await socket.take(2)).map(text);
    const [name, body] = JSON.parse(error!.slice(2)) as [string, Record<string, unknown>];
    expect(name).toBe("__loly:error");
    expect(body).toMatchObject({ code: "UNKNOWN_EVENT", message: 'Unknown event "nope"', event: "nope" });
    expect(JSON.parse(ack!.slice(3))).toEqual([{ ok: false, error: { code: "UNKNOWN_EVENT", message: 'Unknown event "nope"' } }]);
  });

  it.each([
    ["an unknown packet type", "4abc"],
    ["an argument list that is not an array", "42{}"],
    ["an invalid ack id", '42abc["message-with-ack",[1,"2",{"3":[false]}]]'],
  ])("closes the connection on %s", async (_what, frame) => {
    const socket = await connectedMain();
    socket.send(frame);
    expect(await socket.closesWithin(1000)).toBe(true);
  });
});

describe("with Loly's defaults (recovery on)", () => {
  let rec: TestServer;
  beforeAll(async () => {
    rec = await startServer({ "/": protocolRoute }, { limits: { connectionsPerIp: 1000 } });
  });
  afterAll(async () => {
    await rec?.close();
  });

  it("CONNECT is answered with sid and pid; every event carries a string offset last; acks do not", async () => {
    const { socket, open } = await WireSocket.session(rec.url);
    opened.push(socket);
    socket.autoPong = true;
    expect(open).toMatchObject({ pingInterval: 25_000, pingTimeout: 20_000, maxPayload: 65_536 });
    socket.send('40{"token":"u1"}');
    const connect = JSON.parse(text(await socket.next()).slice(2)) as Record<string, unknown>;
    expect(Object.keys(connect).sort()).toEqual(["pid", "sid"]);
    // A fresh socket is sent its starting offset (so it can recover before any broadcast reached it).
    const [offsetEvent, authEcho] = (await socket.take(2)).map((f) => JSON.parse(text(f).slice(2)) as unknown[]);
    // Sent to the socket alone, not kept as a broadcast: the offset is its only argument.
    expect(offsetEvent).toEqual(["__loly:offset", expect.any(String)]);
    expect(authEcho).toEqual(["auth", { token: "u1" }, expect.any(String)]);
    socket.send('42["message",{"n":1}]');
    expect(JSON.parse(text(await socket.next()).slice(2))).toEqual(["message-back", { n: 1 }, expect.any(String)]);
    socket.send('423["message-with-ack",{"n":2}]');
    expect(await socket.next()).toBe('433[{"ok":true,"data":{"n":2}}]');
  });
});
